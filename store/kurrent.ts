/**
 * The KurrentDB / EventStoreDB adapter (`kurrentdb://HOST:PORT[,HOST:PORT...]?tls=false`,
 * `kurrentdb+discover://HOST`, and the deprecated `esdb://`), on `@kurrent/kurrentdb-client`: the store
 * for many writers on many machines. docs/kurrentdb.md says what it promises and what it costs.
 *
 * The shared rules (store/rules.ts) decide every append, as in the other adapters, against the stream as
 * this process last read it; the append then goes to the server with exactly that revision as its
 * `streamState` (a compare-and-set), so it lands only if nobody wrote in between. If somebody did, the
 * adapter reads what they wrote and decides again. That keeps KurrentDB's own guarantees (atomic batches,
 * optimistic concurrency between processes and machines) and the contract's exact idempotency rules,
 * which the server alone does not give (with `any` it dedupes only best effort, and with an explicit
 * revision it does not look for the batch's ids elsewhere in the stream).
 *
 * For that, the adapter keeps, per stream it appends to, the event ids by revision (read once from the
 * server, then only what other writers added). Event ids are the engine's, passed explicitly: the
 * client's random default would make a retried batch a second batch.
 */
import { withBranches, type PlainEventStore } from "./branches.js"
import { Context, Data, Duration, Effect, Either, Layer, Option, Schedule, type Scope } from "effect"
import type {
  AllStreamResolvedEvent,
  AppendResult as ClientAppendResult,
  AppendStreamState,
  EventData,
  Filter,
  GetStreamMetadataResult,
  ReadAllOptions as ClientReadAllOptions,
  ReadStreamOptions,
  ResolvedEvent
} from "@kurrent/kurrentdb-client"
import { decodeEvent, decodeEventJson, encodeEventJson, type StoredEventHeader } from "./codec.js"
import {
  EventStore,
  ExpectedRevision,
  type AppendResult,
  type EventStoreShape,
  type NewEvent,
  type ReadAllOptions,
  type ReadOptions,
  type RecordedEvent,
  type StreamInfo
} from "./EventStore.js"
import { nextTurn } from "./turn.js"
import { EventDecodeError, StoreError, type WrongExpectedVersion } from "./errors.js"
import {
  backwardsProblem,
  catalogueStream,
  classifyError,
  compareAndSetState,
  describeProblem,
  forwardsProblem,
  nameUuid,
  ownedStream,
  ownedStreamsRegex,
  parseKurrentUrl,
  positionNumber,
  readPositionAfter,
  retentionProblem,
  revisionNumber,
  streamStates,
  type KurrentUrl,
  type Problem
} from "./kurrentMapping.js"
import { beforeFirstPosition, clampMaxCount, decideAppend, readRange, sameIds, wrongExpectedVersion } from "./rules.js"
import { makeKurrentSnapshots } from "./kurrentSnapshots.js"
import { SnapshotStore, type SnapshotStoreShape } from "./SnapshotStore.js"
import { followLog, makeAppendSignal } from "./subscription.js"
import { redact, redactUrl } from "./redact.js"

/** The part of the client this adapter uses: the real client, or an emulation of it in tests. */
export interface KurrentClient {
  appendToStream(
    stream: string,
    events: EventData[],
    options: { readonly streamState: AppendStreamState }
  ): Promise<ClientAppendResult>
  readStream(stream: string, options: ReadStreamOptions): AsyncIterableIterator<ResolvedEvent>
  readAll(options: ClientReadAllOptions): AsyncIterableIterator<AllStreamResolvedEvent>
  getStreamMetadata(stream: string): Promise<GetStreamMetadataResult>
  dispose(): Promise<void>
}

export interface KurrentOptions {
  /**
   * Put before every stream name this store writes, and the only streams it reads: a store of its own
   * inside a shared database. Default: none. The contract tests give each test its own.
   */
  readonly streamPrefix?: string
  /** How often a caught-up subscription looks for other processes' appends. Default 100 ms. */
  readonly pollInterval?: Duration.DurationInput
  /** How long a subscription keeps trying to reconnect after losing the server. Default 30 s. */
  readonly reconnectFor?: Duration.DurationInput
  /**
   * The most bytes one server append may carry (the server's `MaxAppendSize`, 1 MiB by default). A run
   * longer than that is appended in several server appends and published by its catalogue entry, written
   * last (docs/durability.md). Default `defaultMaxAppendBytes`.
   */
  readonly maxAppendBytes?: number
  /** Makes the client instead of connecting to the URL (tests: an emulation of the client). */
  readonly connect?: (url: KurrentUrl) => Promise<KurrentClient>
}

