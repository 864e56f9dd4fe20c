/**
 * Runs of equal values, `[value, count, value, count, …]`: how the engine's rests keep per-page arrays
 * (page states, page versions, bitmaps, page-in arrival times), which are mostly runs.
 *
 * @internal
 */

/** `values[from…]` as runs of equal values. */
export const runsOf = (values: ArrayLike<number>, from = 0): number[] => {
  const runs: number[] = []
  // Bounded: one pass over the array.
  for (let i = from; i < values.length;) {
    const value = values[i]!
    let j = i + 1
    while (j < values.length && values[j] === value) j++
    runs.push(value, j - i)
    i = j
  }
  return runs
}

/** Fills `into` from `runs`, which must cover it exactly (a RangeError otherwise). */
export const fillFromRuns = (
  into: { readonly length: number; fill(value: number, start: number, end: number): unknown },
  runs: ReadonlyArray<number>
): void => {
  let at = 0
  for (let k = 0; k + 1 < runs.length; k += 2) {
    const count = runs[k + 1]!
    if (!(Number.isSafeInteger(count) && count >= 0 && at + count <= into.length))
      throw new RangeError("runs longer than the array")
    into.fill(runs[k]!, at, at + count)
    at += count
  }
  if (at !== into.length || runs.length % 2 !== 0) throw new RangeError(`runs cover ${at} of ${into.length} entries`)
}
