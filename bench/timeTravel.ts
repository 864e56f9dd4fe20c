/**
 * Time travel on a long history (DESIGN.md §4, §9): a pool stream of 1,000,000 events in SQLite (the
 * fold benchmark's log, generated through `decide`: 64 hosts, 2,000 VMs, live migrations), built once per
 * bench run in a temp file, with its snapshots written as a writer would write them.
 *
 * - `timeTravel.stateAt.p50` / `.p99`: `stateAt(pool, { revision })` at random revisions, through the
 *   whole query path (snapshot catch-up check, nearest snapshot, decode, fold of the rest);
 *   `timeTravel.stateAt.time.p50` / `.p99`: the same by simulated time;
 * - `timeTravel.stateAt.end` beside `timeTravel.fullFold.end`: the state at the last revision with
 *   snapshots and by folding the whole stream from its start (read, decode, evolve), in the same run;
 * - `timeTravel.snapshot.shareOfAppend`: the cost of taking the snapshots (encode, save) as a share of
 *   the time the same events took to append, when the writer has the states (simulate, demo: the engine
 *   computed them); `timeTravel.snapshot.refold.shareOfAppend`: the same when the snapshotter must fold
 *   the events itself (`snapshotEvents`);
 * - `timeTravel.snapshot.load`: a snapshot's state from the store (its chain: a whole state and the
 *   changes after it); `timeTravel.snapshot.decode`: one whole state, decoded without the store;
 *   `timeTravel.snapshot.bytes`: the mean stored size of a snapshot.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect, Either, Option } from "effect"
import type { PoolEvent } from "../domain/events.js"
import { eventId, poolId, poolStreamName } from "../domain/ids.js"
import { Prng } from "../engine/prng.js"
import { decodeSnapshot, encodeSnapshot } from "../projections/snapshotCodec.js"
import type { PoolState } from "../domain/state.js"
import { foldStartFrom, SnapshotWriter } from "../projections/snapshotChain.js"
import {
  SNAPSHOT_EVERY_EVENTS_DEFAULT,
  SnapshotFold,
  snapshotKey,
  streamStart,
  WHOLE_STATE_EVERY_SNAPSHOTS_DEFAULT,
  type TakenState
} from "../projections/snapshots.js"
import { stateAt, stateAtByFullFold, type StateAt, type TimeTravelTarget } from "../projections/timeTravel.js"
import { EventStore, ExpectedRevision, type NewEvent } from "../store/EventStore.js"
import { SnapshotStore } from "../store/SnapshotStore.js"
import { layerSqlite } from "../store/sqlite.js"
import { generateFoldLog } from "./fold.js"
import { nowMs, percentile, withBaseline, type Benchmark, type BenchResult } from "./harness.js"

const SEED = 20_240_611
const POOL = poolId("bench")
/** Events per append while the file is built (a replay appends 50,000 at a time, simulate a whole run). */
const APPEND_BATCH_EVENTS = 10_000
const QUERIES = 300
const WARM_UP_QUERIES = 20
const FULL_FOLD_RUNS = 2

interface BuildCosts {
  appendMs: number
  foldMs: number
  encodeMs: number
  saveMs: number
  snapshots: number
  snapshotBytes: number
}

const timed = <A, E, R>(body: Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    const start = nowMs()
    const value = yield* body
    return { value, ms: nowMs() - start }
  })

/** Encodes and saves the states a batch's fold kept; the two costs apart. */
const saveTaken = (writer: SnapshotWriter, taken: ReadonlyArray<TakenState>, costs: BuildCosts) =>
  Effect.gen(function* () {
    const start = nowMs()
    const snapshots = taken.map((t) => writer.next(t))
    costs.encodeMs += nowMs() - start
    costs.saveMs += (yield* timed((yield* SnapshotStore).save(snapshots))).ms
    costs.snapshots += snapshots.length
    costs.snapshotBytes += snapshots.reduce((sum, s) => sum + s.data.length, 0)
  })

/** Appends the log in batches, timing each append, then folds the batch and saves its snapshots. */
const buildStore = (events: ReadonlyArray<PoolEvent>) =>
  Effect.gen(function* () {
    const store = yield* EventStore
    const ids = Prng.fromSeed(SEED).fork("bench.timeTravel.ids")
    const fold = new SnapshotFold(streamStart, SNAPSHOT_EVERY_EVENTS_DEFAULT)
    const writer = new SnapshotWriter(snapshotKey(POOL), WHOLE_STATE_EVERY_SNAPSHOTS_DEFAULT)
    const costs: BuildCosts = { appendMs: 0, foldMs: 0, encodeMs: 0, saveMs: 0, snapshots: 0, snapshotBytes: 0 }
    for (let first = 0; first < events.length; first += APPEND_BATCH_EVENTS) {
      const slice = events.slice(first, first + APPEND_BATCH_EVENTS)
      const batch: NewEvent[] = slice.map((event, i) => ({ id: eventId(ids.orderedUuid(first + i)), event }))
      const expected = first === 0 ? ExpectedRevision.noStream : ExpectedRevision.at(first - 1)
      costs.appendMs += (yield* timed(store.append(poolStreamName(POOL), batch, expected))).ms
      const start = nowMs()
      for (const event of slice) fold.add(event)
      costs.foldMs += nowMs() - start
      yield* saveTaken(writer, fold.drain(), costs)
    }
    return { costs, finalState: fold.position.state }
  })

