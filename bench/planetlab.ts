/**
 * `engine.planetlab.day`: the whole PlanetLab day of CloudSim's set-up, 1,052 VMs on 800 hosts
 * (simulations/scenarios/planetlab-cloudsim.json), with the consolidation controller every 300 s, against
 * the bundled 100 VMs on 20 hosts (planetlab-consolidation.json) measured in the same run:
 * - `engine.planetlab.day.1052x800.wallMs`: the run's wall time, engine and run summary (the read models
 *   `simulate` prints, CloudSim's SLA figures included), no store;
 * - `engine.planetlab.day.1052x800.eventsPerSecond`: its events per second of wall time.
 * Reading and compiling the scenario is not timed. The smaller day runs once first to warm the JIT.
 */
import { Either } from "effect"
import { readFileSync } from "node:fs"
import { scenarioPath } from "../api/paths.js"
import { RunTally } from "../api/simulate.js"
import { transferFactory } from "../engine/migration/index.js"
import { compileScenario } from "../simulations/compile.js"
import { runScenario } from "../simulations/run.js"
import { parseScenarioJson } from "../simulations/scenario.js"
import { withBaseline, type Benchmark, type BenchResult } from "./harness.js"

const compiled = (name: string) => {
  const path = scenarioPath(name)
  const parsed = parseScenarioJson(path, readFileSync(path, "utf8"))
  if (Either.isLeft(parsed)) throw new Error(`${parsed.left.path}: ${parsed.left.expected}`)
  const scenario = compileScenario(path, parsed.right)
  if (Either.isLeft(scenario)) throw new Error(`${scenario.left.path}: ${scenario.left.expected}`)
  return scenario.right
}

/** One day: wall ms, events, and the summary's migrations and mean hosts in use (for the workload's words). */
const day = (name: string) => {
  const scenario = compiled(name)
  const start = performance.now()
  const tally = new RunTally(scenario.loads)
  const { result, consolidation } = runScenario(scenario, { transferFactory, sink: (batch) => tally.add(batch) })
  const output = tally.output(scenario.pool, scenario.pageSizeBytes, result, consolidation)
  const ms = performance.now() - start
  if (output.stopReason !== "quiescent") throw new Error(`${name} stopped: ${output.stopReason}`)
  return { ms, events: output.events, migrations: output.migrationTotals.committed, hostsMean: output.hostsInUse.mean }
}

export const planetlabBenchmarks: ReadonlyArray<Benchmark> = [
  {
    name: "engine.planetlab.day",
    run: async (): Promise<ReadonlyArray<BenchResult>> => {
      day("planetlab-consolidation")
      const small = day("planetlab-consolidation")
      const full = day("planetlab-cloudsim")
      const describe = (d: typeof full, what: string) =>
        `${what}: ${d.events.toLocaleString("en-US")} events, ${d.migrations.toLocaleString("en-US")} migrations, ` +
        `${d.hostsMean.toFixed(1)} hosts in use on average; engine and run summary, no store`
      const wall = (name: string, d: typeof full, what: string): BenchResult => ({
        name: `engine.planetlab.day.${name}.wallMs`,
        workload: describe(d, what),
        value: Math.round(d.ms),
        unit: "ms"
      })
      const rate = (name: string, d: typeof full, what: string): BenchResult => ({
        name: `engine.planetlab.day.${name}.eventsPerSecond`,
        workload: describe(d, what),
        value: Math.round((d.events * 1000) / d.ms),
        unit: "events/s"
      })
      const smallWhat = "24 h of PlanetLab load, 100 VMs on 20 hosts of 8 CPUs (planetlab-consolidation.json)"
      const fullWhat =
        "24 h of PlanetLab load, all 1,052 VMs on 800 hosts of CloudSim's set-up (planetlab-cloudsim.json), consolidation every 300 s"
      return [
        withBaseline(wall("1052x800", full, fullWhat), wall("100x20", small, smallWhat)),
        withBaseline(rate("1052x800", full, fullWhat), rate("100x20", small, smallWhat))
      ]
    }
  }
]