const defaultKurrentPollInterval = Duration.millis(100)
const defaultReconnectFor = Duration.seconds(30)

/** KurrentDB's default `MaxAppendSize`: what one append may carry, data and framing. */
const defaultMaxAppendBytes = 1024 * 1024

/** What one event costs in an append besides its JSON data (id, type, content type, framing): on the safe side. */
const eventFramingBytes = 256

/** Appends that lose a race to other writers re-read and decide again, at most this many times. */
const appendAttemptsMax = 20

/** Events per read request when a stream or `$all` is paged through. */
const pageSize = 4096

/** How many `$all` positions are remembered with their exact `(commit, prepare)` pair. */
const knownPositionsMax = 10_000

// --- calls ----------------------------------------------------------------------------------------

/** A failed client call before it becomes a StoreError: subscriptions retry the transient ones. */
class CallFailure extends Data.TaggedError("CallFailure")<{
  readonly operation: string
  readonly problem: Problem
}> {}

/** A server answer that breaks the adapter's assumptions (a gap, a missing position): not transient. */
const invalid = (operation: string, detail: string) =>
  new CallFailure({ operation, problem: { kind: "other", transient: false, raw: detail } })

const isType = (error: unknown, type: string): boolean =>
  typeof error === "object" && error !== null && (error as { type?: unknown }).type === type

/**
 * One client call, bounded: the client's own deadline does not cover its native reads nor a server that
 * accepts connections and never answers, so every call also races the URL's deadline (plus a second).
 */
const callWith =
  (deadlineMs: number) =>
  <A>(operation: string, run: (signal: AbortSignal) => Promise<A>): Effect.Effect<A, CallFailure> =>
    Effect.tryPromise({
      try: run,
      catch: (error) => new CallFailure({ operation, problem: classifyError(error) })
    }).pipe(
      Effect.timeoutFail({
        duration: Duration.millis(deadlineMs + 1000),
        onTimeout: () => new CallFailure({ operation, problem: { kind: "timeout", transient: true, raw: "" } })
      })
    )

/** All the events of a read, or none when the stream does not exist; stops reading when interrupted. */
const drain = async <T>(iterator: AsyncIterableIterator<T>, signal: AbortSignal): Promise<T[]> => {
  const out: T[] = []
  try {
    for await (const item of iterator) {
      if (signal.aborted) break
      out.push(item)
    }
  } catch (error) {
    if (isType(error, "stream-not-found")) return []
    throw error
  } finally {
    if (signal.aborted) void iterator.return?.()
  }
  return out
}

// --- events ---------------------------------------------------------------------------------------

const toEventData = ({ id, event }: NewEvent): EventData => {
  const { type, json } = encodeEventJson(event)
  // The engine's id, never the client's random default: a retried batch must be the same batch.
  return { id, contentType: "application/json", type, data: json as Record<string, unknown>, metadata: undefined }
}

type ClientRecorded = NonNullable<ResolvedEvent["event"]>

/** Where a recorded event is, normalised; a string says what the server got wrong. */
const headerOf = (local: string, recorded: ClientRecorded): Either.Either<StoredEventHeader, string> => {
  const revision = revisionNumber(recorded.revision)
  if (Either.isLeft(revision)) return Either.left(`${local}: ${revision.left}`)
  const position = positionNumber(recorded.position)
  if (Either.isLeft(position)) return Either.left(`${local}@${revision.right}: ${position.left}`)
  const id = String(recorded.id).toLowerCase()
  return Either.right({ stream: local, revision: revision.right, position: position.right, id, type: recorded.type })
}

/**
 * The client parses JSON events itself and hands back the raw text when it is not JSON (or a string
 * that was); binary events come as bytes. Each is decoded with the schemas, and fails the same way.
 */
const decodeData = (header: StoredEventHeader, recorded: ClientRecorded) => {
  const data: unknown = recorded.data
  if (data instanceof Uint8Array) return decodeEvent({ ...header, data: Buffer.from(data).toString("utf8") })
  if (typeof data === "string") return decodeEvent({ ...header, data })
  return decodeEventJson(header, data)
}

