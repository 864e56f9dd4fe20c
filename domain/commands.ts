/**
 * Commands: what a scenario, a trace, the engine or a property asks of the pool. Each carries its own
 * `atUs` (time comes in with the command, never from a clock) and the ids it needs drawn by the caller.
 */
import type { HaRestartPriorityText, MigrationPhaseName } from "./events.js"
import type { HostId, MigrationId, PoolId, VmId } from "./ids.js"

interface At {
  readonly atUs: number
}

export interface CreatePool extends At {
  readonly _tag: "CreatePool"
  readonly pool: PoolId
  readonly pageSizeBytes: number
  readonly linkLatencyUs: number
}
export interface JoinHost extends At {
  readonly _tag: "JoinHost"
  readonly host: HostId
  readonly memoryTotalPages: number
  readonly memoryOverheadPages: number
  readonly nicBandwidthBytesPerS: number
  readonly cpus: number
}
export interface HostCommand extends At {
  readonly _tag: "EnableHost" | "DisableHost" | "FailHost" | "RecoverHost"
  readonly host: HostId
}
export interface CreateVm extends At {
  readonly _tag: "CreateVm"
  readonly vm: VmId
  readonly vcpus: number
  readonly memoryStaticMinPages: number
  readonly memoryDynamicMinPages: number
  readonly memoryTargetPages: number
  readonly memoryDynamicMaxPages: number
  readonly memoryStaticMaxPages: number
  /** Default: XAPI's formula, `defaultVmOverheadPages`. */
  readonly memoryOverheadPages?: number
  readonly blockedOperations?: ReadonlyArray<string>
}
export interface StartVm extends At {
  readonly _tag: "StartVm"
  readonly vm: VmId
  /** `start_on` a named host; without it the pool places the VM. */
  readonly host?: HostId
  readonly paused?: boolean
}
export interface VmCommand extends At {
  readonly _tag: "PauseVm" | "UnpauseVm" | "SuspendVm" | "DestroyVm"
  readonly vm: VmId
}
export interface ResumeVm extends At {
  readonly _tag: "ResumeVm"
  readonly vm: VmId
  readonly host?: HostId
}
export interface ShutdownVm extends At {
  readonly _tag: "ShutdownVm"
  readonly vm: VmId
  readonly mode: "clean" | "hard"
}
export interface SetMemoryTarget extends At {
  readonly _tag: "SetMemoryTarget"
  readonly vm: VmId
  readonly targetPages: number
}
export interface StartMigration extends At {
  readonly _tag: "StartMigration"
  readonly migration: MigrationId
  readonly vm: VmId
  readonly destination: HostId
  readonly policy: string
}
export interface CompleteMigrationRound extends At {
  readonly _tag: "CompleteMigrationRound"
  readonly migration: MigrationId
  readonly round: number
  readonly live: boolean
  readonly pagesSent: number
  readonly pagesSkipped: number
  /** Pages sent as zero-page markers; default 0. */
  readonly zeroPages?: number
  /** vCPU and device-model state sent after the last pages; default 0. */
  readonly stateBytes?: number
  readonly bytesSent: number
  readonly pagesDirtied: number
  readonly durationUs: number
}
/** A timed part of the migration ended: setup, suspend or restore (engine/migration/phases.ts). */
export interface CompleteMigrationPhase extends At {
  readonly _tag: "CompleteMigrationPhase"
  readonly migration: MigrationId
  readonly phase: MigrationPhaseName
  readonly durationUs: number
}
/** The round in flight stopped, with what it sent so far: the migration is about to abort. */
export interface InterruptMigrationRound extends At {
  readonly _tag: "InterruptMigrationRound"
  readonly migration: MigrationId
  readonly round: number
  readonly live: boolean
  readonly pagesSent: number
  readonly pagesSkipped: number
  readonly zeroPages?: number
  readonly stateBytes?: number
  readonly bytesSent: number
  readonly durationUs: number
}
export interface BeginStopAndCopy extends At {
  readonly _tag: "BeginStopAndCopy"
  readonly migration: MigrationId
  readonly reason: string
}
/** The receiver reported success: the destination runs the VM, the source domain is destroyed. */
export interface CommitMigration extends At {
  readonly _tag: "CommitMigration"
  readonly migration: MigrationId
}
export interface AbortMigration extends At {
  readonly _tag: "AbortMigration"
  readonly migration: MigrationId
  readonly reason: string
}

/** Attaches xenpaging (if need be) and sets its target for the VM's resident pages. */
export interface SetPagingTarget extends At {
  readonly _tag: "SetPagingTarget"
  readonly vm: VmId
  readonly targetPages: number
}
/** The pager evicted `pages` nominated pages (the engine's per-step aggregate). */
export interface PageOut extends At {
  readonly _tag: "PageOut"
  readonly vm: VmId
  readonly pages: number
}
/** `pages` paged-out pages came back, each into a new frame. */
export interface PageIn extends At {
  readonly _tag: "PageIn"
  readonly vm: VmId
  readonly pages: number
}
/** `faults` guest accesses to paging-state pages were served; their vCPUs waited `vcpuWaitUs` in all. */
export interface ServePageFaults extends At {
  readonly _tag: "ServePageFaults"
  readonly vm: VmId
  readonly faults: number
  readonly vcpuWaitUs: number
}
/** One balloon step down (see VmBalloonInflated). */
export interface InflateBalloon extends At {
  readonly _tag: "InflateBalloon"
  readonly vm: VmId
  readonly releasedPages: number
  readonly droppedPages: number
}
/** One balloon step up. */
export interface DeflateBalloon extends At {
  readonly _tag: "DeflateBalloon"
  readonly vm: VmId
  readonly pages: number
}

/** `pool.enable_ha` with `ha-host-failures-to-tolerate`. */
export interface EnableHa extends At {
  readonly _tag: "EnableHa"
  readonly hostFailuresToTolerate: number
}
export interface DisableHa extends At {
  readonly _tag: "DisableHa"
}
/** `pool.set_ha_host_failures_to_tolerate`. */
export interface SetHaFailuresToTolerate extends At {
  readonly _tag: "SetHaFailuresToTolerate"
  readonly hostFailuresToTolerate: number
}
/** `VM.set_ha_restart_priority`, `VM.set_order`, `VM.set_ha_always_run` at once. */
export interface SetVmHa extends At {
  readonly _tag: "SetVmHa"
  readonly vm: VmId
  readonly restartPriority: HaRestartPriorityText
  readonly order: number
  readonly alwaysRun: boolean
}
/** HA's restart of a VM failed; `retryAtUs` when it is tried again (engine/ha.ts). */
export interface RecordHaRestartFailure extends At {
  readonly _tag: "RecordHaRestartFailure"
  readonly vm: VmId
  readonly reason: string
  readonly retryAtUs?: number
}

export type PoolCommand =
  | CreatePool
  | JoinHost
  | HostCommand
  | CreateVm
  | StartVm
  | VmCommand
  | ResumeVm
  | ShutdownVm
  | SetMemoryTarget
  | StartMigration
  | CompleteMigrationRound
  | CompleteMigrationPhase
  | InterruptMigrationRound
  | BeginStopAndCopy
  | CommitMigration
  | AbortMigration
  | SetPagingTarget
  | PageOut
  | PageIn
  | ServePageFaults
  | InflateBalloon
  | DeflateBalloon
  | EnableHa
  | DisableHa
  | SetHaFailuresToTolerate
  | SetVmHa
  | RecordHaRestartFailure
