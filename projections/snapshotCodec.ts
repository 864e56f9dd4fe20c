/**
 * Encoding and decoding pool-state snapshots fast, and the projection version that guards them.
 *
 * The schemas are in projections/snapshotSchema.ts: a snapshot holds either a whole state or the changes
 * since an earlier snapshot (the snapshotter writes a whole state every few snapshots and changes in
 * between, projections/snapshots.ts).
 *
 * `projectionVersion` is derived from the schemas' description plus `EVOLVE_VERSION`: a change to the
 * state's shape changes it by itself, a change to what `evolve` computes must bump `EVOLVE_VERSION`.
 * A snapshot is only ever read back by the version that wrote it; any other version rebuilds.
 *
 * Decoding a snapshot is on every time-travel query's path, so `decodeSnapshotData` does not run the
 * schema's parser: it runs a check compiled from the schema's encoded side (same types, literals and
 * refinements) and the schema's own conversions, several times faster. Encoding reuses the text of every
 * host, VM and migration object already encoded (state objects are immutable and shared between
 * successive states, so between two snapshots only the entities that changed are encoded again), and a
 * snapshot of changes finds them without visiting the rest of the pool (projections/hashMapDiff.ts). Tests
 * check both directions against the schemas.
 */
import { Either, HashMap, Schema } from "effect"
import { compileCheck, type Check } from "../domain/schemaCheck.js"
import type { HostId, MigrationId, VmId } from "../domain/ids.js"
import type { PoolState } from "../domain/state.js"
import {
  byId,
  EncodedChanges,
  EncodedParts,
  hostFromTuple,
  hostToTuple,
  migrationFromTuple,
  migrationToTuple,
  poolInfoFromTuple,
  poolInfoToTuple,
  SnapshotData,
  vmFromTuple,
  vmToTuple,
  type HostTuple,
  type MigrationTuple,
  type PoolInfoTuple,
  type PoolStateChanges,
  type VmTuple
} from "./snapshotSchema.js"
import { hashMapChanges, type MapChanges } from "./hashMapDiff.js"

export { PoolStateChangesSnapshot, PoolStateSnapshot, SnapshotData, type PoolStateChanges } from "./snapshotSchema.js"

/**
 * What `evolve` computes, as a number. Bump it whenever `domain/evolve.ts` (or anything it calls) would
 * fold the same events into a different state; the snapshots of the old version are then ignored and
 * rebuilt. A change of the state's shape needs no bump: the schema's description is in the version.
 * `test/timeTravel/version.test.ts` fails when evolve's output on a fixed log changes, to remind you.
 */
export const EVOLVE_VERSION = 1

// --- the projection version -----------------------------------------------------------------------

/** FNV-1a, 32 bits, as 8 hex digits: a stable fingerprint of a text (not a security hash). */
const fnv1a = (text: string): string => {
  let hash = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193) >>> 0
  }
  return hash.toString(16).padStart(8, "0")
}

/** The description of the schemas, both sides: what the version fingerprints. */
export const snapshotSchemaDescription: string = String(SnapshotData.ast)

/** `pool-state.e<EVOLVE_VERSION>.<schema fingerprint>`: the version of the pool-state projection. */
export const makeProjectionVersion = (evolveVersion: number, schemaDescription: string): string =>
  `pool-state.e${evolveVersion}.${fnv1a(schemaDescription)}`

export const projectionVersion: string = makeProjectionVersion(EVOLVE_VERSION, snapshotSchemaDescription)

// --- the fast codec -------------------------------------------------------------------------------

/**
 * The check of a schema's encoded side (domain/schemaCheck.ts), whose structs all refuse excess
 * properties, so that its no is the schema's no. Throws at module load when a snapshot schema has a node
 * the compiler does not handle: a bug to see at once.
 */
const compileSnapshotCheck = (schema: Schema.Schema.Any): Check => {
  const check = compileCheck(schema.ast, { encodedSide: true, strictStructs: true })
  if (check === undefined) throw new Error("snapshot codec: the snapshot schema cannot be compiled into a check")
  return check
}

