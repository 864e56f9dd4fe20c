/**
 * Property-suite benchmarks: model-based runs per second of the pool model on 50-command sequences
 * (target: at least 200/s), and the wall time of `xenpool check` at scale. `check` runs the built
 * binary as a user would, with XENPOOL_BENCH_CHECK_RUNS runs per property (default 1,000; 10,000 is the
 * issue's figure and takes several minutes on a 2-core machine).
 */
import { spawnSync } from "node:child_process"
import { resolve } from "node:path"
import fc from "fast-check"
import { hostSetupArb, setupPool, Step, stepDrawArb } from "../properties/poolModel.js"
import type { Benchmark } from "./harness.js"

const SEQUENCE_COMMANDS = 50
const MODEL_RUNS = 1_000

const modelRunsPerSecond = (): { perSecond: number; commands: number } => {
  let commands = 0
  const property = fc.property(
    hostSetupArb,
    fc.array(stepDrawArb, { minLength: SEQUENCE_COMMANDS, maxLength: SEQUENCE_COMMANDS }),
    (hosts, draws) => {
      commands += draws.length
      fc.modelRun(
        setupPool(hosts, {}),
        draws.map((d) => new Step(d))
      )
    }
  )
  const start = performance.now()
  const details = fc.check(property, { numRuns: MODEL_RUNS, seed: 1 })
  const seconds = (performance.now() - start) / 1000
  if (details.failed) throw new Error(`the pool model failed while benchmarking: ${String(details.errorInstance)}`)
  return { perSecond: MODEL_RUNS / seconds, commands }
}

const checkWallSeconds = (runs: number): number => {
  const binary = resolve(import.meta.dirname, "../xenpool.mjs")
  const start = performance.now()
  const r = spawnSync(process.execPath, [binary, "check", "--runs", String(runs), "--seed", "1", "--json"], {
    encoding: "utf8",
    maxBuffer: 64 * 2 ** 20
  })
  if (r.status !== 0) throw new Error(`xenpool check failed: ${r.stderr.trim()}`)
  return (performance.now() - start) / 1000
}

export const propertyBenchmarks: ReadonlyArray<Benchmark> = [
  {
    name: "properties.model",
    run: async () => {
      const { perSecond } = modelRunsPerSecond()
      return [
        {
          name: "properties.model.runsPerSecond",
          workload: `pool model vs the engine's decide/evolve, ${SEQUENCE_COMMANDS}-command sequences, ${MODEL_RUNS} runs (target >= 200/s)`,
          value: Math.round(perSecond),
          unit: "runs/s"
        }
      ]
    }
  },
  {
    name: "properties.check",
    run: async () => {
      const runs = Number(process.env.XENPOOL_BENCH_CHECK_RUNS ?? 1_000)
      const seconds = checkWallSeconds(runs)
      return [
        {
          name: `properties.check.runs${runs}.wall`,
          workload: `xenpool check --runs ${runs} --seed 1 (every property, ${runs} runs each, built binary)`,
          value: Math.round(seconds * 10) / 10,
          unit: "s"
        }
      ]
    }
  }
]
