/**
 * The named engine properties (issue 5): each generates scenarios (swarm-tested: every case switches
 * whole fault and workload kinds on or off), runs them on the pool engine, and checks one statement
 * with a checker that sits outside the engine. They run with the engine's debug assertions off, so
 * that each checker stands on its own; `swarm-liveness` runs with them on.
 */
import fc from "fast-check"
import { foldEvents } from "../domain/evolve.js"
import { initialState } from "../domain/state.js"
import type { TransferFactory } from "../engine/transfer.js"
import { scenarioArb, type ScenarioJson } from "./arbitraries.js"
import { stateDifference } from "./canonical.js"
import { logBytes, runEngine, type EngineRun, type Seams } from "./engineRun.js"
import {
  atomicMigrationMonitor,
  boundsMonitor,
  memoryConservationMonitor,
  monitorLog,
  pagingMonitor,
  residencyMonitor,
  type Monitor
} from "./oracles.js"
import { scenarioOnly, scenarioProperty, withExtra, type NamedProperty } from "./property.js"
import { makePropertyStore } from "./store.js"

const defectOf = (run: EngineRun): string | undefined =>
  run.defect === undefined ? undefined : `the engine stopped on a defect: ${run.defect}`

const ended = (run: EngineRun) => run.defect === undefined && run.result?.stopReason === "quiescent"

/** Runs the scenario and folds its log through the monitors. */
const monitored = (scenario: ScenarioJson, seams: Seams, monitors: (run: EngineRun) => ReadonlyArray<Monitor>) => {
  const run = runEngine(scenario, { seams })
  return monitorLog(run.emitted, monitors(run), ended(run)) ?? defectOf(run)
}

export const determinism = scenarioProperty({
  name: "determinism",
  statement: "the same scenario and seed give a byte-identical event log",
  arbitrary: scenarioOnly(scenarioArb()),
  check: (scenario, _extra, seams) => {
    const a = runEngine(scenario, { seams })
    const b = runEngine(scenario, { seams })
    if (a.defect !== b.defect) return `one run stopped on a defect, the other did not: ${a.defect ?? b.defect}`
    const [la, lb] = [logBytes(a.emitted), logBytes(b.emitted)]
    if (la === lb) return undefined
    const lines = [la.split("\n"), lb.split("\n")]
    const i = lines[0]!.findIndex((line, k) => line !== lines[1]![k])
    const at = i < 0 ? Math.min(lines[0]!.length, lines[1]!.length) : i
    return `the logs differ at event ${at}: ${lines[0]![at] ?? "(end)"} vs ${lines[1]![at] ?? "(end)"}`
  }
})

/** Sample points: indices into the run's batches, resolved modulo their count. */
const samplesArb = fc.array(fc.nat(), { minLength: 1, maxLength: 4 })

export const replayEquivalence = scenarioProperty({
  name: "replay-equivalence",
  statement:
    "the state folded from the store equals the engine's live state, after the last batch and after randomly chosen batches",
  arbitrary: withExtra(scenarioArb(), samplesArb),
  check: (scenario, samples, seams) => {
    const compiled = scenario.pool as { id: string }
    const store = makePropertyStore(compiled.id as never)
    const run = runEngine(scenario, { seams, consumer: store.append })
    const defect = defectOf(run)
    if (defect) return defect
    const ends = run.batchEnds
    const points = [ends.length - 1, ...samples.map((s) => s % ends.length)]
    for (const k of points) {
      const end = ends[k]
      if (!end) continue
      const diff = stateDifference(end.state, store.stateAt(end.delivered - 1))
      if (diff) return `after batch ${k} (${end.emitted} events emitted, ${end.delivered} stored): ${diff}`
    }
    return undefined
  }
})

export const memoryConservation = scenarioProperty({
  name: "memory-conservation",
  statement:
    "at every event, on every host, free + used + reserved = total (and the host's overhead), free never negative",
  arbitrary: scenarioOnly(scenarioArb()),
  check: (scenario, _extra, seams) => monitored(scenario, seams, () => [memoryConservationMonitor()])
})

export const residency = scenarioProperty({
  name: "residency",
  statement:
    "a Running or Paused VM is resident on exactly one host; during a migration it counts on both, after it on exactly one",
  arbitrary: scenarioOnly(scenarioArb()),
  check: (scenario, _extra, seams) => monitored(scenario, seams, () => [residencyMonitor()])
})

