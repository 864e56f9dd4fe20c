/**
 * KurrentDB's figures beside SQLite's, measured in the same run (DESIGN.md §9), when
 * XENPOOL_KURRENTDB_URL names a server (e.g. `kurrentdb://127.0.0.1:2113?tls=false`); otherwise one
 * line on stderr says they were skipped and why, and no figure is reported.
 *
 * - `store.kurrentdb.append.batchN`: events/s appended through `layerKurrent` (the shared rules, a
 *   compare-and-set append, the position of the batch's last event), batches of N, to a fresh stream;
 *   baseline `store.sqlite.append.batchN.sameRun`: the same batches through `layerSqlite` into a fresh
 *   temp file.
 * - `timeTravel.kurrentdb.stateAt.p50` / `.p99`: milliseconds of `stateAt` at seeded random revisions
 *   and times of a 100,000-event pool (the start of the fold benchmark's log) with snapshots every 1,000
 *   events, taken before timing; baseline: the same queries on SQLite.
 *
 * Every run writes under a stream prefix of its own (`xenpool-bench-<random>-`), so runs never meet;
 * nothing is deleted afterwards (KurrentDB keeps history; scavenge a test server if it matters).
 */
import { randomUUID } from "node:crypto"
import * as path from "node:path"
import { Effect, Layer } from "effect"
import { poolId, poolStreamName } from "../domain/ids.js"
import { Prng } from "../engine/prng.js"
import { stateAt } from "../projections/timeTravel.js"
import { EventStore, ExpectedRevision, type NewEvent } from "../store/EventStore.js"
import { layerKurrent, type KurrentOptions } from "../store/kurrent.js"
import { SnapshotStore } from "../store/SnapshotStore.js"
import { layerSqlite } from "../store/sqlite.js"
import { generateFoldLog } from "./fold.js"
import { nowMs, percentile, withBaseline, type Benchmark, type BenchResult } from "./harness.js"
import { eventsPerS, makeBatches, withTempFile } from "./store.js"

const kurrentUrlEnvVar = "XENPOOL_KURRENTDB_URL"

/** Appends per batch size: sized for a server on the same machine or a near one (a round trip each). */
const appendsByBatchSize: ReadonlyMap<number, number> = new Map([
  [1, 2_000],
  [100, 200],
  [1000, 40]
])
const POOL_EVENTS = 100_000
const POOL_APPEND_BATCH = 1_000
const QUERIES = 200
const SEED = 7

type Stores = Layer.Layer<EventStore | SnapshotStore, unknown>

const run = <A>(layer: Stores, body: Effect.Effect<A, unknown, EventStore | SnapshotStore>): Promise<A> =>
  Effect.runPromise(Effect.scoped(Effect.provide(body, layer)) as Effect.Effect<A>)

const appendAll = (stream: string, batches: ReadonlyArray<ReadonlyArray<NewEvent>>) =>
  Effect.gen(function* () {
    const store = yield* EventStore
    let expected = ExpectedRevision.noStream
    for (const batch of batches) {
      const result = yield* store.append(stream, batch, expected)
      expected = ExpectedRevision.at(result.nextExpectedRevision)
    }
  })

const timedAppends = (layer: Stores, batches: ReadonlyArray<ReadonlyArray<NewEvent>>) =>
  run(
    layer,
    Effect.gen(function* () {
      const start = nowMs()
      yield* appendAll("pool-bench-append", batches)
      return nowMs() - start
    })
  )

/** The pool for time travel: the fold benchmark's valid history, cut to its first events. */
const poolBatches = (): ReadonlyArray<ReadonlyArray<NewEvent>> => {
  const events = generateFoldLog().events.slice(0, POOL_EVENTS)
  const ids = Prng.fromSeed(SEED)
  const batches: NewEvent[][] = []
  events.forEach((event, n) => {
    if (n % POOL_APPEND_BATCH === 0) batches.push([])
    batches[batches.length - 1]!.push({ id: ids.orderedUuid(n) as NewEvent["id"], event })
  })
  return batches
}

/** Milliseconds of each of QUERIES seeded stateAt queries, after one query that takes the snapshots. */
const stateAtLatencies = (layer: Stores, batches: ReadonlyArray<ReadonlyArray<NewEvent>>, lastAtUs: number) => {
  const pool = poolId("bench-time-travel")
  return run(
    layer,
    Effect.gen(function* () {
      yield* appendAll(poolStreamName(pool), batches)
      yield* stateAt(pool, { revision: 0 })
      const prng = Prng.fromSeed(SEED)
      const latencies: number[] = []
      for (let i = 0; i < QUERIES; i++) {
        const target = i % 2 === 0 ? { revision: prng.nextInt(POOL_EVENTS) } : { atUs: prng.nextInt(lastAtUs + 1) }
        const start = nowMs()
        yield* stateAt(pool, target)
        latencies.push(nowMs() - start)
      }
      return latencies.sort((a, b) => a - b)
    })
  )
}

