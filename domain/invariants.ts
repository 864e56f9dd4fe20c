/**
 * The pool's invariants (XEN.md "Invariants a simulator should enforce"), each a named predicate over
 * pool state returning the first violation it finds. The engine asserts them after every event in debug
 * runs, the properties check them, and nothing else redefines them.
 */
import { HashMap } from "effect"
import { hostPhysicalFreePages, memoryConstraintViolation, vmPhysicalPages, vmPlacementPages } from "./memory.js"
import { getHost, getMigration, getVm, type PoolState } from "./state.js"

export interface Invariant {
  readonly name: string
  /** A description of the first violation, or undefined when the invariant holds. */
  readonly check: (state: PoolState) => string | undefined
}

const firstOf = <T>(items: Iterable<T>, describe: (item: T) => string | undefined): string | undefined => {
  for (const item of items) {
    const found = describe(item)
    if (found !== undefined) return found
  }
  return undefined
}

const hosts = (state: PoolState) => HashMap.values(state.hosts)
const vms = (state: PoolState) => HashMap.values(state.vms)
const migrations = (state: PoolState) => HashMap.values(state.migrations)

/** Physical free never negative; XAPI's placement sum never exceeds what the host has for guests. */
export const hostMemoryNotOvercommitted: Invariant = {
  name: "hostMemoryNotOvercommitted",
  check: (state) =>
    firstOf(hosts(state), (h) => {
      if (hostPhysicalFreePages(h) < 0) return `host ${h.id}: physical free is ${hostPhysicalFreePages(h)} pages`
      const guestPages = h.memoryTotalPages - h.memoryOverheadPages
      if (h.placementPages > guestPages) return `host ${h.id}: placement sum ${h.placementPages} > ${guestPages} pages`
      if (h.residentPages < 0 || h.reservedPages < 0) return `host ${h.id}: negative resident or reserved pages`
      return undefined
    })
}

/** The running sums on each host equal what the VMs and migrations say: free + used + reserved = total. */
export const hostAccountingMatchesVms: Invariant = {
  name: "hostAccountingMatchesVms",
  check: (state) => {
    const expected = new Map<string, { resident: number; reserved: number; placement: number }>()
    const at = (host: string) => {
      let sums = expected.get(host)
      if (!sums) expected.set(host, (sums = { resident: 0, reserved: 0, placement: 0 }))
      return sums
    }
    for (const vm of vms(state)) {
      if (vm.residentOn) {
        at(vm.residentOn).resident += vmPhysicalPages(vm)
        at(vm.residentOn).placement += vmPlacementPages(vm)
      }
    }
    for (const m of migrations(state)) {
      const vm = getVm(state, m.vm)
      at(m.destination).reserved += m.reservedPages
      if (vm) at(m.destination).placement += vmPlacementPages(vm)
    }
    return firstOf(hosts(state), (h) => {
      const e = expected.get(h.id) ?? { resident: 0, reserved: 0, placement: 0 }
      if (h.residentPages !== e.resident)
        return `host ${h.id}: resident ${h.residentPages} pages, VMs say ${e.resident}`
      if (h.reservedPages !== e.reserved)
        return `host ${h.id}: reserved ${h.reservedPages} pages, migrations say ${e.reserved}`
      if (h.placementPages !== e.placement)
        return `host ${h.id}: placement ${h.placementPages} pages, VMs say ${e.placement}`
      return undefined
    })
  }
}

/** A Running or Paused VM is resident on exactly one existing host, with a domain there. */
export const runningVmResidentOnExactlyOneHost: Invariant = {
  name: "runningVmResidentOnExactlyOneHost",
  check: (state) =>
    firstOf(vms(state), (vm) => {
      if (vm.powerState !== "Running" && vm.powerState !== "Paused") return undefined
      if (!vm.residentOn) return `VM ${vm.id} is ${vm.powerState} but resident nowhere`
      const host = getHost(state, vm.residentOn)
      if (!host) return `VM ${vm.id} is resident on unknown host ${vm.residentOn}`
      if (vm.domid < 1 || vm.domid >= host.nextDomid) return `VM ${vm.id} has domid ${vm.domid} on ${host.id}`
      return undefined
    })
}

/** A Halted or Suspended VM is resident nowhere, scheduled nowhere, and has no domid (XAPI's force_state_reset). */
export const haltedVmResidentNowhere: Invariant = {
  name: "haltedVmResidentNowhere",
  check: (state) =>
    firstOf(vms(state), (vm) =>
      (vm.powerState === "Halted" || vm.powerState === "Suspended") &&
      (vm.residentOn !== undefined || vm.scheduledToBeResidentOn !== undefined || vm.domid !== -1)
        ? `VM ${vm.id} is ${vm.powerState} but resident_on=${vm.residentOn} scheduled=${vm.scheduledToBeResidentOn} domid=${vm.domid}`
        : undefined
    )
}

/** static_min <= dynamic_min <= target <= dynamic_max <= static_max for every VM. */
export const memoryConstraintsHold: Invariant = {
  name: "memoryConstraintsHold",
  check: (state) =>
    firstOf(vms(state), (vm) => {
      const violation = memoryConstraintViolation(vm.memory)
      return violation ? `VM ${vm.id}: ${violation}` : undefined
    })
}

