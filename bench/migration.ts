/**
 * The migration model's figures (DESIGN.md §9):
 * - `engine.migration.pages.16GiB`: wall time of one migration of a 16 GiB VM (4,194,304 pages of 4 KiB)
 *   at 10 Gbit/s with a uniform writer of 50,000 pages/s over a 2 GiB working set, `xen` policy, through
 *   `runSingleMigration` (the machine the pool engine drives). Median of 3 after a warm-up. Baseline
 *   `engine.migration.pages.16GiB.idle`: the same VM with no writes (the page loop alone).
 * - `engine.migration.rate.single`: single migrations per second of the `rate` model through
 *   `runSingleMigration` (8 GiB, 10 Gbit/s, 200 MB/s dirtied over 1 GiB, xen).
 * - `engine.migration.rate.single.maxDowntime`: the same with SimGrid's loop (`max-downtime`, 30 ms) and
 *   without phases, the model SimGrid's plugin has: its one migration must match SimGrid's.
 * - `engine.migration.rate.single.simgrid`: SimGrid's live-migration plugin on the same workload
 *   (bench/simgrid.ts), the baseline of the two above; skipped, with a line on stderr, without g++ or
 *   libsimgrid-dev.
 */
import { runSingleMigration, type SingleMigrationConfig } from "../engine/migration/index.js"
import { nowMs, percentile, timeMs, withBaseline, type Benchmark, type BenchResult } from "./harness.js"
import { simgridFigure, type PeerWorkload } from "./simgrid.js"

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
  return `${report.rounds.length} rounds, ${report.pagesSent.toLocaleString("en-US")} pages (${report.bytesSent.toLocaleString("en-US")} bytes) sent in ${report.totalUs.toLocaleString("en-US")} µs, downtime ${report.downtimeUs.toLocaleString("en-US")} µs, ${report.stopReason}`
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

const rateWorkload: PeerWorkload = {
  memoryBytes: 8 * GiB,
  bandwidthBytesPerS: 1_250_000_000,
  dirtyRateBytesPerS: 200_000_000,
  workingSetBytes: 1 * GiB
}
const RATE_WORKLOAD = "8 GiB VM, 10 Gbit/s, 200 MB/s over 1 GiB"
const rateConfig: SingleMigrationConfig = { ...rateWorkload, policy: "xen", model: "rate" }

/** SimGrid's plugin has one loop (QEMU's, 30 ms) and no setup, suspend, state or restore. */
const rateConfigSimgridLoop: SingleMigrationConfig = { ...rateConfig, policy: "max-downtime", phases: "none" }

/** Migrations per second of `runSingleMigration` on the config, over about one second after a warm-up. */
const rateMigrationsPerS = (config: SingleMigrationConfig): number => {
  for (let i = 0; i < 1000; i++) runSingleMigration(config) // warm-up
  const start = nowMs()
  let migrations = 0
  // Bounded: about one second of wall time.
  while (nowMs() - start < 1000) {
    for (let i = 0; i < 100; i++) runSingleMigration(config)
    migrations += 100
  }
  return Math.round((migrations * 1000) / (nowMs() - start))
}

const rateBenchmark: Benchmark = {
  name: "engine.migration.rate",
  run: async (): Promise<ReadonlyArray<BenchResult>> => {
    const xen: BenchResult = {
      name: "engine.migration.rate.single",
      workload: `runSingleMigration, rate model: ${RATE_WORKLOAD}, xen (${describeRun(rateConfig)})`,
      value: rateMigrationsPerS(rateConfig),
      unit: "migrations/s"
    }
    const simgridLoop: BenchResult = {
      name: "engine.migration.rate.single.maxDowntime",
      workload: `the same with SimGrid's loop: max-downtime 30 ms, phases none (${describeRun(rateConfigSimgridLoop)})`,
      value: rateMigrationsPerS(rateConfigSimgridLoop),
      unit: "migrations/s"
    }
    const simgrid = simgridFigure("engine.migration.rate.single.simgrid", RATE_WORKLOAD, rateWorkload)
    if (simgrid === undefined) return [xen, simgridLoop]
    return [withBaseline(xen, simgrid), withBaseline(simgridLoop, simgrid), simgrid]
  }
}

export const migrationBenchmarks: ReadonlyArray<Benchmark> = [pagesBenchmark, rateBenchmark]
