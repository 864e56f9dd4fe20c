/**
 * `xenpool replay TRACE [--pool ID] [--seed N] [--store URL] [--json]`: replays a trace (docs/trace-format.md)
 * deterministically into the store as a new pool and prints the same summary as `simulate`.
 *
 * One streaming pass reads, validates and runs the trace (simulations/trace/replay.ts), so a trace of
 * millions of lines replays in bounded memory. Nothing is appended until the whole file has been read
 * and found good and the run is over: the events wait in a spool (in memory, then on disk past
 * SPOOL_MEMORY_EVENTS_MAX), so a bad line anywhere, or a defect of the engine, appends nothing. A run of
 * up to SPOOL_MEMORY_EVENTS_MAX events is then appended as one atomic batch, like `simulate`'s; a longer
 * one in batches of APPEND_CHUNK_EVENTS with expected revisions, where only a failure of the store itself
 * (a full disk, a lost connection) could stop it part-way.
 */
import { Args, Command, Options } from "@effect/cli"
import { Console, Effect, Either, Option } from "effect"
import { poolStreamName, type PoolId } from "../../domain/ids.js"
import { formatDurationUs } from "../../domain/units.js"
import type { RunResult } from "../../engine/simulation.js"
import { EventStore, ExpectedRevision } from "../../store/EventStore.js"
import { layerFromUrl } from "../../store/url.js"
import { fileInput, readTraceHeader, TraceReplay, validateTrace, type TraceInput } from "../../simulations/trace.js"
import { catchUpSnapshots } from "../../projections/snapshots.js"
import { CliFailure, inputFailure } from "../errors.js"
import { checkedPoolId } from "../poolId.js"
import { EventSpool } from "../eventSpool.js"
import { checkedSeed, jsonOption, makeProgress, printJson, seedOption, storeOption, storeUrlOf } from "../shared.js"
import { choosePoolId, formatRun, RunTally, type RunOutput } from "./simulate.js"

/** Events appended per batch when a run is too long to append at once. */
export const APPEND_CHUNK_EVENTS = 50_000

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
const runTrace = (input: TraceInput, spool: EventSpool, tally: RunTally, options: ReplayIntoStoreOptions) =>
  Effect.gen(function* () {
    const progress = makeProgress(!options.json)
    const opened = yield* Effect.try({
      try: () =>
        TraceReplay.open(input, {
          pool: options.pool,
          ...(options.seed === undefined ? {} : { seed: options.seed }),
          sink: (batch) => {
            spool.add(batch)
            tally.add(batch)
          },
          onProgress: (nowUs, events) =>
            progress.update(
              `replaying ${input.name}: line ${replay.lineNumber.toLocaleString("en-US")}, ${events.toLocaleString("en-US")} events, t = ${formatDurationUs(nowUs)}`
            )
        }),
      catch: readFailure(input)
    })
    if (Either.isLeft(opened)) return yield* Effect.fail(inputFailure("bad trace", opened.left))
    const replay = opened.right
    // Bounded: each pass emits events towards the header's events limit, or ends the run.
    for (;;) {
      const step = yield* Effect.try({ try: () => replay.runFor(APPEND_CHUNK_EVENTS), catch: readFailure(input) })
      if (step._tag === "Invalid") {
        progress.done()
        return yield* Effect.fail(inputFailure("bad trace", step.error))
      }
      if (step._tag === "Done") {
        progress.done()
        return { result: step.result, records: step.records, pageSizeBytes: replay.header.pageSizeBytes }
      }
    }
  })

/** Appends the spooled events: one atomic batch, or several with expected revisions past the memory bound. */
const appendSpool = (spool: EventSpool, pool: PoolId) =>
  Effect.gen(function* () {
    const store = yield* EventStore
    const stream = poolStreamName(pool)
    let expected = ExpectedRevision.noStream
    for (const batch of spool.batches(spool.spilled ? APPEND_CHUNK_EVENTS : Math.max(1, spool.count))) {
      const written = yield* store.append(stream, batch, expected)
      expected = ExpectedRevision.at(written.nextExpectedRevision)
    }
  })

export interface ReplayIntoStoreOptions {
  readonly pool: PoolId
  readonly seed?: number
  readonly json: boolean
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
        const run: { result: RunResult; records: number; pageSizeBytes: number } = yield* runTrace(
          input,
          spool,
          tally,
          options
        )
        yield* appendSpool(spool, options.pool)
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
  { trace: traceArg, pool: poolIdOption, seed: replaySeedOption, store: storeOption, json: jsonOption },
  ({ trace, pool, seed, store, json }) =>
    Effect.gen(function* () {
      const rootSeed = yield* checkedSeed(seed)
      // The command line first: a bad --pool is refused before the trace is read.
      if (Option.isSome(pool)) yield* checkedPoolId(pool.value)
      const input = yield* openTrace(trace)
      const header = yield* traceHeader(input)
      const id = yield* choosePoolId(header.poolId, Option.getOrUndefined(pool))
      const { output, pageSizeBytes } = yield* replayIntoStore(input, {
        pool: id,
        json,
        ...(rootSeed === undefined ? {} : { seed: rootSeed })
      })
      // Snapshots for time travel now, while the events are fresh, rather than on the first query.
      yield* catchUpSnapshots(id)
      if (json) return yield* printJson(output)
      yield* Console.log(
        `${formatRun(output, pageSizeBytes)}\n${output.records.toLocaleString("en-US")} trace records replayed from ${trace}`
      )
    }).pipe(Effect.scoped, Effect.provide(layerFromUrl(storeUrlOf(store))))
).pipe(
  Command.withDescription(
    "replay a trace (JSON Lines) deterministically, append its events to the store as a new pool, print a summary"
  )
)