/** A VM has at most one operation in progress, and it is the migration that names it. */
export const atMostOneOperationInProgress: Invariant = {
  name: "atMostOneOperationInProgress",
  check: (state) => {
    const seen = new Set<string>()
    const twice = firstOf(migrations(state), (m) => {
      if (seen.has(m.vm)) return `VM ${m.vm} is in two migrations`
      seen.add(m.vm)
      return undefined
    })
    return (
      twice ??
      firstOf(vms(state), (vm) => {
        if ((vm.currentOperation === undefined) !== (vm.migration === undefined)) {
          return `VM ${vm.id}: operation ${vm.currentOperation} vs migration ${vm.migration}`
        }
        if (vm.migration && getMigration(state, vm.migration)?.vm !== vm.id) {
          return `VM ${vm.id} names migration ${vm.migration}, which is not its own`
        }
        return undefined
      })
    )
  }
}

/** A migrating VM runs on the source and is scheduled on the destination, so it counts on both hosts. */
export const migratingVmCountedOnBothHosts: Invariant = {
  name: "migratingVmCountedOnBothHosts",
  check: (state) =>
    firstOf(migrations(state), (m) => {
      const vm = getVm(state, m.vm)
      if (!vm) return `migration ${m.id} moves unknown VM ${m.vm}`
      if (!getHost(state, m.source) || !getHost(state, m.destination)) {
        return `migration ${m.id}: ${m.source} → ${m.destination} names a host that is not in the pool`
      }
      if (vm.residentOn !== m.source || vm.scheduledToBeResidentOn !== m.destination) {
        return `migration ${m.id}: VM ${vm.id} resident_on=${vm.residentOn} scheduled=${vm.scheduledToBeResidentOn}, expected ${m.source} → ${m.destination}`
      }
      if (vm.currentOperation !== "pool_migrate")
        return `migration ${m.id}: VM ${vm.id} operation ${vm.currentOperation}`
      return undefined
    })
}

/** No two domains on one host share a domid. */
export const domidsUniquePerHost: Invariant = {
  name: "domidsUniquePerHost",
  check: (state) => {
    const used = new Set<string>()
    return firstOf(vms(state), (vm) => {
      if (!vm.residentOn) return undefined
      const key = `${vm.residentOn}/${vm.domid}`
      if (used.has(key)) return `domid ${vm.domid} used twice on host ${vm.residentOn}`
      used.add(key)
      return undefined
    })
  }
}

/**
 * Every VM's pages add up (domain/paging.ts, XEN.md §5): populated (resident, `tot_pages`) + paged out
 * (`paged_pages`) = the guest's pages, neither negative; a VM without a domain has no pager, nothing paged
 * out and its target populated; a paging target is within static max.
 */
export const vmPagesAccounted: Invariant = {
  name: "vmPagesAccounted",
  check: (state) =>
    firstOf(vms(state), (vm) => {
      if (vm.populatedPages < 0 || vm.pagedOutPages < 0)
        return `VM ${vm.id}: populated ${vm.populatedPages}, paged out ${vm.pagedOutPages} pages`
      if (vm.populatedPages + vm.pagedOutPages !== vm.guestPages)
        return `VM ${vm.id}: populated ${vm.populatedPages} + paged out ${vm.pagedOutPages} ≠ guest ${vm.guestPages} pages`
      if (vm.pagingTargetPages !== undefined && vm.pagingTargetPages > vm.memory.staticMaxPages)
        return `VM ${vm.id}: paging target ${vm.pagingTargetPages} > static max ${vm.memory.staticMaxPages} pages`
      if (vm.residentOn === undefined) {
        if (vm.pagedOutPages !== 0 || vm.pagingTargetPages !== undefined || vm.guestPages !== vm.memory.targetPages)
          return `VM ${vm.id} has no domain but guest ${vm.guestPages} (target ${vm.memory.targetPages}), paged out ${vm.pagedOutPages}, paging target ${vm.pagingTargetPages}`
      }
      return undefined
    })
}

/** The balloon keeps the guest within its dynamic range: dynamic_min ≤ guest pages ≤ dynamic_max (XEN.md §5). */
export const ballooningWithinLimits: Invariant = {
  name: "ballooningWithinLimits",
  check: (state) =>
    firstOf(vms(state), (vm) =>
      vm.guestPages < vm.memory.dynamicMinPages || vm.guestPages > vm.memory.dynamicMaxPages
        ? `VM ${vm.id}: guest ${vm.guestPages} pages outside [${vm.memory.dynamicMinPages}, ${vm.memory.dynamicMaxPages}]`
        : undefined
    )
}

export const invariants: ReadonlyArray<Invariant> = [
  hostMemoryNotOvercommitted,
  hostAccountingMatchesVms,
  runningVmResidentOnExactlyOneHost,
  haltedVmResidentNowhere,
  memoryConstraintsHold,
  atMostOneOperationInProgress,
  migratingVmCountedOnBothHosts,
  domidsUniquePerHost,
  vmPagesAccounted,
  ballooningWithinLimits
]

export interface InvariantViolation {
  readonly invariant: string
  readonly detail: string
}

export const checkInvariants = (state: PoolState): ReadonlyArray<InvariantViolation> =>
  invariants.flatMap((inv) => {
    const detail = inv.check(state)
    return detail === undefined ? [] : [{ invariant: inv.name, detail }]
  })
