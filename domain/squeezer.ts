/**
 * XAPI's squeezer (squeezed, ocaml/squeezed/lib/squeeze.ml, DESIGN.md §2): when a start, resume or
 * migration passes the placement rule but the host's physical memory is short, the host's VMs are
 * ballooned down toward their dynamic_min to make room. This module is the plan, pure: which VMs can
 * balloon, how much the host could free at most, and the new targets. The engine sets them, waits for
 * the balloons and retries the operation (engine/memory.ts).
 *
 * squeezed's proportional policy (`Proportional.compute_target_adjustments`): the memory above every
 * VM's dynamic_min that is left over once the request is met (`surplus = maximum free − required`) is
 * shared in proportion to each VM's dynamic range, so every VM gets the same fraction of its range:
 * `target = dynamic_min + surplus × range / Σ range`, at most dynamic_max. We only ever lower a target
 * here (a squeeze never grows a VM; squeezed's 30 s rebalancing is not modelled).
 */
import { Either } from "effect"
import { HostNotEnoughFreeMemory } from "./errors.js"
import type { VmId } from "./ids.js"
import { hostPhysicalFreePages } from "./memory.js"
import { checkVmOperation } from "./operations.js"
import { vmsResidentOn, type Host, type PoolRead, type Vm } from "./state.js"

/** floor(a × b / d), exact for non-negative safe integers (the product may pass 2^53). */
const mulDivFloor = (a: number, b: number, d: number): number => {
  const product = a * b
  return product <= Number.MAX_SAFE_INTEGER ? Math.floor(product / d) : Number((BigInt(a) * BigInt(b)) / BigInt(d))
}

export interface SqueezeTarget {
  readonly vm: VmId
  readonly targetPages: number
}

/**
 * VMs whose balloon the squeezer may move: running on the host (a paused guest's driver does not run:
 * squeezed's `can_balloon`), not migrating, and whose target may be set now.
 */
const squeezableVms = (state: PoolRead, host: Host): ReadonlyArray<Vm> =>
  vmsResidentOn(state, host.id).filter(
    (vm) =>
      vm.powerState === "Running" &&
      vm.migration === undefined &&
      Either.isRight(checkVmOperation(vm, "set_memory_target"))
  )

/**
 * Frames a VM would give back by ballooning to dynamic_min (squeezed's `min_freeable`): the pages above
 * dynamic_min, no more than it has resident (a paged page the balloon drops frees no frame).
 */
const vmFreeablePages = (vm: Vm): number =>
  Math.max(0, Math.min(vm.populatedPages, vm.guestPages - vm.memory.dynamicMinPages))

/** Physical free memory on the host if every squeezable VM ballooned to its dynamic_min. */
const hostSqueezableFreePages = (state: PoolRead, host: Host): number =>
  squeezableVms(state, host).reduce((sum, vm) => sum + vmFreeablePages(vm), hostPhysicalFreePages(host))

/**
 * The targets that free `requiredPages` of physical memory on `host` for `vm` once the balloons reach
 * them, or HostNotEnoughFreeMemory (squeezed's `Cannot_free_this_much_memory`) when even every VM at
 * its dynamic_min would not free enough. Only targets that go down are listed, in VM id order.
 */
export const planSqueeze = (
  state: PoolRead,
  host: Host,
  vm: VmId,
  requiredPages: number
): Either.Either<ReadonlyArray<SqueezeTarget>, HostNotEnoughFreeMemory> => {
  const vms = squeezableVms(state, host)
  const maximumFreePages = hostSqueezableFreePages(state, host)
  if (maximumFreePages < requiredPages) {
    return Either.left(
      new HostNotEnoughFreeMemory({ host: host.id, vm, requiredPages, availablePages: maximumFreePages })
    )
  }
  const surplusPages = maximumFreePages - requiredPages
  const range = (v: Vm) => v.memory.dynamicMaxPages - v.memory.dynamicMinPages
  const totalRange = vms.reduce((sum, v) => sum + range(v), 0)
  const targets: SqueezeTarget[] = []
  for (const v of vms) {
    const share = totalRange === 0 ? 0 : Math.min(range(v), mulDivFloor(surplusPages, range(v), totalRange))
    const targetPages = Math.min(v.memory.targetPages, v.memory.dynamicMinPages + share)
    if (targetPages < v.memory.targetPages) targets.push({ vm: v.id, targetPages })
  }
  return Either.right(targets)
}
