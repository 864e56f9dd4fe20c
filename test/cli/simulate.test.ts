import { describe, expect, it } from "vitest"
import { readFileSync, writeFileSync } from "node:fs"
import { join, resolve } from "node:path"
import { isCleanError, tempDir, xenpool } from "./run.js"

const scenario = (name: string) => resolve(import.meta.dirname, `../../simulations/scenarios/${name}.json`)

describe("xenpool demo", () => {
  it("writes xenpool.db in the working directory, and two runs in two places give identical logs", () => {
    const logs = [tempDir(), tempDir()].map((dir) => {
      const r = xenpool(["demo"], { cwd: dir })
      expect(r.status).toBe(0)
      expect(r.stdout).toContain("rolling maintenance: done")
      expect(r.stdout).toContain("time travel")
      const ev = xenpool(["events", "--pool", "rolling-1", "--json"], { cwd: dir })
      expect(ev.status).toBe(0)
      return ev.stdout
    })
    expect(JSON.parse(logs[0]!).length).toBeGreaterThan(100)
    expect(logs[0]).toBe(logs[1])
  })

  it("a second run in the same store writes a new pool", () => {
    const dir = tempDir()
    xenpool(["demo"], { cwd: dir })
    xenpool(["demo"], { cwd: dir })
    const pools = JSON.parse(xenpool(["pools", "--json"], { cwd: dir }).stdout) as Array<{ id: string }>
    expect(pools.map((p) => p.id)).toEqual(["rolling-1", "rolling-2"])
  })

  it("--json prints one document with the summary fields", () => {
    const r = xenpool(["demo", "--json", "--store", "memory:"])
    expect(r.status).toBe(0)
    const o = JSON.parse(r.stdout)
    expect(Object.keys(o)).toEqual(expect.arrayContaining(["pool", "events", "simulatedUs", "migrations", "hosts"]))
    expect(o.migrations[0]).toEqual(
      expect.objectContaining({
        id: expect.any(String),
        vm: expect.any(String),
        from: expect.any(String),
        to: expect.any(String),
        rounds: expect.any(Number),
        bytesSent: expect.any(Number),
        totalUs: expect.any(Number),
        downtimeUs: expect.any(Number),
        outcome: "committed"
      })
    )
  })
})

describe("xenpool simulate", () => {
  it("appends every event of the run and prints the summary", () => {
    const dir = tempDir()
    const store = `sqlite:${join(dir, "s.db")}`
    const r = xenpool(["simulate", scenario("idle-migration"), "--store", store, "--json"])
    expect(r.status).toBe(0)
    const o = JSON.parse(r.stdout)
    expect(o.pool).toBe("idle-1")
    const events = JSON.parse(xenpool(["events", "--pool", "idle-1", "--store", store, "--json"]).stdout)
    expect(events).toHaveLength(o.events)
    expect(events.map((e: { revision: number }) => e.revision)).toEqual(events.map((_: unknown, i: number) => i))
    expect(events[0].type).toBe("PoolCreated")
  })

  it("--pool names the new pool; an existing one is refused", () => {
    const dir = tempDir()
    const store = `sqlite:${join(dir, "s.db")}`
    expect(xenpool(["simulate", scenario("idle-migration"), "--store", store, "--pool", "mine"]).status).toBe(0)
    const again = xenpool(["simulate", scenario("idle-migration"), "--store", store, "--pool", "mine"])
    expect(isCleanError(again)).toBe(true)
    expect(again.stderr).toContain("mine")
  })

  it("a different --seed changes the event ids; the same seed repeats them (same pool id, separate stores)", () => {
    const ids = (seed: string) => {
      const store = `sqlite:${join(tempDir(), "s.db")}`
      expect(
        xenpool(["simulate", scenario("idle-migration"), "--store", store, "--pool", "p", "--seed", seed]).status
      ).toBe(0)
      return (
        JSON.parse(xenpool(["events", "--pool", "p", "--store", store, "--json"]).stdout) as Array<{ id: string }>
      ).map((e) => e.id)
    }
    const one = ids("1")
    expect(ids("1")).toEqual(one)
    const two = ids("2")
    expect(two).toHaveLength(one.length)
    expect(one.filter((id, i) => id === two[i])).toEqual([])
  })

  const badCases: ReadonlyArray<[string, (s: Record<string, any>) => void, string]> = [
    ["a size without a unit", (s) => (s.hosts[0].memory = "64"), "hosts[0].memory"],
    ["an ambiguous size", (s) => (s.hosts[0].memory = "64GB"), "hosts[0].memory"],
    ["an unknown VM in the schedule", (s) => (s.schedule[0].vm = "ghost"), "schedule[0].vm"],
    ["an unknown host in the schedule", (s) => (s.schedule[0].to = "h9"), "schedule[0].to"],
    ["a bad duration", (s) => (s.schedule[0].at = "soon"), "schedule[0].at"],
    ["an unknown field", (s) => (s.colour = "blue"), "colour"],
    ["a wrong format tag", (s) => (s.format = "other"), "format"]
  ]
  for (const [what, mutate, path] of badCases) {
    it(`${what}: one clear line naming the file and field, and nothing appended`, () => {
      const dir = tempDir()
      const s = JSON.parse(readFileSync(scenario("idle-migration"), "utf8"))
      mutate(s)
      const file = join(dir, "bad.json")
      writeFileSync(file, JSON.stringify(s))
      const store = `sqlite:${join(dir, "s.db")}`
      const r = xenpool(["simulate", file, "--store", store])
      expect(isCleanError(r)).toBe(true)
      expect(r.stderr).toContain("bad.json")
      expect(r.stderr).toContain(path)
      expect(JSON.parse(xenpool(["pools", "--store", store, "--json"]).stdout)).toEqual([])
    })
  }

  it("a negative --seed is refused with a clear error and nothing appended", () => {
    const dir = tempDir()
    const store = `sqlite:${join(dir, "s.db")}`
    const r = xenpool(["simulate", scenario("idle-migration"), "--store", store, "--seed", "-3"])
    expect(isCleanError(r)).toBe(true)
    expect(r.stderr).toContain("--seed -3")
    expect(JSON.parse(xenpool(["pools", "--store", store, "--json"]).stdout)).toEqual([])
  })

  it("a file that is not JSON, and a missing file, are clear errors", () => {
    const dir = tempDir()
    writeFileSync(join(dir, "x.json"), "{ not json")
    expect(isCleanError(xenpool(["simulate", join(dir, "x.json"), "--store", "memory:"]))).toBe(true)
    expect(isCleanError(xenpool(["simulate", join(dir, "missing.json"), "--store", "memory:"]))).toBe(true)
  })
})

