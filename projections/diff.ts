/**
 * `diff(pool, from, to)`: what changed between two points of a pool's history, state against state
 * (each point is a `stateAt` answer, so a diff costs two time-travel queries):
 * - VMs that moved (resident on another host), started (a domain where there was none), stopped (no
 *   domain where there was one), were created or destroyed, or changed power state;
 * - hosts whose state (enabled, live) or memory (free, placement free, reserved) or resident VMs changed.
 *
 * A diff compares two states, not the path between them: a VM that left a host and came back by `to`
 * has not moved. `vmHistory` shows the path.
 */
import { Effect } from "effect"
import type { PowerState } from "../domain/events.js"
import type { HostId, PoolId, VmId } from "../domain/ids.js"
import { getVm, vmList, type PoolState, type Vm } from "../domain/state.js"
import { hostSummaries, type HostSummary } from "./summary.js"
import { stateAt, type StateAt, type TimeTravelTarget } from "./timeTravel.js"

export interface VmMove {
  readonly vm: VmId
  readonly from: HostId
  readonly to: HostId
}

export interface VmStart {
  readonly vm: VmId
  readonly host: HostId
  readonly powerState: PowerState
}

export interface VmStop {
  readonly vm: VmId
  /** Where it ran at `from`. */
  readonly host: HostId
  /** Its power state at `to`; undefined if it was destroyed. */
  readonly powerState: PowerState | undefined
}

export interface VmPowerChange {
  readonly vm: VmId
  readonly from: PowerState
  readonly to: PowerState
}

type HostField = "enabled" | "live" | "memoryFreePages" | "memoryPlacementFreePages" | "memoryReservedPages" | "vms"

export interface HostChange {
  readonly host: HostId
  /** Undefined when the host had not joined yet at `from`. */
  readonly before: HostSummary | undefined
  readonly after: HostSummary | undefined
  /** What differs; every field for a host that joined in between. */
  readonly changed: ReadonlyArray<HostField>
  readonly vmsArrived: ReadonlyArray<VmId>
  readonly vmsLeft: ReadonlyArray<VmId>
}

export interface StateDiff {
  readonly vmsMoved: ReadonlyArray<VmMove>
  readonly vmsStarted: ReadonlyArray<VmStart>
  readonly vmsStopped: ReadonlyArray<VmStop>
  readonly vmsCreated: ReadonlyArray<VmId>
  readonly vmsDestroyed: ReadonlyArray<VmId>
  /** Every VM in both states whose power state differs (those started or stopped included). */
  readonly vmsPowerChanged: ReadonlyArray<VmPowerChange>
  readonly hostsChanged: ReadonlyArray<HostChange>
}

export interface PoolDiff extends StateDiff {
  readonly pool: PoolId
  /** The pool `to` is read from: `pool` itself, or another (a branch of it, say) to compare against. */
  readonly against: PoolId
  readonly from: StateAt
  readonly to: StateAt
}

/** A VM has a domain (Running or Paused) on a host. */
const hostRunning = (vm: Vm | undefined): HostId | undefined =>
  vm !== undefined && (vm.powerState === "Running" || vm.powerState === "Paused") ? vm.residentOn : undefined

const vmChanges = (before: PoolState, after: PoolState) => {
  const moved: VmMove[] = []
  const started: VmStart[] = []
  const stopped: VmStop[] = []
  const created: VmId[] = []
  const destroyed: VmId[] = []
  const powerChanged: VmPowerChange[] = []
  const ids = new Set<VmId>([...vmList(before).map((v) => v.id), ...vmList(after).map((v) => v.id)])
  for (const id of [...ids].sort()) {
    const was = getVm(before, id)
    const now = getVm(after, id)
    if (was === undefined) created.push(id)
    if (now === undefined) destroyed.push(id)
    if (was !== undefined && now !== undefined && was.powerState !== now.powerState)
      powerChanged.push({ vm: id, from: was.powerState, to: now.powerState })
    const wasOn = hostRunning(was)
    const nowOn = hostRunning(now)
    if (wasOn !== undefined && nowOn !== undefined && wasOn !== nowOn) moved.push({ vm: id, from: wasOn, to: nowOn })
    if (wasOn === undefined && nowOn !== undefined) started.push({ vm: id, host: nowOn, powerState: now!.powerState })
    if (wasOn !== undefined && nowOn === undefined) stopped.push({ vm: id, host: wasOn, powerState: now?.powerState })
  }
  return { moved, started, stopped, created, destroyed, powerChanged }
}

const hostFields: ReadonlyArray<Exclude<HostField, "vms">> = [
  "enabled",
  "live",
  "memoryFreePages",
  "memoryPlacementFreePages",
  "memoryReservedPages"
]

const hostChange = (id: HostId, before: HostSummary | undefined, after: HostSummary | undefined): HostChange => {
  const was = new Set(before?.vms ?? [])
  const now = new Set(after?.vms ?? [])
  const vmsArrived = [...now].filter((vm) => !was.has(vm)) as VmId[]
  const vmsLeft = [...was].filter((vm) => !now.has(vm)) as VmId[]
  const changed: HostField[] = hostFields.filter(
    (f) => before === undefined || after === undefined || before[f] !== after[f]
  )
  if (vmsArrived.length > 0 || vmsLeft.length > 0) changed.push("vms")
  return { host: id, before, after, changed, vmsArrived, vmsLeft }
}

const hostChanges = (before: PoolState, after: PoolState): ReadonlyArray<HostChange> => {
  const was = new Map(hostSummaries(before).map((h) => [h.id as HostId, h]))
  const now = new Map(hostSummaries(after).map((h) => [h.id as HostId, h]))
  const ids = [...new Set([...was.keys(), ...now.keys()])].sort()
  return ids.map((id) => hostChange(id, was.get(id), now.get(id))).filter((c) => c.changed.length > 0)
}

/** What changed from one state to another. Pure. */
export const diffStates = (before: PoolState, after: PoolState): StateDiff => {
  const vms = vmChanges(before, after)
  return {
    vmsMoved: vms.moved,
    vmsStarted: vms.started,
    vmsStopped: vms.stopped,
    vmsCreated: vms.created,
    vmsDestroyed: vms.destroyed,
    vmsPowerChanged: vms.powerChanged,
    hostsChanged: hostChanges(before, after)
  }
}

/**
 * What changed in the pool between two points of its history (each a revision or a time); with
 * `against`, from `pool` at `from` to pool `against` at `to` (two pools compared: a branch against its
 * parent, two runs of one scenario).
 */
export const diff = (pool: PoolId, from: TimeTravelTarget, to: TimeTravelTarget, against: PoolId = pool) =>
  Effect.gen(function* () {
    const before = yield* stateAt(pool, from)
    // The first query caught the snapshots up; on the same pool the second has nothing to catch up.
    const after = yield* stateAt(against, to, { catchUp: against !== pool })
    return { pool, against, from: before, to: after, ...diffStates(before.state, after.state) } satisfies PoolDiff
  })
