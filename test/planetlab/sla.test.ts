/**
 * CloudSim's SLA figures folded from a run (projections/cpuSla.ts): exact on a hand-made history
 * (given these events and load series, then these host-seconds over capacity, SLATAH, PDM, SLAV and
 * migrations per VM), a projection (every event fed twice changes nothing), and on real runs of both
 * set-ups equal to an independent recount from the pool state folded by the domain's `evolve`.
 */
import { Either } from "effect"
import { readFileSync } from "node:fs"
import { resolve } from "node:path"
import { describe, expect, it } from "vitest"
import { evolve } from "../../domain/evolve.js"
import * as E from "../../domain/events.js"
import { hostId, migrationId, poolId, vmId } from "../../domain/ids.js"
import { hostList, initialState, vmList, type PoolState } from "../../domain/state.js"
import { transferFactory } from "../../engine/migration/index.js"
import type { EmittedEvent } from "../../engine/simulation.js"
import { CpuSla, type CpuSeries } from "../../projections/cpuSla.js"
import { HostsInUse } from "../../projections/hostsInUse.js"
import { migrationTotals } from "../../projections/migrationTotals.js"
import { MigrationSummaries } from "../../projections/summary.js"
import { compileScenario } from "../../simulations/compile.js"
import { cpuPctAt } from "../../simulations/load.js"
import { importPlanetlab, parsePlanetlabCsv, type PlanetlabSetup } from "../../simulations/planetlab.js"
import { runScenario } from "../../simulations/run.js"

const S = 1_000_000
const h1 = hostId("h1")
const h2 = hostId("h2")
const a = vmId("a")
const b = vmId("b")

const joined = (host: typeof h1, cpus: number) =>
  new E.HostJoined({ atUs: 0, host, memoryTotalPages: 1 << 20, memoryOverheadPages: 0, nicBandwidthBytesPerS: 1, cpus })
const created = (vm: typeof a) =>
  new E.VmCreated({
    atUs: 0,
    vm,
    vcpus: 2,
    memoryStaticMinPages: 256,
    memoryDynamicMinPages: 256,
    memoryTargetPages: 256,
    memoryDynamicMaxPages: 256,
    memoryStaticMaxPages: 256,
    memoryOverheadPages: 0
  })
const started = (vm: typeof a, domid: number) => new E.VmStarted({ atUs: 0, vm, host: h1, domid, paused: false })

/**
 * h1 has 2 CPUs, h2 has 4. a (2 vCPUs) runs at 100 % then 50 % (300 s intervals); b (2 vCPUs) at 60 %.
 * Both start on h1: 200 + 120 = 320 percent-vCPUs of 200, over capacity; at 300 s, 100 + 120 = 220, still
 * over. b migrates from 400 s to its commit at 500 s: then h1 has 100 of 200, h2 120 of 400. End: 600 s.
 */
const handMade: ReadonlyArray<E.PoolEvent> = [
  new E.PoolCreated({ atUs: 0, pool: poolId("sla"), pageSizeBytes: 4096, linkLatencyUs: 0 }),
  joined(h1, 2),
  joined(h2, 4),
  created(a),
  created(b),
  started(a, 1),
  started(b, 2),
  new E.VmMigrationStarted({
    atUs: 400 * S,
    migration: migrationId("m1"),
    vm: b,
    source: h1,
    destination: h2,
    policy: "xen",
    reservedPages: 256
  }),
  new E.VmMigrationCommitted({
    atUs: 500 * S,
    migration: migrationId("m1"),
    vm: b,
    source: h1,
    destination: h2,
    domid: 1,
    rounds: 1,
    pagesSent: 256,
    bytesSent: 256 * 4096,
    downtimeUs: 1,
    totalUs: 100 * S
  })
]
const handLoads = new Map<string, CpuSeries>([
  ["a", { intervalUs: 300 * S, cpuPct: [100, 50] }],
  ["b", { intervalUs: 300 * S, cpuPct: [60, 60] }]
])

const fold = (
  events: ReadonlyArray<E.PoolEvent>,
  loads: ReadonlyMap<string, CpuSeries>,
  endUs: number,
  twice = false
) => {
  const sla = new CpuSla(loads)
  for (const e of events) {
    sla.add(e)
    if (twice) sla.add(e)
  }
  return sla.summary(endUs)
}

