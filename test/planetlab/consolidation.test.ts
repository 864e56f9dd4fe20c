/**
 * The consolidation controller on small hand-built pools of 8-CPU hosts. The planner is pure: given a
 * pool state and CPU loads, when it plans, then these actions. The same pools then run on the engine
 * in debug mode (every invariant after every event) to show the plan performed: migrations committed,
 * hosts disabled, the per-interval bound held, nothing refused.
 */
import { Either } from "effect"
import { describe, expect, it } from "vitest"
import { decide } from "../../domain/decide.js"
import { MigrationFailed } from "../../domain/errors.js"
import { hostId, vmId } from "../../domain/ids.js"
import { getHost, vmsResidentOn } from "../../domain/state.js"
import { planConsolidation, type ConsolidationThresholds } from "../../engine/consolidation/index.js"
import { transferFactory } from "../../engine/migration/index.js"
import type { EmittedEvent } from "../../engine/simulation.js"
import { HostsInUse } from "../../projections/hostsInUse.js"
import { compileScenario } from "../../simulations/compile.js"
import { cpuPctAt } from "../../simulations/load.js"
import { runScenario } from "../../simulations/run.js"
import { parseScenarioJson } from "../../simulations/scenario.js"

interface VmPart {
  readonly id: string
  readonly vcpus: number
  readonly memory: string
  readonly host: string
  /** CPU % per 300 s interval (or one value for every interval). */
  readonly cpu: number | ReadonlyArray<number>
}

const scenario = (parts: { hosts: number; vms: ReadonlyArray<VmPart>; schedule?: ReadonlyArray<unknown> }) => ({
  format: "xenpool-scenario",
  version: 1,
  name: "consolidation",
  seed: 1,
  pool: { id: "c", linkLatency: "0us" },
  hosts: [{ id: "h", count: parts.hosts, memory: "32GiB", overhead: "1GiB", nic: "10Gbit/s", cpus: 8 }],
  vms: parts.vms.map((v) => ({
    id: v.id,
    vcpus: v.vcpus,
    memory: v.memory,
    host: v.host,
    workload: { model: "rate", dirtyRate: "0pages/s" },
    load: { intervalS: 300, cpuPct: typeof v.cpu === "number" ? [v.cpu] : v.cpu }
  })),
  schedule: parts.schedule ?? []
})

const compiled = (json: unknown) => {
  const parsed = parseScenarioJson("test", JSON.stringify(json))
  if (Either.isLeft(parsed)) throw new Error(`${parsed.left.path}: ${parsed.left.expected}`)
  const c = compileScenario("test", parsed.right)
  if (Either.isLeft(c)) throw new Error(`${c.left.path}: ${c.left.expected}`)
  return c.right
}

/** Runs on the engine in debug mode; hosts in use from the events. */
const run = (json: unknown) => {
  const events: EmittedEvent[] = []
  const inUse = new HostsInUse()
  const c = compiled(json)
  const out = runScenario(c, {
    transferFactory,
    debug: true,
    sink: (batch) => {
      for (const e of batch) {
        events.push(e)
        inUse.add(e.event)
      }
    }
  })
  return { ...out, events, compiled: c, hostsInUse: inUse.summary(out.result.simulatedUs, 300_000_000) }
}

/** Given the pool after setup (and its schedule), when the controller plans at time 0. */
const plan = (json: unknown, thresholds: ConsolidationThresholds, owned: ReadonlyArray<string> = []) => {
  const { result, compiled: c } = run(json)
  const loads = c.loads!
  return planConsolidation(result.state, (vm) => cpuPctAt(loads, vm, 0), thresholds, new Set(owned.map(hostId)))
}

const thresholds = (t: Partial<ConsolidationThresholds> = {}): ConsolidationThresholds => ({
  overloadPct: 80,
  underloadPct: 10,
  packPct: 60,
  migrationsMaxPerInterval: 10,
  ...t
})

const consolidate = (t: Partial<ConsolidationThresholds> & { until?: string; every?: string } = {}) => ({
  at: "0s",
  op: "consolidate",
  every: t.every ?? "300s",
  ...(t.until ? { until: t.until } : {}),
  overloadPct: t.overloadPct ?? 80,
  underloadPct: t.underloadPct ?? 10,
  packPct: t.packPct ?? 60,
  migrationsMaxPerInterval: t.migrationsMaxPerInterval ?? 10
})

