/**
 * The placements: one list, from which the scenario check, `--help`-style listings and the docs derive.
 * The built-in `xapi-default` is a `Placement` in its own file, written as a user writes theirs; a run
 * may add its own (simulations/extensions.ts), looked up by name after the built-ins.
 */
import { Either } from "effect"
import { NoHostsAvailable, type DomainError } from "../errors.js"
import type { HostId } from "../ids.js"
import { admissionCheck, type AdmissionRule } from "../memory.js"
import { hostList, type Host, type PoolRead, type Vm } from "../state.js"
import { assertCandidate, planByChoices } from "./evacuation.js"
import type { EvacuationPlan, Placement } from "./types.js"
import { xapiDefault } from "./xapiDefault.js"

export type { EvacuationPlan, Placement, PlannedMove } from "./types.js"
export { xapiDefault } from "./xapiDefault.js"

/** The built-in placements, the default first. */
export const placements: ReadonlyArray<Placement> = [xapiDefault]

/** The default placement's name. */
export const DEFAULT_PLACEMENT = xapiDefault.name

/** The placement named `name`: a built-in, else one of `extra`; undefined when none is. */
export const findPlacement = (name: string, extra: ReadonlyArray<Placement> = []): Placement | undefined =>
  placements.find((p) => p.name === name) ?? extra.find((p) => p.name === name)

/** The names a run may use, built-ins first, for a message listing them. */
export const knownPlacementNames = (extra: ReadonlyArray<Placement> = []): ReadonlyArray<string> => [
  ...placements.map((p) => p.name),
  ...extra.map((p) => p.name)
]

/**
 * Where a VM without a named host goes: `placement`'s choice among the hosts that can take it. None →
 * NoHostsAvailable, with each host's reason. `rule` is decide's admission by default; the engine's
 * squeezer asks with the placement rule alone (memory.ts), to find the host it should make room on.
 * A placement's `chooseInPool` answers first when it has one; when it finds no host, the check of every
 * host below says why (and must agree that there is none).
 */
export const chooseHost = (
  state: PoolRead,
  vm: Vm,
  placement: Placement,
  rule: AdmissionRule = "boot"
): Either.Either<Host, NoHostsAvailable> => {
  const canTake = admissionCheck(rule)
  const fast = placement.chooseInPool?.(state, vm, rule)
  if (fast !== undefined) {
    if (Either.isLeft(canTake(fast, vm)))
      throw new Error(`placement ${placement.name} chose ${fast.id} for ${vm.id} in the pool, which cannot take it`)
    return Either.right(fast)
  }
  return chooseByCheckingEveryHost(state, vm, placement, canTake)
}

const chooseByCheckingEveryHost = (
  state: PoolRead,
  vm: Vm,
  placement: Placement,
  canTake: (host: Host, vm: Vm) => Either.Either<void, DomainError>
): Either.Either<Host, NoHostsAvailable> => {
  const candidates: Host[] = []
  const refusals: string[] = []
  for (const host of hostList(state)) {
    const check = canTake(host, vm)
    if (Either.isLeft(check)) refusals.push(`${host.id}: ${check.left.message}`)
    else candidates.push(host)
  }
  if (candidates.length === 0) {
    const reason = refusals.length === 0 ? "the pool has no hosts" : refusals.join("; ")
    return Either.left(new NoHostsAvailable({ vm: vm.id, reason }))
  }
  const chosen = placement.choose(candidates, vm, state)
  if (chosen === undefined)
    return Either.left(
      new NoHostsAvailable({
        vm: vm.id,
        reason: `placement ${placement.name} took none of ${candidates.map((h) => h.id).join(", ")}`
      })
    )
  if (placement.chooseInPool !== undefined)
    throw new Error(
      `placement ${placement.name} found no host for ${vm.id} in the pool, but its choose took ${chosen.id}`
    )
  return Either.right(assertCandidate(placement, candidates, chosen, vm))
}

/** The plan to empty `host`: the placement's own, else one `choose` per VM (domain/placement/evacuation.ts). */
export const planEvacuation = (state: PoolRead, host: HostId, placement: Placement): EvacuationPlan =>
  placement.planEvacuation ? placement.planEvacuation(state, host) : planByChoices(state, host, placement)

/** @internal For the property that the built-in's fast plan is the plan its choices give. */
export { planByChoices }