const checkState: Check = compileSnapshotCheck(EncodedParts)
const checkChanges: Check = compileSnapshotCheck(EncodedChanges)

/** A snapshot's text that the current projection cannot read. */
export class SnapshotDecodeError extends Schema.TaggedError<SnapshotDecodeError>()("SnapshotDecodeError", {
  detail: Schema.String
}) {}

/** Encoded text of entities already encoded once: valid as long as the object lives (state is immutable). */
const encodedTexts = new WeakMap<object, string>()

const textOf = <A extends object>(entity: A, toTuple: (a: A) => unknown): string => {
  let text = encodedTexts.get(entity)
  if (text === undefined) {
    text = JSON.stringify(toTuple(entity))
    encodedTexts.set(entity, text)
  }
  return text
}

/** The texts of all of a map's entities, in the map's order, as a JSON array. */
const allTexts = <A extends object>(map: HashMap.HashMap<string, A>, toTuple: (a: A) => unknown): string => {
  const texts: string[] = []
  for (const entity of HashMap.values(map)) texts.push(textOf(entity, toTuple))
  return `[${texts.join(",")}]`
}

/**
 * What changed from `before` to `after`: the entities that are not the same object as before (or are
 * new), in `after`'s order, and the ids that are gone, in `before`'s order. The persistent maps share
 * what `evolve` did not touch, so the walk of projections/hashMapDiff.ts visits only the changes; the
 * whole-map comparison below is its fallback (a map layout that walk does not know) and its oracle.
 */
const mapChanges = <A extends { readonly id: string }>(
  before: HashMap.HashMap<string, A>,
  after: HashMap.HashMap<string, A>
): MapChanges<string, A> => hashMapChanges(before, after) ?? wholeMapChanges(before, after)

/** `mapChanges` by looking up every entity of `after` in `before`: costs both maps' size. */
export const wholeMapChanges = <A extends { readonly id: string }>(
  before: HashMap.HashMap<string, A>,
  after: HashMap.HashMap<string, A>
): MapChanges<string, A> => {
  const previous = new Map<string, A>()
  for (const entity of HashMap.values(before)) previous.set(entity.id, entity)
  const changed: A[] = []
  const ids = new Set<string>()
  for (const entity of HashMap.values(after)) {
    ids.add(entity.id)
    if (previous.get(entity.id) !== entity) changed.push(entity)
  }
  const gone: string[] = []
  for (const id of previous.keys()) if (!ids.has(id)) gone.push(id)
  return { changed, gone }
}

const poolText = (state: PoolState): string =>
  JSON.stringify(state.pool === undefined ? null : poolInfoToTuple(state.pool))

/** The snapshot text of a whole state: the schema's encoding, as JSON. */
export const encodeSnapshot = (state: PoolState): string =>
  `{"atUs":${JSON.stringify(state.atUs)},"pool":${poolText(state)},"hosts":${allTexts(state.hosts, hostToTuple)}` +
  `,"vms":${allTexts(state.vms, vmToTuple)},"migrations":${allTexts(state.migrations, migrationToTuple)}}`

interface EncodedState {
  readonly atUs: number
  readonly pool: PoolInfoTuple | null
  readonly hosts: ReadonlyArray<HostTuple>
  readonly vms: ReadonlyArray<VmTuple>
  readonly migrations: ReadonlyArray<MigrationTuple>
}

interface EncodedStateChanges extends EncodedState {
  readonly base: number
  readonly gone: readonly [ReadonlyArray<HostId>, ReadonlyArray<VmId>, ReadonlyArray<MigrationId>]
}

/** What a snapshot holds: a whole state, or the changes since the snapshot at `changes.base`. */
export type DecodedSnapshot =
  | { readonly _tag: "state"; readonly state: PoolState }
  | { readonly _tag: "changes"; readonly changes: PoolStateChanges }

const stateOf = (parts: EncodedState): PoolState => ({
  pool: parts.pool === null ? undefined : poolInfoFromTuple(parts.pool),
  hosts: byId(parts.hosts.map(hostFromTuple)),
  vms: byId(parts.vms.map(vmFromTuple)),
  migrations: byId(parts.migrations.map(migrationFromTuple)),
  atUs: parts.atUs
})

