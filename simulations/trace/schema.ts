/**
 * Trace format v1 (docs/trace-format.md): JSON Lines, a header line, then one record per line ordered
 * by `atUs`. Every record is an effect Schema tagged by `op`; the schemas are pure type checks (no
 * defaults, no transformations), so a decoded record is the parsed JSON value itself and the writer
 * prints records as they are. Quantities a person writes (memory, rates, durations) are strings with
 * units; counts the engine produced (pages sent, bytes, µs) are integers whose names carry the unit.
 */
import { Schema } from "effect"
import { HostId, IdString, MigrationId, VmId } from "../../domain/ids.js"
import { ACCESSES_PER_CALL_MAX } from "../../engine/memory.js"
import { HostSpec, PlacementName, PolicySpec, PoolHaSpec, Vcpus, VmSpec, Workload } from "../scenario.js"

export const TRACE_FORMAT = "xenpool-trace"
export const TRACE_VERSION = 1

const NonNegativeInt = Schema.Int.pipe(Schema.nonNegative())
const PositiveInt = Schema.Int.pipe(Schema.positive())
const Size = Schema.String.annotations({ description: "a size with a unit, e.g. 4GiB, 2048MiB, 1048576pages" })
const Rate = Schema.String.annotations({ description: "a rate with a unit, e.g. 125MiB/s, 1Gbit/s, 2000pages/s" })
const Duration = Schema.String.annotations({ description: "a duration with a unit, e.g. 30ms, 12.5s, 42us" })
const Text = Schema.String.pipe(Schema.minLength(1), Schema.maxLength(1024))

/** A guest frame number: a page index in the VM's memory. */
const Gfn = Schema.Int.pipe(Schema.between(0, 2 ** 31 - 1))
/** `[first, last]`, both inclusive. */
const GfnRange = Schema.Tuple(Gfn, Gfn).pipe(
  Schema.filter(([first, last]) => first <= last || "a range [first, last] with first <= last")
)

// --- the header -------------------------------------------------------------------------------------

const { load: _load, ...vmFields } = VmSpec.fields
/** A VM of the header: the scenario's VM spec (ids with `count`, memory, start, workload), without load series. */
const TraceVmSpec = Schema.Struct(vmFields)

export const TraceHeader = Schema.Struct({
  format: Schema.Literal(TRACE_FORMAT),
  version: Schema.Literal(TRACE_VERSION),
  name: Schema.optional(Schema.String),
  description: Schema.optional(Schema.String),
  /** Root seed: event ids and generated page writes; default 1. */
  seed: Schema.optional(NonNegativeInt),
  /** The policy of `migrate` records that name none; default `xen`. */
  policy: Schema.optional(PolicySpec),
  /** Where VMs started without a host go and where evacuations send them; default `xapi-default`. */
  placement: Schema.optional(PlacementName),
  pool: Schema.Struct({
    id: IdString("pool"),
    pageSize: Schema.optional(Size),
    linkLatency: Schema.optional(Duration),
    /** HA on at time 0, after the header's VMs started (docs/ha.md). */
    ha: Schema.optional(PoolHaSpec),
    /** Hosts that join at time 0, before the first record. */
    hosts: Schema.optional(Schema.Array(HostSpec)),
    /** VMs created (and, with `start`, started) at time 0, before the first record. */
    vms: Schema.optional(Schema.Array(TraceVmSpec))
  }),
  limits: Schema.optional(
    Schema.Struct({ simulatedTime: Schema.optional(Duration), events: Schema.optional(PositiveInt) })
  )
})
export type TraceHeader = typeof TraceHeader.Encoded

// --- records ----------------------------------------------------------------------------------------

const record = <const Op extends string, const Fields extends Schema.Struct.Fields>(op: Op, fields: Fields) =>
  Schema.Struct({ atUs: NonNegativeInt, op: Schema.Literal(op), ...fields })

const hostRecord = <const Op extends string>(op: Op) => record(op, { host: HostId })
const vmRecord = <const Op extends string>(op: Op) => record(op, { vm: VmId })

/** Pages written at one µs: a list of gfns or inclusive ranges, in order. */
const pagesRecord = <const Op extends string>(op: Op) =>
  record(op, {
    vm: VmId,
    gfns: Schema.optional(Schema.Array(Gfn)),
    ranges: Schema.optional(Schema.Array(GfnRange))
  }).pipe(
    Schema.filter((r) => {
      if (r.gfns === undefined && r.ranges === undefined)
        return { path: ["gfns"], message: "gfns (a list of page numbers) or ranges ([[first, last], ...])" }
      if (r.gfns !== undefined && r.ranges !== undefined)
        return { path: ["ranges"], message: "either gfns or ranges in one record, not both" }
      return true
    })
  )