const revisionTargets = (prng: Prng, lastRevision: number, count: number): ReadonlyArray<TimeTravelTarget> =>
  Array.from({ length: count }, () => ({ revision: prng.nextInt(lastRevision + 1) }))

/** Times spread like the events: a random event's time, plus up to a millisecond. */
const timeTargets = (prng: Prng, events: ReadonlyArray<PoolEvent>, count: number): ReadonlyArray<TimeTravelTarget> =>
  Array.from({ length: count }, () => ({ atUs: events[prng.nextInt(events.length)]!.atUs + prng.nextInt(1_000) }))

/** Latencies of `stateAt` at each target, in ms, sorted; checks every answer reached its target. */
const queryLatencies = (targets: ReadonlyArray<TimeTravelTarget>) =>
  Effect.gen(function* () {
    const latencies: number[] = []
    let folded = 0
    for (const target of targets) {
      const { value, ms } = yield* timed(stateAt(POOL, target))
      if ("revision" in target && value.revision !== target.revision) throw new Error("bench: wrong revision")
      latencies.push(ms)
      folded += value.eventsFolded
    }
    return { sorted: latencies.sort((a, b) => a - b), meanFolded: folded / targets.length }
  })

const median = (values: ReadonlyArray<number>): number =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!

/** The state at the last revision by snapshots and by the full fold; they must agree. */
const endOfHistory = (lastRevision: number) =>
  Effect.gen(function* () {
    const withSnapshots: number[] = []
    let answer: StateAt | undefined
    for (let i = 0; i < 11; i++) {
      const { value, ms } = yield* timed(stateAt(POOL, { revision: lastRevision }))
      withSnapshots.push(ms)
      answer = value
    }
    const fullFold: number[] = []
    for (let i = 0; i < FULL_FOLD_RUNS; i++) {
      const { value, ms } = yield* timed(stateAtByFullFold(POOL, { revision: lastRevision }))
      fullFold.push(ms)
      if (encodeSnapshot(value.state) !== encodeSnapshot(answer!.state))
        throw new Error("bench: the snapshot answer differs from the full fold")
    }
    return { withSnapshotsMs: median(withSnapshots), fullFoldMs: median(fullFold) }
  })

/** Loading the state of snapshots at random revisions: the chain's reads and decodes, no events. */
const snapshotLoadMs = (prng: Prng, lastRevision: number) =>
  Effect.gen(function* () {
    const snapshots = yield* SnapshotStore
    const key = snapshotKey(POOL)
    const times: number[] = []
    for (let i = 0; i < 100; i++) {
      const found = yield* snapshots.loadAtOrBeforeRevision(key, prng.nextInt(lastRevision + 1))
      const start = nowMs()
      const loaded = yield* foldStartFrom(key, found, WHOLE_STATE_EVERY_SNAPSHOTS_DEFAULT)
      times.push(nowMs() - start)
      if (Option.isSome(found) && loaded.revision !== found.value.revision)
        throw new Error("bench: a snapshot did not load")
    }
    return median(times)
  })

/** One whole state's decode (no store): the fixed part of every load. */
const wholeDecode = (state: PoolState) => {
  const text = encodeSnapshot(state)
  const times: number[] = []
  for (let i = 0; i < 30; i++) {
    const start = nowMs()
    if (Either.isLeft(decodeSnapshot(text))) throw new Error("bench: snapshot does not decode")
    times.push(nowMs() - start)
  }
  return { ms: median(times), bytes: text.length }
}

const round3 = (value: number): number => Math.round(value * 1000) / 1000

const workload = (events: number, migrations: number) =>
  `SQLite, one pool stream of ${events.toLocaleString("en-US")} events (64 hosts, 2,000 VMs, ${migrations.toLocaleString("en-US")} migrations), a snapshot every ${SNAPSHOT_EVERY_EVENTS_DEFAULT.toLocaleString("en-US")} events`

