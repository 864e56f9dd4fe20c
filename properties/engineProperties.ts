/**
 * The named engine properties (issue 5): each generates scenarios (swarm-tested: every case switches
 * whole fault and workload kinds on or off), runs them on the pool engine, and checks one statement
 * with a checker that sits outside the engine. They run with the engine's debug assertions off, so
 * that each checker stands on its own; `swarm-liveness` runs with them on.
 */
import { Either } from "effect"
import fc from "fast-check"
import type { PoolEvent } from "../domain/events.js"
import { foldEvents } from "../domain/evolve.js"
import { initialState, type PoolState } from "../domain/state.js"
import type { DecideFn } from "../engine/simulation.js"
import { RunSnapshotTaker } from "../projections/snapshots.js"
import type { HistoryBound, StateAt } from "../projections/timeTravel.js"
import type { TransferFactory } from "../engine/transfer.js"
import { scenarioArb, type ScenarioJson } from "./arbitraries.js"
import { stateDifference } from "./canonical.js"
import { liveRoundsMaxOf, logBytes, runEngine, type EngineRun, type CaseEnv } from "./engineRun.js"
import {
  atomicMigrationMonitor,
  boundsMonitor,
  memoryConservationMonitor,
  migrationAccountingMonitor,
  monitorLog,
  pageMoveObserver,
  pagingMonitor,
  residencyMonitor,
  type Monitor
} from "./oracles.js"
import { scenarioOnly, scenarioProperty, withExtra, type NamedProperty } from "./property.js"
import { makePropertyStore, type PropertyStore } from "./store.js"

const defectOf = (run: EngineRun): string | undefined =>
  run.defect === undefined ? undefined : `the engine stopped on a defect: ${run.defect}`

const ended = (run: EngineRun) => run.defect === undefined && run.result?.stopReason === "quiescent"

/** Runs the scenario and folds its log through the monitors. */
const monitored = (scenario: ScenarioJson, env: CaseEnv, monitors: (run: EngineRun) => ReadonlyArray<Monitor>) => {
  const run = runEngine(scenario, env)
  return monitorLog(run.emitted, monitors(run), ended(run)) ?? defectOf(run)
}

