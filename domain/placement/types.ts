/**
 * The placement extension point: where a VM goes when nobody names a host (`vm-start`, `vm-resume`
 * without `--on`) and where an evacuation sends each of a host's VMs.
 */
import type { Either } from "effect"
import type { HostUnknown, NoHostsAvailable } from "../errors.js"
import type { HostId, VmId } from "../ids.js"
import type { AdmissionRule } from "../memory.js"
import type { Host, PoolRead, Vm } from "../state.js"

export interface PlannedMove {
  readonly vm: VmId
  readonly destination: HostId
}

export type EvacuationPlan = Either.Either<ReadonlyArray<PlannedMove>, NoHostsAvailable | HostUnknown>

/**
 * A placement, as a user writes one (the built-in `xapi-default` is written the same way,
 * domain/placement/xapiDefault.ts).
 *
 * `choose` sees only hosts that can take the VM now (live, enabled, XAPI's memory rule and the physical
 * room: `decide`'s own checks run first and are not the placement's to relax), in host-id order, never
 * none. It returns one of them, or undefined to refuse them all (the start fails with
 * `NO_HOSTS_AVAILABLE`, naming the placement). An evacuation asks it once per VM, largest placement
 * footprint first, with each candidate's memory figures lowered by the VMs already planned onto it.
 */
export interface Placement {
  /** The name a scenario's `placement` gives. */
  readonly name: string
  /** One line for `--help` and the docs. */
  readonly summary: string
  readonly choose: (candidates: ReadonlyArray<Host>, vm: Vm, pool: PoolRead) => Host | undefined
  /**
   * A faster `choose` than over a list of every host that can take the VM, which must give exactly the
   * host `choose` gives among them (`rule`: which admission made them candidates), or undefined when
   * none can take it or `choose` would refuse them all (the built-in's is tested against its `choose`).
   * Absent, every host is checked and `choose` asked.
   */
  readonly chooseInPool?: (pool: PoolRead, vm: Vm, rule: AdmissionRule) => Host | undefined
  /**
   * A faster evacuation plan than one `choose` per VM, which must give exactly the plan those choices
   * give (the built-in's is tested against them); absent, the plan is made of `choose` calls.
   */
  readonly planEvacuation?: (pool: PoolRead, host: HostId) => EvacuationPlan
}