describe("CpuSla on a hand-made history", () => {
  it("given two VMs on a 2-CPU host, one moving to a 4-CPU host at 500 s: the figures to the µs", () => {
    const s = fold(handMade, handLoads, 600 * S)
    // h1 over capacity from 0 to the commit at 500 s; h1 in use all 600 s, h2 from 500 s.
    expect(s.overCapacityHostUs).toBe(500 * S)
    expect(s.inUseHostUs).toBe(700 * S)
    expect(s.slatah).toBe(500 / 700)
    // a: 2 vCPUs × 300 s + 1 × 300 s = 900 vCPU·s; b: 1.2 × 600 s = 720; b while migrating: 1.2 × 100 s = 120.
    expect(s.cpuVcpuS).toBeCloseTo(1620, 9)
    expect(s.cpuMigratingVcpuS).toBeCloseTo(120, 9)
    expect(s.migratingCpuShare).toBeCloseTo(120 / 1620, 12)
    expect(s.pdm).toBeCloseTo(0.1 * (120 / 1620), 12)
    expect(s.slav).toBeCloseTo((500 / 700) * 0.1 * (120 / 1620), 12)
    expect([s.vms, s.migrationsCommitted, s.migrationsPerVm, s.vmsMigrated, s.migrationsPerVmMax]).toEqual([
      2, 1, 0.5, 1, 1
    ])
  })

  it("demand exactly at capacity is not over it; a paused VM asks for nothing; a failed host counts for nothing", () => {
    // At 300 s a drops to 50 %: h1 at 100 + 120 = 220 > 200. Pause b at 350 s: 100 ≤ 200, no longer over.
    const paused = [...handMade.slice(0, 7), new E.VmPaused({ atUs: 350 * S, vm: b })]
    expect(fold(paused, handLoads, 600 * S).overCapacityHostUs).toBe(350 * S)
    const exact = new Map([...handLoads, ["a", { intervalUs: 300 * S, cpuPct: [40, 40] }]])
    expect(fold(handMade.slice(0, 7), exact, 600 * S).overCapacityHostUs).toBe(0) // 80 + 120 = 200, not above
    const failed = [...handMade.slice(0, 7), new E.HostFailed({ atUs: 100 * S, host: h1 })]
    const s = fold(failed, handLoads, 600 * S)
    expect([s.overCapacityHostUs, s.inUseHostUs]).toEqual([100 * S, 100 * S])
  })

  it("is a projection: each event fed twice gives the same figures", () => {
    expect(fold(handMade, handLoads, 600 * S, true)).toEqual(fold(handMade, handLoads, 600 * S))
  })
})

// --- a real run -----------------------------------------------------------------------------------

const dataFile = resolve(import.meta.dirname, "../../simulations/data/planetlab-20110303-cpu.csv")

/** N VMs of the day on H hosts of a set-up, run in debug mode (every invariant after every event). */
const planetlabRun = (setup: PlanetlabSetup, vms: number, hosts: number, seed: number) => {
  const trace = parsePlanetlabCsv("day.csv", readFileSync(dataFile, "utf8"))
  if (Either.isLeft(trace)) throw new Error(trace.left.expected)
  const imported = importPlanetlab(trace.right, { vms, hosts, seed, fileLabel: "day.csv", setup })
  if (Either.isLeft(imported)) throw new Error(imported.left.expected)
  const compiled = compileScenario("day", imported.right.scenario)
  if (Either.isLeft(compiled)) throw new Error(compiled.left.expected)
  const events: EmittedEvent[] = []
  const { result } = runScenario(compiled.right, {
    transferFactory,
    debug: true,
    sink: (batch) => events.push(...batch)
  })
  return { vms, loads: compiled.right.loads!, events: events.map((e) => e.event), endUs: result.simulatedUs }
}
type Run = ReturnType<typeof planetlabRun>

/** Hosts over capacity, recounted from the domain's pool state and the loads at time `atUs`. */
const overNow = (state: PoolState, loads: Run["loads"], atUs: number): number => {
  const demand = new Map<string, number>()
  for (const vm of vmList(state)) {
    if (vm.powerState !== "Running" || vm.residentOn === undefined) continue
    demand.set(vm.residentOn, (demand.get(vm.residentOn) ?? 0) + cpuPctAt(loads, vm.id, atUs) * vm.vcpus)
  }
  return hostList(state).filter((h) => h.live && (demand.get(h.id) ?? 0) > 100 * h.cpus).length
}

/** Host time over capacity, recounted at every time anything can change: each event's and each load boundary's. */
const recountOverUs = (run: Run): number => {
  const boundaries = Array.from({ length: 288 }, (_, i) => i * 300 * S)
  const times = [...new Set([...run.events.map((e) => e.atUs), ...boundaries])]
    .filter((t) => t <= run.endUs)
    .sort((x, y) => x - y)
  let state = initialState
  let next = 0
  let overUs = 0
  for (let i = 0; i < times.length; i++) {
    const t = times[i]!
    while (next < run.events.length && run.events[next]!.atUs <= t) state = evolve(state, run.events[next++]!)
    overUs += overNow(state, run.loads, t) * ((times[i + 1] ?? run.endUs) - t)
  }
  return overUs
}

describe.each([
  // Ours: 8-CPU hosts, 24 VMs packed on 6 of them: 83 host-seconds over capacity, 78 migrations.
  ["xenpool", 24, 6, 2],
  // CloudSim's: memory binds first (about three VMs a host), so no host goes over capacity here.
  ["cloudsim", 24, 16, 1]
] as const)("CpuSla on a day of the %s set-up (%i VMs, %i hosts, seed %i)", (setup, vms, hosts, seed) => {
  const run = planetlabRun(setup, vms, hosts, seed)

  it("host time over capacity equals a recount from the pool state the domain's evolve folds", () => {
    const s = fold(run.events, run.loads, run.endUs)
    expect(s.overCapacityHostUs).toBe(recountOverUs(run))
    if (setup === "xenpool") expect(s.overCapacityHostUs).toBeGreaterThan(0)
  })

  it("hosts in use as HostsInUse counts them; migrations as the migration totals count them; fed twice, the same", () => {
    const inUse = new HostsInUse()
    const summaries = new MigrationSummaries()
    for (const e of run.events) {
      inUse.add(e)
      summaries.add(e)
    }
    const s = fold(run.events, run.loads, run.endUs)
    expect(s.inUseHostUs).toBe(inUse.summary(run.endUs).hostUs)
    expect(s.migrationsCommitted).toBe(migrationTotals(summaries.list()).committed)
    expect(s.migrationsCommitted).toBeGreaterThan(0)
    expect(s.vms).toBe(vms)
    expect(s.migrationsPerVm).toBe(s.migrationsCommitted / vms)
    expect(fold(run.events, run.loads, run.endUs, true)).toEqual(s)
  })
})
