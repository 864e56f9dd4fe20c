/**
 * Ids given on the command line (`--pool ID`, `--vm ID`, `--host ID`): the one id grammar of
 * domain/ids.ts, checked before the id names a stream, a snapshot or anything else, with the same words
 * wherever it is refused.
 */
import { Effect } from "effect"
import { idProblem, isId, type HostId, type IdKind, type PoolId, type VmId } from "../domain/ids.js"
import { UsageFailure } from "./errors.js"

type IdOf<K extends IdKind> = K extends "pool" ? PoolId : K extends "host" ? HostId : K extends "VM" ? VmId : string

/** The id given to `option`, or a one-line usage failure naming the option and the grammar. */
export const checkedId = <K extends IdKind>(
  kind: K,
  text: string,
  option: string
): Effect.Effect<IdOf<K>, UsageFailure> =>
  isId(text)
    ? Effect.succeed(text as IdOf<K>)
    : Effect.fail(
        new UsageFailure({ what: `bad ${kind} id`, where: option, expected: `expected ${idProblem(kind, text)}` })
      )

/** The pool id given to `option` (default `--pool`). */
export const checkedPoolId = (text: string, option = "--pool"): Effect.Effect<PoolId, UsageFailure> =>
  checkedId("pool", text, option)
