/**
 * Time travel on a long history (DESIGN.md §4, §9): a pool stream in SQLite (the fold benchmark's log,
 * generated through `decide`: 64 hosts, 2,000 VMs, live migrations), built in a temp file with its
 * snapshots written as a writer would write them, at three lengths: 100,000, 1,000,000 and 10,000,000
 * events (the same pool, more migrations). The series, each point against the one before (10x the events):
 *
 * - `timeTravel.stateAt.p50.<N>` / `.p99.<N>`: `stateAt` at random revisions (below), wall time;
 *   `timeTravel.stateAt.cpu.p50.<N>`: their CPU time, which a busy machine does not distort;
 * - `timeTravel.file.<N>`: the SQLite database file's size with its snapshots (without the write-ahead
 *   log, which holds about one batch whatever the history's length);
 * - `timeTravel.build.<N>` / `.build.cpu.<N>`: the wall and CPU time to generate, append and snapshot
 *   the log. Where the disk has no room for a point (the last point's size scaled up, with a margin),
 *   it is reported as not run, saying why.
 *
 * On the 1,000,000-event pool only:
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
import { generateFoldLogBatches } from "./fold.js"
import { nowMs, percentile, withBaseline, type Benchmark, type BenchResult } from "./harness.js"

const SEED = 20_240_611
const POOL = poolId("bench")
/** Events per append while the file is built (a replay appends 50,000 at a time, simulate a whole run). */
const APPEND_BATCH_EVENTS = 10_000
const QUERIES = 300
/** Before each pool's queries: the first pool's would otherwise pay for the JIT of the read path. */
const WARM_UP_QUERIES = 100
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

/** Progress on stderr every this many events while a pool is built (10,000,000 take minutes). */
const PROGRESS_EVERY_EVENTS = 1_000_000

/**
 * Generates the log of `eventsCount` events and appends it in batches, timing each append, then folds
 * the batch and saves its snapshots. Keeps only each event's time (for the queries by time), not the events.
 */
const buildStore = (eventsCount: number) =>
  Effect.gen(function* () {
    const store = yield* EventStore
    const ids = Prng.fromSeed(SEED).fork("bench.timeTravel.ids")
    const fold = new SnapshotFold(streamStart, SNAPSHOT_EVERY_EVENTS_DEFAULT)
    const writer = new SnapshotWriter(snapshotKey(POOL), WHOLE_STATE_EVERY_SNAPSHOTS_DEFAULT)
    const costs: BuildCosts = { appendMs: 0, foldMs: 0, encodeMs: 0, saveMs: 0, snapshots: 0, snapshotBytes: 0 }
    const eventAtUs = new Float64Array(eventsCount)
    const started = nowMs()
    const cpuStarted = cpuMs()
    const batches = generateFoldLogBatches(eventsCount, APPEND_BATCH_EVENTS)
    let first = 0
    for (let next = batches.next(); ; next = batches.next()) {
      if (next.done === true) {
        if (first !== eventsCount) throw new Error(`bench: ${first} events generated, ${eventsCount} asked`)
        const buildMs = nowMs() - started
        const buildCpuMs = cpuMs() - cpuStarted
        return { costs, finalState: fold.position.state, migrations: next.value, eventAtUs, buildMs, buildCpuMs }
      }
      const slice = next.value
      const batch: NewEvent[] = slice.map((event, i) => ({ id: eventId(ids.orderedUuid(first + i)), event }))
      const expected = first === 0 ? ExpectedRevision.noStream : ExpectedRevision.at(first - 1)
      costs.appendMs += (yield* timed(store.append(poolStreamName(POOL), batch, expected))).ms
      const start = nowMs()
      for (let i = 0; i < slice.length; i++) {
        fold.add(slice[i]!)
        eventAtUs[first + i] = slice[i]!.atUs
      }
      costs.foldMs += nowMs() - start
      yield* saveTaken(writer, fold.drain(), costs)
      const done = first + slice.length
      if (Math.floor(done / PROGRESS_EVERY_EVENTS) > Math.floor(first / PROGRESS_EVERY_EVENTS))
        process.stderr.write(
          `  timeTravel: ${count(done)} of ${count(eventsCount)} events appended (${Math.round((nowMs() - started) / 1000)} s)\n`
        )
      first = done
    }
  })

const revisionTargets = (prng: Prng, lastRevision: number, count: number): ReadonlyArray<TimeTravelTarget> =>
  Array.from({ length: count }, () => ({ revision: prng.nextInt(lastRevision + 1) }))

