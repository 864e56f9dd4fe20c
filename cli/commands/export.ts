/**
 * `xenpool export --pool ID [--seed N] [--store URL]`: a pool's history as a trace on stdout, which
 * `xenpool replay` turns back into the same events (api/export.ts).
 */
import { Command, Options } from "@effect/cli"
import { Effect, Option } from "effect"
import { exportTrace } from "../../api/export.js"
import { layerFromUrl } from "../../store/url.js"
import { writeStdout } from "../output.js"
import { checkedPoolId } from "../poolId.js"
import { makeProgress } from "../progress.js"
import { poolOption, quietOption, storeOption, storeUrlOf } from "../shared.js"

const seedOption = Options.integer("seed").pipe(
  Options.withDescription(
    "the seed written into the header (default: the seed the pool records in its provenance): replaying with it and the same --pool gives the same event ids (checked against the log)"
  ),
  Options.optional
)

export const exportCommand = Command.make(
  "export",
  { pool: poolOption, seed: seedOption, store: storeOption, quiet: quietOption },
  ({ pool, seed, store, quiet }) =>
    Effect.gen(function* () {
      const id = yield* checkedPoolId(pool)
      yield* exportTrace(id, writeStdout, {
        ...(Option.isSome(seed) ? { seed: seed.value } : {}),
        progress: makeProgress(!quiet)
      })
    }).pipe(Effect.provide(layerFromUrl(storeUrlOf(store))))
).pipe(
  Command.withDescription(
    "print a pool's history as a trace (JSON Lines) on stdout, which `xenpool replay` turns back into the same events"
  )
)
