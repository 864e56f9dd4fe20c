/**
 * Time-varying VM load in scenarios, and the `consolidate` schedule operation.
 *
 * A VM may carry a `load`: its CPU use (percent of its vCPUs) for consecutive intervals, e.g. the 288
 * five-minute samples of a PlanetLab day. It drives two things:
 * - the VM's dirty rate, which changes at each interval boundary (one engine `setWorkload` per VM per
 *   interval, grouped into one agenda item per boundary, instead of thousands of schedule items):
 *   `dirtyPagesPerS = base + fullCpuDirtyPctPerS/100 × cpuPct/100 × workingSetPages`, capped at the
 *   working set, where `base` is the workload's own `dirtyRate` (what the guest dirties when idle);
 *   a migration uses the rate in force when it starts;
 * - the consolidation controller's view of each host's CPU load (engine/consolidation.ts).
 * After its last interval a series holds its last value. A VM without a series has no CPU load (0 %).
 */
import { Either, Schema } from "effect"
import type { VmId } from "../domain/ids.js"
import { parseDurationUs } from "../domain/units.js"
import type { ConsolidationParams } from "../engine/consolidation/index.js"
import type { VmWorkload } from "../engine/config.js"

const DurationText = Schema.String.annotations({ description: "a duration with a unit, e.g. 300s, 5min, 24h" })

const SAMPLES_MAX = 100_000

export const VmLoad = Schema.Struct({
  /** Length of one sample, in seconds (PlanetLab: 300). */
  intervalS: Schema.Int.pipe(Schema.between(1, 86_400)),
  /** CPU use in each interval, percent of the VM's vCPUs. */
  cpuPct: Schema.Array(Schema.Int.pipe(Schema.between(0, 100))).pipe(Schema.minItems(1), Schema.maxItems(SAMPLES_MAX)),
  /**
   * Percent of the working set the guest dirties per second at 100 % CPU (the `k` of the mapping);
   * 0 (the default) leaves the dirty rate at the workload's base rate.
   */
  fullCpuDirtyPctPerS: Schema.optionalWith(Schema.Int.pipe(Schema.between(0, 100)), { default: () => 0 }),
  /** Where the series came from (file and column), for the reader. */
  origin: Schema.optional(Schema.String)
})
export type VmLoad = typeof VmLoad.Type

export const ConsolidateItem = Schema.Struct({
  at: DurationText,
  op: Schema.Literal("consolidate"),
  /** Which controller plans (default `minimise-migrations`; a user's, registered through the API, by its name). */
  controller: Schema.optional(Schema.String),
  /** The controller's interval. */
  every: Schema.optionalWith(DurationText, { default: () => "300s" }),
  /** No tick at or after this time; default: the end of the longest load series. */
  until: Schema.optional(DurationText),
  /** A host above this CPU load (percent of its CPUs) moves VMs away. */
  overloadPct: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 100)), { default: () => 80 }),
  /** A host below this CPU load is emptied and disabled. */
  underloadPct: Schema.optionalWith(Schema.Int.pipe(Schema.between(0, 99)), { default: () => 20 }),
  /**
   * VMs from an emptied host go only where the load stays at or below this; between underloadPct and
   * overloadPct; default overloadPct (pack right up to the threshold).
   */
  packPct: Schema.optional(Schema.Int.pipe(Schema.between(1, 100))),
  /** At most this many migrations start per interval. */
  migrationsMaxPerInterval: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 10_000)), { default: () => 10 })
})
export type ConsolidateItem = typeof ConsolidateItem.Type

/** A VM's series, compiled: the CPU per interval and the workload (with its dirty rate) per interval. */
export interface CompiledLoad {
  readonly intervalUs: number
  readonly cpuPct: ReadonlyArray<number>
  readonly dirtyRateBytesPerS: ReadonlyArray<number>
  /** The workload with the base dirty rate; each interval replaces only the rate. */
  readonly workload: VmWorkload
}

/**
 * The mapping, in integers: bytes/s = base + floor(k × cpuPct × workingSetPages / 10^4) × pageSize,
 * capped at workingSetPages × pageSize (k = `fullCpuDirtyPctPerS`, base = the workload's `dirtyRate`).
 */
export const dirtyRateBytesPerS = (
  workload: VmWorkload,
  cpuPct: number,
  fullCpuDirtyPctPerS: number,
  pageSizeBytes: number
): number => {
  const loadPages = Math.floor((fullCpuDirtyPctPerS * cpuPct * workload.workingSetPages) / 10_000)
  const capBytesPerS = workload.workingSetPages * pageSizeBytes
  return Math.min(capBytesPerS, workload.dirtyRateBytesPerS + loadPages * pageSizeBytes)
}