// Pool and hosts.
const JoinHostRecord = record("join-host", {
  host: HostId,
  memory: Size,
  overhead: Schema.optional(Size),
  nic: Schema.optional(Rate),
  cpus: Schema.optional(PositiveInt)
})
const EnableHostRecord = hostRecord("enable-host")
const DisableHostRecord = hostRecord("disable-host")
/**
 * A host fails. Engine level: with HA on, noticed after the liveness timeout and followed by HA's restarts.
 * `declared: true` is the recorded level (an exported log's `HostFailed`): declared dead at this µs, as
 * decided, with no timeout and no restarts of the engine's (the log's own records bring them).
 */
const FailHostRecord = record("fail-host", { host: HostId, declared: Schema.optional(Schema.Literal(true)) })
const RecoverHostRecord = hostRecord("recover-host")
/** XAPI's `host.evacuate`: the host's VMs planned onto the other enabled hosts and migrated (engine level). */
const EvacuateRecord = hostRecord("evacuate")
/** Each host in turn disabled, evacuated, kept for `maintenance` (default 60s), enabled (engine level). */
const RollingMaintenanceRecord = record("rolling-maintenance", {
  hosts: Schema.Array(HostId),
  maintenance: Schema.optional(Duration)
})

// High availability (docs/ha.md).
/** `pool.enable_ha`: ntol, and the liveness timeout before a failed host is noticed (default 60s, engine level). */
const EnableHaRecord = record("enable-ha", {
  hostFailuresToTolerate: NonNegativeInt,
  livenessTimeout: Schema.optional(Duration)
})
const DisableHaRecord = record("disable-ha", {})
const SetHaFailuresToTolerateRecord = record("set-ha-failures-to-tolerate", {
  hostFailuresToTolerate: NonNegativeInt
})
/** A VM's `ha-restart-priority` ("" unprotected), `order` (default 0) and `ha-always-run` (default: priority is restart). */
/** Recorded level: HA's restart of the VM failed (`retryAtUs`: when it is tried again). */
const HaRestartFailedRecord = record("ha-restart-failed", {
  vm: VmId,
  reason: Text,
  retryAtUs: Schema.optional(NonNegativeInt)
})
const SetVmHaRecord = record("set-vm-ha", {
  vm: VmId,
  restartPriority: Schema.Literal("restart", "best-effort", ""),
  order: Schema.optional(NonNegativeInt),
  alwaysRun: Schema.optional(Schema.Boolean)
})

// VMs.
const CreateVmRecord = record("create-vm", {
  vm: VmId,
  vcpus: Schema.optional(Vcpus),
  memory: VmSpec.fields.memory,
  /** Default: XAPI's formula from vCPUs and static max. */
  overhead: Schema.optional(Size),
  blockedOperations: Schema.optional(Schema.Array(Schema.String)),
  workload: Schema.optional(Workload)
})
const StartVmRecord = record("start-vm", {
  vm: VmId,
  host: Schema.optional(HostId),
  paused: Schema.optional(Schema.Boolean)
})
const ResumeVmRecord = record("resume-vm", { vm: VmId, host: Schema.optional(HostId) })
const PauseVmRecord = vmRecord("pause-vm")
const UnpauseVmRecord = vmRecord("unpause-vm")
const SuspendVmRecord = vmRecord("suspend-vm")
const DestroyVmRecord = vmRecord("destroy-vm")
const ShutdownVmRecord = record("shutdown-vm", { vm: VmId, hard: Schema.optional(Schema.Boolean) })
const SetMemoryTargetRecord = record("set-memory-target", { vm: VmId, target: Size })
const SetWorkloadRecord = record("set-workload", { vm: VmId, workload: Workload })

// Migrations, engine level: the engine runs the rounds from the VM's workload.
const MigrateRecord = record("migrate", { vm: VmId, to: HostId, policy: Schema.optional(PolicySpec) })

// Migrations, recorded level: each step applied as given through decide.
const MigrationStartedRecord = record("migration-started", {
  migration: MigrationId,
  vm: VmId,
  to: HostId,
  policy: Text
})
const MigrationRoundRecord = record("migration-round-completed", {
  migration: MigrationId,
  round: PositiveInt,
  live: Schema.Boolean,
  pagesSent: NonNegativeInt,
  pagesSkipped: NonNegativeInt,
  bytesSent: NonNegativeInt,
  pagesDirtied: NonNegativeInt,
  durationUs: NonNegativeInt,
  /** Pages sent as zero-page markers (max-downtime); default 0. */
  zeroPages: Schema.optional(NonNegativeInt),
  /** vCPU and device-model state sent after the last pages (the paused round with phases); default 0. */
  stateBytes: Schema.optional(NonNegativeInt)
})
/** A timed part of a migration ended: setup, suspend or restore (docs/migration.md). */
const MigrationPhaseRecord = record("migration-phase-completed", {
  migration: MigrationId,
  phase: Schema.Literal("setup", "suspend", "restore"),
  durationUs: NonNegativeInt
})
/** The round in flight when the migration aborted, with what it had sent; the abort record follows. */
const MigrationRoundInterruptedRecord = record("migration-round-interrupted", {
  migration: MigrationId,
  round: PositiveInt,
  live: Schema.Boolean,
  pagesSent: NonNegativeInt,
  pagesSkipped: NonNegativeInt,
  bytesSent: NonNegativeInt,
  durationUs: NonNegativeInt,
  zeroPages: Schema.optional(NonNegativeInt),
  stateBytes: Schema.optional(NonNegativeInt)
})
const MigrationStopAndCopyRecord = record("migration-stop-and-copy", { migration: MigrationId, reason: Text })
const MigrationCommittedRecord = record("migration-committed", { migration: MigrationId })
const MigrationAbortedRecord = record("migration-aborted", { migration: MigrationId, reason: Text })

