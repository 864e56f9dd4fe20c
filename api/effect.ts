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
export * from "./common.js"
export { storeLayer, type Store } from "./store.js"
export { silentProgress } from "./progress.js"
export { simulate } from "./simulate.js"
export { replay } from "./replay.js"
export { listPools, events } from "./pools.js"
export { exportTrace } from "./export.js"
export { stateAt, history, diff, parseWhen } from "./timeTravel.js"
export { fork } from "./fork.js"
export { continuePool } from "./continue.js"
export { check, writeCounterexamples } from "./check.js"
export { migrateModel } from "./migrateModel.js"
export { calibrate } from "./calibrate.js"
export { importPlanetlab } from "./importPlanetlab.js"
export { EventStore } from "../store/EventStore.js"
export { SnapshotStore } from "../store/SnapshotStore.js"
