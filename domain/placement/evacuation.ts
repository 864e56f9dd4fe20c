/**
 * An evacuation plan made of a placement's choices (internal to domain/placement): the evacuated host's
 * VMs not already migrating, largest placement footprint first (ties by id), each placed by `choose`
 * among the other live, enabled hosts that can take it once the VMs planned before it are counted. A VM
 * no host takes fails the whole plan with `NoHostsAvailable`, before anything moves.
 */
import { Either } from "effect"
import { HostUnknown, NoHostsAvailable } from "../errors.js"
import type { HostId } from "../ids.js"
import { checkCanBootHere, hostPlacementFreePages, vmPhysicalPages, vmPlacementPages } from "../memory.js"
import { getHost, hostList, vmsResidentOn, type Host, type PoolRead, type Vm } from "../state.js"
import type { EvacuationPlan, Placement, PlannedMove } from "./types.js"

/** @internal The hosts an evacuation of `host` may use, in id order; HostUnknown when there is no such host. */
export const evacuationTargets = (pool: PoolRead, host: HostId): Either.Either<ReadonlyArray<Host>, HostUnknown> =>
  getHost(pool, host)
    ? Either.right(hostList(pool).filter((h) => h.id !== host && h.live && h.enabled))
    : Either.left(new HostUnknown({ host }))

/** @internal The VMs an evacuation of `host` moves, in the order they are placed. */
export const movableVms = (pool: PoolRead, host: HostId): ReadonlyArray<Vm> =>
  vmsResidentOn(pool, host)
    .filter((vm) => vm.migration === undefined)
    .sort((a, b) => vmPlacementPages(b) - vmPlacementPages(a) || (a.id < b.id ? -1 : 1))

/** @internal Why a VM of `host` found no target. */
export const noRoomReason = (host: HostId, targets: number, placementPages: number, mostFreePages: number): string =>
  targets === 0
    ? `no other live, enabled host to evacuate ${host} to`
    : `needs ${placementPages} pages; the most any other host has left is ${mostFreePages}`

/** @internal The plan `placement.choose` gives, one VM at a time. */
export const planByChoices = (pool: PoolRead, host: HostId, placement: Placement): EvacuationPlan => {
  const targets = evacuationTargets(pool, host)
  if (Either.isLeft(targets)) return Either.left(targets.left)
  // the targets as they will be once the moves planned so far have landed
  const after = targets.right.slice()
  const plan: PlannedMove[] = []
  for (const vm of movableVms(pool, host)) {
    const candidates = after.filter((h) => Either.isRight(checkCanBootHere(h, vm)))
    const chosen = candidates.length === 0 ? undefined : placement.choose(candidates, vm, pool)
    if (chosen === undefined) {
      const reason =
        candidates.length === 0
          ? noRoomReason(host, after.length, vmPlacementPages(vm), Math.max(0, ...after.map(hostPlacementFreePages)))
          : `placement ${placement.name} took none of ${candidates.map((h) => h.id).join(", ")}`
      return Either.left(new NoHostsAvailable({ vm: vm.id, reason }))
    }
    const target = assertCandidate(placement, candidates, chosen, vm)
    after[after.indexOf(target)] = {
      ...target,
      placementPages: target.placementPages + vmPlacementPages(vm),
      reservedPages: target.reservedPages + vmPhysicalPages(vm)
    }
    plan.push({ vm: vm.id, destination: target.id })
  }
  return Either.right(plan)
}

/**
 * @internal `chosen`, if it is one of the candidates; a placement that answers with any other host is a
 * defect of that placement, thrown with its name rather than obeyed.
 */
export const assertCandidate = (placement: Placement, candidates: ReadonlyArray<Host>, chosen: Host, vm: Vm): Host => {
  const offered = candidates.find((h) => h.id === chosen.id)
  if (offered === undefined)
    throw new Error(
      `placement ${placement.name} chose ${chosen.id} for ${vm.id}, which is not one of the hosts it was offered (${candidates.map((h) => h.id).join(", ")})`
    )
  return offered
}
