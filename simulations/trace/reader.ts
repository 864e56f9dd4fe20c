/**
 * Streams a trace: the header, then one record at a time, each parsed, schema-checked, ordered by `atUs`
 * and resolved against the ids declared so far. Memory is the line buffer and the symbol table, whatever
 * the trace's length. The first bad line stops the reader with an InputError naming the file, the line,
 * the field's JSON path and what was expected.
 */
import { Either, type ParseResult, Schema } from "effect"
import { inputError, type InputError } from "../scenario.js"
import { compileCheck, literalField, type Check } from "../../domain/schemaCheck.js"
import type { Extensions } from "../extensions.js"
import { compileHeader, headerExpected, type CompiledHeader } from "./header.js"
import { schemaIssue } from "./issues.js"
import { LineReader, LineTooLong, type TraceInput } from "./lines.js"
import { resolveRecord, SymbolTable, TraceFailure, type TraceAction } from "./resolve.js"
import { recordSchemas, type TraceRecord } from "./schema.js"

/** A bad trace, thrown by the reader and caught at its API's edge. */
export class TraceInputError extends Error {
  constructor(readonly error: InputError) {
    super(`${error.source}:${error.line ?? "?"}: ${error.path}: expected ${error.expected}`)
  }
}

export interface ReadRecord {
  readonly line: number
  readonly atUs: number
  readonly action: TraceAction
}

interface RecordCodec {
  readonly check: Check
  readonly decode: (json: unknown) => Either.Either<unknown, ParseResult.ParseError>
}

const decodeOptions = { errors: "first", onExcessProperty: "error" } as const

/** One codec per `op`: the compiled predicate and the schema behind it. */
const codecs: ReadonlyMap<string, RecordCodec> = new Map(
  recordSchemas.map((schema): [string, RecordCodec] => {
    const op = literalField(schema.ast, "op")
    const check = compileCheck(schema.ast)
    const decode = Schema.decodeUnknownEither(schema as Schema.Schema<unknown, unknown>, decodeOptions)
    if (op === undefined) throw new Error("every record schema has a literal op")
    return [op, { check: check ?? ((json) => Either.isRight(decode(json))), decode }]
  })
)

export const recordOps: ReadonlyArray<string> = [...codecs.keys()]

/** What is wrong with a record value (`path: expected`), or undefined when its schema accepts it. */
export const recordProblem = (value: unknown): string | undefined => {
  const op = typeof value === "object" && value !== null ? (value as { op?: unknown }).op : undefined
  const codec = typeof op === "string" ? codecs.get(op) : undefined
  if (codec === undefined) return `op: one of ${recordOps.join(", ")}`
  if (codec.check(value)) return undefined
  const decoded = codec.decode(value)
  if (Either.isRight(decoded)) return undefined
  const issue = schemaIssue("record", decoded.left)
  return `${issue.path}: ${issue.expected}`
}

const isRecordObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

const isBlank = (text: string): boolean => text.length === 0 || text.trim().length === 0

export interface TraceReaderOptions {
  readonly chunkBytes?: number
  readonly lineBytesMax?: number
  /** The user's policies and placements the trace may name (API runs). */
  readonly extensions?: Extensions
}

export class TraceReader {
  readonly header: CompiledHeader
  /** Records read so far. */
  records = 0
  private readonly lines: LineReader
  private readonly table: SymbolTable
  private lastAtUs = 0
  private lastLine = 0

  constructor(
    private readonly input: TraceInput,
    options: TraceReaderOptions = {}
  ) {
    this.lines = new LineReader(input.open(), options)
    this.header = this.readHeader(options.extensions)
    this.table = new SymbolTable(this.header)
  }

  /** The line of the record last returned. */
  get lineNumber(): number {
    return this.lines.lineNumber
  }

  /** Bytes of the trace read so far. */
  get bytesConsumed(): number {
    return this.lines.bytesConsumed
  }

  /** The next record, or undefined at the end of the trace. */
  next(): ReadRecord | undefined {
    const text = this.nextLine()
    if (text === undefined) return undefined
    const line = this.lines.lineNumber
    const record = this.parseRecord(text, line)
    if (record.atUs < this.lastAtUs)
      this.fail(
        "atUs",
        `atUs >= ${this.lastAtUs} (records are ordered by time; line ${this.lastLine} is at ${this.lastAtUs}), got ${record.atUs}`,
        line
      )
    this.lastAtUs = record.atUs
    this.lastLine = line
    this.records++
    return { line, atUs: record.atUs, action: this.resolve(record, line) }
  }

  private resolve(record: TraceRecord, line: number): TraceAction {
    try {
      return resolveRecord(this.header, this.table, record, line)
    } catch (error) {
      if (error instanceof TraceFailure) this.fail(error.path, error.expected, line)
      throw error
    }
  }

  private nextLine(): string | undefined {
    // Bounded: each pass consumes a line of a finite input.
    for (;;) {
      let text: string | undefined
      try {
        text = this.lines.next()
      } catch (error) {
        if (error instanceof LineTooLong)
          this.fail("(line)", `a line of at most ${error.lineBytesMax} bytes`, error.line)
        throw error
      }
      if (text === undefined || !isBlank(text)) return text
    }
  }

  private readHeader(extensions: Extensions | undefined): CompiledHeader {
    const text = this.nextLine()
    if (text === undefined) this.fail("(header)", `${headerExpected}, got an empty file`, 1)
    const line = this.lines.lineNumber
    const json = this.parseJson(text, line)
    if (!isRecordObject(json) || json.format === undefined) this.fail("format", headerExpected, line)
    const header = compileHeader(this.input.name, json, line, this.input.name, extensions)
    if (Either.isLeft(header)) throw new TraceInputError(header.left)
    return header.right
  }

  private parseJson(text: string, line: number): unknown {
    try {
      return JSON.parse(text) as unknown
    } catch (error) {
      return this.fail("(json)", `valid JSON (${error instanceof Error ? error.message : String(error)})`, line)
    }
  }

  private parseRecord(text: string, line: number): TraceRecord {
    const json = this.parseJson(text, line)
    if (!isRecordObject(json)) this.fail("(root)", `a record object {"atUs": …, "op": …, …}`, line)
    const op = json.op
    const codec = typeof op === "string" ? codecs.get(op) : undefined
    if (codec === undefined)
      this.fail("op", `one of ${recordOps.join(", ")} (got ${op === undefined ? "no op" : JSON.stringify(op)})`, line)
    if (!codec.check(json)) {
      const decoded = codec.decode(json)
      if (Either.isLeft(decoded)) throw new TraceInputError(schemaIssue(this.input.name, decoded.left, line))
    }
    return json as TraceRecord
  }

  private fail(path: string, expected: string, line: number): never {
    throw new TraceInputError(inputError(this.input.name, path, expected, line))
  }
}
