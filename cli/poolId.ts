/**
 * `--pool ID` as every command takes it: the one id grammar of domain/ids.ts, checked before the id names
 * a stream, a snapshot or anything else, with the same words wherever it is refused.
 */
import { Effect } from "effect"
import { idProblem, isId, type PoolId } from "../domain/ids.js"
import { CliFailure } from "./errors.js"

/** The pool id given to `option` (default `--pool`), or a one-line usage failure naming it. */
export const checkedPoolId = (text: string, option = "--pool"): Effect.Effect<PoolId, CliFailure> =>
  isId(text)
    ? Effect.succeed(text as PoolId)
    : Effect.fail(
        new CliFailure({ what: "bad pool id", where: option, expected: `expected ${idProblem("pool", text)}` })
      )
