/**
 * `xenpool check` as a user runs it (the built binary), and its failure report: the counterexample is
 * written as a trace that `xenpool replay` runs on the engine to the failing run's events, and the
 * printed seed and path replay the case. A healthy engine gives `xenpool check` nothing to fail on, so
 * the failures here come from the mutants (properties/mutants.ts) through `runCheck`, and the report and
 * the files are made by the functions the command uses.
 */
import { describe, expect, it } from "vitest"
import { Schema } from "effect"
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { formatReport } from "../../cli/commands/check.js"
import { writeCounterexamples } from "../../api/check.js"
import { PoolEvent } from "../../domain/events.js"
import { mutants, propertyNames, runCheck, type CheckReport } from "../../properties/index.js"
import { runEngine } from "../../properties/engineRun.js"
import type { ScenarioJson } from "../../properties/arbitraries.js"
import { isCleanError, tempDir, xenpool } from "../cli/run.js"

const clock = () => 0

describe("xenpool check", () => {
  it("--json prints the seed, the runs and every property's verdict, and exits 0 when all hold", () => {
    const r = xenpool(["check", "--runs", "3", "--seed", "7", "--json"])
    expect(r.status, r.stderr).toBe(0)
    const report = JSON.parse(r.stdout) as { seed: number; runs: number; properties: Array<Record<string, unknown>> }
    expect(report.seed).toBe(7)
    expect(report.runs).toBe(3)
    expect(report.properties.map((p) => p.name)).toEqual(propertyNames)
    for (const p of report.properties) expect(p).toEqual({ name: p.name, runs: 3, ok: true, seed: 7 })
  })

  it("--property runs one property and prints a readable verdict", () => {
    const r = xenpool(["check", "--property", "memory-conservation", "--runs", "4", "--seed", "11"])
    expect(r.status, r.stderr).toBe(0)
    expect(r.stdout).toContain("seed 11, 4 runs per property")
    expect(r.stdout).toMatch(/memory-conservation\s+ok\s+4 runs/)
    expect(r.stdout).not.toContain("determinism")
  })

  it("an unknown property is a one-line error that lists the names", () => {
    const r = xenpool(["check", "--property", "no-such-thing"])
    expect(isCleanError(r)).toBe(true)
    expect(r.stderr).toContain("unknown property (--property no-such-thing)")
    for (const name of propertyNames) expect(r.stderr).toContain(name)
  })

  it("--path without the property and seed it came from is refused", () => {
    const r = xenpool(["check", "--path", "3:1:0"])
    expect(isCleanError(r)).toBe(true)
    expect(r.stderr).toContain("--path needs the case it came from")
  })

  it("--runs 0 is refused", () => {
    const r = xenpool(["check", "--runs", "0"])
    expect(isCleanError(r)).toBe(true)
    expect(r.stderr).toContain("bad --runs")
  })
})