const decodeRecordedEvent = (
  operation: string,
  local: string,
  recorded: ClientRecorded
): Either.Either<RecordedEvent, CallFailure | EventDecodeError> => {
  const header = headerOf(local, recorded)
  if (Either.isLeft(header)) return Either.left(invalid(operation, header.left))
  const event = decodeData(header.right, recorded)
  if (Either.isLeft(event)) return Either.left(event.left)
  const { stream, revision, position, id } = header.right
  return Either.right({ stream, revision, position, id: id as RecordedEvent["id"], event: event.right })
}

/** The revisions of a page, normalised, in the order read. */
const revisionsOf = (operation: string, page: ReadonlyArray<ResolvedEvent>) => {
  const revisions: number[] = []
  for (const resolved of page) {
    const revision = revisionNumber(resolved.event?.revision)
    if (Either.isLeft(revision)) return Either.left(invalid(operation, revision.left))
    revisions.push(revision.right)
  }
  return Either.right(revisions)
}

// --- the per-stream view of appends ---------------------------------------------------------------

/** What this process knows of a stream it appends to: every id from revision 0, and known positions. */
interface StreamView {
  loaded: boolean
  retentionChecked: boolean
  readonly ids: string[]
  /** By revision; NaN where not known yet. */
  readonly positions: number[]
  readonly revisionById: Map<string, number>
}

const newView = (): StreamView => ({
  loaded: false,
  retentionChecked: false,
  ids: [],
  positions: [],
  revisionById: new Map()
})

const lastOf = (view: StreamView): number | undefined => (view.ids.length === 0 ? undefined : view.ids.length - 1)

const remember = (view: StreamView, revision: number, id: string, position: number): void => {
  view.ids[revision] = id
  view.positions[revision] = position
  view.revisionById.set(id, revision)
}

// --- the store ------------------------------------------------------------------------------------

interface Ctx {
  readonly url: KurrentUrl
  readonly client: KurrentClient
  readonly prefix: string
  readonly call: ReturnType<typeof callWith>
  readonly storeError: (failure: CallFailure) => StoreError
  readonly views: Map<string, StreamView>
  readonly locks: Map<string, Effect.Semaphore>
  /** Our position → the exact `$all` position, for positions this store handed out (bounded). */
  readonly knownPositions: Map<number, { readonly commit: bigint; readonly prepare: bigint }>
  readonly maxAppendBytes: number
  /** Streams known to be in the catalogue (published); read from the server on a miss. */
  readonly published: Set<string>
}

const readPage = (ctx: Ctx, operation: string, stream: string, options: ReadStreamOptions) =>
  ctx.call(operation, (signal) => drain(ctx.client.readStream(ctx.prefix + stream, options), signal))

/** Reads what other writers appended since this process last looked (all of it the first time). */
const sync = (ctx: Ctx, stream: string, view: StreamView): Effect.Effect<void, CallFailure> =>
  Effect.gen(function* () {
    // Bounded by the stream's length: each page is full until the last.
    for (;;) {
      const from = view.ids.length
      const page = yield* readPage(ctx, "append", stream, { fromRevision: BigInt(from), maxCount: pageSize })
      const revisions = revisionsOf("append", page)
      if (Either.isLeft(revisions)) return yield* revisions.left
      const problem = forwardsProblem(stream, from, revisions.right)
      if (problem !== undefined) return yield* invalid("append", problem)
      for (let i = 0; i < page.length; i++) {
        const recorded = page[i]!.event!
        const position = positionNumber(recorded.position)
        remember(
          view,
          from + i,
          String(recorded.id).toLowerCase(),
          Either.getOrElse(position, () => Number.NaN)
        )
      }
      view.loaded = true
      if (page.length < pageSize) return
    }
  })

const checkRetention = (ctx: Ctx, stream: string, view: StreamView): Effect.Effect<void, CallFailure> =>
  view.retentionChecked
    ? Effect.void
    : Effect.gen(function* () {
        const result = yield* ctx.call("append", () => ctx.client.getStreamMetadata(ctx.prefix + stream))
        const problem = retentionProblem(stream, result.metadata)
        if (problem !== undefined) return yield* invalid("append", problem)
        view.retentionChecked = true
      })

