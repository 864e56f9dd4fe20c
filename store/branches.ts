/**
 * Branches, one implementation for every adapter (memory, SQLite, KurrentDB): a branch stream stores
 * only what is its own. Its first stored event is the `PoolForked` event naming the parent stream and the
 * revision R it branches at; that event is the reference to the parent's prefix (docs/branches.md says
 * why a reference and not a copy, and why an event and not a table).
 *
 * Readers see one stream with KurrentDB's contiguous 0-based revisions: revisions 0..R are read through
 * from the parent (relabelled with the branch's stream name, keeping the parent's global positions), the
 * fork event is revision R + 1, and the branch's own events follow. A stored (physical) revision p of the
 * branch is the revision p + R + 1 its readers see; appends, expected revisions and results translate.
 * The global log (`readAll`, `subscribe`) holds each stored event once: a branch's inherited events are
 * its parent's, and only its own appear under its name.
 *
 * Whether a stream is a branch is read once (its stored revision 0, which never changes once written)
 * and kept for the store's lifetime.
 */
import { Chunk, Effect, Stream } from "effect"
import { poolStreamName } from "../domain/ids.js"
import {
  ExpectedRevision,
  type AppendResult,
  type BranchPoint,
  type EventStoreShape,
  type NewEvent,
  type ReadOptions,
  type RecordedEvent,
  type StreamInfo
} from "./EventStore.js"
import { NoSuchRevision, type StoreError, WrongExpectedVersion } from "./errors.js"
import { readRange } from "./rules.js"

/** An adapter before branches are layered on it: streams as stored. */
export type PlainEventStore = Omit<EventStoreShape, "fork" | "branchOf">

/** What the stored revision 0 of a stream says: the branch point, or that it is no branch. */
type Known = BranchPoint | "plain"

/** Revisions a branch's readers see before its first stored event: the parent's 0..R. */
const offsetOf = (point: BranchPoint): number => point.parentRevision + 1

const shifted = (offset: number, stream?: string) => (e: RecordedEvent) => ({
  ...e,
  ...(stream === undefined ? {} : { stream }),
  revision: e.revision + offset
})

/** The expectation about the stream as its readers count, as the stored stream counts. */
const storedExpectation = (expected: ExpectedRevision, offset: number): ExpectedRevision =>
  // A revision inside the inherited prefix is never the branch's last: -1 is never a stored last either.
  expected._tag === "revision" ? ExpectedRevision.at(Math.max(-1, expected.revision - offset)) : expected

const readersConflict = (error: WrongExpectedVersion, expected: ExpectedRevision, offset: number) =>
  new WrongExpectedVersion({
    stream: error.stream,
    expected: expected._tag === "revision" ? String(expected.revision) : error.expected,
    actual: /^[0-9]+$/.test(error.actual) ? String(Number(error.actual) + offset) : error.actual
  })

