/**
 * The schemas of pool-state snapshots (projections/snapshotCodec.ts encodes and decodes them fast).
 *
 * - `PoolStateSnapshot`: a whole state. Its type side is exactly `PoolState` (checked at compile time,
 *   so a field added to the state cannot be forgotten here); its encoded side is JSON with one array
 *   per host, VM and migration (compact: a 2,000-VM pool is about 240 KB).
 * - `PoolStateChangesSnapshot`: what changed since an earlier snapshot (`base`): the hosts, VMs and
 *   migrations that are new or different, and the ids of those that are gone. Applied to the state of
 *   `base`, it gives the state of its own revision.
 * - `SnapshotData`: either, as stored.
 */
import { HashMap, Schema } from "effect"
import { PowerState } from "../domain/events.js"
import { HostId, MigrationId, PoolId, VmId } from "../domain/ids.js"
import { vmOperations, type VmOperation } from "../domain/operations.js"
import type {
  Host,
  MemoryConstraints,
  Migration,
  MigrationPhase,
  PoolHa,
  PoolInfo,
  PoolState,
  Vm
} from "../domain/state.js"

const Int = Schema.Int
const NonNegativeInt = Schema.Int.pipe(Schema.nonNegative())
const Operation = Schema.Literal(...(vmOperations as [VmOperation, ...Array<VmOperation>]))
const Phase = Schema.Literal("reserved", "precopy", "stop-and-copy", "committing")

/** `true` when A and B are the same type (readonly-ness included). */
type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false

const absent = <A>(value: A | null): A | undefined => (value === null ? undefined : value)
const nullable = <A>(value: A | undefined): A | null => (value === undefined ? null : value)

// Pool

const PoolHaType = Schema.Struct({
  enabled: Schema.Boolean,
  hostFailuresToTolerate: Int,
  planExistsFor: Int,
  overcommitted: Schema.Boolean
})
const poolHaMatches: Equals<typeof PoolHaType.Type, PoolHa> = true

const PoolInfoType = Schema.Struct({
  id: PoolId,
  pageSizeBytes: Int,
  linkLatencyUs: Int,
  master: Schema.UndefinedOr(HostId),
  ha: Schema.UndefinedOr(PoolHaType)
})
const poolInfoMatches: Equals<typeof PoolInfoType.Type, PoolInfo> = true

/** The pool's HA fields: enabled, ntol, plan exists for, overcommitted. */
export type PoolHaTuple = readonly [boolean, number, number, boolean]
const PoolHaTupleSchema = Schema.Tuple(Schema.Boolean, Int, Int, Schema.Boolean)

export type PoolInfoTuple = readonly [PoolId, number, number, HostId | null, PoolHaTuple | null]
export const poolInfoFromTuple = (t: PoolInfoTuple): PoolInfo => ({
  id: t[0],
  pageSizeBytes: t[1],
  linkLatencyUs: t[2],
  master: absent(t[3]),
  ha:
    t[4] === null
      ? undefined
      : { enabled: t[4][0], hostFailuresToTolerate: t[4][1], planExistsFor: t[4][2], overcommitted: t[4][3] }
})
export const poolInfoToTuple = (p: PoolInfo): PoolInfoTuple => [
  p.id,
  p.pageSizeBytes,
  p.linkLatencyUs,
  nullable(p.master),
  p.ha === undefined ? null : [p.ha.enabled, p.ha.hostFailuresToTolerate, p.ha.planExistsFor, p.ha.overcommitted]
]

const PoolInfoSnapshot = Schema.transform(
  Schema.Tuple(PoolId, Int, Int, Schema.NullOr(HostId), Schema.NullOr(PoolHaTupleSchema)),
  Schema.typeSchema(PoolInfoType),
  { strict: true, decode: poolInfoFromTuple, encode: poolInfoToTuple }
)

// Hosts

const HostType = Schema.Struct({
  id: HostId,
  memoryTotalPages: Int,
  memoryOverheadPages: Int,
  nicBandwidthBytesPerS: Int,
  cpus: Int,
  enabled: Schema.Boolean,
  live: Schema.Boolean,
  nextDomid: Int,
  residentPages: Int,
  reservedPages: Int,
  placementPages: Int
})
const hostMatches: Equals<typeof HostType.Type, Host> = true