/** The position of one event, read from the server if this process has not seen it yet. */
const positionAt = (ctx: Ctx, stream: string, view: StreamView, revision: number) =>
  Effect.gen(function* () {
    const known = view.positions[revision]
    if (known !== undefined && !Number.isNaN(known)) return known
    const page = yield* readPage(ctx, "append", stream, { fromRevision: BigInt(revision), maxCount: 1 })
    const position = positionNumber(page[0]?.event?.position)
    if (Either.isLeft(position)) return yield* invalid("append", `${stream}@${revision}: ${position.left}`)
    view.positions[revision] = position.right
    return position.right
  })

/**
 * Records the stream in the catalogue, so that `streams()` lists it and reads see it: before its first
 * event for a plain append, after its last for a run written in several server appends (`appendBatches`).
 */
const catalogue = (ctx: Ctx, stream: string) =>
  Effect.tap(catalogueCall(ctx, stream), () => Effect.sync(() => ctx.published.add(stream)))

const catalogueCall = (ctx: Ctx, stream: string) =>
  ctx.call("append", () =>
    ctx.client.appendToStream(
      ctx.prefix + catalogueStream,
      [
        {
          id: nameUuid(`xenpool-stream:${ctx.prefix}${stream}`),
          contentType: "application/json",
          type: "XenpoolStreamCreated",
          data: { stream },
          metadata: undefined
        }
      ],
      { streamState: streamStates.any }
    )
  )

type WriteOutcome = { readonly _tag: "written"; readonly result: AppendResult } | { readonly _tag: "conflict" }

/** One compare-and-set append at the stream's last revision as this process read it. */
const writeBatch = (ctx: Ctx, stream: string, view: StreamView, events: ReadonlyArray<NewEvent>) =>
  Effect.gen(function* () {
    const last = lastOf(view)
    const sent = yield* Effect.either(
      ctx.call("append", () =>
        ctx.client.appendToStream(ctx.prefix + stream, events.map(toEventData), {
          streamState: compareAndSetState(last)
        })
      )
    )
    if (Either.isLeft(sent)) {
      if (sent.left.problem.kind === "conflict") return { _tag: "conflict" } as WriteOutcome
      return yield* sent.left
    }
    const next = revisionNumber(sent.right.nextExpectedRevision)
    const expectedNext = (last ?? -1) + events.length
    if (Either.isLeft(next) || next.right !== expectedNext) {
      return yield* invalid(
        "append",
        `the server put ${stream}'s batch at revision ${String(sent.right.nextExpectedRevision)}, not ${expectedNext}: the stream was deleted and written again, its history is truncated`
      )
    }
    events.forEach(({ id }, i) => remember(view, expectedNext - events.length + 1 + i, id, Number.NaN))
    // A one-event batch's append position is its own; for longer ones it need not be the last event's.
    const own = events.length === 1 ? positionNumber(sent.right.position) : Either.left("")
    if (Either.isRight(own)) view.positions[expectedNext] = own.right
    const position = yield* positionAt(ctx, stream, view, expectedNext)
    return { _tag: "written", result: { nextExpectedRevision: expectedNext, position, written: true } } as WriteOutcome
  })

const appendLocked = (
  ctx: Ctx,
  stream: string,
  events: ReadonlyArray<NewEvent>,
  expected: ExpectedRevision,
  /** Catalogue a new stream before its first event (a plain append); false while a long run is being written. */
  catalogueNew = true
): Effect.Effect<AppendResult, WrongExpectedVersion | CallFailure> =>
  Effect.gen(function* () {
    const view = ctx.views.get(stream) ?? newView()
    ctx.views.set(stream, view)
    // Fresh: read from the server during this append. Decisions to refuse are only made on fresh views,
    // so that the evidence (`actual`) is the stream as it is, not as this process last saw it.
    let fresh = false
    const refresh = Effect.map(sync(ctx, stream, view), () => {
      fresh = true
    })
    if (!view.loaded || events.length === 0) yield* refresh
    for (let attempt = 1; attempt <= appendAttemptsMax; attempt++) {
      const last = lastOf(view)
      const firstIdRevision = events.length === 0 ? undefined : view.revisionById.get(events[0]!.id)
      const decision = decideAppend({ expected, batchSize: events.length, lastRevision: last, firstIdRevision })
      const refuse = () => (fresh ? wrongExpectedVersion(stream, expected, last) : undefined)
      switch (decision._tag) {
        case "wrongExpectedVersion": {
          const error = refuse()
          if (error !== undefined) return yield* error
          yield* refresh
          continue
        }
        case "nothing":
          return {
            nextExpectedRevision: last ?? -1,
            position: last === undefined ? -1 : yield* positionAt(ctx, stream, view, last),
            written: false
          }
        case "compareIds": {
          const lastOfBatch = decision.firstRevision + events.length - 1
          if (sameIds(view.ids.slice(decision.firstRevision, lastOfBatch + 1), events)) {
            return {
              nextExpectedRevision: lastOfBatch,
              position: yield* positionAt(ctx, stream, view, lastOfBatch),
              written: false
            }
          }
          const error = refuse()
          if (error !== undefined) return yield* error
          yield* refresh
          continue
        }
        case "write": {
          yield* checkRetention(ctx, stream, view)
          if (last === undefined && catalogueNew) yield* catalogue(ctx, stream)
          const outcome = yield* writeBatch(ctx, stream, view, events)
          if (outcome._tag === "written") return outcome.result
          // Another writer got there first: read what it wrote and decide again.
          yield* refresh
          continue
        }
      }
    }
    return yield* invalid(
      "append",
      `${stream}: other writers kept appending first; gave up after ${appendAttemptsMax} attempts`
    )
  })

