/**
 * The event schemas (DESIGN.md §2). Past tense, subject first, each with `atUs` and the ids it touches,
 * all integers. Every event carries its schema version `v` so a stored log stays readable as the schema
 * grows: a new field is added as optional (or with a decoding default) and `v` stays; a change of meaning
 * or a field an old log cannot have had gets a new `v` and an upcaster from the old one
 * (domain/upcast.ts). All are at `v: 1` but PoolCreated, at `v: 2` since it records its provenance.
 */
import { Schema, type SchemaAST } from "effect"
import { HostId, MigrationId, PoolId, VmId } from "./ids.js"

const NonNegativeInt = Schema.Int.pipe(Schema.nonNegative())
const PositiveInt = Schema.Int.pipe(Schema.positive())

/** Schema version 1; constructors fill it in. */
const V1 = Schema.Literal(1).pipe(
  Schema.propertySignature,
  Schema.withConstructorDefault(() => 1 as const)
)

const base = { v: V1, atUs: NonNegativeInt }

export const PowerState = Schema.Literal("Halted", "Running", "Paused", "Suspended")
export type PowerState = typeof PowerState.Type

const ShutdownMode = Schema.Literal("clean", "hard", "host-failed")
type ShutdownMode = typeof ShutdownMode.Type

// --- pool and hosts -------------------------------------------------------------------------------

/** A sha256 digest in lowercase hex. */
const Sha256Hex = Schema.String.pipe(Schema.pattern(/^[0-9a-f]{64}$/, { message: () => "a sha256 digest in hex" }))

/**
 * How a pool was made, recorded in its creation event: the root seed the engine ran with, the xenpool
 * that ran it, and what it ran (a scenario or a trace, its name and the sha256 of its bytes). `unrecorded`:
 * a pool written before provenance existed (PoolCreated v1, upcast by domain/upcast.ts), or a creation
 * event the engine made and no writer stamped (the engine does not know its input's bytes).
 */
export const PoolProvenance = Schema.Union(
  Schema.TaggedStruct("unrecorded", {}),
  Schema.TaggedStruct("run", {
    seed: Schema.Int,
    xenpoolVersion: Schema.String,
    input: Schema.Literal("scenario", "trace"),
    inputName: Schema.String,
    inputSha256: Sha256Hex,
    /**
     * The scenario itself as the engine ran it (its JSON, with the seed and pool id of the run), so that
     * the engine can go on from the log alone (simulations/resume.ts). Absent for a trace (its records can
     * be larger than memory) and for pools written before xenpool recorded it: those cannot be continued.
     */
    scenario: Schema.optionalWith(Schema.String, { exact: true })
  })
)
export type PoolProvenance = typeof PoolProvenance.Type

export const unrecordedProvenance: PoolProvenance = { _tag: "unrecorded" }

/**
 * Schema version 2 of PoolCreated (it gained `provenance`, which old logs cannot have had); a v1 event is
 * upcast when it is read (domain/upcast.ts).
 */
const V2 = Schema.Literal(2).pipe(
  Schema.propertySignature,
  Schema.withConstructorDefault(() => 2 as const)
)

export class PoolCreated extends Schema.TaggedClass<PoolCreated>()("PoolCreated", {
  v: V2,
  atUs: NonNegativeInt,
  pool: PoolId,
  pageSizeBytes: PositiveInt,
  linkLatencyUs: NonNegativeInt,
  provenance: PoolProvenance.pipe(
    Schema.propertySignature,
    Schema.withConstructorDefault(() => unrecordedProvenance)
  )
}) {}

/**
 * The pool is a branch of `parent`: its history is the parent's revisions 0..`parentRevision`, then this
 * event (at revision `parentRevision + 1`, at the time the branch was asked for: at or after the parent's
 * event `parentRevision`, before its next one), then its own. The
 * store keeps it as the branch stream's first stored event, a reference to the parent's prefix rather than
 * a copy of it (store/branches.ts, docs/branches.md). It changes nothing in the pool's state.
 */
