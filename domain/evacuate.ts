/**
 * XAPI's evacuation plan (ocaml/xapi/xapi_host.ml `evacuate`, approximate bin packing): the host's
 * resident VMs, largest placement footprint first (ties by id), each onto the live, enabled host other
 * than the evacuated one with the most placement-free memory left after the VMs already planned
 * (worst-fit decreasing, which spreads the load). A VM that fits nowhere fails the whole plan with
 * `NoHostsAvailable`, before anything moves.
 */
import { Either } from "effect"
import { HostUnknown, NoHostsAvailable } from "./errors.js"
import type { HostId, VmId } from "./ids.js"
import { hostPhysicalFreePages, hostPlacementFreePages, vmPhysicalPages, vmPlacementPages } from "./memory.js"
import { getHost, hostList, vmsResidentOn, type PoolRead } from "./state.js"

export interface PlannedMove {
  readonly vm: VmId
  readonly destination: HostId
}

export const planEvacuation = (
  state: PoolRead,
  host: HostId
): Either.Either<ReadonlyArray<PlannedMove>, NoHostsAvailable | HostUnknown> => {
  if (!getHost(state, host)) return Either.left(new HostUnknown({ host }))
  const targets = hostList(state)
    .filter((h) => h.id !== host && h.live && h.enabled)
    .map((h) => ({ id: h.id, placementFree: hostPlacementFreePages(h), physicalFree: hostPhysicalFreePages(h) }))
  const movable = vmsResidentOn(state, host)
    .filter((vm) => vm.migration === undefined)
    .sort((a, b) => vmPlacementPages(b) - vmPlacementPages(a) || (a.id < b.id ? -1 : 1))
  const plan: PlannedMove[] = []
  for (const vm of movable) {
    let best: (typeof targets)[number] | undefined
    for (const t of targets) {
      if (t.placementFree < vmPlacementPages(vm) || t.physicalFree < vmPhysicalPages(vm)) continue
      if (!best || t.placementFree > best.placementFree) best = t
    }
    if (!best) {
      const reason =
        targets.length === 0
          ? `no other live, enabled host to evacuate ${host} to`
          : `needs ${vmPlacementPages(vm)} pages; the most any other host has left is ${Math.max(...targets.map((t) => t.placementFree))}`
      return Either.left(new NoHostsAvailable({ vm: vm.id, reason }))
    }
    best.placementFree -= vmPlacementPages(vm)
    best.physicalFree -= vmPhysicalPages(vm)
    plan.push({ vm: vm.id, destination: best.id })
  }
  return Either.right(plan)
}