/**
 * A run as one append when it fits in one server append (atomic, as the server promises). A longer one
 * goes in several, each a compare-and-set after the last, with the stream left out of the catalogue until
 * the last has landed: until then `streams()` does not list it and reads find nothing (`isPublished`).
 * Killed part-way, it stays unpublished; the same run again (same input, seed and pool id, so the same
 * event ids) finds its batches already there, acknowledges them and completes it.
 */
const appendBatchesLocked = (
  ctx: Ctx,
  stream: string,
  batches: Iterable<ReadonlyArray<NewEvent>>,
  expected: ExpectedRevision,
  onCommitted: ((result: AppendResult) => void) | undefined
): Effect.Effect<AppendResult, WrongExpectedVersion | CallFailure> =>
  Effect.gen(function* () {
    let pending: NewEvent[] = []
    let pendingBytes = 0
    let next = expected
    let sentBefore = false
    let writtenBefore = false
    for (const batch of batches) {
      for (const one of batch) {
        const bytes = Buffer.byteLength(JSON.stringify(encodeEventJson(one.event).json)) + eventFramingBytes
        if (pending.length > 0 && pendingBytes + bytes > ctx.maxAppendBytes) {
          const part = yield* appendLocked(ctx, stream, pending, next, false)
          writtenBefore ||= part.written
          sentBefore = true
          next = ExpectedRevision.at(part.nextExpectedRevision)
          pending = []
          pendingBytes = 0
        }
        pending.push(one)
        pendingBytes += bytes
      }
      yield* nextTurn
    }
    // The last server append and the catalogue entry publish the run: not interrupted half-way.
    return yield* Effect.uninterruptible(
      Effect.gen(function* () {
        const last = yield* appendLocked(ctx, stream, pending, next, !sentBefore)
        if (sentBefore && !ctx.published.has(stream)) yield* catalogue(ctx, stream)
        const result = { ...last, written: last.written || writtenBefore }
        onCommitted?.(result)
        return result
      })
    )
  })

/** Whether a stream is in the catalogue: a run written in several appends is not until it is whole. */
const isPublished = (ctx: Ctx, stream: string) =>
  Effect.gen(function* () {
    if (ctx.published.has(stream)) return true
    for (const name of yield* catalogued(ctx)) ctx.published.add(name)
    return ctx.published.has(stream)
  })

const lockOf = (ctx: Ctx, stream: string): Effect.Semaphore => {
  let lock = ctx.locks.get(stream)
  if (lock === undefined) {
    lock = Effect.unsafeMakeSemaphore(1)
    ctx.locks.set(stream, lock)
  }
  return lock
}

// --- reads ----------------------------------------------------------------------------------------

const decodePage = (
  operation: string,
  page: ReadonlyArray<{ readonly event?: ClientRecorded | undefined }>,
  localOf: (recorded: ClientRecorded) => string | undefined
): Either.Either<ReadonlyArray<RecordedEvent>, CallFailure | EventDecodeError> => {
  const out: RecordedEvent[] = []
  for (const resolved of page) {
    const recorded = resolved.event
    const local = recorded === undefined ? undefined : localOf(recorded)
    if (recorded === undefined || local === undefined) continue
    const one = decodeRecordedEvent(operation, local, recorded)
    if (Either.isLeft(one)) return Either.left(one.left)
    out.push(one.right)
  }
  return Either.right(out)
}