const determinism = scenarioProperty({
  name: "determinism",
  statement: "the same scenario and seed give a byte-identical event log",
  arbitrary: scenarioOnly(scenarioArb()),
  check: (scenario, _extra, env) => {
    const a = runEngine(scenario, env)
    const b = runEngine(scenario, env)
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

const replayEquivalence = scenarioProperty({
  name: "replay-equivalence",
  statement:
    "the state folded from the store equals the engine's live state, after the last batch and after randomly chosen batches",
  arbitrary: withExtra(scenarioArb(), samplesArb),
  check: (scenario, samples, env) => {
    const compiled = scenario.pool as { id: string }
    const store = makePropertyStore(compiled.id as never)
    const run = runEngine(scenario, { ...env, consumer: store.append })
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

const memoryConservation = scenarioProperty({
  name: "memory-conservation",
  statement:
    "at every event, on every host, free + used + reserved = total (and the host's overhead), free never negative",
  arbitrary: scenarioOnly(scenarioArb()),
  check: (scenario, _extra, env) => monitored(scenario, env, () => [memoryConservationMonitor()])
})

const residency = scenarioProperty({
  name: "residency",
  statement:
    "a Running or Paused VM is resident on exactly one host; during a migration it counts on both, after it on exactly one",
  arbitrary: scenarioOnly(scenarioArb()),
  check: (scenario, _extra, env) => monitored(scenario, env, () => [residencyMonitor()])
})

const atomicMigration = scenarioProperty({
  name: "atomic-migration",
  statement:
    "every started migration ends exactly once, committed or aborted; an abort leaves the VM running on the source with unchanged accounting",
  arbitrary: scenarioOnly(scenarioArb()),
  check: (scenario, _extra, env) => monitored(scenario, env, () => [atomicMigrationMonitor()])
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

const migrationAccounting = scenarioProperty({
  name: "migration-accounting",
  statement:
    "a migration's total time is setup + its rounds + its stop-and-copy parts, its downtime the sum of its paused parts, its bytes the sum of its rounds' (an interrupted one included); never-written pages never go as full pages under max-downtime",
  arbitrary: scenarioOnly(scenarioArb()),
  check: (scenario, _extra, env) =>
    monitored(scenario, env, (run) => [
      migrationAccountingMonitor({
        phases: run.compiled.policy.phases !== "none",
        latencyUs: run.compiled.setup.find((c) => c._tag === "CreatePool")?.linkLatencyUs ?? 0,
        untouched: (vm) => {
          const w = run.compiled.workloads.get(vm as never)
          return { untouchedPages: w?.untouchedPages ?? 0, workingSetPages: w?.workingSetPages ?? 0 }
        }
      })
    ])
})

const noLostWrites = scenarioProperty({
  name: "no-lost-writes",
  statement: "with the pages model, at commit the destination holds every page's last version",
  arbitrary: scenarioOnly(scenarioArb({ workloads: ["pages-uniform", "pages-hot-cold"] })),
  check: (scenario, _extra, env) => {
    const found: string[] = []
    const run = runEngine(scenario, { ...env, observeTransfers: lostWriteObserver(found) })
    return found[0] ?? defectOf(run)
  }
})

const terminationBounds = scenarioProperty({
  name: "termination-bounds",
  statement:
    "every run reaches quiescence; xen makes at most 5 live rounds plus one paused, xen-legacy at most 29 plus one and obeys its 50-page and 3x rules, max-downtime stops once the dirty pages fit its downtime; bytes stay within the policy's bound",
  arbitrary: scenarioOnly(scenarioArb()),
  check: (scenario, _extra, env) => {
    const run = runEngine(scenario, env)
    const found = monitorLog(
      run.emitted,
      [boundsMonitor(run.compiled.policy, run.compiled.pageSizeBytes, liveRoundsMaxOf(run.compiled))],
      false
    )
    if (found) return found
    if (run.defect === undefined && run.result?.stopReason !== "quiescent")
      return `the run did not terminate: stopped by its ${run.result?.stopReason}`
    return defectOf(run)
  }
})

const paging = scenarioProperty({
  name: "paging",
  statement:
    "resident + paged = the guest's pages for every VM at every event; the paged count is the same just before and just after a commit; every page-state move the pager and the balloon make is a legal edge",
  arbitrary: scenarioOnly(scenarioArb({ faults: ["paging"], pageOutFirst: true })),
  check: (scenario, _extra, env) => {
    const moves: string[] = []
    const run = runEngine(scenario, { ...env, observePageStates: pageMoveObserver(moves) })
    return moves[0] ?? monitorLog(run.emitted, [pagingMonitor()], ended(run)) ?? defectOf(run)
  }
})

/**
 * What the time-travel property draws beside the scenario: revisions and times to ask at (as shares of
 * the log, per mille; a time is an event's, or a microsecond either side), and the snapshots: a small
 * cadence so that most logs hold several (N events between two, a whole state every K), written either
 * while the engine runs (`simulate`'s `RunSnapshotTaker`, through the decide seam) or by the first
 * query's catch-up.
 */
const timeTravelArb = fc.record({
  revisionShares: fc.array(fc.integer({ min: 0, max: 1000 }), { minLength: 1, maxLength: 5 }),
  times: fc.array(fc.record({ share: fc.integer({ min: 0, max: 1000 }), offsetUs: fc.integer({ min: -1, max: 1 }) }), {
    minLength: 1,
    maxLength: 5
  }),
  everyEvents: fc.integer({ min: 1, max: 8 }),
  wholeStateEvery: fc.integer({ min: 1, max: 4 }),
  writer: fc.constantFrom("run" as const, "catch-up" as const)
})

/** The snapshot a query at `revision` must start from: the last one at or before it (N-1, 2N-1, …), or none. */
const snapshotBefore = (revision: number, everyEvents: number): number =>
  Math.floor((revision + 1) / everyEvents) * everyEvents - 1

/** One time-travel answer against the fold of the log's prefix through `revision`, and its snapshot. */
const checkAnswer = (
  answer: StateAt,
  expected: { readonly revision: number; readonly state: PoolState; readonly bound: HistoryBound },
  everyEvents: number
): string | undefined => {
  if (answer.revision !== expected.revision)
    return `answered at revision ${answer.revision}, expected ${expected.revision}`
  if (answer.bound !== expected.bound) return `bound ${answer.bound}, expected ${expected.bound}`
  const diff = stateDifference(expected.state, answer.state)
  if (diff) return diff
  // The answer must come from the nearest snapshot, with fewer than N events folded after it.
  const snapshot = snapshotBefore(expected.revision, everyEvents)
  if (answer.snapshotRevision !== snapshot || answer.eventsFolded !== expected.revision - snapshot)
    return `started from snapshot ${answer.snapshotRevision} and folded ${answer.eventsFolded} events, expected snapshot ${snapshot} and ${expected.revision - snapshot} (N = ${everyEvents})`
  return undefined
}

type TimeTravelCase = typeof timeTravelArb extends fc.Arbitrary<infer T> ? T : never

/**
 * Runs the scenario into a store with the case's snapshot cadence; with the `run` writer, a taker keeps
 * the engine's states at the snapshot revisions and saves them after the run, as `simulate` does.
 */
const runIntoStore = (scenario: ScenarioJson, extra: TimeTravelCase, env: CaseEnv) => {
  const { everyEvents, wholeStateEvery } = extra
  const store = makePropertyStore((scenario.pool as { id: string }).id as never, { everyEvents, wholeStateEvery })
  let taker: RunSnapshotTaker | undefined
  const run = runEngine(scenario, {
    ...env,
    consumer: (batch) => {
      store.append(batch)
      taker?.sink(batch)
    },
    ...(extra.writer === "run"
      ? { observeDecide: (base: DecideFn) => (taker = new RunSnapshotTaker(everyEvents, base)).decide }
      : {})
  })
  if (taker && run.defect === undefined) store.saveRunSnapshots(taker)
  return { run, store }
}

/** At the last revision, at the drawn ones (the projection and `stateAt`) and past the last. */
const checkRevisions = (store: PropertyStore, events: ReadonlyArray<PoolEvent>, extra: TimeTravelCase) => {
  const n = events.length
  const catchUp = extra.writer === "catch-up"
  const where = `of ${n} (snapshots every ${extra.everyEvents}, ${extra.writer})`
  const revisions = [n - 1, ...extra.revisionShares.map((s) => Math.min(n - 1, Math.floor((s * n) / 1000)))]
  for (const revision of revisions) {
    const expected = foldEvents(initialState, events.slice(0, revision + 1))
    const diff = stateDifference(expected, store.stateAt(revision))
    if (diff) return `at revision ${revision} ${where}, the projection: ${diff}`
    const answer = store.timeTravel({ revision }, { catchUp })
    const found = Either.isLeft(answer)
      ? answer.left
      : checkAnswer(answer.right, { revision, state: expected, bound: "within" }, extra.everyEvents)
    if (found) return `stateAt revision ${revision} ${where}: ${found}`
  }
  const past = store.timeTravel({ revision: n + 1 }, { catchUp })
  const expected = { revision: n - 1, state: foldEvents(initialState, events), bound: "after-last" } as const
  const found = Either.isLeft(past) ? past.left : checkAnswer(past.right, expected, extra.everyEvents)
  return found === undefined ? undefined : `stateAt revision ${n + 1}, past the last ${where}: ${found}`
}

/** As of a time, inclusive: the last event's, just after it, just before the first, and near drawn events'. */
const checkTimes = (store: PropertyStore, events: ReadonlyArray<PoolEvent>, extra: TimeTravelCase) => {
  const n = events.length
  const lastUs = events[n - 1]!.atUs
  const times = [
    lastUs,
    lastUs + 1,
    events[0]!.atUs - 1,
    ...extra.times.map((t) => events[Math.min(n - 1, Math.floor((t.share * n) / 1000))]!.atUs + t.offsetUs)
  ]
  for (const atUs of times) {
    // Every event at or before atUs: a prefix, since the log is in time order.
    const revision = events.findLastIndex((e) => e.atUs <= atUs)
    const bound: HistoryBound = revision < 0 ? "before-first" : atUs > lastUs ? "after-last" : "within"
    const state = foldEvents(initialState, events.slice(0, revision + 1))
    const answer = store.timeTravel({ atUs }, { catchUp: extra.writer === "catch-up" })
    const found = Either.isLeft(answer)
      ? answer.left
      : checkAnswer(answer.right, { revision, state, bound }, extra.everyEvents)
    if (found)
      return `stateAt ${atUs} µs, the last event at ${lastUs} µs (snapshots every ${extra.everyEvents}, ${extra.writer}): ${found}`
  }
  return undefined
}

const timeTravel = scenarioProperty({
  name: "time-travel",
  statement:
    "the state the store gives at any revision, by the projection and by time travel through snapshots, and at any time (as of, inclusive), equals the fold of the engine's events up to there",
  arbitrary: withExtra(scenarioArb(), timeTravelArb),
  check: (scenario, extra, env) => {
    const { run, store } = runIntoStore(scenario, extra, env)
    const defect = defectOf(run)
    if (defect) return defect
    const events = run.emitted.map((e) => e.event)
    if (events.length === 0) return undefined
    const back = events.findIndex((e, i) => i > 0 && e.atUs < events[i - 1]!.atUs)
    if (back >= 0)
      return `the log goes back in time at event ${back}: ${events[back]!.atUs} µs after ${events[back - 1]!.atUs} µs`
    return checkRevisions(store, events, extra) ?? checkTimes(store, events, extra)
  }
})

export const engineProperties: ReadonlyArray<NamedProperty> = [
  determinism,
  replayEquivalence,
  memoryConservation,
  residency,
  atomicMigration,
  migrationAccounting,
  noLostWrites,
  terminationBounds,
  paging,
  timeTravel
]