describe("a failure report", () => {
  const mutant = mutants.find((m) => m.name === "xen-iteration-cap-off-by-one")!
  const report = runCheck({ runs: 200, seed: 1, only: ["termination-bounds"], seams: mutant.seams }, clock)
  const failed = report.properties[0]!

  it("names the property, the seed, the path and the shrunk counterexample in words", () => {
    expect(failed.ok).toBe(false)
    expect(failed.path).toMatch(/^\d+(:\d+)*$/)
    expect(failed.counterexample).toContain("xen: 6 live rounds > 5")
    expect(failed.counterexample).toMatch(/schedule:\n.*migrate v\d → h\d/)
    const text = formatReport(report, new Map())
    expect(text).toContain(`FAILED termination-bounds: seed 1, path ${failed.path}`)
    expect(text).toContain(`reproduce: xenpool check --property termination-bounds --seed 1 --path ${failed.path}`)
  })

  it("the printed seed and path replay exactly that case", () => {
    const again = runCheck(
      { runs: 200, seed: 1, only: ["termination-bounds"], path: failed.path!, seams: mutant.seams },
      clock
    )
    expect(again.properties[0]!.ok).toBe(false)
    expect(again.properties[0]!.counterexample).toBe(failed.counterexample)
  })

  it("is written as a trace that xenpool replay runs to the same events as the engine's run of the case", () => {
    const dir = tempDir()
    const files = writeCounterexamples(report, dir)
    const written = files.get("termination-bounds")!
    const file = join(dir, "xenpool-check-termination-bounds-1.trace.jsonl")
    // the mutant's run fails; the trace holds the case, which the real engine runs (as xenpool check would)
    const real = runEngine(failed.scenario!)
    expect(written).toEqual({ trace: file, events: real.emitted.length })
    expect(existsSync(join(dir, "xenpool-check-termination-bounds-1.json"))).toBe(false)
    expect(JSON.parse(readFileSync(file, "utf8").split("\n")[0]!)).toMatchObject({
      format: "xenpool-trace",
      version: 1,
      name: "check termination-bounds seed 1",
      seed: (failed.scenario as { seed: number }).seed
    })
    const text = formatReport(report, files)
    expect(text).toContain(
      `trace written to ${file} (its replay gives the failing run's ${real.emitted.length} events)`
    )
    expect(text).toContain(`replay it: xenpool replay ${file} --store memory:`)
    const r = xenpool(["replay", file, "--store", "memory:", "--json"])
    expect(r.status, r.stderr).toBe(0)
    expect(JSON.parse(r.stdout).events).toBe(real.emitted.length)
  })
})

const encodeEvent = Schema.encodeSync(PoolEvent)

describe("end to end: a failing check's trace, replayed by xenpool replay, gives the failing run's events", () => {
  // The mutant loses events between the engine and the store, so replay-equivalence fails, while the
  // engine's own events are those of the real engine: the failing run and the trace's replay can be
  // compared event for event.
  const mutant = mutants.find((m) => m.name === "sink-drops-events")!
  const report = runCheck({ runs: 200, seed: 1, only: ["replay-equivalence"], seams: mutant.seams }, clock)
  const failed = report.properties[0]!

  it("the trace replays into the store with the failing run's events: ids, types, times and fields", () => {
    expect(failed.ok).toBe(false)
    const dir = tempDir()
    const files = writeCounterexamples(report, dir)
    const trace = files.get("replay-equivalence")!.trace!
    expect(formatReport(report, files)).toContain(`replay it: xenpool replay ${trace} --store memory:`)
    const failing = runEngine(failed.scenario!, { seams: mutant.seams }).emitted
    const store = `sqlite:${join(dir, "replayed.db")}`
    const pool = (failed.scenario!.pool as { id: string }).id
    // the scenario's pool id and seed: the same event ids as the failing run
    const r = xenpool(["replay", trace, "--pool", pool, "--store", store, "--json"])
    expect(r.status, r.stderr).toBe(0)
    expect(JSON.parse(r.stdout)).toMatchObject({ pool, events: failing.length })
    const listed = xenpool(["events", "--pool", pool, "--store", store, "--limit", String(failing.length), "--json"])
    expect(listed.status, listed.stderr).toBe(0)
    const events = JSON.parse(listed.stdout) as Array<{ id: string; type: string; atUs: number; data: unknown }>
    // The stored creation event also says how the pool was made (from the trace); the engine's own run
    // has no input to name. Compared apart.
    const withoutProvenance = (data: unknown) => {
      const { provenance: _made, ...rest } = data as Record<string, unknown>
      return rest
    }
    expect(events.map(({ id, type, atUs, data }) => ({ id, type, atUs, data: withoutProvenance(data) }))).toEqual(
      failing.map((e) => {
        const { _tag, ...data } = encodeEvent(e.event) as { _tag: string } & Record<string, unknown>
        return { id: e.id, type: _tag, atUs: e.event.atUs, data: withoutProvenance(data) }
      })
    )
    expect((events[0]!.data as { provenance: unknown }).provenance).toMatchObject({ _tag: "run", input: "trace" })
  })

  it("--json names the trace file", () => {
    const dir = tempDir()
    const files = writeCounterexamples(report, dir)
    expect(files.get("replay-equivalence")).toEqual({
      trace: join(dir, "xenpool-check-replay-equivalence-1.trace.jsonl"),
      events: expect.any(Number)
    })
  })
})

