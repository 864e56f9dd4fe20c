/**
 * `ha.plan.h<H>.v<V>.ntol<N>`: the cost of XAPI's HA planner (domain/ha.ts) as the pool grows: one
 * `plan_for_n_failures` for N failures (what decide asks after every change while HA is on, and again
 * with the change for every guarded operation), on a pool of H hosts running V protected VMs spread
 * evenly by the pool's placement, each host with twice the memory its VMs take (a plan exists).
 * The heuristic follows XAPI's `choose_heuristic`: exhaustive (every N hosts failing, in every order)
 * while C(H, N) × N! < 3500 and H ≤ 32, else the approximation; the workload line says which. Each
 * figure is the best of a few runs (a busy machine only adds time); setting the pool up is not timed.
 */
import { Either } from "effect"
import type { PoolCommand } from "../domain/commands.js"
import { decide } from "../domain/decide.js"
import { evolveInPlace } from "../domain/evolve.js"
import { chooseHeuristic, planForNFailures } from "../domain/ha.js"
import { hostId, poolId, vmId } from "../domain/ids.js"
import { initialState } from "../domain/state.js"
import { LivePool } from "../domain/tables.js"
import type { Benchmark, BenchResult } from "./harness.js"

const VM_PAGES = 16_384 // 64 MiB
const VM_OVERHEAD_PAGES = 64

/** The pool of `hosts` hosts and `vms` protected VMs, all running (HA itself is not on: the planner is asked directly). */
const haPool = (hosts: number, vms: number): LivePool => {
  const pool = new LivePool(initialState)
  const must = (command: PoolCommand) => {
    const decision = decide(pool, command)
    if (Either.isLeft(decision)) throw new Error(`bench: ${command._tag}: ${decision.left.message}`)
    for (const event of decision.right) evolveInPlace(pool, event)
  }
  must({ _tag: "CreatePool", atUs: 0, pool: poolId("ha"), pageSizeBytes: 4096, linkLatencyUs: 0 })
  const perHost = Math.ceil(vms / hosts)
  for (let h = 1; h <= hosts; h++)
    must({
      _tag: "JoinHost",
      atUs: 0,
      host: hostId(`h${h}`),
      memoryTotalPages: 2 * perHost * (VM_PAGES + VM_OVERHEAD_PAGES) + 1024,
      memoryOverheadPages: 1024,
      nicBandwidthBytesPerS: 1_250_000_000,
      cpus: 64
    })
  for (let v = 1; v <= vms; v++) {
    const vm = vmId(`v${v}`)
    must({
      _tag: "CreateVm",
      atUs: 0,
      vm,
      vcpus: 1,
      memoryStaticMinPages: VM_PAGES,
      memoryDynamicMinPages: VM_PAGES,
      memoryTargetPages: VM_PAGES,
      memoryDynamicMaxPages: VM_PAGES,
      memoryStaticMaxPages: VM_PAGES,
      memoryOverheadPages: VM_OVERHEAD_PAGES
    })
    must({ _tag: "SetVmHa", atUs: 0, vm, restartPriority: "restart", order: 0, alwaysRun: true })
    must({ _tag: "StartVm", atUs: 0, vm })
  }
  return pool
}

const HOSTS: ReadonlyArray<number> = [4, 16, 32, 64, 256]
const VMS: ReadonlyArray<number> = [100, 1_000, 10_000]
const FAILURES: ReadonlyArray<number> = [1, 2]
const RUNS = 3

/** The best of `RUNS` timings of the plan for `n` failures on `pool`, and its answer. */
const timePlan = (pool: LivePool, n: number): { readonly ms: number; readonly exists: boolean } => {
  let best = Infinity
  let exists = false
  for (let i = 0; i < RUNS; i++) {
    const start = performance.now()
    exists = planForNFailures(pool, n)
    best = Math.min(best, performance.now() - start)
  }
  return { ms: best, exists }
}

export const haBenchmarks: ReadonlyArray<Benchmark> = [
  {
    name: "ha.plan",
    run: async (): Promise<ReadonlyArray<BenchResult>> => {
      timePlan(haPool(8, 200), 1) // warm-up
      const results: BenchResult[] = []
      for (const hosts of HOSTS)
        for (const vms of VMS) {
          const pool = haPool(hosts, vms)
          for (const n of FAILURES) {
            const { ms, exists } = timePlan(pool, n)
            results.push({
              name: `ha.plan.h${hosts}.v${vms}.ntol${n}`,
              workload: `plan_for_n_failures(${n}) on ${hosts} hosts running ${vms.toLocaleString("en-US")} protected VMs (${chooseHeuristic(hosts, n)} heuristic; plan ${exists ? "exists" : "does not exist"}), best of ${RUNS}`,
              value: Math.round(ms * 1000) / 1000,
              unit: "ms"
            })
          }
        }
      return results
    }
  }
]