export type HostTuple = readonly [
  HostId,
  number,
  number,
  number,
  number,
  boolean,
  boolean,
  number,
  number,
  number,
  number
]
export const hostFromTuple = (t: HostTuple): Host => ({
  id: t[0],
  memoryTotalPages: t[1],
  memoryOverheadPages: t[2],
  nicBandwidthBytesPerS: t[3],
  cpus: t[4],
  enabled: t[5],
  live: t[6],
  nextDomid: t[7],
  residentPages: t[8],
  reservedPages: t[9],
  placementPages: t[10]
})
export const hostToTuple = (h: Host): HostTuple => [
  h.id,
  h.memoryTotalPages,
  h.memoryOverheadPages,
  h.nicBandwidthBytesPerS,
  h.cpus,
  h.enabled,
  h.live,
  h.nextDomid,
  h.residentPages,
  h.reservedPages,
  h.placementPages
]

const HostSnapshot = Schema.transform(
  Schema.Tuple(HostId, Int, Int, Int, Int, Schema.Boolean, Schema.Boolean, Int, Int, Int, Int),
  Schema.typeSchema(HostType),
  { strict: true, decode: hostFromTuple, encode: hostToTuple }
)

// VMs

const MemoryType = Schema.Struct({
  staticMinPages: Int,
  dynamicMinPages: Int,
  targetPages: Int,
  dynamicMaxPages: Int,
  staticMaxPages: Int
})
const memoryMatches: Equals<typeof MemoryType.Type, MemoryConstraints> = true

const VmType = Schema.Struct({
  id: VmId,
  vcpus: Int,
  memory: MemoryType,
  overheadPages: Int,
  powerState: PowerState,
  residentOn: Schema.UndefinedOr(HostId),
  scheduledToBeResidentOn: Schema.UndefinedOr(HostId),
  domid: Int,
  currentOperation: Schema.UndefinedOr(Operation),
  migration: Schema.UndefinedOr(MigrationId),
  guestPages: Int,
  populatedPages: Int,
  pagedOutPages: Int,
  pagingTargetPages: Schema.UndefinedOr(Int),
  blockedOperations: Schema.Array(Schema.String),
  ha: Schema.UndefinedOr(
    Schema.Struct({
      restartPriority: Schema.UndefinedOr(Schema.Literal("restart", "best-effort")),
      order: Int,
      alwaysRun: Schema.Boolean
    })
  )
})
const vmMatches: Equals<typeof VmType.Type, Vm> = true

export type VmTuple = readonly [
  VmId,
  number,
  number,
  number,
  number,
  number,
  number,
  number,
  PowerState,
  HostId | null,
  HostId | null,
  number,
  VmOperation | null,
  MigrationId | null,
  number,
  number,
  number,
  number | null,
  ReadonlyArray<string>,
  VmHaTuple | null
]
/** A VM's HA fields: restart priority ("" for none), order, always run. */
export type VmHaTuple = readonly ["restart" | "best-effort" | "", number, boolean]
const VmHaTupleSchema = Schema.Tuple(Schema.Literal("restart", "best-effort", ""), Int, Schema.Boolean)
export const vmFromTuple = (t: VmTuple): Vm => ({
  id: t[0],
  vcpus: t[1],
  memory: {
    staticMinPages: t[2],
    dynamicMinPages: t[3],
    targetPages: t[4],
    dynamicMaxPages: t[5],
    staticMaxPages: t[6]
  },
  overheadPages: t[7],
  powerState: t[8],
  residentOn: absent(t[9]),
  scheduledToBeResidentOn: absent(t[10]),
  domid: t[11],
  currentOperation: absent(t[12]),
  migration: absent(t[13]),
  guestPages: t[14],
  populatedPages: t[15],
  pagedOutPages: t[16],
  pagingTargetPages: absent(t[17]),
  blockedOperations: t[18],
  ha:
    t[19] === null
      ? undefined
      : { restartPriority: t[19][0] === "" ? undefined : t[19][0], order: t[19][1], alwaysRun: t[19][2] }
})
export const vmToTuple = (v: Vm): VmTuple => [
  v.id,
  v.vcpus,
  v.memory.staticMinPages,
  v.memory.dynamicMinPages,
  v.memory.targetPages,
  v.memory.dynamicMaxPages,
  v.memory.staticMaxPages,
  v.overheadPages,
  v.powerState,
  nullable(v.residentOn),
  nullable(v.scheduledToBeResidentOn),
  v.domid,
  nullable(v.currentOperation),
  nullable(v.migration),
  v.guestPages,
  v.populatedPages,
  v.pagedOutPages,
  nullable(v.pagingTargetPages),
  v.blockedOperations,
  v.ha === undefined ? null : [v.ha.restartPriority ?? "", v.ha.order, v.ha.alwaysRun]
]

