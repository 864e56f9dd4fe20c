/**
 * A small pool on the engine, in pages, with debug mode on (every domain invariant after every event,
 * and the pager's page states checked against the domain after every step).
 */
import { Either } from "effect"
import { expect } from "vitest"
import type { PoolCommand } from "../../domain/commands.js"
import type { PoolEvent } from "../../domain/events.js"
import { hostId, poolId, vmId, type HostId, type VmId } from "../../domain/ids.js"
import { checkInvariants } from "../../domain/invariants.js"
import { getHost, getVm } from "../../domain/state.js"
import type { VmWorkload } from "../../engine/config.js"
import type { MemoryConfig } from "../../engine/memoryConfig.js"
import type { PageStatesFactory } from "../../engine/pageStates.js"
import { transferFactory } from "../../engine/migration/index.js"
import { Simulation } from "../../engine/simulation.js"

interface HostSetup {
  readonly id: string
  readonly pages: number
  readonly overheadPages?: number
  /** Default 10 Gbit/s. */
  readonly nicBytesPerS?: number
}

interface VmSetup {
  readonly id: string
  /** Static max and, unless given, dynamic max, target and dynamic min. */
  readonly pages: number
  readonly dynamicMin?: number
  readonly target?: number
  readonly dynamicMax?: number
  /** Default 0, so that hand computations stay simple. */
  readonly overheadPages?: number
  /** Start on this host (default: leave it Halted). */
  readonly host?: string
  readonly workload?: VmWorkload
}

export interface PoolSetup {
  readonly hosts: ReadonlyArray<HostSetup>
  readonly vms: ReadonlyArray<VmSetup>
  readonly memory?: Partial<MemoryConfig>
  /** The pager's page-states seam (default: the real ones). */
  readonly pageStates?: PageStatesFactory
  readonly latencyUs?: number
  readonly seed?: number
}

type EventOf<Tag extends PoolEvent["_tag"]> = Extract<PoolEvent, { readonly _tag: Tag }>

export interface TestPool {
  readonly sim: Simulation
  readonly events: PoolEvent[]
  /** The events of one kind, in order (optionally for one VM). */
  readonly all: <Tag extends PoolEvent["_tag"]>(tag: Tag, vm?: string) => ReadonlyArray<EventOf<Tag>>
  readonly vm: (id: string) => NonNullable<ReturnType<typeof getVm>>
  readonly host: (id: string) => NonNullable<ReturnType<typeof getHost>>
  /** Submits now; fails the test if decide refuses. */
  readonly must: (command: PoolCommand) => void
  readonly at: (atUs: number, run: () => void) => void
}

export const h = (id: string): HostId => hostId(id)
export const v = (id: string): VmId => vmId(id)

export const testPool = (setup: PoolSetup): TestPool => {
  const events: PoolEvent[] = []
  const workloads = new Map<VmId, VmWorkload>()
  for (const vm of setup.vms) if (vm.workload) workloads.set(vmId(vm.id), vm.workload)
  const sim = new Simulation({
    seed: setup.seed ?? 1,
    pool: poolId("p"),
    policy: { name: "xen" },
    workloads,
    limits: { eventsMax: 20_000_000, simulatedUsMax: 24 * 3_600_000_000 },
    transferFactory,
    debug: true,
    sink: (batch) => {
      for (const e of batch) events.push(e.event)
    },
    ...(setup.memory ? { memory: setup.memory } : {}),
    ...(setup.pageStates ? { pageStates: setup.pageStates } : {})
  })
  const must = (command: PoolCommand) => {
    const result = sim.submit(command)
    if (Either.isLeft(result)) expect.fail(`${command._tag} refused: ${result.left.message}`)
  }
  must({ _tag: "CreatePool", atUs: 0, pool: poolId("p"), pageSizeBytes: 4096, linkLatencyUs: setup.latencyUs ?? 0 })
  for (const host of setup.hosts) {
    must({
      _tag: "JoinHost",
      atUs: 0,
      host: hostId(host.id),
      memoryTotalPages: host.pages,
      memoryOverheadPages: host.overheadPages ?? 0,
      nicBandwidthBytesPerS: host.nicBytesPerS ?? 1_250_000_000,
      cpus: 16
    })
  }
  for (const vm of setup.vms) {
    const dynamicMax = vm.dynamicMax ?? vm.pages
    const target = vm.target ?? dynamicMax
    must({
      _tag: "CreateVm",
      atUs: 0,
      vm: vmId(vm.id),
      vcpus: 1,
      memoryStaticMinPages: 0,
      memoryDynamicMinPages: vm.dynamicMin ?? target,
      memoryTargetPages: target,
      memoryDynamicMaxPages: dynamicMax,
      memoryStaticMaxPages: vm.pages,
      memoryOverheadPages: vm.overheadPages ?? 0
    })
  }
  for (const vm of setup.vms) {
    if (vm.host) must({ _tag: "StartVm", atUs: 0, vm: vmId(vm.id), host: hostId(vm.host) })
  }
  return {
    sim,
    events,
    all: (tag, vm) => events.filter((e) => e._tag === tag && (vm === undefined || ("vm" in e && e.vm === vm))) as never,
    vm: (id) => getVm(sim.state, vmId(id))!,
    host: (id) => getHost(sim.state, hostId(id))!,
    must,
    at: (atUs, run) => sim.at(atUs, run)
  }
}

/** Runs to quiescence and asserts it got there with every invariant holding. */
export const runToEnd = (pool: TestPool) => {
  const result = pool.sim.run()
  expect(result.stopReason).toBe("quiescent")
  expect(checkInvariants(result.state)).toEqual([])
  return result
}

export const sum = (xs: ReadonlyArray<number>): number => xs.reduce((a, b) => a + b, 0)