describe("xenpool migrate-model", () => {
  it("--json has DESIGN.md §7's shape: the first round live, the last paused, downtime = its duration", () => {
    const r = xenpool([
      "migrate-model",
      "--memory",
      "1GiB",
      "--bandwidth",
      "1Gbit/s",
      "--dirty-rate",
      "10MiB/s",
      "--json"
    ])
    expect(r.status).toBe(0)
    const o = JSON.parse(r.stdout)
    expect(Object.keys(o)).toEqual(
      expect.arrayContaining([
        "policy",
        "model",
        "memoryBytes",
        "pageSizeBytes",
        "rounds",
        "totalUs",
        "downtimeUs",
        "bytesSent",
        "pagesSent",
        "stopReason"
      ])
    )
    expect(o.rounds[0].live).toBe(true)
    expect(o.rounds.at(-1).live).toBe(false)
    expect(o.rounds[0].pagesSent).toBe(262_144)
    // downtime = the paused parts; the total = setup + the rounds + suspend + restore (docs/migration.md)
    const { setupUs, suspendUs, restoreUs, stateBytes } = o.phases
    expect(o.downtimeUs).toBe(suspendUs + o.rounds.at(-1).durationUs + restoreUs)
    const roundsUs = o.rounds.reduce((sum: number, r: { durationUs: number }) => sum + r.durationUs, 0)
    expect(o.totalUs).toBe(setupUs + roundsUs + suspendUs + restoreUs)
    expect(o.rounds.at(-1).stateBytes).toBe(stateBytes)
  })

  it("--phases none: the pure model, whose downtime is the paused round's duration", () => {
    const r = xenpool([
      "migrate-model",
      "--memory",
      "1GiB",
      "--bandwidth",
      "1Gbit/s",
      "--dirty-rate",
      "10MiB/s",
      "--phases",
      "none",
      "--json"
    ])
    expect(r.status).toBe(0)
    const o = JSON.parse(r.stdout)
    expect(o.phases).toBeUndefined()
    expect(o.rounds.at(-1).durationUs).toBe(o.downtimeUs)
  })

  it("prints a round table by default", () => {
    const r = xenpool([
      "migrate-model",
      "--memory",
      "2GiB",
      "--bandwidth",
      "10Gbit/s",
      "--dirty-rate",
      "200MiB/s",
      "--policy",
      "xen-legacy"
    ])
    expect(r.status).toBe(0)
    expect(r.stdout).toContain("round")
    expect(r.stdout).toContain("paused")
  })

  for (const [flag, value] of [
    ["--memory", "lots"],
    ["--memory", "4GB"],
    ["--bandwidth", "1Gbps"],
    ["--dirty-rate", "10MiB"],
    ["--max-downtime", "30"]
  ] as const) {
    it(`${flag} ${value} is refused with a clear error`, () => {
      const args = ["migrate-model", "--memory", "1GiB", "--bandwidth", "1Gbit/s"]
      const i = args.indexOf(flag)
      if (i >= 0) args[i + 1] = value
      else args.push(flag, value)
      const r = xenpool(args)
      expect(isCleanError(r)).toBe(true)
      expect(r.stderr).toContain(flag)
    })
  }
})