const VmSnapshot = Schema.transform(
  Schema.Tuple(
    VmId,
    Int,
    Int,
    Int,
    Int,
    Int,
    Int,
    Int,
    PowerState,
    Schema.NullOr(HostId),
    Schema.NullOr(HostId),
    Int,
    Schema.NullOr(Operation),
    Schema.NullOr(MigrationId),
    Int,
    Int,
    Int,
    Schema.NullOr(Int),
    Schema.Array(Schema.String),
    Schema.NullOr(VmHaTupleSchema)
  ),
  Schema.typeSchema(VmType),
  { strict: true, decode: vmFromTuple, encode: vmToTuple }
)

// Migrations

const MigrationType = Schema.Struct({
  id: MigrationId,
  vm: VmId,
  source: HostId,
  destination: HostId,
  policy: Schema.String,
  phase: Phase,
  reservedPages: Int,
  rounds: Int,
  pagesSent: Int,
  bytesSent: Int,
  startedAtUs: Int,
  stopAndCopyAtUs: Schema.UndefinedOr(Int)
})
const migrationMatches: Equals<typeof MigrationType.Type, Migration> = true

export type MigrationTuple = readonly [
  MigrationId,
  VmId,
  HostId,
  HostId,
  string,
  MigrationPhase,
  number,
  number,
  number,
  number,
  number,
  number | null
]
export const migrationFromTuple = (t: MigrationTuple): Migration => ({
  id: t[0],
  vm: t[1],
  source: t[2],
  destination: t[3],
  policy: t[4],
  phase: t[5],
  reservedPages: t[6],
  rounds: t[7],
  pagesSent: t[8],
  bytesSent: t[9],
  startedAtUs: t[10],
  stopAndCopyAtUs: absent(t[11])
})
export const migrationToTuple = (m: Migration): MigrationTuple => [
  m.id,
  m.vm,
  m.source,
  m.destination,
  m.policy,
  m.phase,
  m.reservedPages,
  m.rounds,
  m.pagesSent,
  m.bytesSent,
  m.startedAtUs,
  nullable(m.stopAndCopyAtUs)
]

const MigrationSnapshot = Schema.transform(
  Schema.Tuple(MigrationId, VmId, HostId, HostId, Schema.String, Phase, Int, Int, Int, Int, Int, Schema.NullOr(Int)),
  Schema.typeSchema(MigrationType),
  { strict: true, decode: migrationFromTuple, encode: migrationToTuple }
)

// The whole state

const PoolStateType = Schema.Struct({
  pool: Schema.UndefinedOr(PoolInfoType),
  hosts: Schema.HashMapFromSelf({ key: HostId, value: HostType }),
  vms: Schema.HashMapFromSelf({ key: VmId, value: VmType }),
  migrations: Schema.HashMapFromSelf({ key: MigrationId, value: MigrationType }),
  atUs: Int
})
const stateMatches: Equals<typeof PoolStateType.Type, PoolState> = true

/** Snapshot objects have exactly their fields: an unknown one is an error, not ignored. */
const strict = { parseOptions: { onExcessProperty: "error" } } as const

export const EncodedParts = Schema.Struct({
  atUs: NonNegativeInt,
  pool: Schema.NullOr(PoolInfoSnapshot),
  hosts: Schema.Array(HostSnapshot),
  vms: Schema.Array(VmSnapshot),
  migrations: Schema.Array(MigrationSnapshot)
}).annotations(strict)

type Parts = typeof EncodedParts.Type

