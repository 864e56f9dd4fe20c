/**
 * A deliberately simple reference model of the pool, for the model-based test. Plain objects and
 * plain loops, written from XAPI's rules (XEN.md §6, DESIGN.md §2) and not from `decide`/`evolve`: it
 * calls none of the domain's functions, so a mistake there is not repeated here.
 *
 * It answers each command with "ok" or the name of the error XAPI would raise, and on "ok" changes
 * itself the way the pool must change. Memory is in pages. A VM's `guest` pages are what its domain
 * holds: a new target takes effect at once only without a domain; a running domain's balloon moves
 * toward it later, in steps this model's commands never take, so `guest` then stays where it was.
 */

export type Power = "Halted" | "Running" | "Paused" | "Suspended"
type Phase = "reserved" | "precopy" | "stop-and-copy" | "committing"

export interface ModelHost {
  readonly id: string
  readonly totalPages: number
  readonly overheadPages: number
  enabled: boolean
  live: boolean
  nextDomid: number
}

export interface ModelVm {
  readonly id: string
  readonly vcpus: number
  readonly staticMin: number
  readonly dynamicMin: number
  target: number
  /** What the domain holds (all populated: nothing is paged out in these commands). */
  guest: number
  readonly dynamicMax: number
  readonly staticMax: number
  readonly overheadPages: number
  readonly blocked: ReadonlyArray<string>
  power: Power
  residentOn: string | undefined
  scheduledOn: string | undefined
  domid: number
  migration: string | undefined
}

export interface ModelMigration {
  readonly id: string
  readonly vm: string
  readonly source: string
  readonly destination: string
  phase: Phase
  rounds: number
  readonly reservedPages: number
}

/** "ok", or the tag of the error the pool must answer with. */
export type Outcome = "ok" | string

/** Which power states each operation needs (XAPI's table, restated). */
const needs: Record<string, ReadonlyArray<Power>> = {
  start: ["Halted"],
  start_on: ["Halted"],
  resume: ["Suspended"],
  resume_on: ["Suspended"],
  pool_migrate: ["Running"],
  suspend: ["Running"],
  pause: ["Running"],
  unpause: ["Paused"],
  clean_shutdown: ["Running"],
  hard_shutdown: ["Paused", "Suspended", "Running"],
  destroy: ["Halted", "Suspended"],
  set_memory_target: ["Halted", "Running", "Paused", "Suspended"]
}

const byId = <T extends { readonly id: string }>(items: Iterable<T>): T[] =>
  [...items].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))

export class PoolModel {
  readonly hosts = new Map<string, ModelHost>()
  readonly vms = new Map<string, ModelVm>()
  readonly migrations = new Map<string, ModelMigration>()

  hostList(): ModelHost[] {
    return byId(this.hosts.values())
  }
  vmList(): ModelVm[] {
    return byId(this.vms.values())
  }
  migrationList(): ModelMigration[] {
    return byId(this.migrations.values())
  }

  // --- memory, counted from scratch every time ------------------------------------------------

  usedPages(host: string): number {
    let used = 0
    for (const vm of this.vms.values()) if (vm.residentOn === host) used += vm.guest + vm.overheadPages
    return used
  }
  reservedPages(host: string): number {
    let reserved = 0
    for (const m of this.migrations.values()) if (m.destination === host) reserved += m.reservedPages
    return reserved
  }
  admittedPages(host: string): number {
    let admitted = 0
    for (const vm of this.vms.values())
      if (vm.residentOn === host || vm.scheduledOn === host) admitted += vm.dynamicMin + vm.overheadPages
    return admitted
  }
  physicalFree(h: ModelHost): number {
    return h.totalPages - h.overheadPages - this.usedPages(h.id) - this.reservedPages(h.id)
  }
  admissionFree(h: ModelHost): number {
    return Math.max(0, h.totalPages - h.overheadPages - this.admittedPages(h.id))
  }

  // --- XAPI's checks --------------------------------------------------------------------------

