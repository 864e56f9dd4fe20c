/**
 * CloudSim's SLA figures (Beloglazov & Buyya 2012; CloudSim's power examples, `Helper.printResults`),
 * folded from a run's events and the VMs' CPU load series (docs/planetlab.md):
 * - host time over capacity: ∫ the hosts whose VMs ask for more CPU than they have (Σ cpu% × vCPUs above
 *   100 × CPUs) dt, in host·µs, beside ∫ the hosts in use dt; their ratio is CloudSim's "SLA time per
 *   active host" (SLATAH) as its `getSlaTimePerActiveHost` computes it (total over total, not a mean of
 *   per-host ratios);
 * - the share of the VMs' requested CPU (∫ demand dt) requested while they migrate; CloudSim's model takes
 *   10 % of a migrating VM's CPU, so 10 % of that share is its "performance degradation due to migration"
 *   (PDM), and SLATAH × PDM its SLAV. Our migrations cost the guest no CPU: PDM is CloudSim's assumption
 *   applied to our migrations' durations;
 * - migrations per VM.
 * A VM's demand is on the host its domain runs on (a migrating VM counts on its source until the commit,
 * as `HostsInUse` counts it), and only while it runs (not paused). A host is in use under `HostsInUse`'s
 * rule (live, a VM's domain on it), so `inUseHostUs` equals its `hostUs`. Loads change at their interval
 * boundaries, before any event at that time (as the engine applies them).
 */
import type { PoolEvent } from "../domain/events.js"

/** A VM's CPU load, percent of its vCPUs per interval; after the last interval it keeps the last value. */
export interface CpuSeries {
  readonly intervalUs: number
  readonly cpuPct: ReadonlyArray<number>
}

/** CloudSim's CPU cost of a migration to the migrating VM: 10 % of its MIPS (`VmSchedulerTimeShared`). */
const CLOUDSIM_MIGRATION_DEGRADATION_PCT = 10

export interface CpuSlaSummary {
  /** ∫ hosts whose VMs' CPU demand exceeds their CPUs dt, in host·µs. */
  readonly overCapacityHostUs: number
  /** ∫ hosts in use dt, in host·µs (the same as `HostsInUse`'s `hostUs`). */
  readonly inUseHostUs: number
  /** overCapacityHostUs / inUseHostUs (0 with no host in use): CloudSim's SLATAH. */
  readonly slatah: number
  /** ∫ Σ demand of the running VMs dt, in vCPU·s (demand: cpu% / 100 × vCPUs). */
  readonly cpuVcpuS: number
  /** The same over the VMs while they migrate (from the start of the migration to its commit or abort). */
  readonly cpuMigratingVcpuS: number
  /** cpuMigratingVcpuS / cpuVcpuS (0 with no demand). */
  readonly migratingCpuShare: number
  /** CLOUDSIM_MIGRATION_DEGRADATION_PCT % of migratingCpuShare: CloudSim's PDM. */
  readonly pdm: number
  /** slatah × pdm: CloudSim's SLAV. */
  readonly slav: number
  readonly vms: number
  readonly migrationsCommitted: number
  /** migrationsCommitted / vms. */
  readonly migrationsPerVm: number
  /** VMs that moved at least once, and the most moves of one VM. */
  readonly vmsMigrated: number
  readonly migrationsPerVmMax: number
}

interface HostCpu {
  cpus: number
  live: boolean
  /** Σ cpu% × vCPUs of the running VMs whose domain is here. */
  demand: number
  /** VMs whose domain is here (running or paused). */
  vms: number
}

interface VmCpu {
  readonly vcpus: number
  readonly series: CpuSeries | undefined
  pct: number
  host: string | undefined
  running: boolean
  migrating: boolean
  /** pct × vcpus while running on a host, else 0: what it adds to its host and to the totals. */
  demand: number
}

/** Boundaries at most (a day of 300 s intervals has 287; every loop is bounded). */
const BOUNDARIES_MAX = 10_000_000

/** Every time a series moves to its next interval, once each, ascending. */
const boundariesOf = (loads: ReadonlyMap<string, CpuSeries>): ReadonlyArray<number> => {
  const times = new Set<number>()
  for (const s of loads.values()) {
    if (!(Number.isInteger(s.intervalUs) && s.intervalUs > 0)) throw new RangeError(`interval ${s.intervalUs} µs`)
    for (let i = 1; i < s.cpuPct.length && times.size < BOUNDARIES_MAX; i++) times.add(i * s.intervalUs)
  }
  return [...times].sort((a, b) => a - b)
}

const pctAt = (series: CpuSeries | undefined, atUs: number): number =>
  series === undefined ? 0 : series.cpuPct[Math.min(Math.floor(atUs / series.intervalUs), series.cpuPct.length - 1)]!

/**
 * Mutable accumulator over pure inputs, like `HostsInUse`. Each event changes the demand of at most two
 * hosts and the counts incrementally; each load boundary recomputes every VM with a series (O(VMs)).
 * Feeding an event twice changes nothing.
 */
export class CpuSla {
  private readonly boundaries: ReadonlyArray<number>
  private next = 0
  private readonly hosts = new Map<string, HostCpu>()
  private readonly vms = new Map<string, VmCpu>()
  private readonly committed = new Set<string>()
  private readonly movesOf = new Map<string, number>()
  private nowUs = 0
  private hostsOver = 0
  private hostsInUse = 0
  private demand = 0
  private migratingDemand = 0
  /** The integrals, in host·µs (exact integers) and percent-vCPU·µs (floats: they pass 2^53 in a day). */
  private overHostUs = 0
  private inUseHostUs = 0
  private demandPctUs = 0
  private migratingDemandPctUs = 0

