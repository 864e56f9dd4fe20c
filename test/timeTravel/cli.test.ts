/**
 * `xenpool at`, `history` and `diff` as a user runs them (the built binary), on a store that `simulate`
 * filled with the bundled rolling-maintenance scenario: every form, text and --json, cross-checked
 * against what `simulate --json` reported, and every bad input as one clear line.
 */
import { rmSync } from "node:fs"
import { join, resolve } from "node:path"
import Database from "better-sqlite3"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { isCleanError, tempDir, xenpool, type CliResult } from "../cli/run.js"

const scenario = resolve(import.meta.dirname, "../../simulations/scenarios/rolling-maintenance.json")
const directory = tempDir()
const file = join(directory, "tt.db")
const store = `sqlite:${file}`
const pool = "rolling-tt"
const snapshotEvery = 16

interface Summary {
  readonly events: number
  readonly simulatedUs: number
  readonly hosts: ReadonlyArray<{ readonly id: string }>
  readonly migrations: ReadonlyArray<{
    readonly id: string
    readonly vm: string
    readonly from: string
    readonly to: string
  }>
}
let summary: Summary

const run = (args: ReadonlyArray<string>, env: Record<string, string> = {}): CliResult =>
  xenpool([...args, "--store", store], { env: { XENPOOL_SNAPSHOT_EVERY: String(snapshotEvery), ...env } })

const json = <A>(args: ReadonlyArray<string>): A => {
  const r = run([...args, "--json"])
  expect(r.stderr).toBe("")
  expect(r.status).toBe(0)
  return JSON.parse(r.stdout) as A
}

beforeAll(() => {
  const r = run(["simulate", scenario, "--pool", pool, "--json"])
  expect(r.status).toBe(0)
  summary = JSON.parse(r.stdout) as Summary
})
afterAll(() => rmSync(directory, { recursive: true, force: true }))

describe("simulate leaves snapshots beside the log", () => {
  it("one after every N events (XENPOOL_SNAPSHOT_EVERY), in the store's file", () => {
    const db = new Database(file, { readonly: true })
    try {
      // the projection's snapshots; beside them, the engine at rest inside the run and at its end, and the
      // run's schedule in chunks (api/engineRests.ts)
      const revisions = db
        .prepare(
          "SELECT revision FROM snapshots WHERE stream = ? AND projection_version NOT LIKE 'engine-rest/%' AND projection_version NOT LIKE 'schedule-chunks/%' ORDER BY revision"
        )
        .pluck()
        .all(`pool-${pool}`)
      expect(revisions).toStrictEqual(
        Array.from({ length: Math.floor(summary.events / snapshotEvery) }, (_, k) => (k + 1) * snapshotEvery - 1)
      )
      const rests = db
        .prepare(
          "SELECT revision FROM snapshots WHERE stream = ? AND projection_version LIKE 'engine-rest/%' ORDER BY revision"
        )
        .pluck()
        .all(`pool-${pool}`) as number[]
      expect(rests[rests.length - 1]).toBe(summary.events - 1)
    } finally {
      db.close()
    }
  })
})

interface AtJson {
  readonly pool: string
  readonly revision: number
  readonly atUs: number
  readonly bound: string
  readonly note: string | null
  readonly lastRevision: number
  readonly hosts: ReadonlyArray<Record<string, unknown> & { id: string; vms: string[] }>
  readonly vms: ReadonlyArray<Record<string, unknown> & { id: string; residentOn: string | null }>
  readonly migrations: ReadonlyArray<Record<string, unknown> & { vm: string }>
}