const changesOf = (parts: EncodedStateChanges): PoolStateChanges => ({
  base: parts.base,
  atUs: parts.atUs,
  pool: parts.pool === null ? undefined : poolInfoFromTuple(parts.pool),
  hosts: parts.hosts.map(hostFromTuple),
  vms: parts.vms.map(vmFromTuple),
  migrations: parts.migrations.map(migrationFromTuple),
  goneHosts: parts.gone[0],
  goneVms: parts.gone[1],
  goneMigrations: parts.gone[2]
})

/** What a snapshot's text holds; what `Schema.decodeUnknown(SnapshotData)` gives for the parsed JSON. */
export const decodeSnapshotData = (data: string): Either.Either<DecodedSnapshot, SnapshotDecodeError> => {
  let json: unknown
  try {
    json = JSON.parse(data)
  } catch (error) {
    return Either.left(new SnapshotDecodeError({ detail: `not JSON: ${String(error)}` }))
  }
  const changes = typeof json === "object" && json !== null && "base" in json
  if (!(changes ? checkChanges(json) : checkState(json)))
    return Either.left(new SnapshotDecodeError({ detail: "does not fit the snapshot schema of this version" }))
  return Either.right(
    changes
      ? { _tag: "changes", changes: changesOf(json as EncodedStateChanges) }
      : { _tag: "state", state: stateOf(json as EncodedState) }
  )
}

/** The whole state a snapshot's text holds; changes since another snapshot are refused. */
export const decodeSnapshot = (data: string): Either.Either<PoolState, SnapshotDecodeError> =>
  Either.flatMap(decodeSnapshotData(data), (decoded) =>
    decoded._tag === "state"
      ? Either.right(decoded.state)
      : Either.left(
          new SnapshotDecodeError({ detail: `changes since snapshot ${decoded.changes.base}, not a whole state` })
        )
  )

/**
 * The snapshot text of what changed from `previous` (the state of snapshot `base`) to `state`: the
 * schema's encoding of those changes, as JSON. Unchanged entities are found by identity, which the
 * persistent state keeps for everything `evolve` did not touch; the cost is about what changed.
 */
export const encodeChanges = (previous: PoolState, state: PoolState, base: number): string => {
  const hosts = mapChanges(previous.hosts, state.hosts)
  const vms = mapChanges(previous.vms, state.vms)
  const migrations = mapChanges(previous.migrations, state.migrations)
  const texts = <A extends object>(changed: ReadonlyArray<A>, toTuple: (a: A) => unknown) =>
    `[${changed.map((entity) => textOf(entity, toTuple)).join(",")}]`
  return (
    `{"base":${JSON.stringify(base)},"atUs":${JSON.stringify(state.atUs)},"pool":${poolText(state)}` +
    `,"hosts":${texts(hosts.changed, hostToTuple)},"vms":${texts(vms.changed, vmToTuple)}` +
    `,"migrations":${texts(migrations.changed, migrationToTuple)}` +
    `,"gone":${JSON.stringify([hosts.gone, vms.gone, migrations.gone])}}`
  )
}

const applyTo = <K, A extends { readonly id: K }>(
  map: HashMap.HashMap<K, A>,
  changed: ReadonlyArray<A>,
  gone: ReadonlyArray<K>
): HashMap.HashMap<K, A> =>
  changed.length === 0 && gone.length === 0
    ? map
    : HashMap.mutate(map, (m) => {
        for (const entity of changed) HashMap.set(m, entity.id, entity)
        for (const key of gone) HashMap.remove(m, key)
      })

/** The state `changes` lead to from the state of the snapshot they were taken against. */
export const applyChanges = (state: PoolState, changes: PoolStateChanges): PoolState => ({
  pool: changes.pool,
  hosts: applyTo(state.hosts, changes.hosts, changes.goneHosts),
  vms: applyTo(state.vms, changes.vms, changes.goneVms),
  migrations: applyTo(state.migrations, changes.migrations, changes.goneMigrations),
  atUs: changes.atUs
})