  /** Blocked, then power state, then another operation in progress: XAPI's order. */
  vmCheck(vm: ModelVm | undefined, operation: string): Outcome {
    if (!vm) return "VmUnknown"
    if (vm.blocked.includes(operation)) return "OperationBlocked"
    if (!needs[operation]!.includes(vm.power)) return "VmBadPowerState"
    // A migration runs alone; only a hard shutdown may interrupt it.
    if (vm.migration !== undefined && operation !== "hard_shutdown") return "OtherOperationInProgress"
    return "ok"
  }

  /** `assert_can_boot_here`: live, enabled, room by the admission rule, then room in RAM. */
  canBoot(h: ModelHost, vm: ModelVm): Outcome {
    if (!h.live) return "HostNotLive"
    if (!h.enabled) return "HostDisabled"
    if (vm.dynamicMin + vm.overheadPages > this.admissionFree(h)) return "HostNotEnoughFreeMemory"
    if (vm.guest + vm.overheadPages > this.physicalFree(h)) return "HostNotEnoughFreeMemory"
    return "ok"
  }

  /** The named host, or the pool's pick: the most admission-free host that can boot it, lowest id on ties. */
  place(vm: ModelVm, named: string | undefined): { outcome: Outcome; host?: ModelHost } {
    if (named !== undefined) {
      const h = this.hosts.get(named)
      if (!h) return { outcome: "HostUnknown" }
      const outcome = this.canBoot(h, vm)
      return outcome === "ok" ? { outcome, host: h } : { outcome }
    }
    let best: ModelHost | undefined
    for (const h of this.hostList()) {
      if (this.canBoot(h, vm) !== "ok") continue
      if (!best || this.admissionFree(h) > this.admissionFree(best)) best = h
    }
    return best ? { outcome: "ok", host: best } : { outcome: "NoHostsAvailable" }
  }

  // --- changes --------------------------------------------------------------------------------

  boot(vm: ModelVm, h: ModelHost, power: Power): void {
    vm.power = power
    vm.residentOn = h.id
    vm.domid = h.nextDomid
    h.nextDomid++
  }

  /** Halted or Suspended: off every host, no domain, no operation; the next domain is built at the target. */
  leaveHost(vm: ModelVm, power: "Halted" | "Suspended"): void {
    vm.power = power
    vm.guest = vm.target
    vm.residentOn = undefined
    vm.scheduledOn = undefined
    vm.domid = -1
    vm.migration = undefined
  }

  endMigration(m: ModelMigration): ModelVm {
    this.migrations.delete(m.id)
    const vm = this.vms.get(m.vm)!
    vm.scheduledOn = undefined
    vm.migration = undefined
    return vm
  }

  commit(m: ModelMigration): void {
    const vm = this.endMigration(m)
    const destination = this.hosts.get(m.destination)!
    vm.residentOn = destination.id
    vm.domid = destination.nextDomid
    destination.nextDomid++
  }

  /** A migration interrupted from outside: committed if past the point of no return, else aborted. */
  endEarly(m: ModelMigration): void {
    if (m.phase === "committing") this.commit(m)
    else this.endMigration(m)
  }

  /** `host.declare_dead` without HA (docs/decisions.md). */
  failHost(h: ModelHost): void {
    if (!h.live) return
    h.live = false
    h.enabled = false
    for (const m of this.migrationList()) {
      if (m.source === h.id) this.endEarly(m)
      else if (m.destination === h.id) {
        const lost = m.phase === "committing"
        const vm = this.endMigration(m)
        if (lost) this.leaveHost(vm, "Halted")
      }
    }
    for (const vm of this.vmList()) if (vm.residentOn === h.id) this.leaveHost(vm, "Halted")
  }
}

/** XAPI's VM overhead, restated: 38 pages per vCPU plus one page of shadow per 256 pages of static max. */
export const vmOverheadPages = (vcpus: number, staticMaxPages: number): number =>
  38 * vcpus + Math.ceil(staticMaxPages / 256)

/** static_min <= dynamic_min <= target <= dynamic_max <= static_max */
export const constraintsHold = (m: {
  staticMin: number
  dynamicMin: number
  target: number
  dynamicMax: number
  staticMax: number
}): boolean =>
  m.staticMin <= m.dynamicMin && m.dynamicMin <= m.target && m.target <= m.dynamicMax && m.dynamicMax <= m.staticMax
