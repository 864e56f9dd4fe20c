/**
 * `xapi-default`: XAPI's placement without workload balancing, made deterministic. XAPI picks among the
 * hosts that pass `assert_can_boot_here`; this takes the one with the most placement-free memory, ties
 * to the lowest host id, so that logs stay byte-identical without spending PRNG draws
 * (docs/decisions.md, "Placement without a named host").
 *
 * Its evacuation is XAPI's plan (ocaml/xapi/xapi_host.ml `evacuate`, approximate bin packing): the
 * host's VMs, largest placement footprint first, each onto the target with the most placement-free
 * memory left after the VMs already planned (worst-fit decreasing, which spreads the load), among those
 * with the physical room for it. The targets are kept ordered by their room (domain/roomIndex.ts), so a
 * plan of n VMs onto h hosts costs O(n log n + n log h) instead of a scan of every host per VM; it is
 * the plan `choose` alone would give (test/reliability/scale.test.ts and the `evacuation-plan` property).
 *
 * Its choice for one VM is the pool's `roomiestHost`, which the engine's live pool answers from its hosts
 * kept ordered by room (domain/tables.ts), in O(log hosts) instead of a check of every host per VM.
 */
import { Either } from "effect"
import { NoHostsAvailable } from "../errors.js"
import type { HostId } from "../ids.js"
import {
  hostPhysicalFreePages,
  hostPlacementFreePages,
  vmPhysicalPages,
  vmPlacementPages,
  vmRoomNeeded
} from "../memory.js"
import { NO_HOST, RoomIndex } from "../roomIndex.js"
import { roomiestHost, type Host, type PoolRead } from "../state.js"
import { evacuationTargets, movableVms, noRoomReason } from "./evacuation.js"
import type { EvacuationPlan, Placement, PlannedMove } from "./types.js"

/** The candidate with the most placement-free memory, the first on ties. */
const mostPlacementFree = (candidates: ReadonlyArray<Host>): Host | undefined => {
  let best: Host | undefined
  for (const host of candidates) if (!best || hostPlacementFreePages(host) > hostPlacementFreePages(best)) best = host
  return best
}

const worstFitDecreasing = (pool: PoolRead, host: HostId): EvacuationPlan => {
  const targets = evacuationTargets(pool, host)
  if (Either.isLeft(targets)) return Either.left(targets.left)
  const hosts = targets.right
  const room = new RoomIndex(hosts.map(hostPlacementFreePages), hosts.map(hostPhysicalFreePages))
  const plan: PlannedMove[] = []
  for (const vm of movableVms(pool, host)) {
    const placement = vmPlacementPages(vm)
    const physical = vmPhysicalPages(vm)
    const best = room.bestFit(placement, physical)
    if (best === NO_HOST) {
      const most = hosts.length === 0 ? 0 : room.placementFreeOf(room.bestOverall())
      return Either.left(new NoHostsAvailable({ vm: vm.id, reason: noRoomReason(host, hosts.length, placement, most) }))
    }
    room.take(best, placement, physical)
    plan.push({ vm: vm.id, destination: hosts[best]!.id })
  }
  return Either.right(plan)
}

export const xapiDefault: Placement = {
  name: "xapi-default",
  summary: "XAPI's choice without WLB, deterministic: the host with the most placement-free memory (lowest id on ties)",
  choose: mostPlacementFree,
  chooseInPool: (pool, vm, rule) => roomiestHost(pool, vmRoomNeeded(vm, rule)),
  planEvacuation: worstFitDecreasing
}
