/**
 * The one contract every EventStore adapter must pass (DESIGN.md §3): KurrentDB's semantics for
 * revisions, positions, expected revisions, idempotent re-append, reads, subscriptions and decode
 * errors, and the snapshot port every store URL provides beside its log (store/SnapshotStore.ts). An
 * adapter's test file calls `eventStoreContract(name, makeLayer)`; `makeLayer` must give each test a
 * fresh, empty store with its snapshot store, and a way to corrupt a stored event the adapter's own way.
 */
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Context, Effect, Either, Fiber, Layer, Option, Stream } from "effect"
import { HostDisabled, HostEnabled, VmMigrationRoundCompleted, type PoolEvent } from "../../domain/events.js"
import { eventId, hostId, migrationId, vmId, type EventId } from "../../domain/ids.js"
import {
  EventStore,
  ExpectedRevision,
  type EventStoreShape,
  type NewEvent,
  type RecordedEvent
} from "../../store/EventStore.js"
import { EventDecodeError, WrongExpectedVersion, type StoreError } from "../../store/errors.js"
import { SnapshotStore, type Snapshot, type SnapshotStoreShape } from "../../store/SnapshotStore.js"

/** Overwrites the stored data text of one event, as disk corruption or an incompatible schema would. */
export class CorruptStoredEvent extends Context.Tag("test/CorruptStoredEvent")<
  CorruptStoredEvent,
  (stream: string, revision: number, data: string) => Effect.Effect<void>
>() {}

export type ContractLayer = Layer.Layer<EventStore | SnapshotStore | CorruptStoredEvent, StoreError>

// --- events for tests -----------------------------------------------------------------------------

/** A UUID-shaped id made from a counter: deterministic, distinct per n. */
export const testEventId = (n: number): EventId =>
  eventId(`00000000-0000-4000-8000-${n.toString(16).padStart(12, "0")}`)

/** A realistic event, varied by n so that reads can be checked field by field. */
const testEvent = (n: number): PoolEvent =>
  n % 3 === 0
    ? new HostEnabled({ atUs: n * 10, host: hostId(`h${n % 7}`) })
    : n % 3 === 1
      ? new HostDisabled({ atUs: n * 10, host: hostId(`h${n % 7}`) })
      : new VmMigrationRoundCompleted({
          atUs: n * 10,
          migration: migrationId(`m${n % 5}`),
          vm: vmId(`web-${n % 11}`),
          round: 1 + (n % 29),
          live: n % 2 === 0,
          pagesSent: 262_144 - n,
          pagesSkipped: 0,
          bytesSent: (262_144 - n) * 4096,
          pagesDirtied: n % 1000,
          durationUs: 8_000 + n
        })

/** `count` new events numbered from `first`: ids and contents both derived from the number. */
export const testBatch = (first: number, count: number): ReadonlyArray<NewEvent> =>
  Array.from({ length: count }, (_, i) => ({ id: testEventId(first + i), event: testEvent(first + i) }))

// --- assertions -----------------------------------------------------------------------------------

const assertEventsEqual = (recorded: ReadonlyArray<RecordedEvent>, expected: ReadonlyArray<NewEvent>) => {
  assert.strictEqual(recorded.length, expected.length, "number of events")
  recorded.forEach((r, i) => {
    assert.strictEqual(r.id, expected[i]!.id, `id of event ${i}`)
    assert.deepStrictEqual(r.event, expected[i]!.event, `event ${i}`)
  })
}

const assertIncreasing = (values: ReadonlyArray<number>, what: string) => {
  for (let i = 1; i < values.length; i++) {
    assert.isTrue(values[i]! > values[i - 1]!, `${what} must strictly increase: ${values[i - 1]} then ${values[i]}`)
  }
}

/** The append's failure, which must be a WrongExpectedVersion, as plain evidence. */
const wrongVersionOf = <A, E extends { readonly _tag: string }>(append: Effect.Effect<A, E>) =>
  Effect.map(Effect.flip(append), (error) => {
    if (!(error instanceof WrongExpectedVersion)) assert.fail(`expected WrongExpectedVersion, got ${error._tag}`)
    return { _tag: error._tag, stream: error.stream, expected: error.expected, actual: error.actual }
  })

/** The read's failure, which must be an EventDecodeError, as plain evidence. */
const decodeErrorOf = <A, E extends { readonly _tag: string }>(read: Effect.Effect<A, E>) =>
  Effect.map(Effect.flip(read), (error) => {
    if (!(error instanceof EventDecodeError)) assert.fail(`expected EventDecodeError, got ${error._tag}`)
    return {
      _tag: error._tag,
      stream: error.stream,
      revision: error.revision,
      path: error.path,
      message: error.message
    }
  })

/** Reads a whole stream forwards through as many pages as it takes. */
export const readWhole = (store: EventStoreShape, stream: string) =>
  Effect.gen(function* () {
    const all: RecordedEvent[] = []
    for (;;) {
      const page = yield* store.read(stream, { from: all.length, maxCount: 1000 })
      all.push(...page)
      if (page.length < 1000) return all
    }
  })

