/**
 * Output too long to hold in memory, written as it is made: each piece waits until stdout took the one
 * before (a pipe may be slower than the store), and a reader that went away (`xenpool events … | head`)
 * stops the command quietly, as Unix tools do. JSON documents come out piece by piece with exactly the
 * text `JSON.stringify(document, null, 2)` would give the whole.
 */
import { Effect } from "effect"
import { CliFailure } from "./errors.js"

/** Keeps a stdout error (EPIPE: the reader went away) from surfacing as an unhandled 'error' event. */
let stdoutGuarded = false
const guardStdout = (): void => {
  if (stdoutGuarded) return
  stdoutGuarded = true
  process.stdout.on("error", () => {})
}

/** Writes to stdout and waits until the stream took it. False when the reader has gone away. */
export const writeStdout = (text: string, what = "cannot write to stdout") =>
  Effect.async<boolean, CliFailure>((resume) => {
    guardStdout()
    process.stdout.write(text, (error) => {
      if (!error) return resume(Effect.succeed(true))
      if ((error as NodeJS.ErrnoException).code === "EPIPE") return resume(Effect.succeed(false))
      resume(Effect.fail(new CliFailure({ what, where: "stdout", expected: error.message })))
    })
  })

/** `JSON.stringify(value, null, 2)` as it reads `depth` levels down a document: every line after the first indented. */
export const indentedJson = (value: unknown, depth: number): string => {
  const text = JSON.stringify(value, null, 2)
  return depth === 0 ? text : text.replace(/\n/g, `\n${"  ".repeat(depth)}`)
}

/**
 * A JSON array written element by element, `depth` levels down its document: `elements(page)` for each
 * page, then `end()`. The pieces joined are `indentedJson(allElements, depth)`.
 */
export class JsonArrayText {
  private count = 0

  constructor(private readonly depth = 0) {}

  /** The text that adds these elements (the opening bracket with the first). */
  elements(values: ReadonlyArray<unknown>): string {
    const inner = "  ".repeat(this.depth + 1)
    let text = ""
    for (const value of values) {
      text += `${this.count === 0 ? "[\n" : ",\n"}${inner}${indentedJson(value, this.depth + 1)}`
      this.count++
    }
    return text
  }

  /** The closing text: `]` on its own line, or `[]` for an array that got no element. */
  end(): string {
    return this.count === 0 ? "[]" : `\n${"  ".repeat(this.depth)}]`
  }

  get length(): number {
    return this.count
  }
}
