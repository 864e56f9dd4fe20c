/**
 * Branded identifiers. A pool, host, VM or migration id is a short printable name
 * (letters, digits, `.`, `_`, `-`), so ids read well in a CLI table and in a stream name.
 */
import { Schema } from "effect"

const idPattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/
const idString = (what: string) =>
  Schema.String.pipe(
    Schema.pattern(idPattern, {
      message: () => `a ${what} id: 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit`
    })
  )

export const PoolId = idString("pool").pipe(Schema.brand("PoolId"))
export type PoolId = typeof PoolId.Type
export const HostId = idString("host").pipe(Schema.brand("HostId"))
export type HostId = typeof HostId.Type
export const VmId = idString("VM").pipe(Schema.brand("VmId"))
export type VmId = typeof VmId.Type
export const MigrationId = idString("migration").pipe(Schema.brand("MigrationId"))
export type MigrationId = typeof MigrationId.Type

/** Event ids are UUID-shaped strings drawn from the engine's seeded PRNG (never randomUUID). */
export const EventId = Schema.String.pipe(
  Schema.pattern(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, {
    message: () => "a UUID-shaped event id (8-4-4-4-12 lowercase hex digits)"
  }),
  Schema.brand("EventId")
)
export type EventId = typeof EventId.Type

/** Unchecked casts for ids that are known valid (tests, generated data); inputs go through the schemas. */
export const poolId = (s: string) => s as PoolId
export const hostId = (s: string) => s as HostId
export const vmId = (s: string) => s as VmId
export const migrationId = (s: string) => s as MigrationId
export const eventId = (s: string) => s as EventId

/** The stream holding one pool's whole history (DESIGN.md §3). */
export const poolStreamName = (pool: PoolId): string => `pool-${pool}`
export const poolIdOfStream = (stream: string): PoolId | undefined =>
  stream.startsWith("pool-") ? (stream.slice(5) as PoolId) : undefined
