/**
 * The in-memory adapter (`memory:`), for tests and properties. It keeps events in their stored form
 * (encoded with the schemas, decoded on read, as SQLite does) so that it cannot hide a codec bug; each
 * event is decoded once and the result kept.
 *
 * Every operation is one synchronous step, so appends are atomic and serialised without locks.
 */
import { Effect, Either, Layer } from "effect"
import { decodeRecorded, encodeEvent, type StoredEvent } from "./codec.js"
import {
  EventStore,
  type AppendResult,
  type EventStoreShape,
  type ExpectedRevision,
  type NewEvent,
  type ReadAllOptions,
  type ReadOptions,
  type RecordedEvent,
  type StreamInfo
} from "./EventStore.js"
import type { EventDecodeError, StoreError } from "./errors.js"
import { layerMemorySnapshots } from "./memorySnapshots.js"
import type { SnapshotStore } from "./SnapshotStore.js"
import { beforeFirstPosition, clampMaxCount, decideAppend, readRange, sameIds, wrongExpectedVersion } from "./rules.js"
import { withBranches } from "./branches.js"
import { nextTurn } from "./turn.js"
import { followLog, makeAppendSignal } from "./subscription.js"

export const memoryUrl = "memory:"

interface StoredInMemory extends StoredEvent {
  readonly atUs: number
}

interface MemoryStream {
  /** Indexed by revision. */
  readonly events: StoredInMemory[]
  /**
   * Each event's revision by id, for idempotent retries: built by the first append that has to look an
   * id up (one onto events already there) and kept up to date from then on. A stream written in one
   * append (a simulation's log) never needs it.
   */
  revisionById: Map<string, number> | undefined
}

interface MemoryState {
  readonly streams: Map<string, MemoryStream>
  /** The global log, indexed by position - 1. */
  readonly log: StoredInMemory[]
  /** Decoded events by position - 1, filled on first read. */
  readonly decoded: Array<RecordedEvent | undefined>
}

/** The memory store, plus a hook for tests of decode failures. */
export interface MemoryEventStore extends EventStoreShape {
  /**
   * Replaces the stored JSON of one event, as disk corruption or an incompatible schema change would.
   * Only for tests: it is how the contract suite proves decode failures surface.
   */
  readonly unsafeReplaceStoredData: (stream: string, revision: number, data: string) => Effect.Effect<void>
}

const storedRows = (state: MemoryState, stream: string, firstRevision: number, batch: ReadonlyArray<NewEvent>) =>
  batch.map(({ id, event }, i): StoredInMemory => {
    const { type, data } = encodeEvent(event)
    const position = state.log.length + i + 1
    return { stream, revision: firstRevision + i, position, id, type, data, atUs: event.atUs }
  })

const write = (state: MemoryState, stream: string, rows: ReadonlyArray<StoredInMemory>): void => {
  let entry = state.streams.get(stream)
  if (entry === undefined) {
    entry = { events: [], revisionById: undefined }
    state.streams.set(stream, entry)
  }
  const index = entry.revisionById
  for (const row of rows) {
    entry.events.push(row)
    index?.set(row.id, row.revision)
    state.log.push(row)
  }
}

/** The revision of the event with this id in the stream, if it is there. */
const revisionOf = (entry: MemoryStream | undefined, id: string): number | undefined => {
  if (entry === undefined || entry.events.length === 0) return undefined
  if (entry.revisionById === undefined) entry.revisionById = new Map(entry.events.map((row) => [row.id, row.revision]))
  return entry.revisionById.get(id)
}

const lastPositionOf = (entry: MemoryStream | undefined): number =>
  entry === undefined || entry.events.length === 0 ? -1 : entry.events[entry.events.length - 1]!.position

/** One synchronous step: decide, then write or acknowledge. */
const appendNow = (
  state: MemoryState,
  stream: string,
  batch: ReadonlyArray<NewEvent>,
  expected: ExpectedRevision
): Either.Either<AppendResult, ReturnType<typeof wrongExpectedVersion>> => {
  const entry = state.streams.get(stream)
  const lastRevision = entry === undefined ? undefined : entry.events.length - 1
  const firstId = batch[0]?.id
  const firstIdRevision = firstId === undefined ? undefined : revisionOf(entry, firstId)
  const decision = decideAppend({ expected, batchSize: batch.length, lastRevision, firstIdRevision })
  switch (decision._tag) {
    case "wrongExpectedVersion":
      return Either.left(wrongExpectedVersion(stream, expected, lastRevision))
    case "nothing":
      return Either.right({ nextExpectedRevision: lastRevision ?? -1, position: lastPositionOf(entry), written: false })
    case "compareIds": {
      const tail = entry!.events.slice(decision.firstRevision, decision.firstRevision + batch.length)
      if (
        !sameIds(
          tail.map((row) => row.id),
          batch
        )
      ) {
        return Either.left(wrongExpectedVersion(stream, expected, lastRevision))
      }
      const last = tail[tail.length - 1]!
      return Either.right({ nextExpectedRevision: last.revision, position: last.position, written: false })
    }
    case "write": {
      const rows = storedRows(state, stream, decision.firstRevision, batch)
      write(state, stream, rows)
      const last = rows[rows.length - 1]!
      return Either.right({ nextExpectedRevision: last.revision, position: last.position, written: true })
    }
  }
}