  constructor(private readonly loads: ReadonlyMap<string, CpuSeries>) {
    this.boundaries = boundariesOf(loads)
  }

  add(event: PoolEvent): void {
    this.advance(event.atUs)
    switch (event._tag) {
      case "HostJoined":
      case "HostFailed":
      case "HostRecovered":
        return this.hostEvent(event)
      case "VmCreated":
        if (!this.vms.has(event.vm)) {
          const series = this.loads.get(event.vm)
          const vm = { vcpus: event.vcpus, series, pct: pctAt(series, this.nowUs) }
          this.vms.set(event.vm, { ...vm, host: undefined, running: false, migrating: false, demand: 0 })
        }
        return
      case "VmStarted":
        return this.update(event.vm, (v) => {
          v.host = event.host
          v.running = !event.paused
        })
      case "VmResumed":
        return this.update(event.vm, (v) => {
          v.host = event.host
          v.running = true
        })
      case "VmPaused":
      case "VmUnpaused":
        return this.update(event.vm, (v) => {
          v.running = event._tag === "VmUnpaused"
        })
      case "VmMigrationStarted":
      case "VmMigrationAborted":
        return this.update(event.vm, (v) => {
          v.migrating = event._tag === "VmMigrationStarted"
        })
      case "VmMigrationCommitted":
        if (!this.committed.has(event.migration)) {
          this.committed.add(event.migration)
          this.movesOf.set(event.vm, (this.movesOf.get(event.vm) ?? 0) + 1)
        }
        return this.update(event.vm, (v) => {
          v.host = event.destination
          v.migrating = false
        })
      case "VmShutdown":
      case "VmSuspended":
      case "VmDestroyed":
        return this.update(event.vm, (v) => {
          v.host = undefined
          v.running = false
          v.migrating = false
        })
      default:
        return
    }
  }

  private hostEvent(event: Extract<PoolEvent, { _tag: "HostJoined" | "HostFailed" | "HostRecovered" }>): void {
    const existing = this.hosts.get(event.host)
    if (event._tag === "HostJoined" && existing === undefined) {
      this.hosts.set(event.host, { cpus: event.cpus, live: true, demand: 0, vms: 0 })
      return
    }
    if (existing === undefined) return
    this.changeHost(existing, () => {
      existing.live = event._tag !== "HostFailed"
    })
  }

  /** Integrates up to `atUs`, applying every load boundary on the way (at a boundary, before its events). */
  private advance(atUs: number): void {
    if (atUs < this.nowUs) throw new RangeError(`events out of time order: ${atUs} µs after ${this.nowUs} µs`)
    while (this.next < this.boundaries.length && this.boundaries[this.next]! <= atUs) {
      const boundaryUs = this.boundaries[this.next++]!
      this.integrate(boundaryUs)
      for (const [id, v] of this.vms) {
        if (v.series === undefined) continue
        this.update(id, (vm) => {
          vm.pct = pctAt(vm.series, boundaryUs)
        })
      }
    }
    this.integrate(atUs)
  }

  private integrate(toUs: number): void {
    const dt = toUs - this.nowUs
    this.overHostUs += this.hostsOver * dt
    this.inUseHostUs += this.hostsInUse * dt
    this.demandPctUs += this.demand * dt
    this.migratingDemandPctUs += this.migratingDemand * dt
    this.nowUs = toUs
  }

  /** Takes the VM's share out of its host and the totals, changes it, and puts the new share back. */
  private update(id: string, change: (v: VmCpu) => void): void {
    const v = this.vms.get(id)
    if (v === undefined) return
    this.share(v, -1)
    change(v)
    v.demand = v.running && v.host !== undefined ? v.pct * v.vcpus : 0
    this.share(v, 1)
  }

  private share(v: VmCpu, sign: 1 | -1): void {
    this.demand += sign * v.demand
    if (v.migrating) this.migratingDemand += sign * v.demand
    const host = v.host === undefined ? undefined : this.hosts.get(v.host)
    if (host === undefined) return
    this.changeHost(host, () => {
      host.demand += sign * v.demand
      host.vms += sign
    })
  }

  /** Changes a host and keeps the counts of hosts over capacity and in use. */
  private changeHost(host: HostCpu, change: () => void): void {
    const over = (h: HostCpu) => (h.live && h.demand > 100 * h.cpus ? 1 : 0)
    const inUse = (h: HostCpu) => (h.live && h.vms > 0 ? 1 : 0)
    this.hostsOver -= over(host)
    this.hostsInUse -= inUse(host)
    change()
    this.hostsOver += over(host)
    this.hostsInUse += inUse(host)
  }

  /** The figures over [0, endUs] (endUs at or after the last event). */
  summary(endUs: number): CpuSlaSummary {
    this.advance(endUs)
    const ratio = (part: number, whole: number) => (whole === 0 ? 0 : part / whole)
    const slatah = ratio(this.overHostUs, this.inUseHostUs)
    const migratingShare = ratio(this.migratingDemandPctUs, this.demandPctUs)
    const pdm = (CLOUDSIM_MIGRATION_DEGRADATION_PCT / 100) * migratingShare
    const moves = [...this.movesOf.values()]
    return {
      overCapacityHostUs: this.overHostUs,
      inUseHostUs: this.inUseHostUs,
      slatah,
      cpuVcpuS: this.demandPctUs / 1e8,
      cpuMigratingVcpuS: this.migratingDemandPctUs / 1e8,
      migratingCpuShare: migratingShare,
      pdm,
      slav: slatah * pdm,
      vms: this.vms.size,
      migrationsCommitted: this.committed.size,
      migrationsPerVm: ratio(this.committed.size, this.vms.size),
      vmsMigrated: moves.length,
      migrationsPerVmMax: moves.reduce((a, b) => Math.max(a, b), 0)
    }
  }
}
