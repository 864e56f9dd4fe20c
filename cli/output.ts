/**
 * The one way a command writes to stdout. A write that cannot be completed (a full disk, an I/O error)
 * is a `XenpoolError` and a non-zero exit, never output silently cut short; a reader that has gone away
 * (`xenpool events --json | head -1`, EPIPE) ends the output quietly, as Unix tools do.
 *
 * Node's own stdout loses both kinds of error for us: `console.log` (and Effect's `Console.log` on top of
 * it) ignores write errors, and when stdout is a file Node writes each chunk with one `write(2)` and
 * ignores a short count, so a file that fills up mid-output is truncated without an error. Here a file
 * (or device) is written with `fs.writeSync` until every byte is taken, and a pipe or terminal through
 * `process.stdout.write`, waiting for its callback. Output too long to hold in memory is written as it
 * is made, each piece waiting for the one before; JSON documents come out piece by piece with exactly the
 * text `JSON.stringify(document, null, 2)` would give the whole.
 */
import { writeSync } from "node:fs"
import { Socket } from "node:net"
import { Effect } from "effect"
import { XenpoolError } from "./errors.js"

let readerGone = false
let stdoutGuarded = false

/** A write error is also emitted as an 'error' event, which would otherwise crash the process. */
const guardStdout = (): void => {
  if (stdoutGuarded) return
  stdoutGuarded = true
  process.stdout.on("error", () => {})
}

const codeOf = (error: unknown): string | undefined => {
  const code = (error as NodeJS.ErrnoException | undefined)?.code
  return typeof code === "string" ? code : undefined
}

/** `ENOSPC: no space left on device, write` → `no space left on device (ENOSPC)`. */
export const describeWriteError = (error: unknown): string => {
  const message = error instanceof Error ? error.message : String(error)
  const code = codeOf(error)
  if (code === undefined) return message
  const reason = message.startsWith(`${code}: `) ? message.slice(code.length + 2).replace(/, write$/, "") : message
  return `${reason} (${code})`
}

const writeFailure = (error: unknown) =>
  new XenpoolError({ what: "cannot write output", where: "stdout", expected: describeWriteError(error) })

/** Writes every byte to a file descriptor, however many `write(2)` calls it takes. */
const writeAllSync = (fd: number, bytes: Uint8Array): void => {
  // Bounded: each pass writes at least one byte, or throws.
  for (let offset = 0; offset < bytes.length;) {
    const written = writeSync(fd, bytes, offset, bytes.length - offset)
    if (written <= 0) throw Object.assign(new Error("EIO: the device took no bytes, write"), { code: "EIO" })
    offset += written
  }
}

const writeToFile = (fd: number, text: string): Effect.Effect<boolean, XenpoolError> =>
  Effect.suspend(() => {
    try {
      writeAllSync(fd, Buffer.from(text, "utf8"))
      return Effect.succeed(true)
    } catch (error) {
      if (codeOf(error) !== "EPIPE") return Effect.fail(writeFailure(error))
      readerGone = true
      return Effect.succeed(false)
    }
  })

const writeToStream = (text: string): Effect.Effect<boolean, XenpoolError> =>
  Effect.async<boolean, XenpoolError>((resume) => {
    guardStdout()
    process.stdout.write(text, (error) => {
      if (!error) return resume(Effect.succeed(true))
      if (codeOf(error) !== "EPIPE") return resume(Effect.fail(writeFailure(error)))
      readerGone = true
      resume(Effect.succeed(false))
    })
  })

/**
 * Writes `text` to stdout and waits until it was taken. False when the reader has gone away (then
 * nothing more is written, and the command should stop writing); fails with a `XenpoolError` when the
 * output could not be written.
 */
export const writeStdout = (text: string): Effect.Effect<boolean, XenpoolError> =>
  Effect.suspend(() => {
    if (readerGone) return Effect.succeed(false)
    if (text === "") return Effect.succeed(true)
    // A file or device: Node's stdout for it is a synchronous stream over this descriptor.
    const fd = (process.stdout as { fd?: unknown }).fd
    if (!(process.stdout instanceof Socket) && typeof fd === "number") return writeToFile(fd, text)
    return writeToStream(text)
  })

/** One line (or several) on stdout, as `Console.log` would print it, with write errors reported. */
export const printLine = (text: string): Effect.Effect<void, XenpoolError> => Effect.asVoid(writeStdout(`${text}\n`))

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

/** A value as one word of a shell command in a hint (a printed time such as `43.10 s` has a space: quoted). */
export const shellWord = (text: string): string => (/\s/.test(text) ? `'${text}'` : text)