const decodeCached = (
  state: MemoryState,
  rows: ReadonlyArray<StoredInMemory>
): Either.Either<ReadonlyArray<RecordedEvent>, EventDecodeError> => {
  const recorded: RecordedEvent[] = new Array<RecordedEvent>(rows.length)
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!
    let one = state.decoded[row.position - 1]
    if (one === undefined) {
      const decoded = decodeRecorded(row)
      if (Either.isLeft(decoded)) return Either.left(decoded.left)
      one = decoded.right
      state.decoded[row.position - 1] = one
    }
    recorded[i] = one
  }
  return Either.right(recorded)
}

const selectRevisions = (entry: MemoryStream | undefined, options: ReadOptions | undefined) => {
  if (entry === undefined) return []
  const { direction, fromRevision, maxCount } = readRange(options)
  if (direction === "forwards") return entry.events.slice(fromRevision, fromRevision + maxCount)
  const start = Math.min(fromRevision, entry.events.length - 1)
  return entry.events.slice(Math.max(0, start - maxCount + 1), start + 1).reverse()
}

const selectAfter = (state: MemoryState, options: ReadAllOptions | undefined) => {
  // Positions are 1-based and contiguous here, so the events after position p start at index p.
  const start = Math.max(0, Math.floor(options?.after ?? beforeFirstPosition))
  return state.log.slice(start, start + clampMaxCount(options?.maxCount))
}

const streamInfos = (state: MemoryState): ReadonlyArray<StreamInfo> =>
  [...state.streams.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([stream, entry]) => ({
      stream,
      events: entry.events.length,
      lastAtUs: entry.events[entry.events.length - 1]!.atUs
    }))

const replaceData = (state: MemoryState, stream: string, revision: number, data: string): void => {
  const events = state.streams.get(stream)?.events
  const row = events?.[revision]
  if (events === undefined || row === undefined) throw new Error(`no event ${stream}@${revision} to replace`)
  const replaced = { ...row, data }
  events[revision] = replaced
  state.log[row.position - 1] = replaced
  state.decoded[row.position - 1] = undefined
}

export const makeMemory: Effect.Effect<MemoryEventStore> = Effect.gen(function* () {
  const state: MemoryState = { streams: new Map(), log: [], decoded: [] }
  const signal = yield* makeAppendSignal
  const readAll = (options?: ReadAllOptions) => Effect.suspend(() => decodeCached(state, selectAfter(state, options)))
  const store: Omit<MemoryEventStore, "fork" | "branchOf"> = {
    url: memoryUrl,
    append: (stream, events, expected) =>
      Effect.suspend(() => appendNow(state, stream, events, expected)).pipe(
        Effect.tap((result) => (result.written ? signal.notify : Effect.void))
      ),
    // Collected (a turn of the event loop between batches), then one synchronous step: trivially atomic.
    appendBatches: (stream, batches, expected, onCommitted) =>
      Effect.gen(function* () {
        const events: NewEvent[] = []
        for (const batch of batches) {
          for (const event of batch) events.push(event)
          yield* nextTurn
        }
        const result = yield* Effect.uninterruptible(
          Effect.suspend(() => appendNow(state, stream, events, expected)).pipe(
            Effect.tap((result) => Effect.sync(() => onCommitted?.(result)))
          )
        )
        if (result.written) yield* signal.notify
        return result
      }),
    read: (stream, options) =>
      Effect.suspend(() => decodeCached(state, selectRevisions(state.streams.get(stream), options))),
    readAll,
    subscribe: (options) =>
      followLog<StoreError | EventDecodeError>({
        after: options?.after ?? beforeFirstPosition,
        readPage: (after) => readAll({ after }),
        signal
      }),
    streams: () => Effect.sync(() => streamInfos(state)),
    lastRevision: (stream) =>
      Effect.sync(() => {
        const entry = state.streams.get(stream)
        return entry === undefined ? undefined : entry.events.length - 1
      }),
    unsafeReplaceStoredData: (stream, revision, data) => Effect.sync(() => replaceData(state, stream, revision, data))
  }
  return withBranches(store)
})

/** A fresh, empty memory store (events and their snapshots) each time the layer is built. */
export const layerMemory: Layer.Layer<EventStore | SnapshotStore> = Layer.merge(
  Layer.effect(EventStore, makeMemory),
  layerMemorySnapshots
)