export const byId = <K extends string, V extends { readonly id: K }>(values: ReadonlyArray<V>): HashMap.HashMap<K, V> =>
  HashMap.mutate(HashMap.empty<K, V>(), (map) => {
    for (const value of values) HashMap.set(map, value.id, value)
  })

const stateFromParts = (parts: Parts): PoolState => ({
  pool: absent(parts.pool),
  hosts: byId(parts.hosts),
  vms: byId(parts.vms),
  migrations: byId(parts.migrations),
  atUs: parts.atUs
})

const partsFromState = (state: PoolState): Parts => ({
  atUs: state.atUs,
  pool: nullable(state.pool),
  hosts: Array.from(HashMap.values(state.hosts)),
  vms: Array.from(HashMap.values(state.vms)),
  migrations: Array.from(HashMap.values(state.migrations))
})

/** Pool state as a snapshot stores it: the reference codec (`encodeSnapshot`/`decodeSnapshot` agree with it). */
export const PoolStateSnapshot = Schema.transform(EncodedParts, Schema.typeSchema(PoolStateType), {
  strict: true,
  decode: stateFromParts,
  encode: partsFromState
})

// Changes

/** What changed from the state of snapshot `base` to the state of a later snapshot. */
export interface PoolStateChanges {
  /** The revision of the snapshot these changes apply to. */
  readonly base: number
  readonly atUs: number
  readonly pool: PoolInfo | undefined
  /** New or changed entities, whole. */
  readonly hosts: ReadonlyArray<Host>
  readonly vms: ReadonlyArray<Vm>
  readonly migrations: ReadonlyArray<Migration>
  /** Entities gone since `base` (a destroyed VM, a finished migration). */
  readonly goneHosts: ReadonlyArray<HostId>
  readonly goneVms: ReadonlyArray<VmId>
  readonly goneMigrations: ReadonlyArray<MigrationId>
}

const PoolStateChangesType = Schema.Struct({
  base: Int,
  atUs: Int,
  pool: Schema.UndefinedOr(PoolInfoType),
  hosts: Schema.Array(HostType),
  vms: Schema.Array(VmType),
  migrations: Schema.Array(MigrationType),
  goneHosts: Schema.Array(HostId),
  goneVms: Schema.Array(VmId),
  goneMigrations: Schema.Array(MigrationId)
})
const changesMatch: Equals<typeof PoolStateChangesType.Type, PoolStateChanges> = true

export const EncodedChanges = Schema.Struct({
  base: NonNegativeInt,
  atUs: NonNegativeInt,
  pool: Schema.NullOr(PoolInfoSnapshot),
  hosts: Schema.Array(HostSnapshot),
  vms: Schema.Array(VmSnapshot),
  migrations: Schema.Array(MigrationSnapshot),
  gone: Schema.Tuple(Schema.Array(HostId), Schema.Array(VmId), Schema.Array(MigrationId))
}).annotations(strict)

/** Changes since an earlier snapshot as a snapshot stores them. */
export const PoolStateChangesSnapshot = Schema.transform(EncodedChanges, Schema.typeSchema(PoolStateChangesType), {
  strict: true,
  decode: (e): PoolStateChanges => ({
    base: e.base,
    atUs: e.atUs,
    pool: absent(e.pool),
    hosts: e.hosts,
    vms: e.vms,
    migrations: e.migrations,
    goneHosts: e.gone[0],
    goneVms: e.gone[1],
    goneMigrations: e.gone[2]
  }),
  encode: (c) => ({
    base: c.base,
    atUs: c.atUs,
    pool: nullable(c.pool),
    hosts: c.hosts,
    vms: c.vms,
    migrations: c.migrations,
    gone: [c.goneHosts, c.goneVms, c.goneMigrations] as const
  })
})

/**
 * What a snapshot stores: a whole state, or the changes since an earlier snapshot (told apart by
 * `base`, which only changes have).
 */
export const SnapshotData = Schema.Union(PoolStateChangesSnapshot, PoolStateSnapshot)

// The compile-time checks above are values so that the compiler evaluates them; nothing reads them.
void [
  poolHaMatches,
  poolInfoMatches,
  hostMatches,
  memoryMatches,
  vmMatches,
  migrationMatches,
  stateMatches,
  changesMatch
]