const lastRevisionOf = (ctx: Ctx, operation: string, stream: string) =>
  Effect.gen(function* () {
    const page = yield* readPage(ctx, operation, stream, { fromRevision: "end", direction: "backwards", maxCount: 1 })
    if (page.length === 0) return undefined
    const revision = revisionNumber(page[0]!.event?.revision)
    return Either.isLeft(revision) ? yield* invalid(operation, revision.left) : revision.right
  })

const readStreamPage = (ctx: Ctx, stream: string, options: ReadOptions | undefined) =>
  Effect.gen(function* () {
    const { direction, fromRevision, maxCount } = readRange(options)
    if (maxCount === 0 || fromRevision < 0) return []
    let page: ReadonlyArray<ResolvedEvent>
    let problem: string | undefined
    if (direction === "forwards") {
      page = yield* readPage(ctx, "read", stream, { fromRevision: BigInt(fromRevision), maxCount })
      const revisions = revisionsOf("read", page)
      if (Either.isLeft(revisions)) return yield* revisions.left
      problem = forwardsProblem(stream, fromRevision, revisions.right)
    } else {
      // Backwards from a revision past the end starts at the end: clamp it first, whatever the server does.
      const last = yield* lastRevisionOf(ctx, "read", stream)
      if (last === undefined) return []
      const from = Math.min(fromRevision, last)
      page = yield* readPage(ctx, "read", stream, { fromRevision: BigInt(from), direction: "backwards", maxCount })
      const revisions = revisionsOf("read", page)
      if (Either.isLeft(revisions)) return yield* revisions.left
      problem = backwardsProblem(stream, from, maxCount, revisions.right)
    }
    if (problem !== undefined) return yield* invalid("read", problem)
    const decoded = decodePage("read", page, () => stream)
    return Either.isLeft(decoded) ? yield* decoded.left : decoded.right
  })

const rememberPositions = (ctx: Ctx, page: ReadonlyArray<AllStreamResolvedEvent>): void => {
  for (const resolved of page) {
    const position = resolved.event?.position
    const ours = position === undefined ? undefined : positionNumber(position)
    if (position === undefined || ours === undefined || Either.isLeft(ours)) continue
    if (ctx.knownPositions.size >= knownPositionsMax) {
      ctx.knownPositions.delete(ctx.knownPositions.keys().next().value!)
    }
    ctx.knownPositions.set(ours.right, { commit: position.commit, prepare: position.prepare })
  }
}

const readAllPage = (ctx: Ctx, options: ReadAllOptions | undefined) =>
  Effect.gen(function* () {
    const after = Math.floor(options?.after ?? beforeFirstPosition)
    const count = clampMaxCount(options?.maxCount)
    if (count === 0) return []
    const filter: Filter = { filterOn: "streamName", regex: ownedStreamsRegex(ctx.prefix), checkpointInterval: 1 }
    const fromPosition = readPositionAfter(after, ctx.knownPositions.get(after))
    // One more than asked: the read may start at the event at `after` itself.
    const page = yield* ctx.call("readAll", (signal) =>
      drain(ctx.client.readAll({ fromPosition, maxCount: count + 1, filter }), signal)
    )
    rememberPositions(ctx, page)
    const decoded = decodePage("readAll", page, (recorded) => ownedStream(ctx.prefix, recorded.streamId))
    if (Either.isLeft(decoded)) return yield* decoded.left
    const events = decoded.right.filter((r) => r.position > after).slice(0, count)
    for (let i = 1; i < events.length; i++) {
      if (events[i]!.position <= events[i - 1]!.position) {
        return yield* invalid(
          "readAll",
          `$all positions do not increase: ${events[i - 1]!.position} then ${events[i]!.position}`
        )
      }
    }
    return events
  })

const catalogued = (ctx: Ctx) =>
  Effect.gen(function* () {
    const names = new Set<string>()
    for (let from = 0; ; from += pageSize) {
      const page = yield* readPage(ctx, "streams", catalogueStream, { fromRevision: BigInt(from), maxCount: pageSize })
      for (const resolved of page) {
        const data = resolved.event?.data as { stream?: unknown } | undefined
        if (typeof data?.stream === "string") names.add(data.stream)
      }
      if (page.length < pageSize) return [...names]
    }
  })

