/**
 * A scenario as a trace (simulations/trace/fromScenario.ts): running the scenario (runScenario) and
 * replaying its trace (the replay's engine run, in memory) give the same events, ids included, since the
 * replay writes the scenario's pool id with its seed. Proven on the property suite's generated scenarios,
 * on a scenario using every schedule operation and on the bundled scenarios; the features a trace has no
 * record for are errors naming the field; and the one known difference (an operation at the very µs of
 * a happening the engine scheduled earlier) is pinned down.
 */
import { describe, expect, it } from "vitest"
import fc from "fast-check"
import { Either, Schema } from "effect"
import { readFileSync } from "node:fs"
import { PoolEvent } from "../../domain/events.js"
import { poolId } from "../../domain/ids.js"
import { transferFactory } from "../../engine/migration/index.js"
import type { EmittedEvent } from "../../engine/simulation.js"
import { scenarioArb, type ScenarioJson } from "../../properties/arbitraries.js"
import { counterexampleTrace, runDifference } from "../../properties/counterexample.js"
import { compileScenario } from "../../simulations/compile.js"
import { runScenario } from "../../simulations/run.js"
import { parseScenarioJson, type Scenario } from "../../simulations/scenario.js"
import { replayTrace, scenarioTrace, scenarioTraceText, textInput } from "../../simulations/trace.js"
import { pool, scenarioFile } from "../engine/harness.js"
import { SEEDS } from "../properties/seeds.js"

const encode = Schema.encodeSync(PoolEvent)
/** An event as the store keeps it: id, type and fields. */
const stored = (e: EmittedEvent) => ({ id: e.id, event: encode(e.event) })
const typeAndFields = (e: EmittedEvent) => encode(e.event)

const parse = (json: unknown): Scenario => {
  const parsed = parseScenarioJson("test", JSON.stringify(json))
  if (Either.isLeft(parsed)) throw new Error(`${parsed.left.path}: ${parsed.left.expected}`)
  return parsed.right
}

/** The scenario's run on the engine, as `xenpool simulate` does it. */
const simulate = (scenario: Scenario): ReadonlyArray<EmittedEvent> => {
  const compiled = Either.getOrThrow(compileScenario("test", scenario))
  const events: EmittedEvent[] = []
  runScenario(compiled, { transferFactory, sink: (batch) => events.push(...batch) })
  return events
}

/** The scenario's trace, replayed as `xenpool replay` does it (into pool `pool`, default the scenario's). */
const replayOf = (scenario: Scenario, pool = scenario.pool.id): ReadonlyArray<EmittedEvent> => {
  const text = scenarioTraceText("test", scenario)
  if (Either.isLeft(text)) throw new Error(`${text.left.path}: ${text.left.expected}`)
  const events: EmittedEvent[] = []
  const outcome = replayTrace(textInput("test.jsonl", text.right), {
    pool: poolId(pool),
    sink: (batch) => events.push(...batch)
  })
  if (Either.isLeft(outcome)) throw new Error(`${outcome.left.line}: ${outcome.left.path}: ${outcome.left.expected}`)
  return events
}

const errorOf = (json: unknown) => {
  const trace = scenarioTrace("s.json", parse(json))
  if (Either.isRight(trace)) throw new Error("expected an error")
  return trace.left
}

/** A scenario that uses every schedule operation a trace records, on two 64 GiB hosts and a third. */
const everyOperation = {
  ...pool({
    hosts: 3,
    latency: "100us",
    policy: { name: "max-downtime", maxDowntime: "30ms", roundsMax: 20 },
    seed: 5,
    vms: [
      { id: "a", memory: "1GiB", host: "h1", workload: { model: "rate", dirtyRate: "20MiB/s", workingSet: "50%" } },
      {
        id: "b",
        memory: { staticMin: "64MiB", dynamicMin: "128MiB", target: "256MiB", staticMax: "512MiB" },
        host: "h2",
        workload: { model: "pages", writer: "hot-cold", dirtyRate: "2000pages/s" }
      },
      { id: "c", vcpus: 4, memory: "512MiB", start: false }
    ],
    schedule: [
      { at: "0us", op: "set-paging-target", vm: "b", target: "32768pages" },
      { at: "10ms", op: "migrate", vm: "a", to: "h3" },
      { at: "10ms", op: "slow-link", host: "h3", percent: 40 },
      { at: "20ms", op: "guest-access", vm: "b", gfns: [1, 2, 40_000] },
      { at: "21ms", op: "guest-access", vm: "b", range: { first: 100, count: 50 } },
      { at: "22ms", op: "guest-access", vm: "b", random: 500 },
      { at: "30ms", op: "start-vm", vm: "c", host: "h1" },
      { at: "40ms", op: "set-memory-target", vm: "b", target: "192MiB" },
      { at: "50ms", op: "migrate", vm: "b", to: "h1" },
      { at: "60ms", op: "fail-link", host: "h1" },
      { at: "70ms", op: "restore-link", host: "h1" },
      { at: "80ms", op: "pause-vm", vm: "c" },
      { at: "90ms", op: "unpause-vm", vm: "c" },
      { at: "1s", op: "suspend-vm", vm: "c" },
      { at: "2s", op: "resume-vm", vm: "c", host: "h2" },
      { at: "3s", op: "disable-host", host: "h2" },
      { at: "3s", op: "evacuate", host: "h2" },
      { at: "10s", op: "enable-host", host: "h2" },
      { at: "11s", op: "fail-host", host: "h3" },
      { at: "12s", op: "recover-host", host: "h3" },
      { at: "13s", op: "rolling-maintenance", hosts: ["h1", "h2"], maintenance: "5s" },
      { at: "60s", op: "shutdown-vm", vm: "c", hard: true },
      { at: "61s", op: "destroy-vm", vm: "c" }
    ]
  }),
  limits: { simulatedTime: "1h", events: 100_000 }
}

