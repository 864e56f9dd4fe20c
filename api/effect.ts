/**
 * `xenpool/effect`: xenpool's operations as Effects, with typed errors and the store as a service, for
 * programs written with Effect. The same operations as plain Promises are in `xenpool`.
 *
 * @example
 * import { Effect } from "effect"
 * import { simulate, scenarioPath, stateAt, storeLayer } from "xenpool/effect"
 *
 * const program = Effect.gen(function* () {
 *   const run = yield* simulate(scenarioPath("rolling-maintenance"))
 *   return yield* stateAt(run.pool, "3m10s", { vm: "db-1" })
 * })
 * const then = await Effect.runPromise(program.pipe(Effect.provide(storeLayer("memory:"))))
 *
 * @module
 */
export { version } from "./version.js"
export { XenpoolError, StoreError, EventDecodeError, WrongExpectedVersion } from "./errors.js"
export { storeLayer, type Store, type StoreOptions } from "./store.js"
export { scenarioPath } from "./paths.js"
export { silentProgress, type Progress } from "./progress.js"
export { simulate, type RunOptions, type RunOutput, type ScenarioInput } from "./simulate.js"
export { replay, type ReplayOptions, type ReplayOutput } from "./replay.js"
export { listPools, events, type EventsOptions, type PoolListing } from "./pools.js"
export { exportTrace, type ExportOptions } from "./export.js"
export {
  stateAt,
  history,
  diff,
  parseWhen,
  type When,
  type FocusInput,
  type PoolAt,
  type PoolChanges,
  type VmHistoryJson,
  type HostHistoryJson,
  type TimeTravelTarget
} from "./timeTravel.js"
export { check, propertyNames, writeCounterexamples, type CheckOptions, type CheckReport } from "./check.js"
export { EventStore, type RecordedEvent } from "../store/EventStore.js"
export { SnapshotStore } from "../store/SnapshotStore.js"
export type { PoolEvent } from "../domain/events.js"