/** `inner` with branches: `fork`, `branchOf`, and every read and append following branch points. */
export const withBranches = <S extends PlainEventStore>(inner: S): S & Pick<EventStoreShape, "fork" | "branchOf"> => {
  const known = new Map<string, Known>()

  const branchOf = (stream: string): Effect.Effect<BranchPoint | undefined, StoreError> =>
    Effect.suspend(() => {
      const cached = known.get(stream)
      if (cached !== undefined) return Effect.succeed(cached === "plain" ? undefined : cached)
      return inner.read(stream, { from: 0, maxCount: 1 }).pipe(
        Effect.map(([first]) => {
          // An absent stream is not remembered: it may yet be made a branch.
          if (first === undefined) return undefined
          const point: Known =
            first.event._tag === "PoolForked"
              ? { parent: poolStreamName(first.event.parent), parentRevision: first.event.parentRevision }
              : "plain"
          known.set(stream, point)
          return point === "plain" ? undefined : point
        }),
        // A stream whose first event does not decode is left to the read itself to report (a read of its
        // later revisions need not fail for it). A store that fails fails the operation: an append must not
        // go ahead untranslated on a branch it could not recognise.
        Effect.catchTag("EventDecodeError", () => Effect.succeed(undefined))
      )
    })

  const read = (stream: string, options?: ReadOptions): ReturnType<EventStoreShape["read"]> =>
    Effect.flatMap(branchOf(stream), (point) =>
      point === undefined ? inner.read(stream, options) : readBranch(stream, point, options)
    )

  /** Own events from the readers' revision `from` (the stored ones), and inherited ones through the parent. */
  const readBranch = (stream: string, point: BranchPoint, options: ReadOptions | undefined) =>
    Effect.gen(function* () {
      const { direction, fromRevision, maxCount } = readRange(options)
      const offset = offsetOf(point)
      const last = point.parentRevision
      const own = (from: number, count: number) =>
        Effect.map(inner.read(stream, { from: from - offset, direction, maxCount: count }), (page) =>
          page.map(shifted(offset))
        )
      const inherited = (from: number, count: number) =>
        Effect.map(read(point.parent, { from, direction, maxCount: count }), (page) =>
          page.map((e) => ({ ...e, stream }))
        )
      if (maxCount === 0) return []
      if (direction === "forwards") {
        const wanted = fromRevision <= last ? Math.min(maxCount, last - fromRevision + 1) : 0
        const head = wanted > 0 ? yield* inherited(fromRevision, wanted) : []
        // A parent shorter than the branch point (it cannot shrink: a defect of the store) ends the page.
        if (head.length === maxCount || head.length < wanted) return head
        return [...head, ...(yield* own(Math.max(fromRevision, offset), maxCount - head.length))]
      }
      if (fromRevision < 0) return []
      const tail = fromRevision >= offset ? yield* own(fromRevision, maxCount) : []
      if (tail.length === maxCount) return tail
      return [...tail, ...(yield* inherited(Math.min(fromRevision, last), maxCount - tail.length))]
    })

  /** Stored revisions of the global log as readers count them: a page's streams resolved once each. */
  const relabel = (page: ReadonlyArray<RecordedEvent>) =>
    Effect.gen(function* () {
      const offsets = new Map<string, number>()
      for (const stream of new Set(page.map((e) => e.stream))) {
        const point = yield* branchOf(stream)
        if (point !== undefined) offsets.set(stream, offsetOf(point))
      }
      if (offsets.size === 0) return page
      return page.map((e) => {
        const offset = offsets.get(e.stream)
        return offset === undefined ? e : shifted(offset)(e)
      })
    })

  const shiftResult = (result: AppendResult, offset: number): AppendResult => ({
    ...result,
    nextExpectedRevision: result.nextExpectedRevision + offset
  })

  const append: EventStoreShape["append"] = (stream, events, expected) =>
    Effect.flatMap(branchOf(stream), (point) => {
      if (point === undefined) return inner.append(stream, events, expected)
      const offset = offsetOf(point)
      return inner.append(stream, events, storedExpectation(expected, offset)).pipe(
        Effect.map((result) => shiftResult(result, offset)),
        Effect.catchTag("WrongExpectedVersion", (error) => Effect.fail(readersConflict(error, expected, offset)))
      )
    })

  const appendBatches: EventStoreShape["appendBatches"] = (stream, batches, expected, onCommitted) =>
    Effect.flatMap(branchOf(stream), (point) => {
      if (point === undefined) return inner.appendBatches(stream, batches, expected, onCommitted)
      const offset = offsetOf(point)
      return inner
        .appendBatches(stream, batches, storedExpectation(expected, offset), (result) =>
          onCommitted?.(shiftResult(result, offset))
        )
        .pipe(
          Effect.map((result) => shiftResult(result, offset)),
          Effect.catchTag("WrongExpectedVersion", (error) => Effect.fail(readersConflict(error, expected, offset)))
        )
    })

  const lastRevision = (stream: string) =>
    Effect.flatMap(inner.lastRevision(stream), (last) =>
      last === undefined
        ? Effect.succeed(undefined)
        : Effect.map(branchOf(stream), (point) => (point === undefined ? last : last + offsetOf(point)))
    )

  const streams = () =>
    Effect.flatMap(inner.streams(), (infos) =>
      Effect.forEach(infos, (info) =>
        Effect.map(branchOf(info.stream), (point): StreamInfo =>
          point === undefined ? info : { ...info, events: info.events + offsetOf(point) }
        )
      )
    )

  const fork = (stream: string, point: BranchPoint, event: NewEvent) =>
    Effect.gen(function* () {
      const forked = event.event
      if (
        forked._tag !== "PoolForked" ||
        poolStreamName(forked.parent) !== point.parent ||
        forked.parentRevision !== point.parentRevision ||
        poolStreamName(forked.pool) !== stream
      )
        return yield* Effect.die(new Error(`fork of ${stream}: the event must be the PoolForked naming that point`))
      const parentLast = yield* lastRevision(point.parent)
      if (parentLast === undefined || parentLast < point.parentRevision)
        return yield* new NoSuchRevision({
          stream: point.parent,
          revision: point.parentRevision,
          actual: parentLast === undefined ? "noStream" : String(parentLast)
        })
      const result = yield* inner.append(stream, [event], ExpectedRevision.noStream)
      known.set(stream, point)
      return shiftResult(result, offsetOf(point))
    })

  return {
    ...inner,
    append,
    appendBatches,
    read,
    readAll: (options) => Effect.flatMap(inner.readAll(options), relabel),
    subscribe: (options) =>
      Stream.mapChunksEffect(inner.subscribe(options), (chunk) => Effect.map(relabel([...chunk]), Chunk.fromIterable)),
    streams,
    lastRevision,
    fork,
    branchOf
  }
}
