/**
 * The event store: the port, its errors, the adapters and store URLs (DESIGN.md §3).
 */
export * from "./EventStore.js"
export * from "./errors.js"
export * from "./url.js"
export { layerMemory, makeMemory, memoryUrl, type MemoryEventStore } from "./memory.js"
export {
  busyTimeoutMs,
  defaultPollInterval,
  layerSqlite,
  makeSqlite,
  storeFormatVersion,
  type SqliteOptions
} from "./sqlite.js"
export {
  decodeEvent,
  decodeRecorded,
  encodeEvent,
  encodeEventWithSchema,
  jsonPath,
  type EncodedEvent,
  type StoredEvent
} from "./codec.js"
export { defaultMaxCount } from "./rules.js"
