/**
 * Everything a user can get wrong ends as one line on stderr, `xenpool: <what> (<where>): <expected>`,
 * and a non-zero exit; a stack trace only with XENPOOL_DEBUG=1 (DESIGN.md §7).
 */
import { Schema } from "effect"
import { oneLine } from "../domain/text.js"
export { XenpoolError } from "../api/errors.js"

/** The command line itself is wrong (an unknown option, a missing one, a bad value): exit code 2. */
export class UsageFailure extends Schema.TaggedError<UsageFailure>()("UsageFailure", {
  what: Schema.String,
  where: Schema.String,
  expected: Schema.String
}) {
  override get message() {
    return `${this.what} (${this.where}): ${this.expected}`
  }
}

const isTagged = (u: unknown): u is { _tag: string; message: string } =>
  typeof u === "object" && u !== null && "_tag" in u && typeof (u as { _tag: unknown })._tag === "string"

/** The one-line form of any failure that reaches the top (usage errors are UsageFailures by then). */
export const formatFailure = (error: unknown): string => {
  if (isTagged(error)) {
    switch (error._tag) {
      case "XenpoolError":
      case "UsageFailure":
      case "StoreError":
      case "EventDecodeError":
      case "WrongExpectedVersion":
        return error.message
      default:
        return `${error._tag}: ${error.message}`
    }
  }
  return error instanceof Error ? error.message : String(error)
}

/** The exit codes (README): 0 ok, 1 a failure, 2 a usage error; 130 and 143 come from the signals. */
const exitCodes = { ok: 0, failure: 1, usage: 2 } as const

export const exitCodeOf = (error: unknown): number =>
  isTagged(error) && error._tag === "UsageFailure" ? exitCodes.usage : exitCodes.failure

/** One line fit for a terminal (domain/text.ts). */
export { oneLine }

/** The same for several lines (the debug output): only the line breaks stay. */
export const terminalLines = (text: string): string =>
  text
    .split("\n")
    .map((line) => oneLine(line))
    .join("\n")