const migrate = (vm: string, from: string, to: string, reason: string) => ({
  _tag: "Migrate",
  vm,
  from,
  to,
  reason
})

// h1: 400 + 320 = 720 percent-vCPUs of 800 (90 %, above 80 %: 80 too many); h2: 300 (37.5 %); h3: 100 (12.5 %).
const overloadedPool = (extra: ReadonlyArray<VmPart> = []) =>
  scenario({
    hosts: 3,
    vms: [
      { id: "big", vcpus: 4, memory: "2GiB", host: "h1", cpu: 100 },
      { id: "small", vcpus: 4, memory: "1GiB", host: "h1", cpu: 80 },
      { id: "mid", vcpus: 4, memory: "1GiB", host: "h2", cpu: 75 },
      { id: "low", vcpus: 2, memory: "1GiB", host: "h3", cpu: 50 },
      ...extra
    ]
  })

describe("an overloaded host", () => {
  it("moves the least-memory VM that alone clears the excess, to the least-loaded host", () => {
    const p = plan(overloadedPool(), thresholds())
    expect(p.overloaded).toEqual(["h1"])
    expect(p.actions).toEqual([migrate("small", "h1", "h3", "overload")])
    expect(p.unresolved).toEqual([])
  })

  it("skips a least-loaded host that lacks memory (the domain's placement rule): the next one takes it", () => {
    // 29 GiB more on h3 leaves it less than 1 GiB + overhead of placement room.
    const p = plan(overloadedPool([{ id: "filler", vcpus: 1, memory: "29GiB", host: "h3", cpu: 0 }]), thresholds())
    expect(p.actions).toEqual([migrate("small", "h1", "h2", "overload")])
  })

  it("when no VM alone clears the excess, moves the largest demand first, then again", () => {
    // h1: 5 VMs of 2 vCPUs at 90 % = 900 (112.5 %); excess 260: none alone; the largest (all 180) by memory then id.
    const vms = [1, 2, 3, 4, 5].map((i) => ({ id: `v${i}`, vcpus: 2, memory: `${i}GiB`, host: "h1", cpu: 90 }))
    const p = plan(scenario({ hosts: 3, vms }), thresholds())
    expect(p.saturated).toEqual(["h1"])
    // After v1 goes (excess 80), v2 alone clears it: two migrations, to the least-loaded host each time.
    expect(p.actions).toEqual([migrate("v1", "h1", "h2", "overload"), migrate("v2", "h1", "h3", "overload")])
  })

  it("wakes a host this controller switched off when no enabled host can take a VM, but never an operator's", () => {
    const pool = scenario({
      hosts: 2,
      vms: [
        { id: "a", vcpus: 4, memory: "2GiB", host: "h1", cpu: 100 },
        { id: "b", vcpus: 4, memory: "1GiB", host: "h1", cpu: 80 }
      ],
      schedule: [{ at: "0s", op: "disable-host", host: "h2" }]
    })
    expect(plan(pool, thresholds(), ["h2"]).actions).toEqual([
      { _tag: "EnableHost", host: "h2" },
      migrate("b", "h1", "h2", "overload")
    ])
    const operators = plan(pool, thresholds())
    expect(operators.actions).toEqual([])
    expect(operators.unresolved).toEqual([
      { host: "h1", reason: "no other host can take one of its VMs under the overload threshold" }
    ])
  })

  it("on the engine: the migration commits and the host ends under the threshold", () => {
    const r = run({ ...overloadedPool(), schedule: [consolidate({ until: "1s" })] })
    expect(r.result.refusals).toEqual([])
    expect(r.consolidation[0]).toMatchObject({ ticks: 1, migrationsStarted: 1, migrationsCommitted: 1 })
    expect(vmsResidentOn(r.result.state, hostId("h3")).map((v) => v.id)).toEqual(["low", "small"])
  })
})

