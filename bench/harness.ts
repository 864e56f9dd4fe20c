/**
 * The benchmark harness (DESIGN.md §9): each benchmark returns figures with its workload and, where
 * there is one, the baseline measured in the same run. Wall-clock time is fine here: bench/ is outside
 * the deterministic core.
 */
export interface BenchResult {
  /** Stable dotted name, e.g. `store.sqlite.append.batch1000`. */
  readonly name: string
  readonly workload: string
  readonly value: number
  readonly unit: string
  readonly baseline?: { readonly name: string; readonly value: number }
  /** value / baseline.value */
  readonly ratio?: number
}

export interface Benchmark {
  /** Prefix of every result name it produces, used by `npm run bench -- NAME` to select it. */
  readonly name: string
  readonly run: () => Promise<ReadonlyArray<BenchResult>>
}

export const nowMs = (): number => performance.now()

/** Runs `body` and returns its wall time in milliseconds. */
export const timeMs = async (body: () => unknown): Promise<number> => {
  const start = performance.now()
  await body()
  return performance.now() - start
}

export const withBaseline = (result: BenchResult, baseline: BenchResult): BenchResult => ({
  ...result,
  baseline: { name: baseline.name, value: baseline.value },
  ratio: baseline.value === 0 ? Number.NaN : result.value / baseline.value
})

export const percentile = (sortedAscending: ReadonlyArray<number>, p: number): number => {
  if (sortedAscending.length === 0) return Number.NaN
  const index = Math.min(sortedAscending.length - 1, Math.ceil((p / 100) * sortedAscending.length) - 1)
  return sortedAscending[Math.max(0, index)]!
}