const results = (
  base: string,
  costs: BuildCosts,
  byRevision: { sorted: ReadonlyArray<number>; meanFolded: number },
  byTime: { sorted: ReadonlyArray<number>; meanFolded: number },
  end: { withSnapshotsMs: number; fullFoldMs: number },
  snapshot: { loadMs: number; decodeMs: number; wholeBytes: number }
): ReadonlyArray<BenchResult> => {
  const fullFold: BenchResult = {
    name: "timeTravel.fullFold.end",
    workload: `${base}; the last revision by reading, decoding and folding the whole stream (median of ${FULL_FOLD_RUNS})`,
    value: round3(end.fullFoldMs),
    unit: "ms"
  }
  const query = (name: string, value: number, what: string): BenchResult =>
    withBaseline({ name, workload: `${base}; ${what}`, value: round3(value), unit: "ms" }, fullFold)
  return [
    query(
      "timeTravel.stateAt.p50",
      percentile(byRevision.sorted, 50),
      `${QUERIES} random revisions, median (mean ${Math.round(byRevision.meanFolded)} events folded)`
    ),
    query("timeTravel.stateAt.p99", percentile(byRevision.sorted, 99), `${QUERIES} random revisions, 99th percentile`),
    query(
      "timeTravel.stateAt.time.p50",
      percentile(byTime.sorted, 50),
      `${QUERIES} random times, median (mean ${Math.round(byTime.meanFolded)} events folded)`
    ),
    query("timeTravel.stateAt.time.p99", percentile(byTime.sorted, 99), `${QUERIES} random times, 99th percentile`),
    query("timeTravel.stateAt.end", end.withSnapshotsMs, "the last revision with snapshots (median of 11)"),
    fullFold,
    {
      name: "timeTravel.stateAt.end.speedup",
      workload: `${base}; the full fold's time over stateAt's, both at the last revision`,
      value: Math.round(end.fullFoldMs / end.withSnapshotsMs),
      unit: "x"
    },
    {
      name: "timeTravel.snapshot.shareOfAppend",
      workload: `${base}; encoding and saving the snapshots (${costs.snapshots.toLocaleString("en-US")}) over appending the events (batches of ${APPEND_BATCH_EVENTS.toLocaleString("en-US")}: ${Math.round(costs.appendMs).toLocaleString("en-US")} ms), the writer holding the states`,
      value: round3((100 * (costs.encodeMs + costs.saveMs)) / costs.appendMs),
      unit: "%"
    },
    {
      name: "timeTravel.snapshot.refold.shareOfAppend",
      workload: `${base}; the same plus folding the events to get the states (${Math.round(costs.foldMs).toLocaleString("en-US")} ms)`,
      value: round3((100 * (costs.foldMs + costs.encodeMs + costs.saveMs)) / costs.appendMs),
      unit: "%"
    },
    {
      name: "timeTravel.snapshot.load",
      workload: `${base}; the state of a snapshot at a random revision: its chain read and decoded (a whole state every ${WHOLE_STATE_EVERY_SNAPSHOTS_DEFAULT} snapshots), median of 100`,
      value: round3(snapshot.loadMs),
      unit: "ms"
    },
    {
      name: "timeTravel.snapshot.decode",
      workload: `${base}; one whole state of the 2,000-VM pool (${Math.round(snapshot.wholeBytes / 1024).toLocaleString("en-US")} KiB), parsed, checked and built, no store (median of 30)`,
      value: round3(snapshot.decodeMs),
      unit: "ms"
    },
    {
      name: "timeTravel.snapshot.bytes",
      workload: `${base}; mean stored size of a snapshot, whole states and changes together (${Math.round(costs.snapshotBytes / 1_048_576).toLocaleString("en-US")} MiB in all)`,
      value: Math.round(costs.snapshotBytes / Math.max(1, costs.snapshots)),
      unit: "bytes"
    }
  ]
}

const runInTempStore = async <A>(body: Effect.Effect<A, unknown, EventStore | SnapshotStore>): Promise<A> => {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), "xenpool-bench-tt-"))
  try {
    return await Effect.runPromise(body.pipe(Effect.provide(layerSqlite(path.join(directory, "tt.db")))))
  } finally {
    fs.rmSync(directory, { recursive: true, force: true })
  }
}

export const timeTravelBenchmarks: ReadonlyArray<Benchmark> = [
  {
    name: "timeTravel",
    run: async () => {
      const { events, migrations } = generateFoldLog()
      const lastRevision = events.length - 1
      const prng = Prng.fromSeed(SEED).fork("bench.timeTravel.queries")
      return runInTempStore(
        Effect.gen(function* () {
          const { costs, finalState } = yield* buildStore(events)
          yield* queryLatencies(revisionTargets(prng, lastRevision, WARM_UP_QUERIES))
          const byRevision = yield* queryLatencies(revisionTargets(prng, lastRevision, QUERIES))
          const byTime = yield* queryLatencies(timeTargets(prng, events, QUERIES))
          const end = yield* endOfHistory(lastRevision)
          const loadMs = yield* snapshotLoadMs(prng, lastRevision)
          const whole = wholeDecode(finalState)
          return results(workload(events.length, migrations), costs, byRevision, byTime, end, {
            loadMs,
            decodeMs: whole.ms,
            wholeBytes: whole.bytes
          })
        })
      )
    }
  }
]