const streamInfo = (ctx: Ctx, stream: string) =>
  Effect.gen(function* () {
    const page = yield* readPage(ctx, "streams", stream, { fromRevision: "end", direction: "backwards", maxCount: 1 })
    const decoded = decodePage("streams", page, () => stream)
    if (Either.isLeft(decoded)) {
      const error = decoded.left
      return yield* error instanceof EventDecodeError ? invalid("streams", error.message) : error
    }
    const last = decoded.right[0]
    return last === undefined
      ? Option.none()
      : Option.some({ stream, events: last.revision + 1, lastAtUs: last.event.atUs })
  })

// --- opening --------------------------------------------------------------------------------------

const connectReal = async (url: KurrentUrl): Promise<KurrentClient> => {
  // Loaded when a KurrentDB store is opened, not when the CLI starts: the client and its native bridge
  // take a noticeable part of a second to load.
  const { KurrentDBClient } = await import("@kurrent/kurrentdb-client")
  const client = KurrentDBClient.connectionString(url.connectionString)
  // `dispose` cancels the client's open streams but leaves its gRPC channel, which keeps a process alive
  // while it waits on a server that accepted the connection and never answered: close that too.
  const dispose = client.dispose
  const channelOf = (client as unknown as { readonly getChannel?: () => Promise<{ close(): void }> }).getChannel
  client.dispose = async () => {
    const disposing = dispose()
    // Closing the channel first also ends the calls `dispose` would otherwise wait for.
    if (channelOf !== undefined) (await channelOf()).close()
    await disposing
  }
  return client
}

/**
 * Proves the server is there and lets us in, within the deadline: the client's server-features call
 * (over gRPC, whose errors say what went wrong: refused, TLS, ...) and a read (which needs the rights).
 */
const probe = (ctx: Ctx): Effect.Effect<void, CallFailure> =>
  Effect.gen(function* () {
    const features = (ctx.client as unknown as { readonly capabilities?: Promise<unknown> }).capabilities
    if (features !== undefined) yield* ctx.call("open", () => features)
    yield* readPage(ctx, "open", `${catalogueStream}-probe`, { fromRevision: "start", maxCount: 1 })
  })

const openContext = (url: KurrentUrl, options: KurrentOptions): Effect.Effect<Ctx, StoreError, Scope.Scope> =>
  Effect.gen(function* () {
    const call = callWith(url.deadlineMs)
    // The client's own words may quote its connection string (its native bridge's parse errors are all of it).
    const storeError = (failure: CallFailure) =>
      new StoreError({
        url: url.redacted,
        operation: failure.operation,
        detail: redact(describeProblem(failure.problem, url), [url.connectionString])
      })
    const client = yield* Effect.acquireRelease(
      Effect.mapError(
        call("open", () => (options.connect ?? connectReal)(url)),
        storeError
      ),
      // Bounded too: a client stuck on a silent server must not keep the process from exiting.
      (client) =>
        Effect.ignore(
          Effect.timeout(
            Effect.tryPromise(() => client.dispose()),
            "2 seconds"
          )
        )
    )
    const ctx: Ctx = {
      url,
      client,
      prefix: options.streamPrefix ?? "",
      call,
      storeError,
      views: new Map(),
      locks: new Map(),
      knownPositions: new Map(),
      maxAppendBytes: options.maxAppendBytes ?? defaultMaxAppendBytes,
      published: new Set()
    }
    yield* Effect.mapError(probe(ctx), storeError)
    return ctx
  })

/** Failures become StoreErrors; WrongExpectedVersion and decode errors pass through as they are. */
const finish = <A, E>(
  ctx: Ctx,
  effect: Effect.Effect<A, E | CallFailure>
): Effect.Effect<A, Exclude<E, CallFailure> | StoreError> =>
  Effect.mapError(effect, (error) =>
    error instanceof CallFailure ? ctx.storeError(error) : (error as Exclude<E, CallFailure>)
  )

export interface KurrentStores {
  readonly events: EventStoreShape
  readonly snapshots: SnapshotStoreShape
}

