/**
 * `engine.evacuate.<N>`: the wall time of one `host.evacuate` of a host holding N VMs onto N / 50 other
 * hosts (10,000 VMs onto 200 hosts, 30,000 onto 600, 100,000 onto 2,000), on the engine with no store:
 * - `engine.evacuate.<N>`: the whole evacuation, the plan and every migration run to quiescence;
 * - `engine.evacuate.<N>.plan`: the plan alone (domain/evacuate.ts), on the pool before it moves.
 * Each larger size is reported against the one before it (30k / 10k, 100k / 30k): a linear cost gives
 * ratios of 3.0 and 3.3. Setting the pool up (creating and starting the VMs) is not timed; each figure is
 * the best of a few runs, as a busy machine only ever adds time.
 */
import { Either } from "effect"
import { planEvacuation, xapiDefault } from "../domain/placement/index.js"
import { hostId } from "../domain/ids.js"
import { transferFactory } from "../engine/migration/index.js"
import { compileScenario } from "../simulations/compile.js"
import { runScenario } from "../simulations/run.js"
import { parseScenarioJson } from "../simulations/scenario.js"
import { withBaseline, type Benchmark, type BenchResult } from "./harness.js"

/** VMs per target host: the pool's proportion (100,000 VMs on 2,000 hosts). */
const VMS_PER_TARGET_HOST = 50
const EVACUATED = "src1"
const WARM_UP_VMS = 2_000

/**
 * The pool: one host with every VM, and N / 50 hosts of 8 GiB (room for about twice their share) with a
 * 10 Gbit/s NIC. VMs of 32, 64 and 128 MiB in equal parts (so the plan's largest-first order and its ties
 * both matter), idle, one vCPU.
 */
const evacuationScenario = (vms: number) => {
  const third = Math.floor(vms / 3)
  const sizes = [
    { id: "s", count: vms - 2 * third, memory: "32MiB" },
    { id: "m", count: third, memory: "64MiB" },
    { id: "l", count: third, memory: "128MiB" }
  ].filter((group) => group.count > 0)
  return {
    format: "xenpool-scenario",
    version: 1,
    name: `evacuate-${vms}`,
    seed: 1,
    pool: { id: "evacuate", linkLatency: "100us" },
    hosts: [
      { id: "src", count: 1, memory: `${Math.ceil((vms * 80) / 1024) + 8}GiB`, overhead: "1GiB", nic: "10Gbit/s" },
      { id: "h", count: Math.max(1, vms / VMS_PER_TARGET_HOST), memory: "8GiB", overhead: "1GiB", nic: "10Gbit/s" }
    ],
    vms: sizes.map((g) => ({ id: g.id, count: g.count, vcpus: 1, memory: g.memory, host: "src1" })),
    schedule: [],
    limits: { simulatedTime: "30d" }
  }
}

const compiled = (vms: number) => {
  const parsed = parseScenarioJson("bench", JSON.stringify(evacuationScenario(vms)))
  if (Either.isLeft(parsed)) throw new Error(`${parsed.left.path}: ${parsed.left.expected}`)
  const scenario = compileScenario("bench", parsed.right)
  if (Either.isLeft(scenario)) throw new Error(`${scenario.left.path}: ${scenario.left.expected}`)
  return scenario.right
}

/** The pool set up (every VM running on the evacuated host), then the plan and the whole evacuation timed. */
const timeEvacuation = (vms: number): { readonly planMs: number; readonly runMs: number; readonly events: number } => {
  const { sim } = runScenario(compiled(vms), { transferFactory })
  const planStart = performance.now()
  const plan = planEvacuation(sim.view, hostId(EVACUATED), xapiDefault)
  const planMs = performance.now() - planStart
  if (Either.isLeft(plan)) throw new Error(`bench: the plan failed: ${plan.left.message}`)
  if (plan.right.length !== vms) throw new Error(`bench: ${plan.right.length} moves planned for ${vms} VMs`)
  const eventsBefore = sim.events
  const runStart = performance.now()
  sim.evacuate(hostId(EVACUATED))
  const result = sim.run()
  const runMs = performance.now() - runStart
  const last = result.operations[result.operations.length - 1]
  if (!last?.ok) throw new Error(`bench: the evacuation did not empty the host: ${last?.detail ?? "no outcome"}`)
  return { planMs, runMs, events: result.events - eventsBefore }
}

/** Each size is run `runs` times and its best time kept: the machine may be shared, and noise only adds. */
const SIZES: ReadonlyArray<{ readonly label: string; readonly vms: number; readonly runs: number }> = [
  { label: "10k", vms: 10_000, runs: 3 },
  { label: "30k", vms: 30_000, runs: 3 },
  { label: "100k", vms: 100_000, runs: 2 }
]

/** The best plan and run times of `runs` evacuations of the pool of `vms` VMs (each on a fresh pool). */
const bestOf = (vms: number, runs: number) => {
  let best = timeEvacuation(vms)
  for (let i = 1; i < runs; i++) {
    const timed = timeEvacuation(vms)
    best = {
      planMs: Math.min(best.planMs, timed.planMs),
      runMs: Math.min(best.runMs, timed.runMs),
      events: timed.events
    }
  }
  return best
}

const count = (n: number) => n.toLocaleString("en-US")

export const evacuateBenchmarks: ReadonlyArray<Benchmark> = [
  {
    name: "engine.evacuate",
    run: async (): Promise<ReadonlyArray<BenchResult>> => {
      timeEvacuation(WARM_UP_VMS)
      const results: BenchResult[] = []
      let previous: { run: BenchResult; plan: BenchResult } | undefined
      for (const { label, vms, runs } of SIZES) {
        const timed = bestOf(vms, runs)
        const pool = `${count(vms)} idle VMs of 32-128 MiB on one host, evacuated onto ${count(vms / VMS_PER_TARGET_HOST)} hosts of 8 GiB`
        const run: BenchResult = {
          name: `engine.evacuate.${label}`,
          workload: `${pool}: plan + every migration run to quiescence (${count(timed.events)} events, no store), best of ${runs} runs after a ${count(WARM_UP_VMS)}-VM warm-up`,
          value: Math.round(timed.runMs),
          unit: "ms"
        }
        const plan: BenchResult = {
          name: `engine.evacuate.${label}.plan`,
          workload: `${pool}: the plan alone (domain/placement xapi-default's planEvacuation), best of ${runs}`,
          value: Math.round(timed.planMs * 10) / 10,
          unit: "ms"
        }
        results.push(
          previous ? withBaseline(run, previous.run) : run,
          previous ? withBaseline(plan, previous.plan) : plan
        )
        previous = { run, plan }
      }
      return results
    }
  }
]
