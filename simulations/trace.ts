/**
 * Trace format v1 (docs/trace-format.md): the schemas, the streaming reader and validator, the replay
 * on the engine, the writer, the export of a pool's log as a trace, and a scenario as a trace.
 */
export * from "./trace/schema.js"

export { fdInput, fileInput, textInput, LineReader, type TraceInput } from "./trace/lines.js"
export { recordOps, recordProblem, TraceReader } from "./trace/reader.js"

export { readTraceHeader, replayTrace, TraceReplay, validateTrace } from "./trace/replay.js"
export {
  headerLine,
  recordLine,
  traceText,
  TraceWriter,
  type TraceHeaderInput,
  type TraceRecordInput
} from "./trace/writer.js"
export { engineFirstEventId, ExportFailure, TraceExporter, type ExportOptions } from "./trace/fromLog.js"
export { scenarioTrace, scenarioTraceText } from "./trace/fromScenario.js"