export class PoolForked extends Schema.TaggedClass<PoolForked>()("PoolForked", {
  ...base,
  pool: PoolId,
  parent: PoolId,
  parentRevision: NonNegativeInt,
  xenpoolVersion: Schema.String
}) {}

/**
 * Operations asked of an existing pool (`xenpool vm-migrate`, `host-evacuate`, …, `run --pool`): the input
 * of a continuation, recorded before the events it caused so that the engine can be rebuilt from the log
 * (simulations/resume.ts). `operations` is a JSON array of scenario schedule items (simulations/scenario.ts,
 * `at` as a time of the pool); the engine then ran until quiescent, `untilUs` or `eventsMax` (its event
 * count, absolute). It changes nothing in the pool's state.
 */
export class OperationsRequested extends Schema.TaggedClass<OperationsRequested>()("OperationsRequested", {
  ...base,
  pool: PoolId,
  operations: Schema.String,
  untilUs: NonNegativeInt,
  eventsMax: NonNegativeInt,
  xenpoolVersion: Schema.String
}) {}

export class HostJoined extends Schema.TaggedClass<HostJoined>()("HostJoined", {
  ...base,
  host: HostId,
  memoryTotalPages: PositiveInt,
  memoryOverheadPages: NonNegativeInt,
  nicBandwidthBytesPerS: PositiveInt,
  cpus: PositiveInt
}) {}

export class HostEnabled extends Schema.TaggedClass<HostEnabled>()("HostEnabled", { ...base, host: HostId }) {}
export class HostDisabled extends Schema.TaggedClass<HostDisabled>()("HostDisabled", { ...base, host: HostId }) {}
/** The host is declared dead (XAPI `host.declare_dead` without HA): not live, disabled. */
export class HostFailed extends Schema.TaggedClass<HostFailed>()("HostFailed", { ...base, host: HostId }) {}
/** The host is live again; it stays disabled until enabled. */
export class HostRecovered extends Schema.TaggedClass<HostRecovered>()("HostRecovered", { ...base, host: HostId }) {}

// --- VM lifecycle ---------------------------------------------------------------------------------

export class VmCreated extends Schema.TaggedClass<VmCreated>()("VmCreated", {
  ...base,
  vm: VmId,
  vcpus: PositiveInt,
  memoryStaticMinPages: NonNegativeInt,
  memoryDynamicMinPages: NonNegativeInt,
  memoryTargetPages: NonNegativeInt,
  memoryDynamicMaxPages: NonNegativeInt,
  memoryStaticMaxPages: PositiveInt,
  memoryOverheadPages: NonNegativeInt,
  blockedOperations: Schema.optionalWith(Schema.Array(Schema.String), { default: () => [] })
}) {}

export class VmStarted extends Schema.TaggedClass<VmStarted>()("VmStarted", {
  ...base,
  vm: VmId,
  host: HostId,
  domid: PositiveInt,
  paused: Schema.Boolean
}) {}

export class VmPaused extends Schema.TaggedClass<VmPaused>()("VmPaused", { ...base, vm: VmId }) {}
export class VmUnpaused extends Schema.TaggedClass<VmUnpaused>()("VmUnpaused", { ...base, vm: VmId }) {}
/** Suspended outside a checkpoint: XAPI clears resident_on and the domid. */
export class VmSuspended extends Schema.TaggedClass<VmSuspended>()("VmSuspended", { ...base, vm: VmId }) {}

export class VmResumed extends Schema.TaggedClass<VmResumed>()("VmResumed", {
  ...base,
  vm: VmId,
  host: HostId,
  domid: PositiveInt
}) {}

export class VmShutdown extends Schema.TaggedClass<VmShutdown>()("VmShutdown", {
  ...base,
  vm: VmId,
  mode: ShutdownMode
}) {}