describe("xenpool at", () => {
  it("prints hosts with memory bars and VMs with state and host", () => {
    const r = run(["at", "75s", "--pool", pool])
    expect(r.status).toBe(0)
    expect(r.stdout).toMatch(/^pool rolling-tt at 1m15s: revision \d+ of \d+/)
    expect(r.stdout).toMatch(/h1 +\w+ +\[[#.]{20}\]/)
    expect(r.stdout).toMatch(/web-1 +Running +h\d/)
  })

  it("--json has DESIGN.md §7's shape, and past the end equals simulate's own summary of the last state", () => {
    const answer = json<AtJson>(["at", "10h", "--pool", pool])
    expect(Object.keys(answer)).toEqual(
      expect.arrayContaining(["pool", "revision", "atUs", "hosts", "vms", "migrations"])
    )
    expect([answer.pool, answer.revision, answer.atUs, answer.bound]).toStrictEqual([
      pool,
      summary.events - 1,
      36e9,
      "after-last"
    ])
    expect(answer.note).toContain("latest state")
    expect(answer.hosts).toStrictEqual(summary.hosts)
    for (const key of [
      "id",
      "enabled",
      "live",
      "memoryTotalPages",
      "memoryFreePages",
      "memoryPlacementFreePages",
      "vms"
    ])
      expect(answer.hosts[0]).toHaveProperty(key)
    for (const key of ["id", "powerState", "residentOn", "domid"]) expect(answer.vms[0]).toHaveProperty(key)
    expect(answer.migrations).toStrictEqual([])
  })

  it("is inclusive: at a migration's commit time the VM is on its destination, a microsecond before on its source", () => {
    const first = summary.migrations[0]!
    const history = json<{ changes: ReadonlyArray<{ kind: string; atUs: number; revision: number }> }>([
      "history",
      "--pool",
      pool,
      "--vm",
      first.vm
    ])
    const commit = history.changes.find((c) => c.kind === "migrated")!
    const at = (when: string) => json<AtJson>(["at", when, "--pool", pool, "--vm", first.vm])
    expect(at(`${commit.atUs}us`).vms[0]!.residentOn).toBe(first.to)
    expect(at(`${commit.atUs - 1}us`).vms[0]!.residentOn).toBe(first.from)
    expect(at(`@${commit.revision}`).vms[0]!.residentOn).toBe(first.to)
    expect(at(`@${commit.revision - 1}`).vms[0]!.residentOn).toBe(first.from)
  })

  it("@REVISION answers that revision, at its event's time; --vm and --host narrow the answer", () => {
    const all = json<AtJson>(["at", "@100", "--pool", pool])
    expect([all.revision, all.bound]).toStrictEqual([100, "within"])
    const vm = json<AtJson>(["at", "@100", "--pool", pool, "--vm", "web-1"])
    expect(vm.atUs).toBe(all.atUs)
    expect(vm.vms.map((v) => v.id)).toStrictEqual(["web-1"])
    expect(vm.hosts.map((h) => h.id)).toStrictEqual([vm.vms[0]!.residentOn])
    const host = json<AtJson>(["at", "@100", "--pool", pool, "--host", "h2"])
    expect(host.hosts.map((h) => h.id)).toStrictEqual(["h2"])
    expect(host.vms.map((v) => v.id).sort()).toStrictEqual([...host.hosts[0]!.vms].sort())
    const text = run(["at", "@100", "--pool", pool, "--host", "h2"])
    expect(text.stdout).toContain("h2")
    expect(text.stdout).not.toMatch(/^h1 /m)
  })

  it("shows the migrations in flight", () => {
    const first = summary.migrations[0]!
    const history = json<{ changes: ReadonlyArray<{ kind: string; revision: number }> }>([
      "history",
      "--pool",
      pool,
      "--vm",
      first.vm
    ])
    const started = history.changes.find((c) => c.kind === "migration-started")!
    const answer = json<AtJson>(["at", `@${started.revision}`, "--pool", pool])
    expect(answer.migrations.map((m) => m.vm)).toContain(first.vm)
    expect(run(["at", `@${started.revision}`, "--pool", pool]).stdout).toContain("migrations in flight")
  })
})

describe("xenpool history", () => {
  it("--vm: placements, power changes and migrations, the same migrations simulate reported", () => {
    const vm = summary.migrations[0]!.vm
    const history = json<{ changes: ReadonlyArray<{ kind: string }>; migrations: ReadonlyArray<unknown> }>([
      "history",
      "--pool",
      pool,
      "--vm",
      vm
    ])
    expect(history.changes.map((c) => c.kind).slice(0, 2)).toStrictEqual(["created", "started"])
    expect(history.changes.map((c) => c.kind)).toContain("migrated")
    expect(history.migrations).toStrictEqual(summary.migrations.filter((m) => m.vm === vm))
    const text = run(["history", "--pool", pool, "--vm", vm])
    expect(text.stdout).toMatch(/migration-started/)
    expect(text.stdout).toMatch(/downtime/)
  })

  it("--host: memory over time with the VMs resident at each change, ending where simulate ended", () => {
    const history = json<{
      points: ReadonlyArray<Record<string, unknown> & { vms: string[]; memoryFreePages: number }>
    }>(["history", "--pool", pool, "--host", "h1"])
    const last = history.points[history.points.length - 1]!
    const final = summary.hosts.find((h) => h.id === "h1") as unknown as { vms: string[]; memoryFreePages: number }
    expect([last.vms, last.memoryFreePages]).toStrictEqual([final.vms, final.memoryFreePages])
    expect(history.points[0]!["event"]).toBe("HostJoined")
    expect(run(["history", "--pool", pool, "--host", "h1"]).stdout).toMatch(/\[[#.]{20}\]/)
  })
})

describe("xenpool diff", () => {
  it("lists the VMs that moved and the hosts that changed between two points", () => {
    const d = json<{
      from: { revision: number }
      to: { revision: number }
      vmsMoved: ReadonlyArray<{ vm: string; from: string; to: string }>
      hostsChanged: ReadonlyArray<{ host: string; changed: string[] }>
    }>(["diff", "--pool", pool, "10s", "2min"])
    expect(d.from.revision).toBeLessThan(d.to.revision)
    // h1 is evacuated from 10 s on: its VMs moved.
    expect(d.vmsMoved.some((m) => m.from === "h1")).toBe(true)
    const [before, after] = ["10s", "2min"].map((when) => json<AtJson>(["at", when, "--pool", pool]))
    const hostOf = (answer: AtJson, vm: string) => answer.vms.find((v) => v.id === vm)!.residentOn
    for (const move of d.vmsMoved)
      expect([hostOf(before!, move.vm), hostOf(after!, move.vm)]).toStrictEqual([move.from, move.to])
    expect(d.hostsChanged.find((h) => h.host === "h1")!.changed).toEqual(expect.arrayContaining(["enabled", "vms"]))
    const text = run(["diff", "--pool", pool, "10s", "2min"])
    expect(text.stdout).toContain("VMs moved")
    expect(run(["diff", "--pool", pool, "@5", "@5"]).stdout).toContain("no change")
  })
})

describe("bad input is one clear line", () => {
  it.each([
    [["at", "12parsecs", "--pool", pool], "bad time"],
    [["at", "12", "--pool", pool], "bad time"],
    [["at", "@x", "--pool", pool], "bad revision"],
    [["at", "@1.5", "--pool", pool], "bad revision"],
    [["diff", "--pool", pool, "1s", "soon"], "bad time"],
    [["at", "1s", "--pool", "nope"], "unknown pool"],
    [["history", "--pool", "nope", "--vm", "web-1"], "unknown pool"],
    [["diff", "--pool", "nope", "1s", "2s"], "unknown pool"],
    [["at", "1s", "--pool", pool, "--vm", "web-99"], "unknown VM"],
    [["history", "--pool", pool, "--vm", "web-99"], "unknown VM"],
    [["at", "1s", "--pool", pool, "--host", "h9"], "unknown host"],
    [["history", "--pool", pool, "--host", "h9"], "unknown host"],
    [["at", "1s", "--pool", pool, "--vm", "web-1", "--host", "h1"], "--vm and --host"],
    [["history", "--pool", pool], "--vm ID or --host ID"]
  ])("%j: %s", (args, message) => {
    const r = run(args)
    expect(isCleanError(r), r.stderr).toBe(true)
    expect(r.stderr).toContain(message)
    expect(r.stdout).toBe("")
  })

  it("a bad XENPOOL_SNAPSHOT_EVERY is named", () => {
    const r = run(["at", "1s", "--pool", pool], { XENPOOL_SNAPSHOT_EVERY: "often" })
    expect(isCleanError(r)).toBe(true)
    expect(r.stderr).toContain("XENPOOL_SNAPSHOT_EVERY")
  })
})

describe("xenpool demo", () => {
  it("answers its time-travel line from the store", () => {
    const dir = tempDir()
    try {
      const r = xenpool(["demo", "--store", `sqlite:${join(dir, "demo.db")}`, "--json"])
      expect(r.status).toBe(0)
      const out = JSON.parse(r.stdout) as {
        pool: string
        timeTravel: { atUs: number; revision: number; vm: string; residentOn: string }
      }
      const answer = JSON.parse(
        xenpool([
          "at",
          `${out.timeTravel.atUs}us`,
          "--pool",
          out.pool,
          "--vm",
          out.timeTravel.vm,
          "--json",
          "--store",
          `sqlite:${join(dir, "demo.db")}`
        ]).stdout
      ) as AtJson
      expect([answer.revision, answer.vms[0]!.residentOn]).toStrictEqual([
        out.timeTravel.revision,
        out.timeTravel.residentOn
      ])
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
