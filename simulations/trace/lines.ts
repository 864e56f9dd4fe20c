/**
 * Lines of a trace, read synchronously in chunks: the engine pulls records while it runs (a replay reads
 * the next slice of the trace from inside a happening), so reading cannot wait for a promise. Memory is
 * one buffer of `chunkBytes`, grown only for a line longer than that, up to `lineBytesMax`.
 */
import { closeSync, fstatSync, openSync, readSync } from "node:fs"

const CHUNK_BYTES_DEFAULT = 1 << 20
const LINE_BYTES_MAX_DEFAULT = 64 << 20

export interface ByteSource {
  /** Reads up to `length` bytes into `buffer` at `offset`; 0 at the end of the input. */
  read(buffer: Uint8Array, offset: number, length: number): number
}

/** A trace's bytes, which a replay reads twice: once to validate, once to run. */
export interface TraceInput {
  /** The file name (or a label), for messages. */
  readonly name: string
  /** A fresh reader from the first byte. */
  open(): ByteSource
  /** Its size when opened, in bytes (for a progress display). */
  readonly sizeBytes: number
  /** Whether the bytes may have changed since the input was opened (a file's size or mtime moved). */
  changed(): boolean
  close(): void
}

/**
 * A file, kept open for both passes: a rename or a replacement of the path does not change what is
 * read; an edit in place shows in `changed()`.
 */
export const fileInput = (path: string): TraceInput => fdInput(path, openSync(path, "r"))

/** An open file descriptor (which may have no name left: a spool file unlinked once opened); closes it. */
export const fdInput = (name: string, fd: number): TraceInput => {
  const first = fstatSync(fd)
  return {
    name,
    sizeBytes: first.size,
    open: () => {
      let position = 0
      return {
        read: (buffer, offset, length) => {
          const n = readSync(fd, buffer, offset, length, position)
          position += n
          return n
        }
      }
    },
    changed: () => {
      const now = fstatSync(fd)
      return now.size !== first.size || now.mtimeMs !== first.mtimeMs
    },
    close: () => closeSync(fd)
  }
}

/** A trace held in memory (tests, generated traces). */
export const textInput = (name: string, text: string): TraceInput => {
  const bytes = Buffer.from(text, "utf8")
  return {
    name,
    sizeBytes: bytes.length,
    open: () => {
      let position = 0
      return {
        read: (buffer, offset, length) => {
          const n = Math.min(length, bytes.length - position)
          buffer.set(bytes.subarray(position, position + n), offset)
          position += n
          return n
        }
      }
    },
    changed: () => false,
    close: () => {}
  }
}

/** A line longer than the reader's limit. */
export class LineTooLong extends Error {
  constructor(
    readonly line: number,
    readonly lineBytesMax: number
  ) {
    super(`line ${line} is longer than ${lineBytesMax} bytes`)
  }
}

const NEWLINE = 10
const CARRIAGE_RETURN = 13

export class LineReader {
  /** 1-based number of the line last returned. */
  lineNumber = 0
  /** Bytes read from the source so far (some may still wait in the buffer). */
  private sourceBytes = 0
  private buffer: Buffer
  private start = 0
  private end = 0
  private eof = false
  private readonly lineBytesMax: number

  constructor(
    private readonly source: ByteSource,
    options: { readonly chunkBytes?: number; readonly lineBytesMax?: number } = {}
  ) {
    this.buffer = Buffer.allocUnsafe(options.chunkBytes ?? CHUNK_BYTES_DEFAULT)
    this.lineBytesMax = options.lineBytesMax ?? LINE_BYTES_MAX_DEFAULT
  }

  /** Bytes of the lines returned so far, line endings included. */
  get bytesConsumed(): number {
    return this.sourceBytes - (this.end - this.start)
  }

  /** The next line without its line ending, or undefined after the last one. */
  next(): string | undefined {
    // Bounded: each pass either returns or reads more bytes of a finite input.
    for (;;) {
      const newline = this.start < this.end ? this.buffer.indexOf(NEWLINE, this.start) : -1
      if (newline !== -1 && newline < this.end) return this.take(newline, newline + 1)
      if (this.eof) return this.start < this.end ? this.take(this.end, this.end) : undefined
      this.fill()
    }
  }

  private take(lineEnd: number, nextStart: number): string {
    const cut = lineEnd > this.start && this.buffer[lineEnd - 1] === CARRIAGE_RETURN ? lineEnd - 1 : lineEnd
    const text = this.buffer.toString("utf8", this.start, cut)
    this.start = nextStart
    this.lineNumber++
    return text
  }

  /** Moves the partial line to the front, grows the buffer if the line fills it, reads more. */
  private fill(): void {
    if (this.start > 0) {
      this.buffer.copyWithin(0, this.start, this.end)
      this.end -= this.start
      this.start = 0
    }
    if (this.end === this.buffer.length) {
      if (this.buffer.length >= this.lineBytesMax) throw new LineTooLong(this.lineNumber + 1, this.lineBytesMax)
      const grown = Buffer.allocUnsafe(Math.min(this.lineBytesMax, this.buffer.length * 2))
      this.buffer.copy(grown, 0, 0, this.end)
      this.buffer = grown
    }
    const n = this.source.read(this.buffer, this.end, this.buffer.length - this.end)
    this.sourceBytes += n
    if (n === 0) this.eof = true
    this.end += n
  }
}