export class VmDestroyed extends Schema.TaggedClass<VmDestroyed>()("VmDestroyed", { ...base, vm: VmId }) {}

export class VmMemoryTargetSet extends Schema.TaggedClass<VmMemoryTargetSet>()("VmMemoryTargetSet", {
  ...base,
  vm: VmId,
  targetPages: NonNegativeInt
}) {}

// --- live migration -------------------------------------------------------------------------------

/** The destination holds a reservation; from here the VM counts on both hosts. */
export class VmMigrationStarted extends Schema.TaggedClass<VmMigrationStarted>()("VmMigrationStarted", {
  ...base,
  migration: MigrationId,
  vm: VmId,
  source: HostId,
  destination: HostId,
  policy: Schema.String,
  reservedPages: NonNegativeInt
}) {}

/** A count added to an event after logs were written: absent in those, it reads as 0 (still `v: 1`). */
const AddedCount = Schema.optionalWith(NonNegativeInt, { default: () => 0 })

/**
 * One transfer round: the first full copy, a pre-copy round, or (live = false) the paused final round.
 * `bytesSent` is every byte of it: `pagesSent` whole pages, `zeroPages` zero-page markers (max-downtime's
 * never-written pages) and, in the paused round, `stateBytes` of vCPU and device-model state. Logs
 * written before the last two existed read them as 0, which is what those runs sent.
 */
export class VmMigrationRoundCompleted extends Schema.TaggedClass<VmMigrationRoundCompleted>()(
  "VmMigrationRoundCompleted",
  {
    ...base,
    migration: MigrationId,
    vm: VmId,
    round: PositiveInt,
    live: Schema.Boolean,
    pagesSent: NonNegativeInt,
    pagesSkipped: NonNegativeInt,
    bytesSent: NonNegativeInt,
    pagesDirtied: NonNegativeInt,
    durationUs: NonNegativeInt,
    zeroPages: AddedCount,
    stateBytes: AddedCount
  }
) {}

/** The timed parts of a migration beside its rounds (engine/migration/phases.ts). */
export const MigrationPhaseName = Schema.Literal("setup", "suspend", "restore")
export type MigrationPhaseName = typeof MigrationPhaseName.Type

/**
 * A timed part ended: `setup` (before the first round: handshake, log-dirty on, the destination domain
 * built), `suspend` (the guest paused for stop-and-copy), `restore` (the destination restored the state
 * and unpaused the guest). Downtime is suspend + the paused round + restore.
 */
export class VmMigrationPhaseCompleted extends Schema.TaggedClass<VmMigrationPhaseCompleted>()(
  "VmMigrationPhaseCompleted",
  { ...base, migration: MigrationId, vm: VmId, phase: MigrationPhaseName, durationUs: NonNegativeInt }
) {}

/**
 * The round in flight when the migration aborted, with what it had sent: the migration's bytes are the
 * sum of its rounds', this one included. Always followed by the abort.
 */
export class VmMigrationRoundInterrupted extends Schema.TaggedClass<VmMigrationRoundInterrupted>()(
  "VmMigrationRoundInterrupted",
  {
    ...base,
    migration: MigrationId,
    vm: VmId,
    round: PositiveInt,
    live: Schema.Boolean,
    pagesSent: NonNegativeInt,
    pagesSkipped: NonNegativeInt,
    zeroPages: NonNegativeInt,
    stateBytes: NonNegativeInt,
    bytesSent: NonNegativeInt,
    durationUs: NonNegativeInt
  }
) {}

/** The guest is paused for the final round: downtime starts. */
export class VmMigrationStopAndCopyStarted extends Schema.TaggedClass<VmMigrationStopAndCopyStarted>()(
  "VmMigrationStopAndCopyStarted",
  { ...base, migration: MigrationId, vm: VmId, reason: Schema.String }
) {}