/** Times spread like the events: a random event's time, plus up to a millisecond. */
const timeTargets = (prng: Prng, eventAtUs: Float64Array, count: number): ReadonlyArray<TimeTravelTarget> =>
  Array.from({ length: count }, () => ({ atUs: eventAtUs[prng.nextInt(eventAtUs.length)]! + prng.nextInt(1_000) }))

/** The process's CPU time (user + system) in ms: what a query costs whatever else the machine runs. */
const cpuMs = (): number => {
  const used = process.cpuUsage()
  return (used.user + used.system) / 1000
}

/**
 * Latencies of `stateAt` at each target, in ms, sorted, wall and CPU time apart; checks every answer
 * reached its target.
 */
const queryLatencies = (targets: ReadonlyArray<TimeTravelTarget>) =>
  Effect.gen(function* () {
    const latencies: number[] = []
    const cpu: number[] = []
    let folded = 0
    for (const target of targets) {
      const cpuStart = cpuMs()
      const { value, ms } = yield* timed(stateAt(POOL, target))
      cpu.push(cpuMs() - cpuStart)
      if ("revision" in target && value.revision !== target.revision) throw new Error("bench: wrong revision")
      latencies.push(ms)
      folded += value.eventsFolded
    }
    return {
      sorted: latencies.sort((a, b) => a - b),
      sortedCpu: cpu.sort((a, b) => a - b),
      meanFolded: folded / targets.length
    }
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

const count = (n: number) => n.toLocaleString("en-US")

const workload = (events: number, migrations: number) =>
  `SQLite, one pool stream of ${count(events)} events (64 hosts, 2,000 VMs, ${count(migrations)} migrations), a snapshot every ${count(SNAPSHOT_EVERY_EVENTS_DEFAULT)} events`

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

const DATABASE_FILE = "tt.db"

/** The database file's size, and its write-ahead log's (if any): the log holds about one batch, whatever the history. */
const fileBytes = (directory: string): { readonly database: number; readonly wal: number } => {
  const size = (name: string) =>
    fs.existsSync(path.join(directory, name)) ? fs.statSync(path.join(directory, name)).size : 0
  return { database: size(DATABASE_FILE), wal: size(`${DATABASE_FILE}-wal`) }
}

const runInTempStore = async <A>(
  body: (directory: string) => Effect.Effect<A, unknown, EventStore | SnapshotStore>
): Promise<A> => {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), "xenpool-bench-tt-"))
  try {
    return await Effect.runPromise(
      body(directory).pipe(Effect.provide(layerSqlite(path.join(directory, DATABASE_FILE))))
    )
  } finally {
    fs.rmSync(directory, { recursive: true, force: true })
  }
}

/** The series' lengths, each 10x the one before; the 1,000,000-event pool also gets every other figure. */
const SIZES: ReadonlyArray<{ readonly label: string; readonly events: number }> = [
  { label: "100k", events: 100_000 },
  { label: "1M", events: 1_000_000 },
  { label: "10M", events: 10_000_000 }
]
const FULL_SET_EVENTS = 1_000_000
/** A pool is built only if the disk has this much more room than the last point's file scaled up. */
const DISK_MARGIN = 1.5

interface SeriesPoint {
  readonly p50: BenchResult
  readonly p99: BenchResult
  readonly cpuP50: BenchResult
  readonly file: BenchResult
  readonly build: BenchResult
  readonly buildCpu: BenchResult
}

/** The figures of the 1,000,000-event pool beyond the series (names kept from before the series). */
const fullSet = (
  built: { costs: BuildCosts; finalState: PoolState; eventAtUs: Float64Array },
  base: string,
  byRevision: { sorted: ReadonlyArray<number>; meanFolded: number },
  prng: Prng
) =>
  Effect.gen(function* () {
    const lastRevision = built.eventAtUs.length - 1
    const byTime = yield* queryLatencies(timeTargets(prng, built.eventAtUs, QUERIES))
    const end = yield* endOfHistory(lastRevision)
    const loadMs = yield* snapshotLoadMs(prng, lastRevision)
    const whole = wholeDecode(built.finalState)
    return results(base, built.costs, byRevision, byTime, end, { loadMs, decodeMs: whole.ms, wholeBytes: whole.bytes })
  })