describe("a case with no trace says so", () => {
  const fake = (name: string, scenario?: ScenarioJson): CheckReport => ({
    seed: 1,
    runs: 1,
    properties: [
      {
        name,
        runs: 0,
        ok: false,
        seed: 1,
        counterexample: "made up\nfor the test",
        elapsedMs: 0,
        ...(scenario ? { scenario } : {})
      }
    ]
  })

  it("pool-model and evacuation-plan: not scenarios, no file; the seed and path replay them", () => {
    const dir = tempDir()
    for (const name of ["pool-model", "evacuation-plan"]) {
      const report = fake(name)
      const files = writeCounterexamples(report, dir)
      expect(files.get(name)).toEqual({ note: expect.stringMatching(/^no trace: the case is .*not a scenario/) })
      expect(formatReport(report, files)).toContain("no trace: the case is")
    }
  })

  it("a scenario with a tie between an operation and the engine (a fail-link at the µs a round ends): a trace", () => {
    // inputs run before the engine's own happenings at one µs, in a scenario and in a replay alike
    const base = {
      format: "xenpool-scenario",
      version: 1,
      name: "tie",
      pool: { id: "check", linkLatency: "0us" },
      hosts: [{ id: "h", count: 3, memory: "64GiB", overhead: "2GiB" }],
      vms: [
        { id: "a", memory: "1GiB", host: "h1" },
        { id: "b", memory: "1GiB", host: "h3" }
      ]
    }
    const alone = runEngine({ ...base, schedule: [{ at: "0us", op: "migrate", vm: "a", to: "h2" }] })
    const roundEndUs = alone.emitted.find((e) => e.event._tag === "VmMigrationRoundCompleted")!.event.atUs
    const scenario = {
      ...base,
      schedule: [
        { at: "0us", op: "migrate", vm: "a", to: "h2" },
        { at: "1us", op: "pause-vm", vm: "b" },
        { at: `${roundEndUs}us`, op: "fail-link", host: "h2" }
      ]
    }
    const dir = tempDir()
    const written = writeCounterexamples(fake("determinism", scenario), dir).get("determinism")!
    expect(written.trace).toBe(join(dir, "xenpool-check-determinism-1.trace.jsonl"))
    expect(written.events).toBe(runEngine(scenario).emitted.length)
  })

  it("a scenario a trace cannot hold (a VM's load series): the scenario is written instead, and why", () => {
    const scenario = {
      format: "xenpool-scenario",
      version: 1,
      name: "loaded",
      pool: { id: "check" },
      hosts: [{ id: "h", count: 2, memory: "64GiB", overhead: "2GiB" }],
      vms: [{ id: "a", memory: "1GiB", host: "h1", load: { intervalS: 300, cpuPct: [10, 20] } }],
      schedule: [{ at: "1s", op: "migrate", vm: "a", to: "h2" }]
    }
    const dir = tempDir()
    const report = fake("determinism", scenario)
    const written = writeCounterexamples(report, dir).get("determinism")!
    expect(written.trace).toBeUndefined()
    expect(written.scenario).toBe(join(dir, "xenpool-check-determinism-1.json"))
    expect(written.note).toMatch(/^no trace: the scenario has no trace \(vms\[0\]\.load: expected /)
    expect(existsSync(join(dir, "xenpool-check-determinism-1.trace.jsonl"))).toBe(false)
    const text = formatReport(report, new Map([["determinism", written]]))
    expect(text).toContain(`run it:    xenpool simulate ${written.scenario} --store memory:`)
  })
})