export class VmMigrationCommitted extends Schema.TaggedClass<VmMigrationCommitted>()("VmMigrationCommitted", {
  ...base,
  migration: MigrationId,
  vm: VmId,
  source: HostId,
  destination: HostId,
  domid: PositiveInt,
  rounds: NonNegativeInt,
  pagesSent: NonNegativeInt,
  bytesSent: NonNegativeInt,
  downtimeUs: NonNegativeInt,
  totalUs: NonNegativeInt
}) {}

export class VmMigrationAborted extends Schema.TaggedClass<VmMigrationAborted>()("VmMigrationAborted", {
  ...base,
  migration: MigrationId,
  vm: VmId,
  reason: Schema.String
}) {}

// --- paging ---------------------------------------------------------------------------------------

export class VmPagesPagedOut extends Schema.TaggedClass<VmPagesPagedOut>()("VmPagesPagedOut", {
  ...base,
  vm: VmId,
  pages: PositiveInt
}) {}

export class VmPagesPagedIn extends Schema.TaggedClass<VmPagesPagedIn>()("VmPagesPagedIn", {
  ...base,
  vm: VmId,
  pages: PositiveInt
}) {}

export class VmPageFaultsServed extends Schema.TaggedClass<VmPageFaultsServed>()("VmPageFaultsServed", {
  ...base,
  vm: VmId,
  faults: PositiveInt,
  vcpuWaitUs: NonNegativeInt
}) {}

/** The pager's target for the VM's resident pages (xenpaging's `memory/target-tot_pages`). */
export class VmPagingTargetSet extends Schema.TaggedClass<VmPagingTargetSet>()("VmPagingTargetSet", {
  ...base,
  vm: VmId,
  targetPages: NonNegativeInt
}) {}

/**
 * One balloon step down: the guest gave back its highest gfns, `releasedPages` resident ones (frames
 * freed) and `droppedPages` paged ones (dropped from the paging file, MEM_PAGING_DROP_PAGE).
 */
export class VmBalloonInflated extends Schema.TaggedClass<VmBalloonInflated>()("VmBalloonInflated", {
  ...base,
  vm: VmId,
  releasedPages: NonNegativeInt,
  droppedPages: NonNegativeInt
}) {}

/** One balloon step up: the guest populated `pages` more gfns, each with a frame of its host. */
export class VmBalloonDeflated extends Schema.TaggedClass<VmBalloonDeflated>()("VmBalloonDeflated", {
  ...base,
  vm: VmId,
  pages: PositiveInt
}) {}

// --- high availability (domain/ha.ts, docs/ha.md) -------------------------------------------------

/** `pool.enable_ha`: HA on, with `ha-host-failures-to-tolerate`. The plan's state follows in `PoolHaPlanChanged`. */
export class PoolHaEnabled extends Schema.TaggedClass<PoolHaEnabled>()("PoolHaEnabled", {
  ...base,
  hostFailuresToTolerate: NonNegativeInt
}) {}

/** `pool.disable_ha`. */
export class PoolHaDisabled extends Schema.TaggedClass<PoolHaDisabled>()("PoolHaDisabled", { ...base }) {}

/** `pool.set_ha_host_failures_to_tolerate`. */
export class PoolHaFailuresToTolerateSet extends Schema.TaggedClass<PoolHaFailuresToTolerateSet>()(
  "PoolHaFailuresToTolerateSet",
  { ...base, hostFailuresToTolerate: NonNegativeInt }
) {}

/** The planner's answer changed (XAPI's `update_pool_status`): `ha_plan_exists_for` and `ha_overcommitted`. */
export class PoolHaPlanChanged extends Schema.TaggedClass<PoolHaPlanChanged>()("PoolHaPlanChanged", {
  ...base,
  planExistsFor: NonNegativeInt,
  overcommitted: Schema.Boolean
}) {}

/** XAPI's three values of `ha_restart_priority`; "" leaves the VM unprotected. */
export const HaRestartPriorityText = Schema.Literal("restart", "best-effort", "")
export type HaRestartPriorityText = typeof HaRestartPriorityText.Type

