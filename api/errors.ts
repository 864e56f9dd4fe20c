/**
 * The errors of xenpool's operations. Every one is an `Error` with a `_tag` naming its kind and a
 * one-line `message` (`what (where): expected`), so that a plain `try`/`catch` and Effect's typed error
 * channel both see the same values.
 */
import { Schema } from "effect"
import type { InputError } from "../simulations/scenario.js"

/**
 * An operation could not be done as asked: a bad scenario or trace (naming file, line and field), an
 * unknown pool, VM or host, a pool id already taken, an engine failure. `what` says what went wrong,
 * `where` names the input, `expected` what would have been right.
 */
export class XenpoolError extends Schema.TaggedError<XenpoolError>()("XenpoolError", {
  what: Schema.String,
  where: Schema.String,
  expected: Schema.String
}) {
  override get message() {
    return `${this.what} (${this.where}): ${this.expected}`
  }
}

/** A scenario, trace or CSV that failed to parse, as an XenpoolError naming its file, line and field. */
export const inputFailure = (what: string, error: InputError): XenpoolError =>
  new XenpoolError({
    what,
    where: `${error.source}${error.line === undefined ? "" : `:${error.line}`}, ${error.path}`,
    expected: `expected ${error.expected}`
  })

export { StoreError, EventDecodeError, WrongExpectedVersion, NoSuchRevision } from "../store/errors.js"
