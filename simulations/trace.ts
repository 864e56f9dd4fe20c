/**
 * Trace format v1 (docs/trace-format.md): the schemas, the streaming reader and validator, the replay
 * on the engine, the writer, the export of a pool's log as a trace, and a scenario as a trace.
 */
export * from "./trace/schema.js"
export { compileHeader, type CompiledHeader } from "./trace/header.js"
export { fdInput, fileInput, textInput, LineReader, type TraceInput } from "./trace/lines.js"
export { recordOps, recordProblem, TraceInputError, TraceReader, type ReadRecord } from "./trace/reader.js"
export { type TraceAction } from "./trace/resolve.js"
export {
  readTraceHeader,
  replayTrace,
  TraceReplay,
  validateTrace,
  type ReplayOptions,
  type ReplayStep,
  type TraceSummary
} from "./trace/replay.js"
export {
  headerLine,
  recordLine,
  traceText,
  TraceWriter,
  type TraceHeaderInput,
  type TraceRecordInput
} from "./trace/writer.js"
export { engineFirstEventId, ExportFailure, sameEvent, TraceExporter, type ExportOptions } from "./trace/fromLog.js"
export { scenarioTrace, scenarioTraceText, type ScenarioTrace } from "./trace/fromScenario.js"
