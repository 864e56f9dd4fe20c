/**
 * `reliability.kill.*`: SIGKILL at many seeded random moments of a large `simulate` and a large `replay`
 * (its spool spilling to its file), each leaving no pool or the whole pool, an intact store and no spool
 * file (docs/durability.md). The figure is how many of the kills left the store all or nothing.
 */
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import type { Benchmark, BenchResult } from "./harness.js"
import { allOrNothing, killAtMoments } from "./killRuns.js"
import { manyMigrations, writeScenario, writeTrace } from "./workloads.js"

const KILLS = 40
const MIGRATIONS = 15_000

const oneCommand = async (command: "simulate" | "replay", seed: number): Promise<BenchResult> => {
  const dir = mkdtempSync(`${tmpdir()}/xenpool-bench-kill-`)
  const input =
    command === "simulate"
      ? writeScenario(dir, manyMigrations(MIGRATIONS, "kill"))
      : writeTrace(dir, manyMigrations(MIGRATIONS, "kill"))
  const report = await killAtMoments({
    args: [command, input, "--quiet"],
    kills: KILLS,
    seed,
    env: { XENPOOL_SPOOL_MEMORY_EVENTS: "5000" }
  })
  const good = report.outcomes.filter((o) => allOrNothing(report, o)).length
  const whole = report.outcomes.filter((o) => o.pools.length > 0).length
  return {
    name: `reliability.kill.${command}`,
    workload: `SIGKILL at ${KILLS} random moments (seed ${seed}) of a ${report.whole.events.toLocaleString("en-US")}-event ${command} into sqlite (whole run ${Math.round(report.runMs)} ms): ${KILLS - whole} left no pool, ${whole} the whole pool`,
    value: good,
    unit: `of ${KILLS} all or nothing`
  }
}

export const reliabilityBenchmarks: ReadonlyArray<Benchmark> = [
  { name: "reliability.kill.simulate", run: async () => [await oneCommand("simulate", 11)] },
  { name: "reliability.kill.replay", run: async () => [await oneCommand("replay", 12)] }
]