/** A VM's `ha_restart_priority`, `order` and `ha_always_run`, set together. */
export class VmHaSettingsSet extends Schema.TaggedClass<VmHaSettingsSet>()("VmHaSettingsSet", {
  ...base,
  vm: VmId,
  restartPriority: HaRestartPriorityText,
  order: NonNegativeInt,
  alwaysRun: Schema.Boolean
}) {}

/** With HA, the pool master failed and the surviving hosts elected `host` (before any restart). */
export class PoolMasterElected extends Schema.TaggedClass<PoolMasterElected>()("PoolMasterElected", {
  ...base,
  host: HostId
}) {}

/**
 * HA tried to restart the VM after a host failure and could not (XAPI's `restart_auto_run_vms`): the
 * VM stays Halted. `retryAtUs` is when the next attempt comes, null when none will.
 */
export class VmHaRestartFailed extends Schema.TaggedClass<VmHaRestartFailed>()("VmHaRestartFailed", {
  ...base,
  vm: VmId,
  reason: Schema.String,
  retryAtUs: Schema.NullOr(NonNegativeInt)
}) {}

export const PoolEvent = Schema.Union(
  PoolCreated,
  PoolForked,
  OperationsRequested,
  HostJoined,
  HostEnabled,
  HostDisabled,
  HostFailed,
  HostRecovered,
  VmCreated,
  VmStarted,
  VmPaused,
  VmUnpaused,
  VmSuspended,
  VmResumed,
  VmShutdown,
  VmDestroyed,
  VmMemoryTargetSet,
  VmMigrationStarted,
  VmMigrationRoundCompleted,
  VmMigrationPhaseCompleted,
  VmMigrationRoundInterrupted,
  VmMigrationStopAndCopyStarted,
  VmMigrationCommitted,
  VmMigrationAborted,
  VmPagesPagedOut,
  VmPagesPagedIn,
  VmPageFaultsServed,
  VmPagingTargetSet,
  VmBalloonInflated,
  VmBalloonDeflated,
  PoolHaEnabled,
  PoolHaDisabled,
  PoolHaFailuresToTolerateSet,
  PoolHaPlanChanged,
  VmHaSettingsSet,
  PoolMasterElected,
  VmHaRestartFailed
)
export type PoolEvent = typeof PoolEvent.Type
export type PoolEventTag = PoolEvent["_tag"]

export const poolEventTags: ReadonlyArray<PoolEventTag> = PoolEvent.members.map((m) => m._tag as PoolEventTag)

/**
 * Events that say where a history came from (a branch's fork, a continuation's input) rather than what
 * the pool decided: no command yields them, and the engine rebuilt from the log (simulations/resume.ts)
 * reads them as its input.
 */
export const isHistoryMarker = (event: PoolEvent): event is PoolForked | OperationsRequested =>
  event._tag === "PoolForked" || event._tag === "OperationsRequested"

/** Every event's subject ids are named the same way, so histories can filter without a switch. */
export const eventVm = (event: PoolEvent): VmId | undefined => ("vm" in event ? event.vm : undefined)
export const eventHost = (event: PoolEvent): HostId | undefined => ("host" in event ? event.host : undefined)

// --- building events fast -------------------------------------------------------------------------

export type EventClass = (typeof PoolEvent.members)[number]

/**
 * The struct of a class's fields as its instances hold them, in the order its schema encodes them
 * (`_tag` last). A class schema is a transformation from that struct to the class. Fields with a decoding
 * default (`optionalWith(…, { default })`) make the struct itself a transformation between two structs
 * with the same keys, optional on the encoded side and required on the type side: an instance holds the
 * type side, and its values encode to themselves. Any other transformation (renamed keys, conversions):
 * undefined. The store's compiled codec (store/codec.ts) and `build` read the fields from here.
 */
