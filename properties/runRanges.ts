/**
 * A property's runs cut into ranges, so that threads can share the suite (api/checkWorkers.ts) and the
 * report is the same whatever the cut and whichever thread ran which range.
 *
 * Why the cut changes nothing: fast-check draws run i's case from the seed and i alone (its random
 * generator jumps once per run), a range from run k is fast-check's path `k` (properties/property.ts,
 * `runnerParameters`), and a failure shrinks from the failing case alone. So the first failing run of
 * a property, its shrunk case and its path are the same in one range from 0 as in any range holding
 * that run; a property's verdict is its first failing range's, the ranges before it having passed.
 *
 * @internal
 */
import type { PropertyResult } from "./property.js"

/** Runs `firstRun` to `firstRun + runs - 1` of one property. */
export interface RunRange {
  readonly property: string
  readonly firstRun: number
  readonly runs: number
}

/** What one range gave: its property's result over the range, and the time it took. */
export interface RangeResult {
  /** On a failure, `runs` counts the range's runs up to it (not from run 0); `path` counts from run 0. */
  readonly result: PropertyResult
  readonly elapsedMs: number
}

export type PropertyVerdict = PropertyResult & { readonly elapsedMs: number }

/** Every selected property's runs, in property order, each cut into `rangesPerProperty` near-equal ranges. */
export const planRanges = (options: {
  readonly properties: ReadonlyArray<string>
  readonly runs: number
  readonly rangesPerProperty: number
}): ReadonlyArray<RunRange> => {
  const { properties, runs, rangesPerProperty } = options
  if (!(Number.isSafeInteger(runs) && runs >= 1)) throw new Error(`planRanges: bad runs ${runs}`)
  if (!(Number.isSafeInteger(rangesPerProperty) && rangesPerProperty >= 1))
    throw new Error(`planRanges: bad ranges per property ${rangesPerProperty}`)
  const count = Math.min(runs, rangesPerProperty)
  // The first `runs % count` ranges take one run more: `count` ranges of ⌊runs / count⌋ or one more.
  const cuts = Array.from({ length: count + 1 }, (_, i) => i * Math.floor(runs / count) + Math.min(i, runs % count))
  const ranges = properties.flatMap((property) =>
    cuts.slice(0, count).map((firstRun, i) => ({ property, firstRun, runs: cuts[i + 1]! - firstRun }))
  )
  if (cuts[count] !== runs) throw new Error(`planRanges: the ranges cover ${cuts[count]} runs, not ${runs}`)
  return ranges
}

/**
 * Whether a range's result can change the report: not once a range of the same property that starts
 * earlier has failed (that failure is the verdict). `failedFrom` maps a property to its earliest failing
 * range's first run.
 */
export const rangeNeeded = (range: RunRange, failedFrom: ReadonlyMap<string, number>): boolean =>
  (failedFrom.get(range.property) ?? Number.POSITIVE_INFINITY) > range.firstRun

/**
 * Each property's verdict from its ranges' results (aligned with `ranges`; a range after a failing one
 * of its property may have none): the first failing range's result with its runs counted from run 0,
 * else a pass over all the runs. The time is the ranges' up to the verdict, added up.
 */
export const mergeRanges = (
  ranges: ReadonlyArray<RunRange>,
  results: ReadonlyArray<RangeResult | undefined>,
  seed: number
): ReadonlyArray<PropertyVerdict> => {
  if (results.length !== ranges.length)
    throw new Error(`mergeRanges: ${results.length} results, ${ranges.length} ranges`)
  const verdicts: PropertyVerdict[] = []
  let i = 0
  // Bounded: every turn of the inner loop moves i on by one range.
  while (i < ranges.length) {
    const property = ranges[i]!.property
    let runs = 0
    let elapsedMs = 0
    let failed: PropertyVerdict | undefined
    for (; i < ranges.length && ranges[i]!.property === property; i++) {
      if (failed !== undefined) continue
      const range = ranges[i]!
      const done = results[i]
      if (done === undefined) throw new Error(`mergeRanges: no result for ${property} from run ${range.firstRun}`)
      if (done.result.name !== property) throw new Error(`mergeRanges: ${done.result.name}'s result for ${property}`)
      elapsedMs += done.elapsedMs
      if (done.result.ok) runs += done.result.runs
      else failed = { ...done.result, runs: range.firstRun + done.result.runs, elapsedMs }
    }
    verdicts.push(failed ?? { name: property, runs, ok: true, seed, elapsedMs })
  }
  return verdicts
}
