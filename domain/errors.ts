/**
 * Domain errors, named like XAPI's (ocaml/xapi-consts/api_errors.ml), subject first, with evidence.
 * `decide` returns them in `Either.left`; nothing in the domain throws for a refused command.
 */
import { Schema } from "effect"
import { PowerState } from "./events.js"

const S = Schema.String
const N = Schema.Number

export class PoolNotCreated extends Schema.TaggedError<PoolNotCreated>()("PoolNotCreated", {}) {
  override get message() {
    return "the pool has not been created yet"
  }
}
export class PoolAlreadyCreated extends Schema.TaggedError<PoolAlreadyCreated>()("PoolAlreadyCreated", { pool: S }) {
  override get message() {
    return `pool ${this.pool} already exists`
  }
}
export class HostUnknown extends Schema.TaggedError<HostUnknown>()("HostUnknown", { host: S }) {
  override get message() {
    return `host ${this.host} is not in the pool`
  }
}
export class HostAlreadyExists extends Schema.TaggedError<HostAlreadyExists>()("HostAlreadyExists", { host: S }) {
  override get message() {
    return `host ${this.host} has already joined the pool`
  }
}
export class VmUnknown extends Schema.TaggedError<VmUnknown>()("VmUnknown", { vm: S }) {
  override get message() {
    return `VM ${this.vm} is not in the pool`
  }
}
export class VmAlreadyExists extends Schema.TaggedError<VmAlreadyExists>()("VmAlreadyExists", { vm: S }) {
  override get message() {
    return `VM ${this.vm} already exists`
  }
}
/** OPERATION_BLOCKED */
export class OperationBlocked extends Schema.TaggedError<OperationBlocked>()("OperationBlocked", {
  vm: S,
  operation: S
}) {
  override get message() {
    return `VM ${this.vm}: operation ${this.operation} is blocked`
  }
}
/** VM_BAD_POWER_STATE [vm; expected; actual] */
export class VmBadPowerState extends Schema.TaggedError<VmBadPowerState>()("VmBadPowerState", {
  vm: S,
  operation: S,
  expected: Schema.Array(PowerState),
  actual: PowerState
}) {
  override get message() {
    return `VM ${this.vm}: ${this.operation} needs power state ${this.expected.join(" or ")}, VM is ${this.actual}`
  }
}
/** OTHER_OPERATION_IN_PROGRESS ["VM"; ref; op] */
export class OtherOperationInProgress extends Schema.TaggedError<OtherOperationInProgress>()(
  "OtherOperationInProgress",
  { vm: S, operation: S, inProgress: S }
) {
  override get message() {
    return `VM ${this.vm}: cannot ${this.operation} while ${this.inProgress} is in progress`
  }
}
/** HOST_NOT_ENOUGH_FREE_MEMORY [needed; available] */
export class HostNotEnoughFreeMemory extends Schema.TaggedError<HostNotEnoughFreeMemory>()("HostNotEnoughFreeMemory", {
  host: S,
  vm: S,
  requiredPages: N,
  availablePages: N
}) {
  override get message() {
    return `host ${this.host}: VM ${this.vm} needs ${this.requiredPages} pages, ${this.availablePages} free`
  }
}
/** HOST_DISABLED [host] */
export class HostDisabled extends Schema.TaggedError<HostDisabled>()("HostDisabled", { host: S }) {
  override get message() {
    return `host ${this.host} is disabled and takes no new VMs`
  }
}
/** HOST_NOT_LIVE */
export class HostNotLive extends Schema.TaggedError<HostNotLive>()("HostNotLive", { host: S }) {
  override get message() {
    return `host ${this.host} is not live`
  }
}
/** MEMORY_CONSTRAINT_VIOLATION: static_min <= dynamic_min <= target <= dynamic_max <= static_max */
export class MemoryConstraintViolation extends Schema.TaggedError<MemoryConstraintViolation>()(
  "MemoryConstraintViolation",
  { vm: S, constraint: S }
) {
  override get message() {
    return `VM ${this.vm}: memory constraint violated: ${this.constraint}`
  }
}
/** NO_HOSTS_AVAILABLE */
export class NoHostsAvailable extends Schema.TaggedError<NoHostsAvailable>()("NoHostsAvailable", {
  vm: S,
  reason: S
}) {
  override get message() {
    return `no host can take VM ${this.vm}: ${this.reason}`
  }
}
/** VM_MIGRATE_FAILED [vm; source; destination; msg] */
export class MigrationFailed extends Schema.TaggedError<MigrationFailed>()("MigrationFailed", {
  vm: S,
  source: S,
  destination: S,
  reason: S
}) {
  override get message() {
    return `migration of VM ${this.vm} from ${this.source} to ${this.destination} failed: ${this.reason}`
  }
}
export class MigrationUnknown extends Schema.TaggedError<MigrationUnknown>()("MigrationUnknown", { migration: S }) {
  override get message() {
    return `migration ${this.migration} is not in progress`
  }
}
/** A migration step that does not follow the phase order reserved → precopy → stop-and-copy → committing. */
export class MigrationBadPhase extends Schema.TaggedError<MigrationBadPhase>()("MigrationBadPhase", {
  migration: S,
  step: S,
  phase: S
}) {
  override get message() {
    return `migration ${this.migration}: ${this.step} is not allowed in phase ${this.phase}`
  }
}

