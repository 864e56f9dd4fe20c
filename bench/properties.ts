/**
 * Property-suite benchmarks: model-based runs per second of the pool model on 50-command sequences
 * (target: at least 200/s), and the wall time of `xenpool check` at scale, on one worker thread and on
 * two on the same workload, with the speed-up (target: at least 1.8x on 2 cores). Other work on the
 * machine takes the cores too: the load average is printed with the figures, and the runs go in the
 * order 1, 2, 2, 1 workers, so that a load rising or falling steadily weighs on both alike. `check`
 * runs the built binary as a user would, with XENPOOL_BENCH_CHECK_RUNS runs per property (default
 * 1,000; 10,000 is the figure and takes several minutes on a 2-core machine).
 */
import { spawn, spawnSync } from "node:child_process"
import { availableParallelism, loadavg } from "node:os"
import { resolve } from "node:path"
import fc from "fast-check"
import { hostSetupArb, setupPool, Step, stepDrawArb } from "../properties/poolModel.js"
import { withBaseline, type Benchmark, type BenchResult } from "./harness.js"

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

const checkWall = (runs: number, workers: number): { seconds: number; report: string } => {
  const binary = resolve(import.meta.dirname, "../xenpool.mjs")
  const args = ["check", "--runs", String(runs), "--seed", "1", "--workers", String(workers), "--json"]
  const start = performance.now()
  const r = spawnSync(process.execPath, [binary, ...args], { encoding: "utf8", maxBuffer: 64 * 2 ** 20 })
  if (r.status !== 0) throw new Error(`xenpool check failed: ${r.stderr.trim()}`)
  return { seconds: (performance.now() - start) / 1000, report: r.stdout }
}

/**
 * Two one-worker checks at once, as separate processes sharing nothing but the machine: the wall time
 * of the later to finish. Against one alone, it says what two cores give this workload at best.
 */
const pairWall = async (runs: number): Promise<number> => {
  const binary = resolve(import.meta.dirname, "../xenpool.mjs")
  const args = ["check", "--runs", String(runs), "--seed", "1", "--workers", "1", "--json"]
  const start = performance.now()
  const one = () =>
    new Promise<void>((done, fail) => {
      const child = spawn(process.execPath, [binary, ...args], { stdio: "ignore" })
      child.on("error", fail)
      child.on("exit", (code) => (code === 0 ? done() : fail(new Error(`xenpool check exited with ${code}`))))
    })
  await Promise.all([one(), one()])
  return (performance.now() - start) / 1000
}

const loadAverage = () => loadavg()[0]!.toFixed(2)

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
      const loadBefore = loadAverage()
      const measured = [1, 2, 2, 1].map((workers) => ({ workers, ...checkWall(runs, workers) }))
      // The point of the workers is the same report sooner: a different one would be a bug, not a figure.
      if (new Set(measured.map((m) => m.report)).size !== 1)
        throw new Error("xenpool check gave another report on 2 workers than on 1")
      const meanSeconds = (workers: number) => {
        const times = measured.filter((m) => m.workers === workers).map((m) => m.seconds)
        return times.reduce((sum, t) => sum + t, 0) / times.length
      }
      const one = meanSeconds(1)
      const two = meanSeconds(2)
      const pair = await pairWall(runs)
      const workload = (workers: number) =>
        `xenpool check --runs ${runs} --seed 1 --workers ${workers} (every property, ${runs} runs each, built binary)`
      const single: BenchResult = {
        name: `properties.check.runs${runs}.wall`,
        workload: workload(1),
        value: Math.round(one * 10) / 10,
        unit: "s"
      }
      const double = withBaseline(
        {
          name: `properties.check.runs${runs}.workers2.wall`,
          workload: workload(2),
          value: Math.round(two * 10) / 10,
          unit: "s"
        },
        single
      )
      return [
        single,
        double,
        {
          name: `properties.check.runs${runs}.workers2.speedup`,
          workload: `1 worker's wall time / 2 workers', each the mean of 2 runs (order 1, 2, 2, 1), same report (target >= 1.8x on 2 cores); ${availableParallelism()} cores, 1-minute load average ${loadBefore} before, ${loadAverage()} after`,
          value: Math.round((one / two) * 100) / 100,
          unit: "x"
        },
        {
          name: `properties.check.runs${runs}.twoChecksAtOnce.speedup`,
          workload: `the machine's ceiling for any split of one check: two whole one-worker checks run at once as separate processes (${Math.round(pair * 10) / 10} s for both) do 2 × ${Math.round(one * 10) / 10} s of one-worker work, i.e. 2 × one alone / the pair's wall time; the 2-worker speed-up above cannot exceed it (1-minute load average ${loadAverage()} after)`,
          value: Math.round(((2 * one) / pair) * 100) / 100,
          unit: "x"
        }
      ]
    }
  }
]
