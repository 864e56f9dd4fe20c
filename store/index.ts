/**
 * The event store: the port, its errors, the adapters and store URLs (DESIGN.md §3).
 */
export * from "./EventStore.js"
export * from "./SnapshotStore.js"
export * from "./errors.js"
export * from "./url.js"
export { layerMemory, makeMemory, memoryUrl, type MemoryEventStore } from "./memory.js"
export { layerMemorySnapshots, makeMemorySnapshots } from "./memorySnapshots.js"
export {
  busyTimeoutMs,
  defaultPollInterval,
  layerSqlite,
  makeSqlite,
  makeSqliteStores,
  storeFormatVersion,
  type SqliteOptions,
  type SqliteStores
} from "./sqlite.js"
export {
  appendAttemptsMax,
  layerKurrent,
  makeKurrent,
  makeKurrentStores,
  type KurrentClient,
  type KurrentOptions,
  type KurrentStores
} from "./kurrent.js"
export { parseKurrentUrl, type KurrentUrl } from "./kurrentMapping.js"
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
