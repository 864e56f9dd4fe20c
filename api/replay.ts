/**
 * Replaying a trace (docs/trace-format.md) deterministically into the store as a new pool.
 *
 * One streaming pass reads, validates and runs the trace (simulations/trace/replay.ts), so a trace of
 * millions of lines replays in bounded memory. Nothing is appended until the whole file has been read
 * and found good and the run is over: the events wait in a spool (in memory, then on disk past
 * `spoolMemoryEventsMax`), so a bad line anywhere, or a defect of the engine, appends nothing. The run
 * is then committed in one atomic append of every batch: at any size, the pool is there whole or not at
 * all (docs/durability.md).
 */
import { Effect, Either } from "effect"
import { basename } from "node:path"
import type { PoolId } from "../domain/ids.js"
import { formatDurationUs } from "../domain/units.js"
import type { RunResult } from "../engine/simulation.js"
import { fileInput, readTraceHeader, TraceReplay, validateTrace, type TraceInput } from "../simulations/trace.js"
import { catchUpSnapshots } from "../projections/snapshots.js"
import { inputFailure, XenpoolError } from "./errors.js"
import { EventSpool } from "./eventSpool.js"
import { commitRun, withNewPool } from "./newPool.js"
import { checkPoolId } from "./pools.js"
import { silentProgress, type Progress } from "./progress.js"
import type { Extensions } from "../simulations/extensions.js"
import { runProvenance, sha256OfFile, type RunInput } from "./provenance.js"
import {
  APPEND_BATCH_EVENTS,
  checkExtensions,
  RUN_SLICE_EVENTS,
  RunTally,
  type RunOptions,
  type RunOutput
} from "./simulate.js"
import { inSlices } from "./slices.js"

export interface ReplayOutput extends RunOutput {
  /** Records in the trace (lines after the header, blank lines aside). */
  readonly records: number
}

/** A trace file opened for reading, closed when the scope ends. @internal */
const openTrace = (path: string) =>
  Effect.acquireRelease(
    Effect.try({
      try: () => fileInput(path),
      catch: (e) =>
        new XenpoolError({
          what: "cannot read trace",
          where: path,
          expected: (e as NodeJS.ErrnoException).code === "ENOENT" ? "an existing file" : String(e)
        })
    }),
    (input) => Effect.sync(() => input.close())
  )

const readFailure = (input: TraceInput) => (e: unknown) =>
  new XenpoolError({
    what: "replay failed",
    where: input.name,
    expected: e instanceof Error ? e.message : String(e)
  })

/** The header, to choose the new pool's id before anything runs. */
const traceHeader = (input: TraceInput, extensions?: Extensions) =>
  Effect.flatMap(
    Effect.try({ try: () => readTraceHeader(input, extensions), catch: readFailure(input) }),
    Either.match({
      onLeft: (error) => Effect.fail(inputFailure("bad trace", error)),
      onRight: (header) => Effect.succeed(header)
    })
  )

/** Validation alone (no engine): the first bad line, as `replay` would report it. */
export const validateTraceFile = (input: TraceInput) =>
  Effect.flatMap(
    Effect.try({ try: () => validateTrace(input), catch: readFailure(input) }),
    Either.match({
      onLeft: (error) => Effect.fail(inputFailure("bad trace", error)),
      onRight: (summary) => Effect.succeed(summary)
    })
  )

/** Reads, validates and runs the whole trace, holding its events in the spool. */
const runTrace = (
  input: TraceInput,
  spool: EventSpool,
  tally: RunTally,
  options: ReplayIntoStoreOptions,
  progress: Progress
) =>
  Effect.gen(function* () {
    const opened = yield* Effect.try({
      try: () =>
        TraceReplay.open(input, {
          pool: options.pool,
          ...(options.seed === undefined ? {} : { seed: options.seed }),
          ...(options.extensions === undefined ? {} : { reader: { extensions: options.extensions } }),
          sink: (batch) => {
            spool.add(batch)
            tally.add(batch)
          }
        }),
      catch: readFailure(input)
    })
    if (Either.isLeft(opened)) return yield* Effect.fail(inputFailure("bad trace", opened.left))
    const replay = opened.right
    // A turn of the event loop between slices, where a signal can stop the run.
    const step = yield* inSlices(
      Effect.try({
        try: () => {
          const one = replay.runFor(RUN_SLICE_EVENTS)
          progress.update(
            `replaying ${input.name}: line ${replay.lineNumber.toLocaleString("en-US")}, t = ${formatDurationUs(replay.nowUs)}`,
            replay.bytesConsumed,
            input.sizeBytes
          )
          return one._tag === "Running" ? undefined : one
        },
        catch: readFailure(input)
      })
    )
    if (step._tag === "Invalid") return yield* Effect.fail(inputFailure("bad trace", step.error))
    return {
      result: step.result,
      records: step.records,
      pageSizeBytes: replay.header.pageSizeBytes,
      seed: options.seed ?? replay.header.seed
    }
  })

