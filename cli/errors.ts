/**
 * Everything a user can get wrong ends as one line on stderr, `xenpool: <what> (<where>): <expected>`,
 * and a non-zero exit; a stack trace only with XENPOOL_DEBUG=1 (DESIGN.md §7).
 */
import { Schema } from "effect"
import type { InputError } from "../simulations/scenario.js"

export class CliFailure extends Schema.TaggedError<CliFailure>()("CliFailure", {
  what: Schema.String,
  where: Schema.String,
  expected: Schema.String
}) {
  override get message() {
    return `${this.what} (${this.where}): ${this.expected}`
  }
}

export const inputFailure = (what: string, error: InputError): CliFailure =>
  new CliFailure({
    what,
    where: `${error.source}${error.line === undefined ? "" : `:${error.line}`}, ${error.path}`,
    expected: `expected ${error.expected}`
  })

const isTagged = (u: unknown): u is { _tag: string; message: string } =>
  typeof u === "object" && u !== null && "_tag" in u && typeof (u as { _tag: unknown })._tag === "string"

/** The one-line form of any failure that reaches the top. */
export const formatFailure = (error: unknown): string => {
  if (isTagged(error)) {
    switch (error._tag) {
      case "CliFailure":
      case "StoreError":
      case "EventDecodeError":
      case "WrongExpectedVersion":
        return error.message
      case "ValidationError":
        return "invalid command line (see xenpool --help)"
      default:
        return `${error._tag}: ${error.message}`
    }
  }
  return error instanceof Error ? error.message : String(error)
}
