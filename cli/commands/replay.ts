/**
 * `xenpool replay TRACE [--pool ID] [--seed N] [--store URL] [--json]`: replays a trace (docs/trace-format.md)
 * deterministically into the store as a new pool and prints the same summary as `simulate`.
 *
 * One streaming pass reads, validates and runs the trace (simulations/trace/replay.ts), so a trace of
 * millions of lines replays in bounded memory. Nothing is appended until the whole file has been read
 * and found good and the run is over: the events wait in a spool (in memory, then on disk past
 * SPOOL_MEMORY_EVENTS_MAX), so a bad line anywhere, or a defect of the engine, appends nothing. The run
 * is then committed in one atomic append of every batch, like `simulate`'s (cli/newPool.ts): at any size,
 * the pool is there whole or not at all (docs/durability.md).
 */
import { Args, Command, Options } from "@effect/cli"
import { Effect, Either, Option } from "effect"
import type { PoolId } from "../../domain/ids.js"
import { formatDurationUs } from "../../domain/units.js"
import type { RunResult } from "../../engine/simulation.js"
import { layerFromUrl } from "../../store/url.js"
import { fileInput, readTraceHeader, TraceReplay, validateTrace, type TraceInput } from "../../simulations/trace.js"
import { catchUpSnapshots } from "../../projections/snapshots.js"
import { printLine } from "../output.js"
import { CliFailure, inputFailure } from "../errors.js"
import { checkedPoolId } from "../poolId.js"
import { EventSpool, spoolMemoryEventsFromEnv } from "../eventSpool.js"
import { checkedSeed, jsonOption, printJson, quietOption, seedOption, storeOption, storeUrlOf } from "../shared.js"
import { makeProgress, type Progress } from "../progress.js"
import { APPEND_BATCH_EVENTS, formatRun, RUN_SLICE_EVENTS, RunTally, type RunOutput } from "./simulate.js"
import { commitRun, withNewPool } from "../newPool.js"
import { inSlices } from "../interrupt.js"

export interface ReplayOutput extends RunOutput {
  /** Records in the trace (lines after the header, blank lines aside). */
  readonly records: number
}

const openTrace = (path: string) =>
  Effect.acquireRelease(
    Effect.try({
      try: () => fileInput(path),
      catch: (e) =>
        new CliFailure({
          what: "cannot read trace",
          where: path,
          expected: (e as NodeJS.ErrnoException).code === "ENOENT" ? "an existing file" : String(e)
        })
    }),
    (input) => Effect.sync(() => input.close())
  )

const readFailure = (input: TraceInput) => (e: unknown) =>
  new CliFailure({
    what: "replay failed",
    where: input.name,
    expected: e instanceof Error ? e.message : String(e)
  })

/** The header, to choose the new pool's id before anything runs. */
export const traceHeader = (input: TraceInput) =>
  Effect.flatMap(
    Effect.try({ try: () => readTraceHeader(input), catch: readFailure(input) }),
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
    return { result: step.result, records: step.records, pageSizeBytes: replay.header.pageSizeBytes }
  })

export interface ReplayIntoStoreOptions {
  readonly pool: PoolId
  readonly seed?: number
  /** Where the run's progress is shown (default: nowhere). */
  readonly progress?: Progress
  /** Events held in memory before the spool goes to disk (tests lower it). */
  readonly spoolMemoryEventsMax?: number
}

/** Replays the trace into the store as pool `pool`: appends only once the whole trace is known good. */
export const replayIntoStore = (input: TraceInput, options: ReplayIntoStoreOptions) =>
  Effect.acquireUseRelease(
    Effect.sync(() => new EventSpool(options.spoolMemoryEventsMax)),
    (spool) =>
      Effect.gen(function* () {
        const tally = new RunTally()
        const progress = options.progress ?? makeProgress(false)
        const run: { result: RunResult; records: number; pageSizeBytes: number } = yield* runTrace(
          input,
          spool,
          tally,
          options,
          progress
        )
        yield* commitRun(options.pool, {
          events: spool.count,
          batches: spool.batches(APPEND_BATCH_EVENTS),
          progress
        })
        const output: ReplayOutput = { ...tally.output(options.pool, run.result), records: run.records }
        return { output, pageSizeBytes: run.pageSizeBytes }
      }),
    (spool) => Effect.sync(() => spool.close())
  )

const traceArg = Args.file({ name: "TRACE", exists: "either" }).pipe(
  Args.withDescription("a trace: JSON Lines, a header then records by time (docs/trace-format.md)")
)
const poolIdOption = Options.text("pool").pipe(
  Options.withDescription("pool id to write (default: the trace's pool id with a new -N suffix)"),
  Options.optional
)
const replaySeedOption = seedOption(
  "root seed (default: the trace's); the same seed and pool id give the same event ids"
)

export const replayCommand = Command.make(
  "replay",
  {
    trace: traceArg,
    pool: poolIdOption,
    seed: replaySeedOption,
    store: storeOption,
    json: jsonOption,
    quiet: quietOption
  },
  ({ trace, pool, seed, store, json, quiet }) =>
    Effect.gen(function* () {
      const rootSeed = yield* checkedSeed(seed)
      const spoolMemoryEventsMax = yield* spoolMemoryEventsFromEnv()
      // The command line first: a bad --pool is refused before the trace is read.
      if (Option.isSome(pool)) yield* checkedPoolId(pool.value)
      const input = yield* openTrace(trace)
      const header = yield* traceHeader(input)
      const { output, pageSizeBytes } = yield* withNewPool(header.poolId, Option.getOrUndefined(pool), (id) =>
        replayIntoStore(input, {
          pool: id,
          progress: makeProgress(!json && !quiet),
          spoolMemoryEventsMax,
          ...(rootSeed === undefined ? {} : { seed: rootSeed })
        })
      )
      const id = output.pool
      // Snapshots for time travel now, while the events are fresh, rather than on the first query.
      yield* catchUpSnapshots(id)
      if (json) return yield* printJson(output)
      yield* printLine(
        `${formatRun(output, pageSizeBytes)}\n${output.records.toLocaleString("en-US")} trace records replayed from ${trace}`
      )
    }).pipe(Effect.scoped, Effect.provide(layerFromUrl(storeUrlOf(store))))
).pipe(
  Command.withDescription(
    "replay a trace (JSON Lines) deterministically, append its events to the store as a new pool, print a summary"
  )
)