const appendFigures = async (kurrent: () => Stores, sqlite: (file: string) => Stores): Promise<BenchResult[]> => {
  const results: BenchResult[] = []
  for (const [batchSize, appends] of appendsByBatchSize) {
    const batches = makeBatches(batchSize, appends, "ordered")
    const events = batchSize * appends
    const workload = `${events.toLocaleString("en-US")} VmMigrationRoundCompleted events in ${appends.toLocaleString("en-US")} appends of ${batchSize}, expected revisions, one fresh stream`
    const sqliteMs = await withTempFile("kurrent-baseline.db", (file) => timedAppends(sqlite(file), batches))
    const kurrentMs = await timedAppends(kurrent(), batches)
    const baseline: BenchResult = {
      name: `store.sqlite.append.batch${batchSize}.sameRun`,
      workload: `${workload}; through layerSqlite, fresh temp file`,
      value: eventsPerS(events, sqliteMs),
      unit: "events/s"
    }
    const figure: BenchResult = {
      name: `store.kurrentdb.append.batch${batchSize}`,
      workload: `${workload}; through layerKurrent`,
      value: eventsPerS(events, kurrentMs),
      unit: "events/s"
    }
    results.push(withBaseline(figure, baseline), baseline)
  }
  return results
}

const stateAtFigures = async (kurrent: () => Stores, sqlite: (file: string) => Stores): Promise<BenchResult[]> => {
  const batches = poolBatches()
  const lastAtUs = batches[batches.length - 1]!.slice(-1)[0]!.event.atUs
  const sqliteLatencies = await withTempFile("kurrent-time-travel.db", (file) =>
    stateAtLatencies(sqlite(file), batches, lastAtUs)
  )
  const kurrentLatencies = await stateAtLatencies(kurrent(), batches, lastAtUs)
  const workload = `${QUERIES} stateAt queries (half at a revision, half at a time, seeded) on a ${POOL_EVENTS.toLocaleString("en-US")}-event pool, snapshots every 1,000 events taken before timing`
  return [50, 99].flatMap((p) => {
    const baseline: BenchResult = {
      name: `timeTravel.sqlite.stateAt.p${p}.sameRun`,
      workload: `${workload}; SQLite`,
      value: Number(percentile(sqliteLatencies, p).toFixed(3)),
      unit: "ms"
    }
    const figure: BenchResult = {
      name: `timeTravel.kurrentdb.stateAt.p${p}`,
      workload: `${workload}; KurrentDB`,
      value: Number(percentile(kurrentLatencies, p).toFixed(3)),
      unit: "ms"
    }
    return [withBaseline(figure, baseline), baseline]
  })
}

interface Setup {
  readonly kurrent: () => Stores
  readonly sqlite: (file: string) => Stores
}

/** The stores to compare: KurrentDB at `url` (options: tests give an emulated client) and SQLite. */
const kurrentSetup = (url: string, options: KurrentOptions = {}): Setup => {
  const prefix = `xenpool-bench-${randomUUID().slice(0, 8)}-`
  let opened = 0
  return {
    // A prefix per store opened, so that every measurement starts from fresh streams.
    kurrent: () => layerKurrent(url, { ...options, streamPrefix: `${prefix}${opened++}-` }),
    sqlite: (file) => layerSqlite(path.resolve(file))
  }
}

const whenServer = (name: string, figures: (setup: Setup) => Promise<BenchResult[]>): Benchmark => ({
  name,
  run: async () => {
    const url = process.env[kurrentUrlEnvVar]
    if (url === undefined || url === "") {
      console.error(
        `${name}: skipped: ${kurrentUrlEnvVar} is not set, so there is no KurrentDB server to measure (no figures reported)`
      )
      return []
    }
    return figures(kurrentSetup(url))
  }
})

export const kurrentBenchmarks: ReadonlyArray<Benchmark> = [
  whenServer("store.kurrentdb", (setup) => appendFigures(setup.kurrent, setup.sqlite)),
  whenServer("timeTravel.kurrentdb", (setup) => stateAtFigures(setup.kurrent, setup.sqlite))
]