/** One pool of the series: built, queried at random revisions, measured on disk; the full set at 1M. */
const seriesPoint = (label: string, eventsCount: number) =>
  runInTempStore((directory) =>
    Effect.gen(function* () {
      const prng = Prng.fromSeed(SEED).fork("bench.timeTravel.queries")
      const built = yield* buildStore(eventsCount)
      const bytes = fileBytes(directory)
      const base = workload(eventsCount, built.migrations)
      const lastRevision = eventsCount - 1
      yield* queryLatencies(revisionTargets(prng, lastRevision, WARM_UP_QUERIES))
      const byRevision = yield* queryLatencies(revisionTargets(prng, lastRevision, QUERIES))
      const full = eventsCount === FULL_SET_EVENTS ? yield* fullSet(built, base, byRevision, prng) : []
      const same = eventsCount === FULL_SET_EVENTS ? " (the same queries as timeTravel.stateAt.p50/p99)" : ""
      const point: SeriesPoint = {
        p50: {
          name: `timeTravel.stateAt.p50.${label}`,
          workload: `${base}; ${QUERIES} random revisions, median${same}`,
          value: round3(percentile(byRevision.sorted, 50)),
          unit: "ms"
        },
        p99: {
          name: `timeTravel.stateAt.p99.${label}`,
          workload: `${base}; the same, 99th percentile`,
          value: round3(percentile(byRevision.sorted, 99)),
          unit: "ms"
        },
        cpuP50: {
          name: `timeTravel.stateAt.cpu.p50.${label}`,
          workload: `${base}; the same queries' CPU time (user + system), median: the figure a busy machine does not distort`,
          value: round3(percentile(byRevision.sortedCpu, 50)),
          unit: "ms"
        },
        file: {
          name: `timeTravel.file.${label}`,
          workload: `${base}; the SQLite database file (events, index, ${count(built.costs.snapshots)} snapshots of ${count(Math.round(built.costs.snapshotBytes / 1_048_576))} MiB; its write-ahead log beside it: ${count(Math.round(bytes.wal / 1_048_576))} MiB)`,
          value: Math.round(bytes.database / 1_048_576),
          unit: "MiB"
        },
        build: {
          name: `timeTravel.build.${label}`,
          workload: `${base}; generating the log through decide, appending it in batches of ${count(APPEND_BATCH_EVENTS)} and writing the snapshots (append alone: ${count(Math.round(built.costs.appendMs / 1000))} s)`,
          value: Math.round(built.buildMs / 100) / 10,
          unit: "s"
        },
        buildCpu: {
          name: `timeTravel.build.cpu.${label}`,
          workload: `${base}; the same build's CPU time (user + system)`,
          value: Math.round(built.buildCpuMs / 100) / 10,
          unit: "s"
        }
      }
      return { point, full, bytes: bytes.database + bytes.wal }
    })
  )

const againstPrevious = (
  point: SeriesPoint,
  previous: SeriesPoint | undefined,
  step: string
): ReadonlyArray<BenchResult> => {
  const figures = [point.p50, point.p99, point.cpuP50, point.file, point.build, point.buildCpu]
  if (previous === undefined) return figures
  const before = [previous.p50, previous.p99, previous.cpuP50, previous.file, previous.build, previous.buildCpu]
  return figures.map((figure, i) => withBaseline({ ...figure, workload: `${figure.workload}; ${step}` }, before[i]!))
}

/** The point that does not fit: one figure saying so instead of a measurement. */
const skipped = (label: string, eventsCount: number, neededBytes: number, freeBytes: number): BenchResult => ({
  name: `timeTravel.stateAt.p50.${label}`,
  workload: `not run: ${count(eventsCount)} events need about ${count(Math.round(neededBytes / 2 ** 30))} GiB in ${os.tmpdir()}, ${count(Math.round(freeBytes / 2 ** 30))} GiB free`,
  value: Number.NaN,
  unit: "ms"
})

export const timeTravelBenchmarks: ReadonlyArray<Benchmark> = [
  {
    name: "timeTravel",
    run: async () => {
      const series: BenchResult[] = []
      const full: BenchResult[] = []
      let previous: { point: SeriesPoint; events: number; bytes: number } | undefined
      for (const { label, events } of SIZES) {
        const freeBytes = (() => {
          const stats = fs.statfsSync(os.tmpdir())
          return stats.bavail * stats.bsize
        })()
        const neededBytes = previous === undefined ? 0 : (previous.bytes * events * DISK_MARGIN) / previous.events
        if (neededBytes > freeBytes) {
          series.push(skipped(label, events, neededBytes, freeBytes))
          break
        }
        process.stderr.write(`  timeTravel: building the ${count(events)}-event pool ...\n`)
        const measured = await seriesPoint(label, events)
        const step = previous === undefined ? "" : `${events / previous.events}x the events of the point before`
        series.push(...againstPrevious(measured.point, previous?.point, step))
        full.push(...measured.full)
        previous = { point: measured.point, events, bytes: measured.bytes }
      }
      return [...full, ...series]
    }
  }
]
