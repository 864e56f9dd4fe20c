/** Builds, replays and exports traces in tests, with the engine's debug mode on. */
import { Either } from "effect"
import type { PoolEvent } from "../../domain/events.js"
import { poolId } from "../../domain/ids.js"
import type { EmittedEvent } from "../../engine/simulation.js"
import type { InputError } from "../../simulations/scenario.js"
import {
  replayTrace,
  textInput,
  TraceExporter,
  traceText,
  validateTrace,
  type ExportOptions,
  type TraceHeaderInput,
  type TraceRecordInput
} from "../../simulations/trace.js"

/** A pool of two 64 GiB hosts on 10 Gbit/s with no latency, and the given VMs at time 0. */
export const smallPool = (vms: NonNullable<TraceHeaderInput["pool"]["vms"]> = []): TraceHeaderInput => ({
  seed: 1,
  pool: {
    id: "t",
    linkLatency: "0us",
    hosts: [{ id: "h", count: 2, memory: "64GiB", overhead: "2GiB", nic: "10Gbit/s" }],
    vms
  }
})

export const trace = (header: TraceHeaderInput, records: ReadonlyArray<TraceRecordInput>): string =>
  traceText(header, records)

/** The text's first error, or undefined when it validates. */
export const firstError = (text: string, name = "t.jsonl"): InputError | undefined =>
  Either.match(validateTrace(textInput(name, text)), { onLeft: (e) => e, onRight: () => undefined })

export const replay = (text: string, options: { pool?: string; seed?: number; readAheadRecordsMax?: number } = {}) => {
  const events: EmittedEvent[] = []
  const outcome = replayTrace(textInput("t.jsonl", text), {
    pool: poolId(options.pool ?? "replayed"),
    debug: true,
    sink: (batch) => events.push(...batch),
    ...(options.seed === undefined ? {} : { seed: options.seed }),
    ...(options.readAheadRecordsMax === undefined ? {} : { readAheadRecordsMax: options.readAheadRecordsMax })
  })
  if (Either.isLeft(outcome)) throw new Error(`${outcome.left.line}: ${outcome.left.path}: ${outcome.left.expected}`)
  return { events, result: outcome.right.result, records: outcome.right.records }
}

/** A log as trace text, through the exporter. */
export const exportLog = (events: ReadonlyArray<PoolEvent>, options: ExportOptions = {}): string => {
  const lines: string[] = []
  const exporter = new TraceExporter((line) => lines.push(line), options)
  exporter.push(events)
  exporter.end()
  return `${lines.join("\n")}\n`
}