describe("an underloaded host", () => {
  // h1 400 (50 %), h2 300 (37.5 %), h3 40 (5 %, under 20 %).
  const pool = (schedule: ReadonlyArray<unknown> = []) =>
    scenario({
      hosts: 3,
      vms: [
        { id: "a", vcpus: 4, memory: "2GiB", host: "h1", cpu: 100 },
        { id: "b", vcpus: 4, memory: "2GiB", host: "h2", cpu: 75 },
        { id: "c", vcpus: 1, memory: "1GiB", host: "h3", cpu: 40 }
      ],
      schedule
    })

  it("is disabled, then its VMs go to the most loaded host that stays within packPct (best fit)", () => {
    expect(plan(pool(), thresholds({ underloadPct: 20 })).actions).toEqual([
      { _tag: "DisableHost", host: "h3" },
      migrate("c", "h3", "h1", "drain")
    ])
  })

  it("packPct keeps headroom: a host it would push past packPct is passed over", () => {
    // h1 would reach 440 > 400 (50 %): h2 (300 + 40 = 340) takes it.
    expect(plan(pool(), thresholds({ underloadPct: 20, packPct: 50 })).actions).toEqual([
      { _tag: "DisableHost", host: "h3" },
      migrate("c", "h3", "h2", "drain")
    ])
  })

  it("is left alone when one of its VMs cannot migrate (paused): a drain is all or nothing", () => {
    expect(plan(pool([{ at: "0s", op: "pause-vm", vm: "c" }]), thresholds({ underloadPct: 20 })).actions).toEqual([])
  })

  it("on the engine: the host ends empty and disabled, and hosts in use drop from 3 to 2", () => {
    const r = run(pool([consolidate({ underloadPct: 20, until: "1s" })]))
    expect(r.result.refusals).toEqual([])
    const h3 = getHost(r.result.state, hostId("h3"))!
    expect(h3.enabled).toBe(false)
    expect(vmsResidentOn(r.result.state, hostId("h3"))).toEqual([])
    expect(r.hostsInUse.series.map((p) => p.hosts)).toEqual([3, 2])
    expect(r.consolidation[0]).toMatchObject({ hostsDisabled: 1, migrationsByReason: { drain: 1 } })
  })

  it("a drain a failed link interrupted is finished at the next interval", () => {
    const r = run(
      pool([
        consolidate({ underloadPct: 20, until: "301s" }),
        { at: "1ms", op: "fail-link", host: "h3" },
        { at: "10s", op: "restore-link", host: "h3" }
      ])
    )
    const report = r.consolidation[0]!
    expect(report.migrationsAborted).toBe(1)
    expect(report.migrationsByReason["finish-drain"]).toBe(1)
    expect(vmsResidentOn(r.result.state, hostId("h3"))).toEqual([])
    expect(getHost(r.result.state, hostId("h3"))!.enabled).toBe(false)
  })
})

// Six hosts each with one VM at 10 % of 2 vCPUs: every host is underloaded.
const sparse = (schedule: ReadonlyArray<unknown> = []) =>
  scenario({
    hosts: 6,
    vms: [1, 2, 3, 4, 5, 6].map((i) => ({ id: `v${i}`, vcpus: 2, memory: "1GiB", host: `h${i}`, cpu: 10 })),
    schedule
  })