// Page writes.
const WriteRecord = pagesRecord("write")

// Faults.
const FailLinkRecord = hostRecord("fail-link")
const RestoreLinkRecord = hostRecord("restore-link")
/** The host's NIC runs at `percent` of its bandwidth until restored. */
const SlowLinkRecord = record("slow-link", { host: HostId, percent: Schema.Int.pipe(Schema.between(1, 100)) })

// Paging and ballooning (docs/paging.md): engine-level inputs, then recorded-level pager and balloon steps.
const SetPagingTargetRecord = record("set-paging-target", { vm: VmId, target: Size })
/**
 * Pages the guest touches at one µs: a list of gfns, inclusive ranges, or `random`, that many gfns drawn
 * uniformly from the guest's memory from the VM's own seeded stream (as a scenario's `guest-access`).
 */
const AccessRecord = record("access", {
  vm: VmId,
  gfns: Schema.optional(Schema.Array(Gfn)),
  ranges: Schema.optional(Schema.Array(GfnRange)),
  random: Schema.optional(Schema.Int.pipe(Schema.between(1, ACCESSES_PER_CALL_MAX)))
}).pipe(
  Schema.filter((r) => {
    const forms = [r.gfns, r.ranges, r.random].filter((form) => form !== undefined).length
    if (forms === 0)
      return {
        path: ["gfns"],
        message: "gfns (a list of page numbers), ranges ([[first, last], ...]) or random (a count)"
      }
    if (forms > 1) return { path: ["random"], message: "one of gfns, ranges, random in one record" }
    return true
  })
)
const SetBalloonTargetRecord = record("set-balloon-target", { vm: VmId, target: Size })
const PagesPagedOutRecord = record("pages-paged-out", { vm: VmId, pages: PositiveInt })
const PagesPagedInRecord = record("pages-paged-in", { vm: VmId, pages: PositiveInt })
const PageFaultsServedRecord = record("page-faults-served", {
  vm: VmId,
  faults: PositiveInt,
  vcpuWaitUs: NonNegativeInt
})
const BalloonInflatedRecord = record("balloon-inflated", {
  vm: VmId,
  releasedPages: NonNegativeInt,
  droppedPages: NonNegativeInt
})
const BalloonDeflatedRecord = record("balloon-deflated", { vm: VmId, pages: PositiveInt })

/** Every record schema, one per `op`. */
export const recordSchemas = [
  JoinHostRecord,
  EnableHostRecord,
  DisableHostRecord,
  FailHostRecord,
  RecoverHostRecord,
  EvacuateRecord,
  RollingMaintenanceRecord,
  EnableHaRecord,
  DisableHaRecord,
  SetHaFailuresToTolerateRecord,
  SetVmHaRecord,
  HaRestartFailedRecord,
  CreateVmRecord,
  StartVmRecord,
  ResumeVmRecord,
  PauseVmRecord,
  UnpauseVmRecord,
  SuspendVmRecord,
  DestroyVmRecord,
  ShutdownVmRecord,
  SetMemoryTargetRecord,
  SetWorkloadRecord,
  MigrateRecord,
  MigrationStartedRecord,
  MigrationRoundRecord,
  MigrationPhaseRecord,
  MigrationRoundInterruptedRecord,
  MigrationStopAndCopyRecord,
  MigrationCommittedRecord,
  MigrationAbortedRecord,
  WriteRecord,
  FailLinkRecord,
  RestoreLinkRecord,
  SlowLinkRecord,
  SetPagingTargetRecord,
  AccessRecord,
  SetBalloonTargetRecord,
  PagesPagedOutRecord,
  PagesPagedInRecord,
  PageFaultsServedRecord,
  BalloonInflatedRecord,
  BalloonDeflatedRecord
] as const

export const TraceRecord = Schema.Union(...recordSchemas)
export type TraceRecord = typeof TraceRecord.Type
export type TraceOp = TraceRecord["op"]
export type RecordOf<Op extends TraceOp> = Extract<TraceRecord, { readonly op: Op }>

/** The paging and ballooning records (resolve.ts `pagingRecord`). */
export const pagingOps: ReadonlySet<TraceOp> = new Set<TraceOp>([
  "set-paging-target",
  "access",
  "set-balloon-target",
  "pages-paged-out",
  "pages-paged-in",
  "page-faults-served",
  "balloon-inflated",
  "balloon-deflated"
])