export const compileLoad = (load: VmLoad, workload: VmWorkload, pageSizeBytes: number): CompiledLoad => ({
  intervalUs: load.intervalS * 1_000_000,
  cpuPct: load.cpuPct,
  dirtyRateBytesPerS: load.cpuPct.map((pct) =>
    dirtyRateBytesPerS(workload, pct, load.fullCpuDirtyPctPerS, pageSizeBytes)
  ),
  workload
})

/** The workload in force at the start (interval 0). */
export const initialWorkload = (load: CompiledLoad): VmWorkload => ({
  ...load.workload,
  dirtyRateBytesPerS: load.dirtyRateBytesPerS[0]!
})

const intervalAt = (load: CompiledLoad, atUs: number): number =>
  Math.min(Math.floor(atUs / load.intervalUs), load.cpuPct.length - 1)

/** A VM's CPU load at a time; 0 for a VM without a series. */
export const cpuPctAt = (loads: ReadonlyMap<VmId, CompiledLoad>, vm: VmId, atUs: number): number => {
  const load = loads.get(vm)
  return load ? load.cpuPct[intervalAt(load, atUs)]! : 0
}

/** End of the longest series (µs), 0 with none. */
export const loadsEndUs = (loads: ReadonlyMap<VmId, CompiledLoad>): number => {
  let end = 0
  for (const load of loads.values()) end = Math.max(end, load.intervalUs * load.cpuPct.length)
  return end
}

/** The dirty-rate changes at one interval boundary: the VMs whose rate changes there, in VM id order. */
export interface LoadChange {
  readonly atUs: number
  readonly workloads: ReadonlyArray<readonly [VmId, VmWorkload]>
}

/**
 * The dirty-rate changes in time order: one per interval boundary, changing only the VMs whose rate
 * changes there. They go on the agenda before any other item at those times (simulations/run.ts), so
 * that a migration started at a boundary uses the new interval's rate.
 */
export const loadChanges = (loads: ReadonlyMap<VmId, CompiledLoad>): ReadonlyArray<LoadChange> => {
  const changes = new Map<number, Array<readonly [VmId, VmWorkload]>>()
  const vms = [...loads.keys()].sort()
  for (const vm of vms) {
    const load = loads.get(vm)!
    for (let i = 1; i < load.cpuPct.length; i++) {
      const rate = load.dirtyRateBytesPerS[i]!
      if (rate === load.dirtyRateBytesPerS[i - 1]) continue
      const atUs = i * load.intervalUs
      const list = changes.get(atUs) ?? []
      list.push([vm, { ...load.workload, dirtyRateBytesPerS: rate }])
      changes.set(atUs, list)
    }
  }
  return [...changes.keys()].sort((a, b) => a - b).map((atUs) => ({ atUs, workloads: changes.get(atUs)! }))
}

export interface ConsolidationParamsError {
  readonly field: "at" | "every" | "until" | "underloadPct" | "packPct"
  readonly expected: string
}

/** The controller's parameters in µs; `until` defaults to the end of the longest load series. */
export const consolidationParams = (
  item: ConsolidateItem,
  loads: ReadonlyMap<VmId, CompiledLoad>
): Either.Either<ConsolidationParams, ConsolidationParamsError> => {
  const duration = (field: "at" | "every" | "until", text: string) =>
    Either.mapLeft(parseDurationUs(text), (e) => ({ field, expected: `${e.expected} (got '${e.input}')` }))
  return Either.gen(function* () {
    const startUs = yield* duration("at", item.at)
    const everyUs = yield* duration("every", item.every)
    if (everyUs < 1_000_000) return yield* Either.left({ field: "every" as const, expected: "at least 1s" })
    const endOfLoads = loadsEndUs(loads)
    if (item.until === undefined && endOfLoads === 0)
      return yield* Either.left({
        field: "until" as const,
        expected: "a duration (required when no VM has a load series)"
      })
    const untilUs = item.until === undefined ? endOfLoads : yield* duration("until", item.until)
    if (untilUs < startUs) return yield* Either.left({ field: "until" as const, expected: "a time at or after 'at'" })
    if (item.underloadPct >= item.overloadPct)
      return yield* Either.left({
        field: "underloadPct" as const,
        expected: `less than overloadPct (${item.overloadPct})`
      })
    const packPct = item.packPct ?? item.overloadPct
    if (packPct <= item.underloadPct || packPct > item.overloadPct)
      return yield* Either.left({
        field: "packPct" as const,
        expected: `above underloadPct (${item.underloadPct}) and at most overloadPct (${item.overloadPct})`
      })
    return {
      startUs,
      everyUs,
      untilUs,
      overloadPct: item.overloadPct,
      underloadPct: item.underloadPct,
      packPct,
      migrationsMaxPerInterval: item.migrationsMaxPerInterval
    }
  })
}