describe("bounds and determinism", () => {
  it("a plan starts at most migrationsMaxPerInterval migrations", () => {
    const p = plan(sparse(), thresholds({ underloadPct: 20, migrationsMaxPerInterval: 2 }))
    expect(p.actions.filter((a) => a._tag === "Migrate")).toHaveLength(2)
    expect(p.actions).toEqual([
      { _tag: "DisableHost", host: "h1" },
      migrate("v1", "h1", "h2", "drain"),
      { _tag: "DisableHost", host: "h3" },
      migrate("v3", "h3", "h2", "drain")
    ])
  })

  it("on the engine: never more than the bound per interval, and the pool ends packed on one host", () => {
    const r = run(sparse([consolidate({ underloadPct: 20, migrationsMaxPerInterval: 2, until: "1h" })]))
    const startsPerTick = new Map<number, number>()
    for (const { event } of r.events)
      if (event._tag === "VmMigrationStarted") startsPerTick.set(event.atUs, (startsPerTick.get(event.atUs) ?? 0) + 1)
    expect(Math.max(...startsPerTick.values())).toBe(2)
    expect(r.consolidation[0]!.ticks).toBe(12)
    expect(r.result.refusals).toEqual([])
    expect(r.hostsInUse.final).toBe(1)
    expect(r.hostsInUse.samples.slice(0, 4)).toEqual([6, 4, 2, 1])
  })

  it("a migration the domain refuses is recorded with the domain's reason, and counted, not lost", () => {
    const c = compiled(sparse([consolidate({ underloadPct: 20, until: "1s" })]))
    const out = runScenario(c, {
      transferFactory,
      debug: true,
      decide: (state, command) =>
        command._tag === "StartMigration" && command.vm === "v1"
          ? Either.left(
              new MigrationFailed({
                vm: command.vm,
                source: "h1",
                destination: command.destination,
                reason: "injected"
              })
            )
          : decide(state, command)
    })
    expect(out.result.refusals.map((r) => [r.operation, r.error._tag])).toEqual([
      ["migrate v1 to h2", "MigrationFailed"]
    ])
    // Five moves were planned (h1, h3, h4, h5, h6 into h2); the refused one is not started.
    expect(out.consolidation[0]).toMatchObject({ migrationsRefused: 1, migrationsStarted: 4 })
  })

  it("the same state and loads give the same plan", () => {
    const t = thresholds({ underloadPct: 20, migrationsMaxPerInterval: 3 })
    expect(plan(sparse(), t)).toEqual(plan(sparse(), t))
  })

  it("refuses inconsistent thresholds (underload ≥ pack, pack > overload, no budget)", () => {
    const state = run(sparse()).result.state
    const zero = () => 0
    const bad = [
      thresholds({ underloadPct: 60, packPct: 60 }),
      thresholds({ packPct: 90 }),
      thresholds({ migrationsMaxPerInterval: 0 })
    ]
    for (const t of bad) expect(() => planConsolidation(state, zero, t)).toThrow(RangeError)
  })
})

describe("load series on the engine", () => {
  it("a migration started at an interval boundary uses the new interval's dirty rate", () => {
    const rounds = (at: string) => {
      const r = run({
        ...scenario({ hosts: 2, vms: [{ id: "v", vcpus: 2, memory: "1GiB", host: "h1", cpu: [0, 100] }] }),
        vms: [
          {
            id: "v",
            vcpus: 2,
            memory: "1GiB",
            host: "h1",
            workload: { model: "rate", dirtyRate: "0pages/s" },
            load: { intervalS: 300, cpuPct: [0, 100], fullCpuDirtyPctPerS: 10 }
          }
        ],
        schedule: [{ at, op: "migrate", vm: "v", to: "h2" }]
      })
      return r.events.filter((e) => e.event._tag === "VmMigrationRoundCompleted").length
    }
    expect(rounds("299s")).toBe(2) // idle: one full round and an empty paused one
    expect(rounds("300s")).toBeGreaterThan(2) // at 100 % CPU it dirties 10 % of its working set per second
  })

  it("scenario errors name their JSON path", () => {
    const err = (json: unknown) => {
      const parsed = parseScenarioJson("s.json", JSON.stringify(json))
      if (Either.isLeft(parsed)) return parsed.left
      const c = compileScenario("s.json", parsed.right)
      return Either.isLeft(c) ? c.left : undefined
    }
    const base = sparse()
    const withCpu = structuredClone(base) as any
    withCpu.vms[2].load.cpuPct = [10, 101]
    expect(err(withCpu)).toMatchObject({ path: "vms[2].load.cpuPct[1]" })
    expect(err({ ...base, schedule: [consolidate({ underloadPct: 50, packPct: 40 })] })).toMatchObject({
      path: "schedule[0].packPct"
    })
    expect(err({ ...base, schedule: [{ ...consolidate(), underloadPct: 80 }] })).toMatchObject({
      path: "schedule[0].underloadPct"
    })
    expect(err({ ...base, schedule: [{ ...consolidate(), every: "5" }] })).toMatchObject({ path: "schedule[0].every" })
    const noLoads = { ...base, vms: base.vms.map(({ load: _load, ...vm }) => vm) }
    expect(err({ ...noLoads, schedule: [consolidate()] })).toMatchObject({
      path: "schedule[0].until",
      expected: "a duration (required when no VM has a load series)"
    })
    expect(err(base)).toBeUndefined()
  })

  it("a VM without a series has no CPU load", () => {
    expect(cpuPctAt(new Map(), vmId("x"), 0)).toBe(0)
    const c = compiled(sparse())
    expect(cpuPctAt(c.loads!, vmId("v1"), 10 ** 12)).toBe(10) // after the series: its last value
  })
})
