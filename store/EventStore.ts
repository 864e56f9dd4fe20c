/**
 * The event store port (DESIGN.md §3), with KurrentDB's semantics so that every adapter behaves alike:
 * streams of events with 0-based contiguous revisions, a global position across streams, atomic
 * batch appends guarded by an expected revision, idempotent re-append by event id, reads forwards and
 * backwards, read-all by position, and a subscription that delivers everything after a position.
 *
 * Revisions and positions are plain safe integers here; adapters whose client uses bigint (KurrentDB)
 * normalise at their boundary.
 */
import { Context, type Effect, type Stream } from "effect"
import type { EventId } from "../domain/ids.js"
import type { PoolEvent } from "../domain/events.js"
import type { EventDecodeError, NoSuchRevision, StoreError, WrongExpectedVersion } from "./errors.js"

/** What an append expects of the stream before it writes (KurrentDB's `streamState`). */
export type ExpectedRevision =
  | { readonly _tag: "any" }
  | { readonly _tag: "noStream" }
  | { readonly _tag: "streamExists" }
  | { readonly _tag: "revision"; readonly revision: number }

export const ExpectedRevision = {
  any: { _tag: "any" } as ExpectedRevision,
  noStream: { _tag: "noStream" } as ExpectedRevision,
  streamExists: { _tag: "streamExists" } as ExpectedRevision,
  at: (revision: number): ExpectedRevision => ({ _tag: "revision", revision })
}

export const formatExpected = (expected: ExpectedRevision): string =>
  expected._tag === "revision" ? String(expected.revision) : expected._tag

/** An event to append, with the id the engine drew for it from its seeded PRNG. */
export interface NewEvent {
  readonly id: EventId
  readonly event: PoolEvent
}

export interface RecordedEvent {
  readonly stream: string
  /** 0-based, contiguous within the stream. */
  readonly revision: number
  /** Global position across all streams: strictly increasing in append order (not necessarily contiguous). */
  readonly position: number
  readonly id: EventId
  readonly event: PoolEvent
}

export interface AppendResult {
  /** The stream's revision after the append (its last event's revision). */
  readonly nextExpectedRevision: number
  /** The global position of the batch's last event. */
  readonly position: number
  /** False when the whole batch was already the stream's tail (an idempotent re-append wrote nothing). */
  readonly written: boolean
}

export type ReadDirection = "forwards" | "backwards"

export interface ReadOptions {
  /** First revision to read (inclusive); default: start for forwards, end for backwards. */
  readonly from?: number | "start" | "end"
  readonly direction?: ReadDirection
  /** At most this many events; adapters may page internally. */
  readonly maxCount?: number
}

export interface ReadAllOptions {
  /** Read events with position strictly greater than this; default: from the beginning. */
  readonly after?: number
  readonly maxCount?: number
}

export interface StreamInfo {
  readonly stream: string
  /** Number of events: last revision + 1. */
  readonly events: number
  readonly lastAtUs: number
}

/**
 * Where a branch stream leaves its parent: its revisions 0..`parentRevision` are the parent's, read through
 * from the parent (never copied); its own events follow (store/branches.ts, docs/branches.md).
 */
export interface BranchPoint {
  readonly parent: string
  readonly parentRevision: number
}

export interface EventStoreShape {
  /** A human-readable store URL without secrets, for messages. */
  readonly url: string
  readonly append: (
    stream: string,
    events: ReadonlyArray<NewEvent>,
    expected: ExpectedRevision
  ) => Effect.Effect<AppendResult, WrongExpectedVersion | StoreError>
  /**
   * A sequence of batches as ONE atomic append, for a run too long to hold as one array: the stream gets
   * every event or none, and no reader sees any of them before all are there (on KurrentDB, past one
   * server append, see docs/durability.md). `expected` is checked against the stream before the first
   * batch; the batches follow at contiguous revisions. The batches are pulled one at a time, with a turn
   * of the event loop between them, so the append can be interrupted (a signal) until it commits: an
   * interrupted append writes nothing. `onCommitted` runs as soon as the commit has landed, before anything
   * else can interrupt the caller (so a signal handler can say truthfully what was written).
   */
  readonly appendBatches: (
    stream: string,
    batches: Iterable<ReadonlyArray<NewEvent>>,
    expected: ExpectedRevision,
    onCommitted?: (result: AppendResult) => void
  ) => Effect.Effect<AppendResult, WrongExpectedVersion | StoreError>
  /** One page of a stream; an absent stream reads as empty. */
  readonly read: (
    stream: string,
    options?: ReadOptions
  ) => Effect.Effect<ReadonlyArray<RecordedEvent>, StoreError | EventDecodeError>
  /** One page of the global log, in position order. */
  readonly readAll: (
    options?: ReadAllOptions
  ) => Effect.Effect<ReadonlyArray<RecordedEvent>, StoreError | EventDecodeError>
  /**
   * Everything after `after` (exclusive; default: from the start) in position order: the events already
   * stored (catch-up), then each new one as it is appended. None lost, none twice. Never ends by itself.
   */
  readonly subscribe: (options?: {
    readonly after?: number
  }) => Stream.Stream<RecordedEvent, StoreError | EventDecodeError>
  /** The streams in the store, in name order. */
  readonly streams: () => Effect.Effect<ReadonlyArray<StreamInfo>, StoreError>
  /** The last revision of a stream, or undefined when it does not exist. */
  readonly lastRevision: (stream: string) => Effect.Effect<number | undefined, StoreError>
  /**
   * Makes `stream` a branch of `point.parent` at `point.parentRevision`: one atomic append of `event` (the
   * `PoolForked` event that names that point) as the new stream's only stored event, at revision
   * `parentRevision + 1`. The stream must not exist (else WrongExpectedVersion, nothing written) and the
   * parent must have that revision (else NoSuchRevision).
   */
  readonly fork: (
    stream: string,
    point: BranchPoint,
    event: NewEvent
  ) => Effect.Effect<AppendResult, WrongExpectedVersion | NoSuchRevision | StoreError>
  /** Where `stream` branches off its parent; undefined for a stream that is not a branch (or not there). */
  readonly branchOf: (stream: string) => Effect.Effect<BranchPoint | undefined, StoreError>
}

export class EventStore extends Context.Tag("xenpool/EventStore")<EventStore, EventStoreShape>() {}