describe("a scenario as a trace: the header and one record per schedule entry", () => {
  it("the header carries the pool, hosts, VMs, seed, policy and limits; records come in the order the scenario runs", () => {
    const scenario = parse(everyOperation)
    const { header, records } = Either.getOrThrow(scenarioTrace("test", scenario))
    expect(header).toMatchObject({
      name: "test",
      seed: 5,
      policy: { name: "max-downtime", maxDowntime: "30ms", roundsMax: 20 },
      pool: { id: "t", pageSize: "4KiB", linkLatency: "100us", hosts: scenario.hosts, vms: scenario.vms },
      limits: { simulatedTime: "1h", events: 100_000 }
    })
    expect(records).toHaveLength(scenario.schedule.length)
    expect(records.map((r) => r.op)).toEqual(
      scenario.schedule.map((item) => (item.op === "guest-access" ? "access" : item.op))
    )
    expect(records.slice(1, 6)).toEqual([
      { atUs: 10_000, op: "migrate", vm: "a", to: "h3" },
      { atUs: 10_000, op: "slow-link", host: "h3", percent: 40 },
      { atUs: 20_000, op: "access", vm: "b", gfns: [1, 2, 40_000] },
      { atUs: 21_000, op: "access", vm: "b", ranges: [[100, 149]] },
      { atUs: 22_000, op: "access", vm: "b", random: 500 }
    ])
    expect(records.find((r) => r.op === "rolling-maintenance")).toEqual({
      atUs: 13_000_000,
      op: "rolling-maintenance",
      hosts: ["h1", "h2"],
      maintenance: "5s"
    })
  })

  it("a rolling maintenance without hosts names every host of the scenario, as the scenario runs it", () => {
    const { records } = Either.getOrThrow(
      scenarioTrace("test", parse(pool({ hosts: 3, schedule: [{ at: "1s", op: "rolling-maintenance" }] })))
    )
    expect(records).toEqual([
      { atUs: 1_000_000, op: "rolling-maintenance", hosts: ["h1", "h2", "h3"], maintenance: "60s" }
    ])
  })
})

describe("replaying a scenario's trace gives the scenario's events", () => {
  const generated = fc.oneof(
    scenarioArb(),
    scenarioArb({ workloads: ["pages-uniform", "pages-hot-cold"] }),
    scenarioArb({ faults: ["paging"], pageOutFirst: true })
  )

  for (const seed of SEEDS) {
    it(`generated scenarios of the property suite (seed ${seed}): the same events, ids included`, () => {
      fc.assert(
        fc.property(generated, (json: ScenarioJson) => {
          const scenario = parse(json)
          const run = simulate(scenario)
          expect(run.length).toBeGreaterThan(0)
          expect(replayOf(scenario).map(stored)).toEqual(run.map(stored))
        }),
        { numRuns: 60, seed }
      )
    })
  }

  it("a scenario using every schedule operation: the same events, ids included", () => {
    const scenario = parse(everyOperation)
    const run = simulate(scenario)
    const types = new Set(run.map((e) => e.event._tag))
    for (const type of ["VmMigrationCommitted", "VmMigrationAborted", "HostDisabled", "HostFailed", "VmDestroyed"])
      expect(types).toContain(type)
    expect(types).toContain("VmPageFaultsServed")
    expect(replayOf(scenario).map(stored)).toEqual(run.map(stored))
  })

  const bundled = [
    "idle-migration",
    "rolling-maintenance",
    "host-failure-during-evacuation",
    "write-heavy",
    "paging-and-ballooning",
    "ha-failover"
  ]
  for (const name of bundled) {
    it(`the bundled ${name}: the same events, ids included`, () => {
      const scenario = parse(JSON.parse(readFileSync(scenarioFile(name), "utf8")))
      expect(replayOf(scenario).map(stored)).toEqual(simulate(scenario).map(stored))
    })
  }

  it("replayed into another pool id: the same types and fields, other ids (drawn from the seed and the pool id)", () => {
    const scenario = parse(everyOperation)
    const run = simulate(scenario)
    const again = replayOf(scenario, "elsewhere")
    expect(again.map(typeAndFields)).toEqual(run.map(typeAndFields))
    expect(again[0]!.id).not.toBe(run[0]!.id)
  })
})

