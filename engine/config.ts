/** What the engine needs to know about workloads and policies; scenarios and traces compile into these. */

export interface PolicyConfig {
  /** A policy of the registry (engine/migration/policies), or one a run registers. */
  readonly name: string
  /** max-downtime only; default 30 ms. */
  readonly maxDowntimeUs?: number
  readonly roundsMax?: number
  /** Setup and the stop-and-copy parts: `default` (sourced, engine/migration/phases.ts) or `none`. */
  readonly phases?: "default" | "none"
}

export interface VmWorkload {
  /** `rate`: aggregate bytes dirtied per second; `pages`: page-level writes with a dirty bitmap. */
  readonly model: "rate" | "pages"
  /** pages model: a page writer of the registry (engine/migration/writers.ts) or one the run registers. */
  readonly writer: string
  readonly dirtyRateBytesPerS: number
  readonly workingSetPages: number
  /** Pages never written since boot (zero pages); default 0. */
  readonly untouchedPages?: number
  /** The VM's vCPU and device-model state; default the policy family's (engine/migration/phases.ts). */
  readonly stateBytes?: number
}

export const idleWorkload = (memoryPages: number): VmWorkload => ({
  model: "rate",
  writer: "uniform",
  dirtyRateBytesPerS: 0,
  workingSetPages: memoryPages
})

export interface EngineLimits {
  readonly eventsMax: number
  readonly simulatedUsMax: number
}