export const atomicMigration = scenarioProperty({
  name: "atomic-migration",
  statement:
    "every started migration ends exactly once, committed or aborted; an abort leaves the VM running on the source with unchanged accounting",
  arbitrary: scenarioOnly(scenarioArb()),
  check: (scenario, _extra, seams) => monitored(scenario, seams, () => [atomicMigrationMonitor()])
})

/** Wraps every transfer machine: when one reports its paused round done, its destination must be current. */
const lostWriteObserver =
  (found: string[]) =>
  (base: TransferFactory): TransferFactory =>
  (context) => {
    const machine = base(context)
    return {
      ...machine,
      completeRound: (nowUs) => {
        const done = machine.completeRound(nowUs)
        if (done.after.next === "done") {
          const lost = machine.lostWrite()
          if (lost !== undefined) found.push(`a migration committed at ${nowUs} µs lost a write: ${lost}`)
        }
        return done
      }
    }
  }

export const noLostWrites = scenarioProperty({
  name: "no-lost-writes",
  statement: "with the pages model, at commit the destination holds every page's last version",
  arbitrary: scenarioOnly(scenarioArb({ workloads: ["pages-uniform", "pages-hot-cold"] })),
  check: (scenario, _extra, seams) => {
    const found: string[] = []
    const run = runEngine(scenario, { seams, observeTransfers: lostWriteObserver(found) })
    return found[0] ?? defectOf(run)
  }
})

export const terminationBounds = scenarioProperty({
  name: "termination-bounds",
  statement:
    "every run reaches quiescence; xen makes at most 5 live rounds plus one paused, xen-legacy at most 29 plus one and obeys its 50-page and 3x rules, max-downtime stops once the dirty pages fit its downtime; bytes stay within the policy's bound",
  arbitrary: scenarioOnly(scenarioArb()),
  check: (scenario, _extra, seams) => {
    const run = runEngine(scenario, { seams })
    const found = monitorLog(run.emitted, [boundsMonitor(run.compiled.policy, run.compiled.pageSizeBytes)], false)
    if (found) return found
    if (run.defect === undefined && run.result?.stopReason !== "quiescent")
      return `the run did not terminate: stopped by its ${run.result?.stopReason}`
    return defectOf(run)
  }
})

export const paging = scenarioProperty({
  name: "paging",
  statement:
    "resident + paged = the guest's pages for every VM at every event; the paged count is the same just before and just after a commit; page states move only along legal edges (the engine asserts each move, a defect otherwise)",
  arbitrary: scenarioOnly(scenarioArb({ faults: ["paging"], pageOutFirst: true })),
  check: (scenario, _extra, seams) => monitored(scenario, seams, () => [pagingMonitor()])
})

/** Revisions to check, as shares of the log (per mille), resolved against its length. */
const revisionsArb = fc.array(fc.integer({ min: 0, max: 1000 }), { minLength: 1, maxLength: 5 })

export const timeTravel = scenarioProperty({
  name: "time-travel",
  statement:
    "the state the store's projection gives at any revision equals the fold of the engine's events up to that revision",
  arbitrary: withExtra(scenarioArb(), revisionsArb),
  check: (scenario, shares, seams) => {
    const store = makePropertyStore((scenario.pool as { id: string }).id as never)
    const run = runEngine(scenario, { seams, consumer: store.append })
    const defect = defectOf(run)
    if (defect) return defect
    const n = run.emitted.length
    if (n === 0) return undefined
    const revisions = [n - 1, ...shares.map((s) => Math.min(n - 1, Math.floor((s * n) / 1000)))]
    for (const revision of revisions) {
      const expected = foldEvents(
        initialState,
        run.emitted.slice(0, revision + 1).map((e) => e.event)
      )
      const diff = stateDifference(expected, store.stateAt(revision))
      if (diff) return `at revision ${revision} of ${n}: ${diff}`
    }
    return undefined
  }
})

export const engineProperties: ReadonlyArray<NamedProperty> = [
  determinism,
  replayEquivalence,
  memoryConservation,
  residency,
  atomicMigration,
  noLostWrites,
  terminationBounds,
  paging,
  timeTravel
]