describe("what a trace has no record for is an error naming the field", () => {
  it("a VM's load series", () => {
    const error = errorOf(
      pool({
        vms: [
          { id: "a", memory: "1GiB" },
          { id: "b", memory: "1GiB", load: { intervalS: 300, cpuPct: [10] } }
        ]
      })
    )
    expect(error.path).toBe("vms[1].load")
    expect(error.expected).toContain("no load series")
    expect(error.expected).toContain("xenpool simulate")
  })

  it("a consolidate operation", () => {
    const error = errorOf(pool({ schedule: [{ at: "1s", op: "consolidate", until: "1h" }] }))
    expect(error).toMatchObject({ _tag: "InputError", source: "s.json", path: "schedule[0].op" })
    expect(error.expected).toContain("consolidate has none")
  })

  it("the bundled planetlab-consolidation (load series and a consolidate)", () => {
    const scenario = parse(JSON.parse(readFileSync(scenarioFile("planetlab-consolidation"), "utf8")))
    expect(Either.isLeft(scenarioTrace("planetlab.json", scenario))).toBe(true)
  })

  it("a scenario that does not compile: the compiler's error, with its path", () => {
    const error = errorOf(pool({ schedule: [{ at: "1s", op: "migrate", vm: "nobody", to: "h1" }] }))
    expect(error.path).toBe("schedule[0].vm")
    expect(error.expected).toContain("no VM 'nobody'")
  })
})

describe("an operation at the µs of a happening the engine scheduled earlier", () => {
  // A scenario has all its operations on the agenda from the start; a replay reads its records a slice
  // ahead, after the engine planned the round end. Inputs run before the engine's own happenings at the
  // same µs (engine/simulation.ts `input`), so both runs perform the fail-link first.
  const scenarioWithTie = (): Scenario => {
    const base = {
      hosts: 3,
      vms: [
        { id: "a", memory: "1GiB", host: "h1" },
        { id: "b", memory: "1GiB", host: "h3" }
      ]
    }
    const alone = parse(pool({ ...base, schedule: [{ at: "0us", op: "migrate", vm: "a", to: "h2" }] }))
    const roundEndUs = simulate(alone).find((e) => e.event._tag === "VmMigrationRoundCompleted")!.event.atUs
    return parse(
      pool({
        ...base,
        schedule: [
          { at: "0us", op: "migrate", vm: "a", to: "h2" },
          { at: "1us", op: "pause-vm", vm: "b" },
          { at: `${roundEndUs}us`, op: "fail-link", host: "h2" }
        ]
      })
    )
  }

  it("the scenario and its trace's replay both abort the migration before its round ends", () => {
    const scenario = scenarioWithTie()
    const tags = (events: ReadonlyArray<EmittedEvent>) => events.slice(-5).map((e) => e.event._tag)
    // the first round, cut at its last µs, is recorded with what it sent; it never completes
    expect(tags(simulate(scenario))).toEqual([
      "VmMigrationStarted",
      "VmPaused",
      "VmMigrationPhaseCompleted",
      "VmMigrationRoundInterrupted",
      "VmMigrationAborted"
    ])
    expect(replayOf(scenario)).toEqual(simulate(scenario))
    const json = JSON.parse(JSON.stringify(scenario)) as ScenarioJson
    expect(counterexampleTrace(json)._tag).toBe("Reproduces")
  })

  it("where two runs part, xenpool check says so in words", () => {
    const events = simulate(scenarioWithTie())
    const reordered = [...events.slice(0, -1), { ...events[events.length - 1]!, id: events[0]!.id }]
    expect(runDifference({ events, defect: undefined }, { events: reordered, defect: undefined })).toMatch(
      new RegExp(
        `^event ${events.length}: the scenario's run has VmMigrationAborted at \\d+ µs, the trace's replay VmMigrationAborted`
      )
    )
    expect(runDifference({ events, defect: undefined }, { events: events.slice(0, -1), defect: undefined })).toMatch(
      new RegExp(`^event ${events.length}: the scenario's run has VmMigrationAborted .*, the trace's replay no event$`)
    )
    expect(runDifference({ events, defect: undefined }, { events, defect: "SimulationDefect: x" })).toMatch(
      /the scenario's run ends, the trace's replay stops on SimulationDefect: x$/
    )
    expect(runDifference({ events, defect: undefined }, { events, defect: undefined })).toBeUndefined()
  })
})