const makeEvents = (ctx: Ctx, options: KurrentOptions) =>
  Effect.gen(function* () {
    const signal = yield* makeAppendSignal
    const retryTransient = Schedule.exponential("100 millis").pipe(
      Schedule.union(Schedule.spaced("2 seconds")),
      Schedule.upTo(options.reconnectFor ?? defaultReconnectFor)
    )
    const store: PlainEventStore = {
      url: ctx.url.redacted,
      append: (stream, events, expected) =>
        finish(ctx, lockOf(ctx, stream).withPermits(1)(appendLocked(ctx, stream, events, expected))).pipe(
          Effect.tap((result) => (result.written ? signal.notify : Effect.void))
        ),
      appendBatches: (stream, batches, expected, onCommitted) =>
        finish(
          ctx,
          lockOf(ctx, stream).withPermits(1)(appendBatchesLocked(ctx, stream, batches, expected, onCommitted))
        ).pipe(Effect.tap((result) => (result.written ? signal.notify : Effect.void))),
      read: (stream, readOptions) =>
        finish(
          ctx,
          Effect.flatMap(isPublished(ctx, stream), (published) =>
            published ? readStreamPage(ctx, stream, readOptions) : Effect.succeed([])
          )
        ),
      readAll: (readOptions) => finish(ctx, readAllPage(ctx, readOptions)),
      subscribe: (subscribeOptions) =>
        followLog<StoreError | EventDecodeError>({
          after: subscribeOptions?.after ?? beforeFirstPosition,
          // Reconnecting is reading the next page again, from the last delivered position.
          readPage: (after) =>
            finish(
              ctx,
              Effect.retry(readAllPage(ctx, { after }), {
                schedule: retryTransient,
                while: (error) => error instanceof CallFailure && error.problem.transient
              })
            ),
          signal,
          pollInterval: options.pollInterval ?? defaultKurrentPollInterval
        }),
      streams: () => finish(ctx, listStreams(ctx)),
      lastRevision: (stream) =>
        finish(
          ctx,
          Effect.flatMap(isPublished(ctx, stream), (published) =>
            published ? lastRevisionOf(ctx, "lastRevision", stream) : Effect.succeed(undefined)
          )
        )
    }
    return withBranches(store)
  })

const listStreams = (ctx: Ctx) =>
  Effect.gen(function* () {
    const names = yield* catalogued(ctx)
    const infos = yield* Effect.forEach(names, (name) => streamInfo(ctx, name), { concurrency: 8 })
    const listed: StreamInfo[] = infos.flatMap((info) => (Option.isSome(info) ? [info.value] : []))
    return listed.sort((a, b) => (a.stream < b.stream ? -1 : a.stream > b.stream ? 1 : 0))
  })

const makeSnapshots = (ctx: Ctx): SnapshotStoreShape =>
  makeKurrentSnapshots({
    read: (stream, readOptions) => finish(ctx, readPage(ctx, "snapshots", stream, readOptions)),
    append: (stream, events) =>
      finish(
        ctx,
        ctx.call("snapshots", () =>
          ctx.client.appendToStream(ctx.prefix + stream, [...events], { streamState: streamStates.any })
        )
      )
  })

/**
 * Opens a KurrentDB store and its snapshots on one connection: connects, checks within the deadline
 * that the server answers and lets us in; closed with the scope.
 */
export const makeKurrentStores = (
  connectionString: string,
  options: KurrentOptions = {}
): Effect.Effect<KurrentStores, StoreError, Scope.Scope> =>
  Effect.gen(function* () {
    const parsed = parseKurrentUrl(connectionString)
    if (Either.isLeft(parsed)) {
      const url = redactUrl(connectionString)
      return yield* new StoreError({
        url,
        operation: "parse store URL",
        detail: redact(parsed.left, [connectionString])
      })
    }
    const ctx = yield* openContext(parsed.right, options)
    return { events: yield* makeEvents(ctx, options), snapshots: makeSnapshots(ctx) }
  })

/** The KurrentDB store named by a connection string, with its snapshots, opened when the layer is built. */
export const layerKurrent = (
  connectionString: string,
  options: KurrentOptions = {}
): Layer.Layer<EventStore | SnapshotStore, StoreError> =>
  Layer.scopedContext(
    Effect.map(makeKurrentStores(connectionString, options), ({ events, snapshots }) =>
      Context.make(EventStore, events).pipe(Context.add(SnapshotStore, snapshots))
    )
  )
