/**
 * The property suite: every named property, runnable alone, and the runner `xenpool check` and the
 * tests use. Paging properties (legal page-state edges, resident + paged = populated, the paged count
 * surviving a migration) join once paging exists; see docs/properties.md.
 */
import { engineProperties } from "./engineProperties.js"
import { evacuationPlan } from "./evacuation.js"
import { haFailover } from "./ha.js"
import { poolModel } from "./poolModel.js"
import type { NamedProperty, PropertyOptions } from "./property.js"
import { swarmLiveness } from "./swarm.js"
import { resumeProperties } from "./resume.js"
import {
  mergeRanges,
  planRanges,
  rangeNeeded,
  type PropertyVerdict,
  type RangeResult,
  type RunRange
} from "./runRanges.js"

export type { NamedProperty } from "./property.js"
export { mutants } from "./mutants.js"
export { mergeRanges, rangeNeeded, type RangeResult, type RunRange } from "./runRanges.js"

export const properties: ReadonlyArray<NamedProperty> = [
  poolModel,
  evacuationPlan,
  ...engineProperties,
  swarmLiveness,
  haFailover,
  ...resumeProperties
]

export const propertyNames: ReadonlyArray<string> = properties.map((p) => p.name)

export const findProperty = (name: string): NamedProperty | undefined => properties.find((p) => p.name === name)

export interface CheckOptions {
  readonly runs: number
  readonly seed: number
  /** Only these properties (default: all). */
  readonly only?: ReadonlyArray<string>
  /** Replay one case (with `only` naming one property). */
  readonly path?: string
  /**
   * Each property's runs cut into this many ranges, run one after another (default 1: the whole run
   * at once). The report is the same whatever the cut (properties/runRanges.ts); threads share ranges.
   */
  readonly rangesPerProperty?: number
  readonly seams?: PropertyOptions["seams"]
  /** Policies of a user's own that the scenario properties' migrations use instead of the built-ins. */
  readonly policies?: PropertyOptions["policies"]
  /** Called before each property and before each of its runs. */
  readonly onProgress?: (property: string, run: number, runs: number) => void
}

export interface CheckReport {
  readonly seed: number
  readonly runs: number
  readonly properties: ReadonlyArray<PropertyVerdict>
}

/** What a range of runs is run with: the check's seed and path, and what cannot cross a thread. */
export type RangeOptions = Pick<CheckOptions, "seed" | "path" | "seams" | "policies"> & {
  /** Called before every run of the range, shrinking runs included. */
  readonly onRun?: () => void
}

/** Runs one range of one property's runs (on whichever thread calls it). */
export const runRange = (range: RunRange, options: RangeOptions, clockMs: () => number): RangeResult => {
  const property = findProperty(range.property)
  if (property === undefined) throw new Error(`runRange: no property ${range.property}`)
  const started = clockMs()
  const result = property.run({
    runs: range.runs,
    seed: options.seed,
    ...(range.firstRun === 0 ? {} : { firstRun: range.firstRun }),
    ...(options.path === undefined ? {} : { path: options.path }),
    ...(options.seams === undefined ? {} : { seams: options.seams }),
    ...(options.policies === undefined ? {} : { policies: options.policies }),
    ...(options.onRun === undefined ? {} : { onRun: options.onRun })
  })
  return { result, elapsedMs: clockMs() - started }
}

/** The ranges a check runs: each selected property's, in the suite's order. */
export const checkRanges = (options: Pick<CheckOptions, "runs" | "only" | "path" | "rangesPerProperty">) =>
  planRanges({
    properties: options.only ? propertyNames.filter((name) => options.only!.includes(name)) : propertyNames,
    runs: options.runs,
    // A replay is one case: one range.
    rangesPerProperty: options.path === undefined ? (options.rangesPerProperty ?? 1) : 1
  })

/**
 * Runs the selected properties one after another on this thread, each with the same root seed; a
 * property's ranges after its first failing one are not run (they cannot change its verdict).
 */
export const runCheck = (options: CheckOptions, clockMs: () => number): CheckReport => {
  const ranges = checkRanges(options)
  const failedFrom = new Map<string, number>()
  const results = ranges.map((range) => {
    if (!rangeNeeded(range, failedFrom)) return undefined
    let run = range.firstRun
    if (range.firstRun === 0) options.onProgress?.(range.property, 0, options.runs)
    const done = runRange(
      range,
      { ...options, onRun: () => options.onProgress?.(range.property, ++run, options.runs) },
      clockMs
    )
    if (!done.result.ok) failedFrom.set(range.property, range.firstRun)
    return done
  })
  return { seed: options.seed, runs: options.runs, properties: mergeRanges(ranges, results, options.seed) }
}
