/**
 * The migration model's figures (DESIGN.md §9):
 * - `engine.migration.pages.16GiB`: wall time of one migration of a 16 GiB VM (4,194,304 pages of 4 KiB)
 *   at 10 Gbit/s with a uniform writer of 50,000 pages/s over a 2 GiB working set, `xen` policy, through
 *   `runSingleMigration` (the machine the pool engine drives). Median of 3 after a warm-up. Baseline
 *   `engine.migration.pages.16GiB.idle`: the same VM with no writes (the page loop alone).
 * - `engine.migration.rate.single`: single migrations per second of the `rate` model through
 *   `runSingleMigration` (8 GiB, 10 Gbit/s, 200 MB/s dirtied over 1 GiB, xen).
 */
import { runSingleMigration, type SingleMigrationConfig } from "../engine/migration/index.js"
import { nowMs, percentile, timeMs, withBaseline, type Benchmark, type BenchResult } from "./harness.js"

const GiB = 2 ** 30
const PAGE_SIZE_BYTES = 4096

const pages16GiB: SingleMigrationConfig = {
  memoryBytes: 16 * GiB,
  bandwidthBytesPerS: 1_250_000_000,
  dirtyRateBytesPerS: 50_000 * PAGE_SIZE_BYTES,
  workingSetBytes: 2 * GiB,
  policy: "xen",
  model: "pages",
  seed: 1
}

const medianWallMs = async (config: SingleMigrationConfig, runs: number): Promise<number> => {
  runSingleMigration(config) // warm-up
  const times: number[] = []
  for (let i = 0; i < runs; i++) times.push(await timeMs(() => runSingleMigration(config)))
  return percentile(
    times.sort((a, b) => a - b),
    50
  )
}

const describeRun = (config: SingleMigrationConfig): string => {
  const report = runSingleMigration(config)
  return `${report.rounds.length} rounds, ${report.pagesSent.toLocaleString("en-US")} pages sent, downtime ${report.downtimeUs} µs, ${report.stopReason}`
}

const pagesBenchmark: Benchmark = {
  name: "engine.migration.pages",
  run: async (): Promise<ReadonlyArray<BenchResult>> => {
    const idle: SingleMigrationConfig = { ...pages16GiB, dirtyRateBytesPerS: 0 }
    const baseline: BenchResult = {
      name: "engine.migration.pages.16GiB.idle",
      workload: `16 GiB VM, 10 Gbit/s, idle, xen, pages model (${describeRun(idle)})`,
      value: await medianWallMs(idle, 3),
      unit: "ms"
    }
    const result: BenchResult = {
      name: "engine.migration.pages.16GiB",
      workload: `16 GiB VM, 10 Gbit/s, uniform 50,000 pages/s over 2 GiB, xen, pages model (${describeRun(pages16GiB)}); target < 1000 ms`,
      value: await medianWallMs(pages16GiB, 3),
      unit: "ms"
    }
    return [withBaseline(result, baseline), baseline]
  }
}

const rateBenchmark: Benchmark = {
  name: "engine.migration.rate",
  run: async (): Promise<ReadonlyArray<BenchResult>> => {
    const config: SingleMigrationConfig = {
      memoryBytes: 8 * GiB,
      bandwidthBytesPerS: 1_250_000_000,
      dirtyRateBytesPerS: 200_000_000,
      workingSetBytes: 1 * GiB,
      policy: "xen",
      model: "rate"
    }
    for (let i = 0; i < 1000; i++) runSingleMigration(config) // warm-up
    const start = nowMs()
    let migrations = 0
    // Bounded: about one second of wall time.
    while (nowMs() - start < 1000) {
      for (let i = 0; i < 100; i++) runSingleMigration(config)
      migrations += 100
    }
    const elapsedMs = nowMs() - start
    return [
      {
        name: "engine.migration.rate.single",
        workload: `runSingleMigration, rate model: 8 GiB VM, 10 Gbit/s, 200 MB/s over 1 GiB, xen (${describeRun(config)})`,
        value: Math.round((migrations * 1000) / elapsedMs),
        unit: "migrations/s"
      }
    ]
  }
}

export const migrationBenchmarks: ReadonlyArray<Benchmark> = [pagesBenchmark, rateBenchmark]
