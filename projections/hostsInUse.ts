/**
 * Hosts in use over time, folded from events: a host is in use while it is live and at least one VM's
 * domain runs on it (resident: Running or Paused, a migrating VM counts on its source until the commit).
 * An empty host is idle whether enabled or not (the consolidation controller disables the hosts it
 * empties, as a stand-in for switching them off). The series is a step function: one point per
 * simulated time at which the count changed. Works for any run (simulate, replay, the store), because it
 * needs only the events.
 */
import type { PoolEvent } from "../domain/events.js"

interface HostsInUsePoint {
  readonly atUs: number
  readonly hosts: number
}

export interface HostsInUseSummary {
  /** Change points, in time order; the first is the first change after time 0 or at it. */
  readonly series: ReadonlyArray<HostsInUsePoint>
  readonly min: number
  readonly max: number
  /** At the end of the run. */
  readonly final: number
  /** Time-weighted mean over [0, endUs]. */
  readonly mean: number
  /** ∫ hosts in use dt over [0, endUs], in host·µs (an integer). */
  readonly hostUs: number
  /** Hosts in use at each multiple of `sampleEveryUs` from 0 to endUs (the value in force at that time). */
  readonly sampleEveryUs: number
  readonly samples: ReadonlyArray<number>
}

/**
 * Mutable accumulator over pure inputs, like `MigrationSummaries`. The count of hosts in use is kept up
 * to date host by host as events change them, not recounted over every host per event (which cost
 * O(events × hosts): seconds for an evacuation of 100,000 VMs onto 2,000 hosts).
 */
export class HostsInUse {
  private readonly vmHost = new Map<string, string>()
  private readonly vmsOn = new Map<string, number>()
  private readonly live = new Map<string, boolean>()
  /** How many hosts `inUseNow` holds for, kept as they change. */
  private inUse = 0
  private readonly points: Array<{ atUs: number; hosts: number }> = []

  add(event: PoolEvent): void {
    switch (event._tag) {
      case "HostJoined":
        this.setLive(event.host, true)
        return this.record(event.atUs)
      case "HostFailed":
      case "HostRecovered":
        this.setLive(event.host, event._tag === "HostRecovered")
        return this.record(event.atUs)
      case "VmStarted":
      case "VmResumed":
        this.place(event.vm, event.host)
        return this.record(event.atUs)
      case "VmMigrationCommitted":
        this.place(event.vm, event.destination)
        return this.record(event.atUs)
      case "VmShutdown":
      case "VmSuspended":
      case "VmDestroyed":
        this.place(event.vm, undefined)
        return this.record(event.atUs)
      default:
        return
    }
  }

  /** A host is in use while it is live and at least one VM's domain runs on it. */
  private inUseNow(host: string): boolean {
    return (this.vmsOn.get(host) ?? 0) > 0 && this.live.get(host) === true
  }

  private setLive(host: string, live: boolean): void {
    const before = this.inUseNow(host)
    this.live.set(host, live)
    this.counted(before, host)
  }

  private setVmsOn(host: string, vms: number): void {
    const before = this.inUseNow(host)
    this.vmsOn.set(host, vms)
    this.counted(before, host)
  }

  /** The host was in use (`before`) and may not be now, or the other way round: the count follows. */
  private counted(before: boolean, host: string): void {
    const after = this.inUseNow(host)
    if (after !== before) this.inUse += after ? 1 : -1
  }

  private place(vm: string, host: string | undefined): void {
    const before = this.vmHost.get(vm)
    if (before !== undefined) this.setVmsOn(before, (this.vmsOn.get(before) ?? 1) - 1)
    if (host === undefined) this.vmHost.delete(vm)
    else {
      this.vmHost.set(vm, host)
      this.setVmsOn(host, (this.vmsOn.get(host) ?? 0) + 1)
    }
  }

  private record(atUs: number): void {
    const last = this.points[this.points.length - 1]
    if (last && last.hosts === this.inUse) return
    if (last && last.atUs === atUs) {
      last.hosts = this.inUse
      // Collapsing may make it equal to the point before: drop it.
      const previous = this.points[this.points.length - 2]
      if (previous && previous.hosts === last.hosts) this.points.pop()
      return
    }
    this.points.push({ atUs, hosts: this.inUse })
  }

  /** The summary over [0, endUs]; samples every `sampleEveryUs` (default one hour). */
  summary(endUs: number, sampleEveryUs = 3_600_000_000): HostsInUseSummary {
    if (!(Number.isInteger(sampleEveryUs) && sampleEveryUs > 0)) throw new RangeError("sampleEveryUs must be > 0")
    const series = this.points.map((p) => ({ ...p }))
    let hostUs = 0
    for (let i = 0; i < series.length; i++) {
      const from = Math.min(series[i]!.atUs, endUs)
      const to = Math.min(series[i + 1]?.atUs ?? endUs, endUs)
      hostUs += series[i]!.hosts * Math.max(0, to - from)
    }
    const samples: number[] = []
    let next = 0
    let value = 0
    for (let t = 0; t <= endUs && samples.length < 100_000; t += sampleEveryUs) {
      while (next < series.length && series[next]!.atUs <= t) value = series[next++]!.hosts
      samples.push(value)
    }
    const counts = series.map((p) => p.hosts)
    return {
      series,
      min: counts.reduce((a, b) => Math.min(a, b), counts[0] ?? 0),
      max: counts.reduce((a, b) => Math.max(a, b), 0),
      final: this.inUse,
      mean: endUs > 0 ? hostUs / endUs : this.inUse,
      hostUs,
      sampleEveryUs,
      samples
    }
  }
}
