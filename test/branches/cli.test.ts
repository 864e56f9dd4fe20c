/**
 * `xenpool fork`, `diff --against`, `pools` with provenance and the demo's hint, run as a user runs them
 * (dist/xenpool.mjs: `npm run build` first).
 */
import { existsSync } from "node:fs"
import { join } from "node:path"
import { beforeAll, describe, expect, it } from "vitest"
import { binary, isCleanError, tempDir, xenpool } from "../cli/run.js"

describe("fork, diff --against and pools on the command line", () => {
  const dir = tempDir()
  const store = `sqlite:${join(dir, "x.db")}`
  let hint = ""

  beforeAll(() => {
    if (!existsSync(binary)) throw new Error(`${binary} is missing: run npm run build first`)
    const demo = xenpool(["demo", "--quiet"], { cwd: dir, env: { XENPOOL_STORE: store } })
    expect(demo.status).toBe(0)
    hint = /try: xenpool (at [^,]+),/.exec(demo.stdout)?.[1] ?? ""
  })

  it("the demo's hint is a printed time, and typed back it gives the demo's answer", () => {
    expect(hint).toMatch(/^at 3m11s --pool rolling-1 --vm db-1$/)
    const r = xenpool([...hint.split(" "), "--store", store])
    expect(r.status).toBe(0)
    expect(r.stdout).toContain("pool rolling-1 at 3m11s: revision 131")
  })

  it("fork --at WHEN --as NEW makes the branch; at, events and pools see it", () => {
    const made = xenpool([
      "fork",
      "--pool",
      "rolling-1",
      "--at",
      "3m10s",
      "--as",
      "what-if",
      "--store",
      store,
      "--json"
    ])
    expect(made.status).toBe(0)
    expect(JSON.parse(made.stdout)).toEqual({
      pool: "what-if",
      parent: "rolling-1",
      revision: 131,
      atUs: 190_000_000,
      events: 133,
      eventsStored: 1
    })
    const parentAt = xenpool(["at", "2m10s", "--pool", "rolling-1", "--store", store, "--json"])
    const branchAt = xenpool(["at", "2m10s", "--pool", "what-if", "--store", store, "--json"])
    const strip = (text: string) => {
      const { hosts, vms, migrations, revision } = JSON.parse(text) as Record<string, unknown>
      return { hosts, vms, migrations, revision }
    }
    expect(strip(branchAt.stdout)).toEqual(strip(parentAt.stdout))
    const events = JSON.parse(
      xenpool(["events", "--pool", "what-if", "--from", "130", "--store", store, "--json"]).stdout
    )
    expect(events.map((e: { revision: number; type: string }) => [e.revision, e.type])).toEqual([
      [130, expect.any(String)],
      [131, expect.any(String)],
      [132, "PoolForked"]
    ])
    const pools = JSON.parse(xenpool(["pools", "--store", store, "--json"]).stdout)
    expect(pools.find((p: { id: string }) => p.id === "what-if").provenance).toMatchObject({
      seed: 42,
      input: { kind: "scenario", name: "rolling-maintenance.json" },
      parent: { pool: "rolling-1", revision: 131 }
    })
    const text = xenpool(["pools", "--store", store]).stdout
    expect(text).toContain("fork of rolling-1 @131; seed 42, scenario rolling-maintenance.json")
  })

  it("a printed time with a space is a WHEN too", () => {
    const r = xenpool(["fork", "--pool", "rolling-1", "--at", "43.10 s", "--as", "early", "--store", store])
    expect(r.status).toBe(0)
    expect(r.stdout).toMatch(
      /^pool early: a branch of rolling-1 at 43.10 s \(revision \d+\), .*try: xenpool at '43.10 s' --pool early/
    )
    expect(xenpool(["at", "43.10 s", "--pool", "early", "--store", store]).status).toBe(0)
  })

  it("diff --against: text and --json", () => {
    const json = xenpool(["diff", "--pool", "what-if", "--against", "rolling-1", "6min", "--store", store, "--json"])
    expect(json.status).toBe(0)
    const d = JSON.parse(json.stdout)
    expect(d).toMatchObject({
      pool: "what-if",
      against: "rolling-1",
      from: { pool: "what-if" },
      to: { pool: "rolling-1" }
    })
    expect(d.vmsMoved.length).toBeGreaterThan(0)
    const text = xenpool(["diff", "--pool", "what-if", "--against", "rolling-1", "6min", "--store", store])
    expect(text.status).toBe(0)
    expect(text.stdout).toMatch(
      /^pool what-if at 6m00s \(revision 132\) against pool rolling-1 at 6m00s \(revision \d+\)/
    )
    expect(text.stdout).toContain("VMs moved")
  })

  it("bad input: one line, exit 1 (2 for a usage error), nothing written", () => {
    const before = xenpool(["pools", "--store", store, "--json"]).stdout
    const cases: ReadonlyArray<[ReadonlyArray<string>, number, string]> = [
      [["fork", "--pool", "nope", "--at", "1s", "--as", "n1"], 1, "unknown pool"],
      [["fork", "--pool", "rolling-1", "--at", "1s", "--as", "what-if"], 1, "pool already exists"],
      [["fork", "--pool", "rolling-1", "--at", "2h", "--as", "n2"], 1, "beyond the end of the pool"],
      [["fork", "--pool", "rolling-1", "--at", "@999", "--as", "n3"], 1, "beyond the end of the pool"],
      [["fork", "--pool", "rolling-1", "--at", "soon", "--as", "n4"], 2, "bad time"],
      [["fork", "--pool", "rolling-1", "--at", "-3s", "--as", "n5"], 2, "bad time"],
      [["fork", "--pool", "rolling-1", "--at", "1s", "--as", "a b"], 2, "bad pool id"],
      [["diff", "--pool", "rolling-1", "--against", "nope", "1s"], 1, "unknown pool"],
      [["diff", "--pool", "rolling-1", "1s"], 2, "diff to what"]
    ]
    for (const [args, status, what] of cases) {
      const r = xenpool([...args, "--store", store])
      expect(isCleanError(r), `${args.join(" ")}: ${r.stderr}`).toBe(true)
      expect(r.status, args.join(" ")).toBe(status)
      expect(r.stderr).toContain(what)
    }
    expect(xenpool(["pools", "--store", store, "--json"]).stdout).toBe(before)
  })

  it("--help lists fork and says what it does", () => {
    expect(xenpool(["--help"]).stdout).toContain("fork")
    const help = xenpool(["fork", "--help"])
    expect(help.status).toBe(0)
    expect(help.stdout).toContain("--as")
  })
})
