/**
 * The trace writer: a header and records in, JSON lines out, in the order the format requires (records
 * by non-decreasing `atUs`). Used by `xenpool export`, by tests and by anything that records a run as
 * a trace. A record its schema refuses, or one that goes back in time, is the caller's bug: it throws.
 */
import { recordProblem } from "./reader.js"
import { TRACE_FORMAT, TRACE_VERSION, type TraceHeader, type TraceRecord } from "./schema.js"

/** A record as written: the schema's encoded side (plain strings for ids). */
export type TraceRecordInput = typeof TraceRecord.Encoded

export type TraceHeaderInput = Omit<TraceHeader, "format" | "version">

/** The header line; `format` and `version` are filled in. */
export const headerLine = (header: TraceHeaderInput): string =>
  JSON.stringify({ format: TRACE_FORMAT, version: TRACE_VERSION, ...header })

/** One record's line, `atUs` and `op` first so that a trace reads down its left edge. */
export const recordLine = (record: TraceRecordInput): string => {
  const problem = recordProblem(record)
  if (problem !== undefined) throw new Error(`trace writer: not a valid ${record.op} record: ${problem}`)
  const { atUs, op, ...fields } = record
  return JSON.stringify({ atUs, op, ...fields })
}

export class TraceWriter {
  private lastAtUs = 0
  private count = 0

  /** Writes the header at once; `emit` receives each line without its newline. */
  constructor(
    private readonly emit: (line: string) => void,
    header: TraceHeaderInput
  ) {
    emit(headerLine(header))
  }

  get records(): number {
    return this.count
  }

  record(record: TraceRecordInput): void {
    if (record.atUs < this.lastAtUs)
      throw new Error(`trace writer: record at ${record.atUs} µs after one at ${this.lastAtUs} µs`)
    this.emit(recordLine(record))
    this.lastAtUs = record.atUs
    this.count++
  }
}

/** A whole trace as text (tests, small generated traces). */
export const traceText = (header: TraceHeaderInput, records: ReadonlyArray<TraceRecordInput>): string => {
  const lines: string[] = []
  const writer = new TraceWriter((line) => lines.push(line), header)
  for (const record of records) writer.record(record)
  return `${lines.join("\n")}\n`
}
