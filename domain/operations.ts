/**
 * XAPI's allowed-operations-by-power-state table (ocaml/xapi/xapi_vm_lifecycle.ml `allowed_power_states`)
 * and its concurrency rule (`is_allowed_concurrently`), defined once. `checkVmOperation` runs the
 * checks in XAPI's order — blocked, power state, operation in progress — and feeds `decide`, the
 * CLI's listing of allowed operations and the properties, so the three never disagree.
 */
import { Either } from "effect"
import type { PowerState } from "./events.js"
import { OperationBlocked, OtherOperationInProgress, VmBadPowerState } from "./errors.js"
import type { Vm } from "./state.js"

export const powerStates: ReadonlyArray<PowerState> = ["Halted", "Running", "Paused", "Suspended"]

/**
 * Each operation with the power states it is allowed in. `set_memory_target` is ours (XAPI's is
 * deprecated); so is `set_paging_target` (xenpaging is Xen's, XAPI knows nothing of it: it needs a domain).
 */
export const allowedPowerStates = {
  start: ["Halted"],
  start_on: ["Halted"],
  provision: ["Halted"],
  unpause: ["Paused"],
  resume: ["Suspended"],
  resume_on: ["Suspended"],
  pool_migrate: ["Running"],
  suspend: ["Running"],
  pause: ["Running"],
  clean_shutdown: ["Running"],
  clean_reboot: ["Running"],
  hard_reboot: ["Paused", "Running"],
  hard_shutdown: ["Paused", "Suspended", "Running"],
  checkpoint: ["Paused", "Suspended", "Running"],
  migrate_send: ["Halted", "Suspended", "Running"],
  destroy: ["Halted", "Suspended"],
  export: ["Halted", "Suspended"],
  snapshot: ["Halted", "Running", "Paused", "Suspended"],
  set_memory_target: ["Halted", "Running", "Paused", "Suspended"],
  set_paging_target: ["Running", "Paused"]
} as const satisfies Record<string, ReadonlyArray<PowerState>>

export type VmOperation = keyof typeof allowedPowerStates
export const vmOperations = Object.keys(allowedPowerStates) as ReadonlyArray<VmOperation>

/** Groups of operations that may overlap (`is_allowed_concurrently`). */
const concurrentGroups: ReadonlyArray<ReadonlyArray<VmOperation>> = [["export"], ["snapshot", "checkpoint"]]

/** May `operation` start while `inProgress` runs? pool_migrate runs alone; hard_shutdown may interrupt anything but itself. */
export const isAllowedConcurrently = (operation: VmOperation, inProgress: VmOperation): boolean => {
  if (operation === "hard_shutdown") return inProgress !== "hard_shutdown"
  if (operation === "hard_reboot") return inProgress !== "hard_shutdown" && inProgress !== "hard_reboot"
  return concurrentGroups.some((group) => group.includes(operation) && group.includes(inProgress))
}

export type OperationCheckError = OperationBlocked | VmBadPowerState | OtherOperationInProgress

/** The generic checks, in XAPI's order: 1. blocked, 2. power state, 3. another operation in progress. */
export const checkVmOperation = (vm: Vm, operation: VmOperation): Either.Either<void, OperationCheckError> => {
  if (vm.blockedOperations.includes(operation)) return Either.left(new OperationBlocked({ vm: vm.id, operation }))
  const expected: ReadonlyArray<PowerState> = allowedPowerStates[operation]
  if (!expected.includes(vm.powerState)) {
    return Either.left(new VmBadPowerState({ vm: vm.id, operation, expected: [...expected], actual: vm.powerState }))
  }
  if (vm.currentOperation !== undefined && !isAllowedConcurrently(operation, vm.currentOperation)) {
    return Either.left(new OtherOperationInProgress({ vm: vm.id, operation, inProgress: vm.currentOperation }))
  }
  return Either.void
}

/** The operations that pass the generic checks now (XAPI's `allowed_operations` field). */
export const allowedOperations = (vm: Vm): ReadonlyArray<VmOperation> =>
  vmOperations.filter((operation) => Either.isRight(checkVmOperation(vm, operation)))