// --- the suite ------------------------------------------------------------------------------------

export const eventStoreContract = (name: string, makeLayer: () => ContractLayer): void => {
  /** Runs a test body against a fresh store. */
  const withStore = <A, E>(body: (store: EventStoreShape) => Effect.Effect<A, E, CorruptStoredEvent>) =>
    Effect.flatMap(EventStore, body).pipe(Effect.provide(makeLayer()))
  /** Runs a test body against a fresh store's snapshots. */
  const withSnapshots = <A, E>(body: (snapshots: SnapshotStoreShape) => Effect.Effect<A, E>) =>
    Effect.flatMap(SnapshotStore, body).pipe(Effect.provide(makeLayer()))

  describe(`EventStore contract: ${name}`, () => {
    describe("appendBatches: a run as one atomic append", () => {
      /** `count` batches of `size` events, numbered from 0. */
      function* batches(count: number, size: number): Generator<ReadonlyArray<NewEvent>> {
        for (let b = 0; b < count; b++) yield testBatch(b * size, size)
      }

      it.effect("every batch lands at contiguous revisions; onCommitted hears the result", () =>
        withStore((store) =>
          Effect.gen(function* () {
            let heard: unknown
            const result = yield* store.appendBatches("pool-a", batches(12, 40), ExpectedRevision.noStream, (r) => {
              heard = r
            })
            assert.deepStrictEqual(
              { next: result.nextExpectedRevision, written: result.written },
              { next: 479, written: true }
            )
            assert.deepStrictEqual(heard, result)
            const read = yield* readWhole(store, "pool-a")
            assertEventsEqual(read, testBatch(0, 480))
            assert.deepStrictEqual(yield* store.streams(), [{ stream: "pool-a", events: 480, lastAtUs: 4790 }])
          })
        )
      )

      it.effect("a wrong expectation writes nothing", () =>
        withStore((store) =>
          Effect.gen(function* () {
            yield* store.append("pool-a", testBatch(1000, 2), ExpectedRevision.noStream)
            const error = yield* Effect.flip(store.appendBatches("pool-a", batches(3, 10), ExpectedRevision.noStream))
            assert.instanceOf(error, WrongExpectedVersion)
            assert.strictEqual((yield* readWhole(store, "pool-a")).length, 2)
          })
        )
      )

      it.effect("the same run again is acknowledged without writing twice", () =>
        withStore((store) =>
          Effect.gen(function* () {
            yield* store.appendBatches("pool-a", batches(5, 30), ExpectedRevision.noStream)
            const again = yield* store.appendBatches("pool-a", batches(5, 30), ExpectedRevision.noStream)
            assert.deepStrictEqual(
              { next: again.nextExpectedRevision, written: again.written },
              { next: 149, written: false }
            )
            assert.strictEqual((yield* readWhole(store, "pool-a")).length, 150)
          })
        )
      )

      it.effect("a run whose source fails part-way writes nothing, and the stream stays free", () =>
        withStore((store) =>
          Effect.gen(function* () {
            function* failing(): Generator<ReadonlyArray<NewEvent>> {
              yield* batches(6, 40)
              throw new Error("the spool became unreadable")
            }
            const exit = yield* Effect.exit(store.appendBatches("pool-a", failing(), ExpectedRevision.noStream))
            assert.isTrue(exit._tag === "Failure")
            assert.deepStrictEqual(yield* readWhole(store, "pool-a"), [])
            assert.deepStrictEqual(yield* store.streams(), [])
            assert.isUndefined(yield* store.lastRevision("pool-a"))
          })
        )
      )

      // Live clock: the test sleeps for real while the append pulls batches.
      it.live("an interrupted run writes nothing", () =>
        withStore((store) =>
          Effect.gen(function* () {
            let pulled = 0
            function* endless(): Generator<ReadonlyArray<NewEvent>> {
              for (let b = 0; ; b++) {
                pulled++
                yield testBatch((b % 50) * 20, 20).map((e, i) => ({ ...e, id: testEventId(1_000_000 + b * 20 + i) }))
              }
            }
            const fiber = yield* Effect.fork(store.appendBatches("pool-a", endless(), ExpectedRevision.noStream))
            // Bounded: waits for the append to have pulled a few batches (each pull takes a turn of the loop).
            for (let i = 0; i < 1000 && pulled < 5; i++) yield* Effect.sleep("1 millis")
            assert.isAtLeast(pulled, 5, "the append was under way")
            yield* Fiber.interrupt(fiber)
            assert.deepStrictEqual(yield* readWhole(store, "pool-a"), [])
            assert.deepStrictEqual(yield* store.streams(), [])
          })
        )
      )
    })

    describe("append and read", () => {
      it.effect("a new stream gets revisions 0..n-1 and reads back the same events", () =>
        withStore((store) =>
          Effect.gen(function* () {
            const batch = testBatch(0, 5)
            const result = yield* store.append("pool-a", batch, ExpectedRevision.noStream)
            assert.deepStrictEqual(
              { next: result.nextExpectedRevision, written: result.written },
              { next: 4, written: true }
            )
            const read = yield* store.read("pool-a")
            assert.deepStrictEqual(
              read.map((r) => r.revision),
              [0, 1, 2, 3, 4]
            )
            assert.isTrue(read.every((r) => r.stream === "pool-a"))
            assertEventsEqual(read, batch)
            assert.strictEqual(result.position, read[4]!.position, "the result's position is the last event's")
          })
        )
      )

      it.effect("revisions continue contiguously across appends", () =>
        withStore((store) =>
          Effect.gen(function* () {
            yield* store.append("pool-a", testBatch(0, 3), ExpectedRevision.noStream)
            const second = yield* store.append("pool-a", testBatch(3, 4), ExpectedRevision.at(2))
            assert.strictEqual(second.nextExpectedRevision, 6)
            const read = yield* store.read("pool-a")
            assert.deepStrictEqual(
              read.map((r) => r.revision),
              [0, 1, 2, 3, 4, 5, 6]
            )
            assertEventsEqual(read, testBatch(0, 7))
          })
        )
      )

      it.effect(
        "global positions strictly increase across streams; readAll returns every event in position order",
        () =>
          withStore((store) =>
            Effect.gen(function* () {
              yield* store.append("pool-a", testBatch(0, 2), ExpectedRevision.any)
              yield* store.append("pool-b", testBatch(2, 3), ExpectedRevision.any)
              yield* store.append("pool-a", testBatch(5, 1), ExpectedRevision.any)
              const all = yield* store.readAll()
              assert.deepStrictEqual(
                all.map((r) => `${r.stream}@${r.revision}`),
                ["pool-a@0", "pool-a@1", "pool-b@0", "pool-b@1", "pool-b@2", "pool-a@2"]
              )
              assertIncreasing(
                all.map((r) => r.position),
                "positions"
              )
              assertEventsEqual(all, testBatch(0, 6))
            })
          )
      )

      it.effect("a missing stream reads empty and has no last revision", () =>
        withStore((store) =>
          Effect.gen(function* () {
            assert.deepStrictEqual(yield* store.read("nothing-here"), [])
            assert.deepStrictEqual(yield* store.read("nothing-here", { direction: "backwards" }), [])
            assert.isUndefined(yield* store.lastRevision("nothing-here"))
            assert.deepStrictEqual(yield* store.readAll(), [])
          })
        )
      )

      it.effect("streams() lists streams in name order with event counts and last atUs", () =>
        withStore((store) =>
          Effect.gen(function* () {
            yield* store.append("pool-b", testBatch(0, 3), ExpectedRevision.any)
            yield* store.append("pool-a", testBatch(3, 2), ExpectedRevision.any)
            assert.deepStrictEqual(yield* store.streams(), [
              { stream: "pool-a", events: 2, lastAtUs: 40 },
              { stream: "pool-b", events: 3, lastAtUs: 20 }
            ])
            assert.strictEqual(yield* store.lastRevision("pool-b"), 2)
          })
        )
      )

      it.effect("the store names itself with a URL", () =>
        withStore((store) => Effect.sync(() => assert.match(store.url, /^[a-z+]+:/)))
      )
    })

    describe("expected revision", () => {
      it.effect("noStream on an existing stream fails with the actual revision and writes nothing", () =>
        withStore((store) =>
          Effect.gen(function* () {
            yield* store.append("pool-a", testBatch(0, 2), ExpectedRevision.noStream)
            const error = yield* wrongVersionOf(store.append("pool-a", testBatch(2, 3), ExpectedRevision.noStream))
            assert.deepStrictEqual(error, {
              _tag: "WrongExpectedVersion",
              stream: "pool-a",
              expected: "noStream",
              actual: "1"
            })
            assert.strictEqual((yield* store.read("pool-a")).length, 2)
            assert.strictEqual((yield* store.readAll()).length, 2)
          })
        )
      )

      it.effect("streamExists on a missing stream fails with actual noStream and creates nothing", () =>
        withStore((store) =>
          Effect.gen(function* () {
            const error = yield* wrongVersionOf(store.append("pool-a", testBatch(0, 2), ExpectedRevision.streamExists))
            assert.deepStrictEqual(error, {
              _tag: "WrongExpectedVersion",
              stream: "pool-a",
              expected: "streamExists",
              actual: "noStream"
            })
            assert.deepStrictEqual(yield* store.streams(), [])
            yield* store.append("pool-a", testBatch(0, 1), ExpectedRevision.noStream)
            const ok = yield* store.append("pool-a", testBatch(1, 1), ExpectedRevision.streamExists)
            assert.strictEqual(ok.nextExpectedRevision, 1)
          })
        )
      )

      it.effect("an explicit revision must be the stream's last revision", () =>
        withStore((store) =>
          Effect.gen(function* () {
            yield* store.append("pool-a", testBatch(0, 3), ExpectedRevision.any)
            for (const wrong of [0, 1, 3, 10]) {
              const error = yield* wrongVersionOf(store.append("pool-a", testBatch(100, 1), ExpectedRevision.at(wrong)))
              assert.deepStrictEqual(error, {
                _tag: "WrongExpectedVersion",
                stream: "pool-a",
                expected: String(wrong),
                actual: "2"
              })
            }
            const missing = yield* wrongVersionOf(store.append("pool-z", testBatch(100, 1), ExpectedRevision.at(0)))
            assert.strictEqual(missing.actual, "noStream")
            assert.strictEqual((yield* store.readAll()).length, 3, "failed appends wrote nothing")
            yield* store.append("pool-a", testBatch(3, 1), ExpectedRevision.at(2))
          })
        )
      )

      it.effect("any appends whatever the stream's state", () =>
        withStore((store) =>
          Effect.gen(function* () {
            const first = yield* store.append("pool-a", testBatch(0, 2), ExpectedRevision.any)
            const second = yield* store.append("pool-a", testBatch(2, 2), ExpectedRevision.any)
            assert.deepStrictEqual([first.nextExpectedRevision, second.nextExpectedRevision], [1, 3])
          })
        )
      )

      it.effect("an empty batch with a satisfied expectation is a no-op; an unsatisfied one fails", () =>
        withStore((store) =>
          Effect.gen(function* () {
            const none = yield* store.append("pool-a", [], ExpectedRevision.noStream)
            assert.deepStrictEqual(
              { next: none.nextExpectedRevision, written: none.written },
              { next: -1, written: false }
            )
            yield* store.append("pool-a", [], ExpectedRevision.any)
            assert.deepStrictEqual(yield* store.streams(), [], "an empty append creates no stream")
            const missing = yield* wrongVersionOf(store.append("pool-a", [], ExpectedRevision.streamExists))
            assert.strictEqual(missing.actual, "noStream")

            const written = yield* store.append("pool-a", testBatch(0, 2), ExpectedRevision.noStream)
            const same = yield* store.append("pool-a", [], ExpectedRevision.at(1))
            assert.deepStrictEqual(same, { nextExpectedRevision: 1, position: written.position, written: false })
            const stale = yield* wrongVersionOf(store.append("pool-a", [], ExpectedRevision.at(0)))
            assert.strictEqual(stale.actual, "1")
            assert.strictEqual((yield* store.readAll()).length, 2)
          })
        )
      )

      it.effect(
        "concurrent appends expecting the same revision: exactly one wins, the rest get WrongExpectedVersion",
        () =>
          withStore((store) =>
            Effect.gen(function* () {
              yield* store.append("pool-a", testBatch(0, 1), ExpectedRevision.noStream)
              const contenders = Array.from({ length: 8 }, (_, i) =>
                Effect.either(store.append("pool-a", testBatch(100 + i * 10, 3), ExpectedRevision.at(0)))
              )
              const outcomes = yield* Effect.all(contenders, { concurrency: "unbounded" })
              const winners = outcomes.filter(Either.isRight)
              const losers = outcomes.filter(Either.isLeft)
              assert.strictEqual(winners.length, 1, "exactly one winner")
              for (const loser of losers) {
                assert.strictEqual(loser.left._tag, "WrongExpectedVersion")
                assert.instanceOf(loser.left, WrongExpectedVersion)
                assert.strictEqual(loser.left.actual, "3")
              }
              const read = yield* store.read("pool-a")
              assert.deepStrictEqual(
                read.map((r) => r.revision),
                [0, 1, 2, 3]
              )
            })
          )
      )

      it.effect("concurrent appends with any all land, whole and contiguous", () =>
        withStore((store) =>
          Effect.gen(function* () {
            const batches = Array.from({ length: 10 }, (_, i) => testBatch(i * 100, 1 + i))
            yield* Effect.all(
              batches.map((batch) => store.append("pool-a", batch, ExpectedRevision.any)),
              { concurrency: "unbounded" }
            )
            const read = yield* store.read("pool-a")
            assert.deepStrictEqual(
              read.map((r) => r.revision),
              Array.from({ length: 55 }, (_, i) => i)
            )
            // Each batch is contiguous: its events follow each other in the stream.
            for (const batch of batches) {
              const at = read.findIndex((r) => r.id === batch[0]!.id)
              assert.deepStrictEqual(
                read.slice(at, at + batch.length).map((r) => r.id),
                batch.map((e) => e.id)
              )
            }
          })
        )
      )
    })

    describe("idempotent append", () => {
      it.effect("re-sending a batch with the same explicit revision acknowledges without writing", () =>
        withStore((store) =>
          Effect.gen(function* () {
            yield* store.append("pool-a", testBatch(0, 2), ExpectedRevision.noStream)
            const batch = testBatch(2, 3)
            const first = yield* store.append("pool-a", batch, ExpectedRevision.at(1))
            yield* store.append("pool-a", testBatch(5, 1), ExpectedRevision.at(4))
            const again = yield* store.append("pool-a", batch, ExpectedRevision.at(1))
            assert.deepStrictEqual(again, { ...first, written: false })
            assert.strictEqual((yield* store.read("pool-a")).length, 6)
            assert.strictEqual((yield* store.readAll()).length, 6)
          })
        )
      )

      it.effect("re-sending the first batch with noStream acknowledges without writing", () =>
        withStore((store) =>
          Effect.gen(function* () {
            const batch = testBatch(0, 3)
            const first = yield* store.append("pool-a", batch, ExpectedRevision.noStream)
            const again = yield* store.append("pool-a", batch, ExpectedRevision.noStream)
            assert.deepStrictEqual(again, { ...first, written: false })
            assert.strictEqual((yield* store.readAll()).length, 3)
          })
        )
      )

      it.effect("with any, a batch that is exactly the stream's tail is acknowledged without writing", () =>
        withStore((store) =>
          Effect.gen(function* () {
            yield* store.append("pool-a", testBatch(0, 2), ExpectedRevision.any)
            const batch = testBatch(2, 3)
            const first = yield* store.append("pool-a", batch, ExpectedRevision.any)
            const again = yield* store.append("pool-a", batch, ExpectedRevision.any)
            assert.deepStrictEqual(again, { ...first, written: false })
            const viaExists = yield* store.append("pool-a", batch, ExpectedRevision.streamExists)
            assert.isFalse(viaExists.written)
            assert.strictEqual((yield* store.read("pool-a")).length, 5)
          })
        )
      )

      it.effect("with any, a batch whose first id is in the stream but not as its tail is WrongExpectedVersion", () =>
        withStore((store) =>
          Effect.gen(function* () {
            const batch = testBatch(0, 2)
            yield* store.append("pool-a", batch, ExpectedRevision.any)
            yield* store.append("pool-a", testBatch(2, 2), ExpectedRevision.any)
            const error = yield* wrongVersionOf(store.append("pool-a", batch, ExpectedRevision.any))
            assert.deepStrictEqual(error, {
              _tag: "WrongExpectedVersion",
              stream: "pool-a",
              expected: "any",
              actual: "3"
            })
            assert.strictEqual((yield* store.read("pool-a")).length, 4)
          })
        )
      )

      it.effect("a batch whose first id matches but whose other ids differ is WrongExpectedVersion", () =>
        withStore((store) =>
          Effect.gen(function* () {
            const batch = testBatch(0, 3)
            yield* store.append("pool-a", batch, ExpectedRevision.noStream)
            const changed = [batch[0]!, batch[1]!, { id: testEventId(999), event: batch[2]!.event }]
            const error = yield* wrongVersionOf(store.append("pool-a", changed, ExpectedRevision.noStream))
            assert.strictEqual(error._tag, "WrongExpectedVersion")
            const longer = [...batch, ...testBatch(3, 1)]
            const tooLong = yield* wrongVersionOf(store.append("pool-a", longer, ExpectedRevision.noStream))
            assert.strictEqual(tooLong._tag, "WrongExpectedVersion")
            const fromAny = yield* wrongVersionOf(store.append("pool-a", changed, ExpectedRevision.any))
            assert.strictEqual(fromAny._tag, "WrongExpectedVersion")
            assert.strictEqual((yield* store.readAll()).length, 3)
          })
        )
      )

      it.effect(
        "an explicit revision whose slot holds other ids is WrongExpectedVersion, even if the first id is elsewhere",
        () =>
          withStore((store) =>
            Effect.gen(function* () {
              const batch = testBatch(0, 2)
              yield* store.append("pool-a", batch, ExpectedRevision.noStream)
              yield* store.append("pool-a", testBatch(2, 2), ExpectedRevision.at(1))
              // The stream is at 3 and the caller expects 3, but the batch is already at 0..1.
              const error = yield* wrongVersionOf(store.append("pool-a", batch, ExpectedRevision.at(3)))
              assert.strictEqual(error._tag, "WrongExpectedVersion")
              const wrongSlot = yield* wrongVersionOf(store.append("pool-a", batch, ExpectedRevision.at(0)))
              assert.strictEqual(wrongSlot._tag, "WrongExpectedVersion")
              assert.strictEqual((yield* store.readAll()).length, 4)
            })
          )
      )

      it.effect("the same ids in another stream are not duplicates", () =>
        withStore((store) =>
          Effect.gen(function* () {
            yield* store.append("pool-a", testBatch(0, 2), ExpectedRevision.noStream)
            const other = yield* store.append("pool-b", testBatch(0, 2), ExpectedRevision.noStream)
            assert.isTrue(other.written)
          })
        )
      )
    })

    describe("reading", () => {
      it.effect("forwards from a revision with maxCount", () =>
        withStore((store) =>
          Effect.gen(function* () {
            yield* store.append("pool-a", testBatch(0, 10), ExpectedRevision.noStream)
            const page = yield* store.read("pool-a", { from: 3, maxCount: 4 })
            assert.deepStrictEqual(
              page.map((r) => r.revision),
              [3, 4, 5, 6]
            )
            assertEventsEqual(page, testBatch(3, 4))
            assert.deepStrictEqual(
              (yield* store.read("pool-a", { from: 8, maxCount: 4 })).map((r) => r.revision),
              [8, 9]
            )
            assert.deepStrictEqual(yield* store.read("pool-a", { from: 10 }), [])
            assert.deepStrictEqual(yield* store.read("pool-a", { from: "end" }), [])
            assert.deepStrictEqual(yield* store.read("pool-a", { maxCount: 0 }), [])
            assert.strictEqual((yield* store.read("pool-a", { from: "start" })).length, 10)
          })
        )
      )

      it.effect("backwards from the end or from a revision", () =>
        withStore((store) =>
          Effect.gen(function* () {
            yield* store.append("pool-a", testBatch(0, 10), ExpectedRevision.noStream)
            const last3 = yield* store.read("pool-a", { direction: "backwards", maxCount: 3 })
            assert.deepStrictEqual(
              last3.map((r) => r.revision),
              [9, 8, 7]
            )
            assertEventsEqual(last3, [...testBatch(7, 3)].reverse())
            assert.deepStrictEqual(
              (yield* store.read("pool-a", { direction: "backwards", from: 4, maxCount: 10 })).map((r) => r.revision),
              [4, 3, 2, 1, 0]
            )
            assert.deepStrictEqual(
              (yield* store.read("pool-a", { direction: "backwards", from: 50, maxCount: 2 })).map((r) => r.revision),
              [9, 8]
            )
            assert.deepStrictEqual(
              (yield* store.read("pool-a", { direction: "backwards", from: "start" })).map((r) => r.revision),
              [0]
            )
          })
        )
      )

      it.effect("a read returns at most 4096 events unless told otherwise", () =>
        withStore((store) =>
          Effect.gen(function* () {
            yield* store.append("pool-a", testBatch(0, 5000), ExpectedRevision.noStream)
            const page = yield* store.read("pool-a")
            assert.strictEqual(page.length, 4096)
            assert.strictEqual(page[4095]!.revision, 4095)
            assert.strictEqual((yield* store.readAll()).length, 4096)
            assert.strictEqual((yield* store.read("pool-a", { maxCount: 5000 })).length, 5000)
          })
        )
      )

      it.effect("readAll after a position with maxCount pages through every stream in order", () =>
        withStore((store) =>
          Effect.gen(function* () {
            for (let i = 0; i < 6; i++) yield* store.append(`pool-${i % 3}`, testBatch(i * 4, 4), ExpectedRevision.any)
            const everything = yield* store.readAll()
            assert.strictEqual(everything.length, 24)
            const paged: RecordedEvent[] = []
            let after = 0
            for (let guard = 0; guard < 100; guard++) {
              const page = yield* store.readAll({ after, maxCount: 5 })
              if (page.length === 0) break
              assert.isAtMost(page.length, 5)
              paged.push(...page)
              after = page[page.length - 1]!.position
            }
            assert.deepStrictEqual(paged, everything)
            const tail = yield* store.readAll({ after: everything[19]!.position })
            assert.deepStrictEqual(tail, everything.slice(20))
          })
        )
      )
    })

    describe("subscribe", () => {
      it.live("delivers stored events (across pages) then live ones, in order, none lost, none twice", () =>
        withStore((store) =>
          Effect.gen(function* () {
            // More than one page of catch-up (pages are 4096 events).
            yield* store.append("pool-a", testBatch(0, 5000), ExpectedRevision.any)
            const liveBatches = Array.from({ length: 40 }, (_, i) => testBatch(10_000 + i * 10, 1 + (i % 7)))
            const total = 5000 + liveBatches.reduce((n, b) => n + b.length, 0)
            const subscriber = yield* store.subscribe().pipe(Stream.take(total), Stream.runCollect, Effect.fork)
            // Appends race with the subscription: some land during catch-up, some after it waits.
            yield* Effect.forEach(
              liveBatches,
              (batch, i) =>
                Effect.zipRight(
                  i % 5 === 0 ? Effect.sleep("2 millis") : Effect.yieldNow(),
                  store.append(i % 2 === 0 ? "pool-a" : "pool-b", batch, ExpectedRevision.any)
                ),
              { discard: true }
            )
            const delivered = Chunk.toReadonlyArray(yield* Fiber.join(subscriber).pipe(Effect.timeout("20 seconds")))
            const stored: RecordedEvent[] = []
            for (let after = 0; ;) {
              const page = yield* store.readAll({ after })
              if (page.length === 0) break
              stored.push(...page)
              after = page[page.length - 1]!.position
            }
            assert.strictEqual(stored.length, total)
            assert.deepStrictEqual(
              delivered.map((r) => r.position),
              stored.map((r) => r.position)
            )
            assert.deepStrictEqual(
              delivered.map((r) => r.id),
              stored.map((r) => r.id)
            )
          })
        )
      )

      it.live("starts after the given position and waits for appends", () =>
        withStore((store) =>
          Effect.gen(function* () {
            yield* store.append("pool-a", testBatch(0, 3), ExpectedRevision.any)
            const [, second] = yield* store.readAll()
            const subscriber = yield* store
              .subscribe({ after: second!.position })
              .pipe(Stream.take(3), Stream.runCollect, Effect.fork)
            yield* Effect.sleep("20 millis")
            yield* store.append("pool-b", testBatch(3, 2), ExpectedRevision.any)
            const delivered = Chunk.toReadonlyArray(yield* Fiber.join(subscriber).pipe(Effect.timeout("10 seconds")))
            assert.deepStrictEqual(
              delivered.map((r) => r.id),
              [testEventId(2), testEventId(3), testEventId(4)]
            )
          })
        )
      )
    })

    describe("decode errors", () => {
      it.effect("a stored event that is not JSON fails reads with its stream, revision and path (json)", () =>
        withStore((store) =>
          Effect.gen(function* () {
            yield* store.append("pool-a", testBatch(0, 3), ExpectedRevision.noStream)
            yield* (yield* CorruptStoredEvent)("pool-a", 1, "{not json")
            const error = yield* decodeErrorOf(store.read("pool-a"))
            assert.strictEqual(error._tag, "EventDecodeError")
            assert.deepStrictEqual(
              { stream: error.stream, revision: error.revision, path: error.path },
              { stream: "pool-a", revision: 1, path: "(json)" }
            )
            const fromAll = yield* decodeErrorOf(store.readAll())
            assert.strictEqual(fromAll._tag, "EventDecodeError")
            // Events before the corrupt one still read; nothing is skipped silently.
            assert.strictEqual((yield* store.read("pool-a", { maxCount: 1 })).length, 1)
            const fromBackwards = yield* decodeErrorOf(store.read("pool-a", { direction: "backwards" }))
            assert.strictEqual(fromBackwards._tag, "EventDecodeError")
          })
        )
      )

      it.effect("a stored event that no longer fits its schema names the field's path", () =>
        withStore((store) =>
          Effect.gen(function* () {
            yield* store.append("pool-a", testBatch(0, 3), ExpectedRevision.noStream)
            const data = JSON.stringify({ _tag: "HostDisabled", v: 1, atUs: 10, host: 42 })
            yield* (yield* CorruptStoredEvent)("pool-a", 1, data)
            const error = yield* decodeErrorOf(store.read("pool-a"))
            assert.deepStrictEqual(
              { _tag: error._tag, stream: error.stream, revision: error.revision, path: error.path },
              { _tag: "EventDecodeError", stream: "pool-a", revision: 1, path: '["host"]' }
            )
            assert.include(error.message, "pool-a@1")
          })
        )
      )

      it.effect("an unknown event type is an error, not a skip", () =>
        withStore((store) =>
          Effect.gen(function* () {
            yield* store.append("pool-a", testBatch(0, 2), ExpectedRevision.noStream)
            yield* (yield* CorruptStoredEvent)("pool-a", 0, JSON.stringify({ _tag: "HostExploded", v: 1, atUs: 1 }))
            const error = yield* decodeErrorOf(store.readAll())
            assert.deepStrictEqual([error.revision, error.path], [0, '["_tag"]'])
          })
        )
      )

      it.live("a subscription fails on a corrupt event instead of skipping it", () =>
        withStore((store) =>
          Effect.gen(function* () {
            yield* store.append("pool-a", testBatch(0, 3), ExpectedRevision.noStream)
            yield* (yield* CorruptStoredEvent)("pool-a", 2, "[]")
            const error = yield* decodeErrorOf(store.subscribe().pipe(Stream.runDrain, Effect.timeout("10 seconds")))
            assert.strictEqual(error._tag, "EventDecodeError")
            assert.strictEqual(error.revision, 2)
          })
        )
      )
    })

    describe("snapshots", () => {
      const key = { stream: "pool-a", projectionVersion: "v1" }
      /** Snapshots of pool-a at revisions 9, 19, 29 (times 100, 200, 200: two share a time). */
      const three: ReadonlyArray<Snapshot> = [
        { ...key, revision: 9, atUs: 100, data: "nine" },
        { ...key, revision: 19, atUs: 200, data: "nineteen" },
        { ...key, revision: 29, atUs: 200, data: "twenty-nine" }
      ]
      const revisionOf = (found: Option.Option<Snapshot>) => Option.map(found, (s) => s.revision)

      it.effect("a store without snapshots finds none", () =>
        withSnapshots((snapshots) =>
          Effect.gen(function* () {
            assert.isTrue(Option.isNone(yield* snapshots.latest(key)))
            assert.isTrue(Option.isNone(yield* snapshots.loadAtOrBeforeRevision(key, 1_000)))
            assert.isTrue(Option.isNone(yield* snapshots.loadAtOrBeforeTime(key, 1_000)))
          })
        )
      )

      it.effect("a snapshot reads back whole: stream, version, revision, atUs and data", () =>
        withSnapshots((snapshots) =>
          Effect.gen(function* () {
            const data = JSON.stringify({ text: "ünïcødé ✓", numbers: Array.from({ length: 50_000 }, (_, i) => i) })
            const saved: Snapshot = { ...key, revision: 41, atUs: 12_500_000, data }
            yield* snapshots.save([saved])
            assert.deepStrictEqual(yield* snapshots.loadAtOrBeforeRevision(key, 41), Option.some(saved))
            assert.deepStrictEqual(
              yield* snapshots.latest(key),
              Option.some({ stream: "pool-a", projectionVersion: "v1", revision: 41, atUs: 12_500_000 })
            )
          })
        )
      )

      it.effect("by revision: the greatest revision at or before the target; none before the first", () =>
        withSnapshots((snapshots) =>
          Effect.gen(function* () {
            // Saved out of order: the store orders them.
            yield* snapshots.save([three[2]!, three[0]!, three[1]!])
            const at = (revision: number) => Effect.map(snapshots.loadAtOrBeforeRevision(key, revision), revisionOf)
            assert.deepStrictEqual(yield* at(8), Option.none())
            assert.deepStrictEqual(yield* at(9), Option.some(9))
            assert.deepStrictEqual(yield* at(18), Option.some(9))
            assert.deepStrictEqual(yield* at(19), Option.some(19))
            assert.deepStrictEqual(yield* at(1_000_000), Option.some(29))
            assert.deepStrictEqual(
              Option.map(yield* snapshots.loadAtOrBeforeRevision(key, 20), (s) => s.data),
              Option.some("nineteen")
            )
            assert.deepStrictEqual(
              Option.map(yield* snapshots.latest(key), (s) => s.revision),
              Option.some(29)
            )
          })
        )
      )

      it.effect("by time: inclusive, and of two snapshots at the same time the later revision", () =>
        withSnapshots((snapshots) =>
          Effect.gen(function* () {
            yield* snapshots.save(three)
            const at = (atUs: number) => Effect.map(snapshots.loadAtOrBeforeTime(key, atUs), revisionOf)
            assert.deepStrictEqual(yield* at(99), Option.none())
            assert.deepStrictEqual(yield* at(100), Option.some(9))
            assert.deepStrictEqual(yield* at(199), Option.some(9))
            assert.deepStrictEqual(yield* at(200), Option.some(29))
            assert.deepStrictEqual(yield* at(Number.MAX_SAFE_INTEGER), Option.some(29))
          })
        )
      )

      it.effect("another projection version or another stream never sees them", () =>
        withSnapshots((snapshots) =>
          Effect.gen(function* () {
            yield* snapshots.save(three)
            yield* snapshots.save([{ stream: "pool-b", projectionVersion: "v1", revision: 5, atUs: 50, data: "b" }])
            for (const other of [
              { stream: "pool-a", projectionVersion: "v2" },
              { stream: "pool-c", projectionVersion: "v1" }
            ]) {
              assert.isTrue(Option.isNone(yield* snapshots.latest(other)))
              assert.isTrue(Option.isNone(yield* snapshots.loadAtOrBeforeRevision(other, 100)))
              assert.isTrue(Option.isNone(yield* snapshots.loadAtOrBeforeTime(other, 1_000)))
            }
            const b = { stream: "pool-b", projectionVersion: "v1" }
            assert.deepStrictEqual(
              Option.map(yield* snapshots.latest(b), (s) => s.revision),
              Option.some(5)
            )
            assert.deepStrictEqual(
              Option.map(yield* snapshots.latest(key), (s) => s.revision),
              Option.some(29)
            )
          })
        )
      )

      it.effect("saving the same stream, version and revision again replaces it", () =>
        withSnapshots((snapshots) =>
          Effect.gen(function* () {
            yield* snapshots.save(three)
            yield* snapshots.save([{ ...key, revision: 19, atUs: 150, data: "again" }])
            const found = yield* snapshots.loadAtOrBeforeRevision(key, 19)
            assert.deepStrictEqual(
              Option.map(found, (s) => [s.revision, s.atUs, s.data]),
              Option.some([19, 150, "again"])
            )
            assert.deepStrictEqual(
              Option.map(yield* snapshots.loadAtOrBeforeTime(key, 199), (s) => s.revision),
              Option.some(19)
            )
            yield* snapshots.save([])
            assert.deepStrictEqual(
              Option.map(yield* snapshots.latest(key), (s) => s.revision),
              Option.some(29)
            )
          })
        )
      )

      it.effect("snapshots live beside the log without touching it", () =>
        Effect.gen(function* () {
          const store = yield* EventStore
          const snapshots = yield* SnapshotStore
          yield* store.append("pool-a", testBatch(0, 3), ExpectedRevision.noStream)
          yield* snapshots.save(three)
          assert.deepStrictEqual(
            (yield* store.streams()).map((s) => [s.stream, s.events]),
            [["pool-a", 3]]
          )
          assertEventsEqual(yield* store.read("pool-a"), testBatch(0, 3))
          assert.strictEqual((yield* store.readAll()).length, 3)
        }).pipe(Effect.provide(makeLayer()))
      )
    })
  })
}