/** A command whose numbers its events could not carry (events hold non-negative integers). */
export class CommandInvalid extends Schema.TaggedError<CommandInvalid>()("CommandInvalid", {
  command: S,
  field: S,
  value: N,
  expected: S
}) {
  override get message() {
    return `${this.command}: ${this.field} is ${this.value}, expected ${this.expected}`
  }
}

/** A pager or balloon step that does not fit the VM's pages (an engine bug, or a hand-written log). */
export class PagingStepInvalid extends Schema.TaggedError<PagingStepInvalid>()("PagingStepInvalid", {
  vm: S,
  step: S,
  reason: S
}) {
  override get message() {
    return `VM ${this.vm}: ${this.step} step refused: ${this.reason}`
  }
}

/** HA_OPERATION_WOULD_BREAK_FAILOVER_PLAN: a plan exists for `planExistsFor` failures now and would not after. */
export class HaOperationWouldBreakFailoverPlan extends Schema.TaggedError<HaOperationWouldBreakFailoverPlan>()(
  "HaOperationWouldBreakFailoverPlan",
  { operation: S, planExistsFor: N }
) {
  override get message() {
    return `${this.operation} would break the HA failover plan for ${this.planExistsFor} host failure(s)`
  }
}

/** HOST_EVACUATE_VM_NOT_HA_PROTECTED: with HA on, evacuate refuses an unprotected VM it cannot place. */
export class HostEvacuateVmNotHaProtected extends Schema.TaggedError<HostEvacuateVmNotHaProtected>()(
  "HostEvacuateVmNotHaProtected",
  { host: S, vm: S, reason: S }
) {
  override get message() {
    return `evacuating host ${this.host}: VM ${this.vm} is not HA-protected and cannot be placed: ${this.reason}`
  }
}

export type DomainError =
  | CommandInvalid
  | PoolNotCreated
  | PoolAlreadyCreated
  | HostUnknown
  | HostAlreadyExists
  | VmUnknown
  | VmAlreadyExists
  | OperationBlocked
  | VmBadPowerState
  | OtherOperationInProgress
  | HostNotEnoughFreeMemory
  | HostDisabled
  | HostNotLive
  | MemoryConstraintViolation
  | NoHostsAvailable
  | MigrationFailed
  | MigrationUnknown
  | MigrationBadPhase
  | PagingStepInvalid
  | HaOperationWouldBreakFailoverPlan
  | HostEvacuateVmNotHaProtected

/**
 * The error's name as XAPI's API returns it (ocaml/xapi-consts/api_errors.ml), for a command line that
 * fails the way `xe` does. A switch the compiler checks: a new error needs its name here.
 */
export const xapiErrorCode = (error: DomainError): string => {
  switch (error._tag) {
    case "CommandInvalid":
    case "PagingStepInvalid":
    case "MigrationBadPhase":
      return "INTERNAL_ERROR"
    case "PoolNotCreated":
    case "HostUnknown":
    case "VmUnknown":
    case "MigrationUnknown":
      return "UUID_INVALID"
    case "PoolAlreadyCreated":
    case "HostAlreadyExists":
    case "VmAlreadyExists":
      return "UUID_ALREADY_EXISTS"
    case "OperationBlocked":
      return "OPERATION_BLOCKED"
    case "VmBadPowerState":
      return "VM_BAD_POWER_STATE"
    case "OtherOperationInProgress":
      return "OTHER_OPERATION_IN_PROGRESS"
    case "HostNotEnoughFreeMemory":
      return "HOST_NOT_ENOUGH_FREE_MEMORY"
    case "HostDisabled":
      return "HOST_DISABLED"
    case "HostNotLive":
      return "HOST_NOT_LIVE"
    case "MemoryConstraintViolation":
      return "MEMORY_CONSTRAINT_VIOLATION"
    case "NoHostsAvailable":
      return "NO_HOSTS_AVAILABLE"
    case "MigrationFailed":
      return "VM_MIGRATE_FAILED"
    case "HaOperationWouldBreakFailoverPlan":
      return "HA_OPERATION_WOULD_BREAK_FAILOVER_PLAN"
    case "HostEvacuateVmNotHaProtected":
      return "HOST_EVACUATE_VM_NOT_HA_PROTECTED"
  }
}
