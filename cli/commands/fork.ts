/**
 * `xenpool fork --pool ID --at WHEN --as NEW`: a branch of a pool's history (api/fork.ts,
 * docs/branches.md). WHEN is read as `at` reads it.
 */
import { Command, Options } from "@effect/cli"
import { Effect, Either } from "effect"
import { fork } from "../../api/fork.js"
import { describeTarget } from "../../api/timeTravel.js"
import { formatDurationUs } from "../../domain/units.js"
import { printLine, shellWord } from "../output.js"
import { checkedPoolId } from "../poolId.js"
import { jsonOption, poolOption, printJson, storeOption } from "../shared.js"
import { parseWhen, timeTravelLayer } from "./timeTravel.js"

export const forkCommand = Command.make(
  "fork",
  {
    pool: poolOption.pipe(Options.withDescription("the pool to branch (the parent)")),
    at: Options.text("at").pipe(
      Options.withDescription(
        "where the branch leaves the parent: a simulated time (3m10s, 12.5s, 800ms) or @REVISION, as `xenpool at` reads it"
      )
    ),
    as: Options.text("as").pipe(Options.withDescription("the new pool's id (the branch)")),
    store: storeOption,
    json: jsonOption
  },
  ({ pool, at, as, store, json }) =>
    Effect.gen(function* () {
      // usage errors first, before the store is opened
      const target = yield* Either.match(parseWhen(at), { onLeft: Effect.fail, onRight: Effect.succeed })
      const parent = yield* checkedPoolId(pool)
      const id = yield* checkedPoolId(as, "--as")
      yield* Effect.gen(function* () {
        const made = yield* fork(parent, target, id)
        if (json) return yield* printJson(made)
        const where =
          "revision" in target
            ? `@${made.revision} (${formatDurationUs(made.atUs)})`
            : `${describeTarget(target)} (revision ${made.revision})`
        yield* printLine(
          `pool ${made.pool}: a branch of ${made.parent} at ${where}, ${made.events} events of which ${made.eventsStored} stored; ` +
            `try: xenpool at ${shellWord(formatDurationUs(made.atUs))} --pool ${made.pool}, xenpool diff --pool ${made.pool} --against ${made.parent} ${shellWord(formatDurationUs(made.atUs))}`
        )
      }).pipe(Effect.provide(timeTravelLayer(store)))
    })
).pipe(
  Command.withDescription(
    "branch a pool's history: a new pool (--as) sharing the parent's (--pool) events up to --at WHEN, stored as a reference to them, not a copy"
  )
)
