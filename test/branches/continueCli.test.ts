/**
 * The xe-style continue commands and `run --pool`, run as a user runs them (dist/xenpool.mjs: `npm run
 * build` first): a what-if on a branch, a refusal with XAPI's code and nothing appended, bad operation
 * files named by file, line and field, and two processes continuing one SQLite pool at once.
 */
import { spawn } from "node:child_process"
import { existsSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { beforeAll, describe, expect, it } from "vitest"
import { binary, isCleanError, tempDir, xenpool } from "../cli/run.js"

describe("continuing a pool on the command line", () => {
  const dir = tempDir()
  const store = `sqlite:${join(dir, "x.db")}`
  const events = (pool: string): number =>
    (JSON.parse(xenpool(["pools", "--store", store, "--json"]).stdout) as Array<{ id: string; events: number }>).find(
      (p) => p.id === pool
    )?.events ?? -1

  beforeAll(() => {
    if (!existsSync(binary)) throw new Error(`${binary} is missing: run npm run build first`)
    expect(xenpool(["demo", "--quiet", "--store", store]).status).toBe(0)
  })

  it("go back to 3m10s and evacuate h4 instead: fork, host-evacuate, diff", () => {
    expect(xenpool(["fork", "--pool", "rolling-1", "--at", "3m10s", "--as", "evac-h4", "--store", store]).status).toBe(
      0
    )
    const r = xenpool(["host-evacuate", "h4", "--pool", "evac-h4", "--store", store, "--json"])
    expect(r.status).toBe(0)
    const out = JSON.parse(r.stdout) as {
      atUs: number
      firstRevision: number
      operations: Array<{ operation: string }>
    }
    expect(out.atUs).toBe(190_000_000)
    expect(out.firstRevision).toBe(133)
    expect(out.operations.map((o) => o.operation)).toContain("evacuate h4")
    const diff = xenpool(["diff", "--pool", "rolling-1", "--against", "evac-h4", "6min", "--store", store, "--json"])
    expect(diff.status).toBe(0)
    expect((JSON.parse(diff.stdout) as { vmsMoved: unknown[] }).vmsMoved.length).toBeGreaterThan(0)
  })

  it("a refused operation fails with XAPI's error code and appends nothing", () => {
    const before = events("rolling-1")
    const r = xenpool(["vm-start", "web-1", "--pool", "rolling-1", "--store", store])
    expect(r.status).toBe(1)
    expect(r.stderr).toMatch(/^xenpool: VM_BAD_POWER_STATE \(start-vm web-1 at 6m22s in pool rolling-1\): /)
    expect(isCleanError(r)).toBe(true)
    expect(events("rolling-1")).toBe(before)
  })

  it("a bad operations file is named by file, line and field; nothing is appended", () => {
    const before = events("rolling-1")
    const file = join(dir, "ops.jsonl")
    const cases: ReadonlyArray<readonly [string, RegExp]> = [
      ['# a comment\n{"op":"migrate","vm":"web-2","to":"h9"}\n', /\(ops\.jsonl:2, to\): expected a host/],
      ['{"op":"migrate","vm":"web-2","to":"h3"}\n{"op":"evacuate"}\n', /\(ops\.jsonl:2, host\)/],
      [
        '{"at":"1min","op":"evacuate","host":"h2"}\n',
        /before the pool's end \(ops\.jsonl:1, at\): expected a time at or after 6m22s/
      ],
      ['{"op":"evacuate","host":"h2"}\nnot json\n', /\(ops\.jsonl:2, \(line\)\): expected one JSON object per line/],
      ['{"at":"7 lightyears","op":"evacuate","host":"h2"}\n', /\(ops\.jsonl:1, at\): expected a duration with a unit/]
    ]
    for (const [text, message] of cases) {
      writeFileSync(file, text)
      const r = xenpool(["run", file, "--pool", "rolling-1", "--store", store])
      expect(r.status, text).toBe(1)
      expect(r.stderr).toMatch(message)
      expect(isCleanError(r)).toBe(true)
    }
    expect(events("rolling-1")).toBe(before)
  })

  it("run --pool applies a file of operations at their times", () => {
    const file = join(dir, "later.jsonl")
    writeFileSync(file, '{"at":"7min","op":"disable-host","host":"h1"}\n{"at":"7min","op":"evacuate","host":"h1"}\n')
    const r = xenpool(["run", file, "--pool", "rolling-1", "--store", store, "--json"])
    expect(r.status).toBe(0)
    const out = JSON.parse(r.stdout) as { atUs: number; hosts: Array<{ id: string; enabled: boolean; vms: string[] }> }
    expect(out.atUs).toBe(420_000_000)
    expect(out.hosts.find((h) => h.id === "h1")).toMatchObject({ enabled: false, vms: [] })
  })

  it("two processes continuing the same pool at once: one wins, the other is told, nothing lost", async () => {
    expect(xenpool(["fork", "--pool", "rolling-1", "--at", "3m10s", "--as", "race", "--store", store]).status).toBe(0)
    const start = (host: string) =>
      new Promise<{ status: number | null; stderr: string }>((done) => {
        const child = spawn(process.execPath, [
          binary,
          "host-disable",
          host,
          "--pool",
          "race",
          "--store",
          store,
          "--quiet"
        ])
        let stderr = ""
        child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
        child.on("close", (status) => done({ status, stderr }))
      })
    // Both read the pool at the same revision; the second append is refused by the store's revision
    // check. On a slow machine one may finish before the other starts: then both land, one after the other.
    const results = await Promise.all([start("h3"), start("h4")])
    const won = results.filter((r) => r.status === 0).length
    const lost = results.filter((r) => r.status !== 0)
    for (const r of lost) expect(r.stderr).toMatch(/the pool changed while continuing it .*nothing was written/)
    expect(won).toBeGreaterThanOrEqual(1)
    const listed = JSON.parse(
      xenpool(["events", "--pool", "race", "--from", "133", "--limit", "100000", "--store", store, "--json"]).stdout
    ) as Array<{ type: string }>
    expect(listed.filter((e) => e.type === "OperationsRequested").length).toBe(won)
  })
})