/** @internal */
export interface ReplayIntoStoreOptions {
  readonly pool: PoolId
  readonly seed?: number
  /** Where the run's progress is shown (default: nowhere). */
  readonly progress?: Progress
  /** Events held in memory before the spool goes to disk (tests lower it). */
  readonly spoolMemoryEventsMax?: number
  readonly onCommitted?: (what: string) => void
  readonly extensions?: Extensions
  /** The trace file's name and digest, recorded with the seed as the pool's provenance. */
  readonly input?: RunInput
}

/** Replays the trace into the store as pool `pool`: appends only once the whole trace is known good. @internal */
export const replayIntoStore = (input: TraceInput, options: ReplayIntoStoreOptions) =>
  Effect.acquireUseRelease(
    Effect.sync(() => new EventSpool(options.spoolMemoryEventsMax)),
    (spool) =>
      Effect.gen(function* () {
        const tally = new RunTally()
        const progress = options.progress ?? silentProgress
        const run: { result: RunResult; records: number; pageSizeBytes: number; seed: number } = yield* runTrace(
          input,
          spool,
          tally,
          options,
          progress
        )
        yield* commitRun(options.pool, {
          events: spool.count,
          batches: spool.batches(APPEND_BATCH_EVENTS),
          progress,
          onCommitted: options.onCommitted,
          provenance: options.input === undefined ? undefined : runProvenance(run.seed, options.input)
        })
        const output: ReplayOutput = {
          ...tally.output(options.pool, run.pageSizeBytes, run.result),
          records: run.records
        }
        return output
      }),
    (spool) => Effect.sync(() => spool.close())
  )

export interface ReplayOptions extends RunOptions {
  /** Events held in memory before the spool goes to a temporary file (default 100,000). */
  readonly spoolMemoryEventsMax?: number
}

/**
 * Replays a trace file (JSON Lines: a header, then records by time) into the store as a new pool, whole
 * or not at all: a bad line anywhere fails with an XenpoolError naming file, line and field, and appends
 * nothing. Returns the run's summary.
 *
 * @example
 * const run = yield* replay("workload.trace.jsonl", { pool: "nightly-1" })
 */
export const replay = (trace: string, options: ReplayOptions = {}) =>
  Effect.scoped(
    Effect.gen(function* () {
      if (options.pool !== undefined) yield* checkPoolId(options.pool)
      yield* checkExtensions(options.extensions)
      const input = yield* openTrace(trace)
      const header = yield* traceHeader(input, options.extensions)
      const digest: RunInput = { kind: "trace", name: basename(trace), sha256: yield* sha256OfFile(trace) }
      const output = yield* withNewPool(header.poolId, options.pool, (id) =>
        replayIntoStore(input, {
          pool: id,
          input: digest,
          ...(options.progress === undefined ? {} : { progress: options.progress }),
          ...(options.spoolMemoryEventsMax === undefined ? {} : { spoolMemoryEventsMax: options.spoolMemoryEventsMax }),
          ...(options.seed === undefined ? {} : { seed: options.seed }),
          ...(options.onCommitted === undefined ? {} : { onCommitted: options.onCommitted }),
          ...(options.extensions === undefined ? {} : { extensions: options.extensions })
        })
      )
      // Snapshots for time travel now, while the events are fresh, rather than on the first query.
      yield* catchUpSnapshots(output.pool)
      return output
    })
  )
