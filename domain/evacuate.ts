/**
 * XAPI's evacuation plan (ocaml/xapi/xapi_host.ml `evacuate`, approximate bin packing): the host's
 * resident VMs, largest placement footprint first (ties by id), each onto the live, enabled host other
 * than the evacuated one with the most placement-free memory left after the VMs already planned
 * (worst-fit decreasing, which spreads the load), among those with the physical room for it (the first
 * in id order on ties). A VM that fits nowhere fails the whole plan with `NoHostsAvailable`, before
 * anything moves.
 *
 * The hosts are kept ordered by their room (domain/roomIndex.ts), so a plan of n VMs onto h hosts costs
 * O(n log n + n log h), not the O(n × h) of a scan of every host per VM.
 */
import { Either } from "effect"
import { HostUnknown, NoHostsAvailable } from "./errors.js"
import type { HostId, VmId } from "./ids.js"
import { hostPhysicalFreePages, hostPlacementFreePages, vmPhysicalPages, vmPlacementPages } from "./memory.js"
import { NO_HOST, RoomIndex } from "./roomIndex.js"
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
  const targets = hostList(state).filter((h) => h.id !== host && h.live && h.enabled)
  const room = new RoomIndex(targets.map(hostPlacementFreePages), targets.map(hostPhysicalFreePages))
  const movable = vmsResidentOn(state, host)
    .filter((vm) => vm.migration === undefined)
    .sort((a, b) => vmPlacementPages(b) - vmPlacementPages(a) || (a.id < b.id ? -1 : 1))
  const plan: PlannedMove[] = []
  for (const vm of movable) {
    const placement = vmPlacementPages(vm)
    const physical = vmPhysicalPages(vm)
    const best = room.bestFit(placement, physical)
    if (best === NO_HOST) {
      const reason =
        targets.length === 0
          ? `no other live, enabled host to evacuate ${host} to`
          : `needs ${placement} pages; the most any other host has left is ${room.placementFreeOf(room.bestOverall())}`
      return Either.left(new NoHostsAvailable({ vm: vm.id, reason }))
    }
    room.take(best, placement, physical)
    plan.push({ vm: vm.id, destination: targets[best]!.id })
  }
  return Either.right(plan)
}
