/**
 * Branded identifiers, and the one grammar every pool, host, VM and migration id follows, wherever it
 * comes from (`--pool`, a scenario, a trace header or record, an event read back from a store):
 * 1 to 128 characters, letters, digits, `.`, `_` and `-`, the first a letter or digit. So an id is
 * printable (no control characters, no spaces: it reads well in a CLI table and quotes nowhere), it is
 * a file name and a path segment on every system (no `/` or `\`, no `..` or hidden `.x` segment, no `:`
 * that Windows and store URLs reserve), and `pool-<id>` is a stream name in SQLite and KurrentDB alike.
 * docs/decisions.md ("Inputs") says why it is this narrow.
 */
import { Schema } from "effect"

import { quoted } from "./text.js"

export const ID_LENGTH_MAX = 128
const idPattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/
/** The grammar in words, as every error about an id says it. */
const ID_GRAMMAR = `1 to ${ID_LENGTH_MAX} letters, digits, '.', '_' or '-', starting with a letter or digit`

export type IdKind = "pool" | "host" | "VM" | "migration"

export const isId = (text: string): boolean => idPattern.test(text)

/** What a bad id should have been: the same words for every kind and every input. */
export const idExpected = (kind: IdKind): string => `a ${kind} id: ${ID_GRAMMAR}`

/** A refused id as the error quotes it: control characters escaped (domain/text.ts), cut at 60. */
export const quoteId = (text: unknown): string => quoted(typeof text === "string" ? text : String(text))

/** `idExpected` with the refused value, for a message that stands alone. */
export const idProblem = (kind: IdKind, text: unknown): string => `${idExpected(kind)} (got ${quoteId(text)})`

/** An id of this kind as a plain string schema (inputs whose types stay strings: scenarios, trace headers). */
export const IdString = (kind: IdKind) =>
  Schema.String.pipe(Schema.pattern(idPattern, { message: (issue) => idProblem(kind, issue.actual) }))

export const PoolId = IdString("pool").pipe(Schema.brand("PoolId"))
export type PoolId = typeof PoolId.Type
export const HostId = IdString("host").pipe(Schema.brand("HostId"))
export type HostId = typeof HostId.Type
export const VmId = IdString("VM").pipe(Schema.brand("VmId"))
export type VmId = typeof VmId.Type
export const MigrationId = IdString("migration").pipe(Schema.brand("MigrationId"))
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