export const instanceFields = (Class: EventClass): SchemaAST.TypeLiteral | undefined => {
  const ast = Class.ast
  if (ast._tag !== "Transformation") return undefined
  const fields = ast.from
  if (fields._tag === "TypeLiteral") return fields
  if (fields._tag !== "Transformation" || fields.to._tag !== "TypeLiteral") return undefined
  const transformation = fields.transformation
  return transformation._tag === "TypeLiteralTransformation" &&
    transformation.propertySignatureTransformations.every((p) => p.from === p.to)
    ? fields.to
    : undefined
}

/** The keys `build` sets, in encoded order when the class's fields are a plain struct; else as declared. */
const encodedKeyOrder = (Class: EventClass): ReadonlyArray<string> => {
  const declared = Object.keys(Class.fields)
  const ordered = instanceFields(Class)?.propertySignatures.map((p) => String(p.name))
  return ordered !== undefined && ordered.length === declared.length && declared.every((key) => ordered.includes(key))
    ? ordered
    : declared
}

/** A constructor default, if the field has one. */
const defaultOf = (field: unknown): (() => unknown) | undefined => {
  if (!Schema.isPropertySignature(field)) return undefined
  const ast = field.ast
  return ast._tag === "PropertySignatureDeclaration" ? ast.defaultValue : ast.to.defaultValue
}

type Builder = new (fields: Record<string, unknown>) => PoolEvent

/**
 * A constructor per class whose instances are the class's (same prototype), written out from the class's
 * fields: V8 sizes the objects of one constructor after its first few, so an event is one allocation
 * with its fields in place, and each field is a store to a known name. A loop over the field names did
 * the same work at 0.5 µs an event (a store by a computed key, on objects of every class); set one by one
 * on `Object.create(prototype)`, the fields past the fourth also went to a side array regrown every
 * three (100 bytes of garbage an event). The source holds only the schema's own field names, as JSON
 * string literals.
 */
const builderOf = (Class: EventClass): Builder => {
  const declared = Class.fields as Record<string, unknown>
  const plan = encodedKeyOrder(Class).map((key) => [JSON.stringify(key), defaultOf(declared[key])] as const)
  const defaults = plan.map(([, fallback]) => fallback)
  const body = plan
    .map(([key, fallback], i) =>
      fallback === undefined
        ? `if (given[${key}] !== undefined) this[${key}] = given[${key}]`
        : `this[${key}] = given[${key}] !== undefined ? given[${key}] : defaults[${i}]()`
    )
    .join("\n")
  // generated from the schema's own field names only
  const make = new Function("defaults", `return function Built(given) {\n${body}\n}`) as (
    defaults: ReadonlyArray<(() => unknown) | undefined>
  ) => Builder
  const Built = make(defaults)
  Built.prototype = Class.prototype
  return Built
}

const builders: ReadonlyMap<EventClass, Builder> = new Map(PoolEvent.members.map((Class) => [Class, builderOf(Class)]))

/**
 * The event `new Class(fields, true)` gives (an instance of the class holding the fields and the
 * constructor defaults `_tag`, `v` and any other), at about a hundredth of the cost: the Schema class
 * constructor copies the fields, deletes `_tag` and merges defaults field by field, some 3 µs an event,
 * which made it most of the engine's cost per event. The fields are set in the order the schema encodes
 * them, so all events of a class share one layout (the code that reads them stays monomorphic) and the
 * store can write the event itself as its JSON (store/codec.ts); keys the schema does not declare are not
 * copied (the constructor would copy them; encoding drops them either way). Like `new Class(fields, true)`
 * it does not validate: for fields already checked (decide's). `test/domain/events.test.ts` checks it
 * equals the constructor's event for every class.
 */
export const build = <C extends EventClass>(Class: C, fields: ConstructorParameters<C>[0]): InstanceType<C> =>
  new (builders.get(Class)!)(fields as Record<string, unknown>) as InstanceType<C>
