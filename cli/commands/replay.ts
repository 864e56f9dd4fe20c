/**
 * `xenpool replay TRACE [--pool ID] [--seed N] [--store URL] [--json]`: replays a trace into the store as
 * a new pool through the API (api/replay.ts: nothing appended unless the whole trace is good) and
 * prints the same summary as `simulate`.
 */
import { Args, Command, Options } from "@effect/cli"
import { Effect, Option } from "effect"
import { replay } from "../../api/replay.js"
import { SPOOL_MEMORY_EVENTS_MAX } from "../../api/eventSpool.js"
import { layerFromUrl } from "../../store/url.js"
import { printLine } from "../output.js"
import { XenpoolError } from "../../api/errors.js"
import { checkedPoolId } from "../poolId.js"
import { checkedSeed, jsonOption, printJson, quietOption, seedOption, storeOption, storeUrlOf } from "../shared.js"
import { makeProgress } from "../progress.js"
import { noteWritten } from "../written.js"
import { formatRun } from "./simulate.js"

/** The environment variable that sets the memory bound (a machine short of memory may lower it). */
const spoolMemoryEventsEnvVar = "XENPOOL_SPOOL_MEMORY_EVENTS"

/** The memory bound: `XENPOOL_SPOOL_MEMORY_EVENTS` if set (an integer >= 1), else SPOOL_MEMORY_EVENTS_MAX. */
const spoolMemoryEventsFromEnv = (env: NodeJS.ProcessEnv = process.env) => {
  const text = env[spoolMemoryEventsEnvVar]
  if (text === undefined || text === "") return Effect.succeed(SPOOL_MEMORY_EVENTS_MAX)
  const n = Number(text)
  return Number.isSafeInteger(n) && n >= 1
    ? Effect.succeed(n)
    : Effect.fail(
        new XenpoolError({
          what: "bad environment variable",
          where: `${spoolMemoryEventsEnvVar}=${JSON.stringify(text)}`,
          expected: "an integer >= 1 (events a replay holds in memory before it spills them to a temporary file)"
        })
      )
}

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
      const output = yield* replay(trace, {
        ...(Option.isSome(pool) ? { pool: pool.value } : {}),
        ...(rootSeed === undefined ? {} : { seed: rootSeed }),
        progress: makeProgress(!json && !quiet),
        spoolMemoryEventsMax,
        onCommitted: noteWritten
      })
      if (json) return yield* printJson(output)
      yield* printLine(
        `${formatRun(output)}\n${output.records.toLocaleString("en-US")} trace records replayed from ${trace}`
      )
    }).pipe(Effect.provide(layerFromUrl(storeUrlOf(store))))
).pipe(
  Command.withDescription(
    "replay a trace (JSON Lines) deterministically, append its events to the store as a new pool, print a summary"
  )
)
