/** A schema's first issue in the words of a trace error: the field's JSON path and what was expected. */
import { ParseResult } from "effect"
import { formatPath, inputError, type InputError } from "../scenario.js"

/** "Expected a number, actual …" reads "expected a number, actual …"; a missing or excess field says so. */
export const schemaIssue = (source: string, error: ParseResult.ParseError, line?: number): InputError => {
  const issue = ParseResult.ArrayFormatter.formatErrorSync(error)[0]
  const path = formatPath(issue?.path ?? []) || "(root)"
  const message = issue?.message ?? "a valid value"
  switch (issue?._tag) {
    case "Missing":
      return inputError(source, path, "a value: the field is required", line)
    case "Unexpected":
      return inputError(
        source,
        path,
        `no such field here (${message.replace(/^is unexpected, expected: /, "the fields are ")})`,
        line
      )
    default:
      return inputError(source, path, message.replace(/^Expected /, ""), line)
  }
}
