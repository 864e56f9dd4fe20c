/**
 * The branch part of the event store contract (store/branches.ts), run against every adapter beside
 * `eventStoreContract`: a branch reads as its parent's prefix, then its fork event, then its own events,
 * with contiguous revisions; it stores one event, not a copy; a bad fork writes nothing.
 */
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Stream } from "effect"
import * as Fx from "../../api/effect.js"
import { PoolForked } from "../../domain/events.js"
import { poolId } from "../../domain/ids.js"
import { EventStore, ExpectedRevision, type EventStoreShape, type NewEvent } from "../../store/EventStore.js"
import { NoSuchRevision, WrongExpectedVersion } from "../../store/errors.js"
import { readWhole, testBatch, testEventId, type ContractLayer } from "../store/contract.js"

/** The fork event of `pool` branching `parent` at `revision`, with an id drawn from `n`. */
const forkEvent = (pool: string, parent: string, revision: number, atUs: number, n: number): NewEvent => ({
  id: testEventId(n),
  event: new PoolForked({
    atUs,
    pool: poolId(pool),
    parent: poolId(parent),
    parentRevision: revision,
    xenpoolVersion: "test"
  })
})

const point = (parent: string, parentRevision: number) => ({ parent: `pool-${parent}`, parentRevision })

/** A parent `pool-p` of 30 events (atUs 0, 10, …, 290) and a branch `pool-b` at revision 11. */
const parentAndBranch = (store: EventStoreShape) =>
  Effect.gen(function* () {
    yield* store.append("pool-p", testBatch(0, 30), ExpectedRevision.noStream)
    const result = yield* store.fork("pool-b", point("p", 11), forkEvent("b", "p", 11, 110, 1000))
    return result
  })

export const branchStoreContract = (name: string, makeLayer: () => ContractLayer): void => {
  const withStore = <A, E>(body: (store: EventStoreShape) => Effect.Effect<A, E>) =>
    Effect.flatMap(EventStore, body).pipe(Effect.provide(makeLayer()))

  describe(`EventStore branches: ${name}`, () => {
    it.effect("a branch reads as the parent's prefix, then its fork event, at contiguous revisions", () =>
      withStore((store) =>
        Effect.gen(function* () {
          const result = yield* parentAndBranch(store)
          assert.strictEqual(result.nextExpectedRevision, 12)
          const branch = yield* readWhole(store, "pool-b")
          const parent = yield* readWhole(store, "pool-p")
          assert.deepStrictEqual(
            branch.map((e) => e.revision),
            Array.from({ length: 13 }, (_, i) => i)
          )
          assert.deepStrictEqual(
            branch.slice(0, 12).map((e) => [e.id, e.event, e.position]),
            parent.slice(0, 12).map((e) => [e.id, e.event, e.position])
          )
          assert.isTrue(branch.every((e) => e.stream === "pool-b"))
          assert.strictEqual(branch[12]!.event._tag, "PoolForked")
          assert.strictEqual(yield* store.lastRevision("pool-b"), 12)
          assert.strictEqual(yield* store.lastRevision("pool-p"), 29)
          assert.deepStrictEqual(yield* store.branchOf("pool-b"), point("p", 11))
          assert.strictEqual(yield* store.branchOf("pool-p"), undefined)
          const listed = yield* store.streams()
          assert.deepStrictEqual(
            listed.map((s) => [s.stream, s.events, s.lastAtUs]),
            [
              ["pool-b", 13, 110],
              ["pool-p", 30, 290]
            ]
          )
        })
      )
    )

    it.effect("it stores one event: the global log holds the fork event once, under the branch, nothing copied", () =>
      withStore((store) =>
        Effect.gen(function* () {
          yield* parentAndBranch(store)
          const all = yield* store.readAll({ maxCount: 1000 })
          assert.strictEqual(all.length, 31)
          const own = all.filter((e) => e.stream === "pool-b")
          assert.deepStrictEqual(
            own.map((e) => [e.revision, e.event._tag]),
            [[12, "PoolForked"]]
          )
        })
      )
    )

    it.effect("pages across the fork point, forwards and backwards, read what a whole read reads", () =>
      withStore((store) =>
        Effect.gen(function* () {
          yield* parentAndBranch(store)
          yield* store.append("pool-b", testBatch(500, 5), ExpectedRevision.at(12))
          const whole = yield* readWhole(store, "pool-b")
          assert.strictEqual(whole.length, 18)
          const ids = (page: ReadonlyArray<{ readonly id: string }>) => page.map((e) => e.id)
          for (const from of [0, 5, 11, 12, 13, 17, 18]) {
            for (const maxCount of [1, 2, 3, 7, 100]) {
              const forwards = yield* store.read("pool-b", { from, maxCount })
              assert.deepStrictEqual(
                ids(forwards),
                ids(whole.slice(from, from + maxCount)),
                `forwards ${from} ${maxCount}`
              )
              const backwards = yield* store.read("pool-b", { from, direction: "backwards", maxCount })
              const expected = whole.slice(Math.max(0, Math.min(from, 17) - maxCount + 1), Math.min(from, 17) + 1)
              assert.deepStrictEqual(ids(backwards), ids(expected).reverse(), `backwards ${from} ${maxCount}`)
            }
          }
          const [last] = yield* store.read("pool-b", { from: "end", direction: "backwards", maxCount: 1 })
          assert.strictEqual(last?.revision, 17)
        })
      )
    )

    it.effect("appends to a branch continue after its fork event; a conflict names its revisions", () =>
      withStore((store) =>
        Effect.gen(function* () {
          yield* parentAndBranch(store)
          const appended = yield* store.append("pool-b", testBatch(500, 3), ExpectedRevision.at(12))
          assert.strictEqual(appended.nextExpectedRevision, 15)
          const again = yield* store.append("pool-b", testBatch(500, 3), ExpectedRevision.at(12))
          assert.isFalse(again.written)
          const conflict = yield* Effect.flip(store.append("pool-b", testBatch(600, 1), ExpectedRevision.at(12)))
          assert.instanceOf(conflict, WrongExpectedVersion)
          assert.deepStrictEqual([conflict.expected, conflict.actual], ["12", "15"])
          const batches = yield* store.appendBatches("pool-b", [testBatch(700, 2)], ExpectedRevision.at(15))
          assert.strictEqual(batches.nextExpectedRevision, 17)
          // The parent is untouched by its branch's appends.
          assert.strictEqual(yield* store.lastRevision("pool-p"), 29)
        })
      )
    )

    it.effect("a fork onto an existing stream, or past its parent's end, writes nothing", () =>
      withStore((store) =>
        Effect.gen(function* () {
          yield* parentAndBranch(store)
          const taken = yield* Effect.flip(store.fork("pool-b", point("p", 3), forkEvent("b", "p", 3, 30, 2000)))
          assert.instanceOf(taken, WrongExpectedVersion)
          const beyond = yield* Effect.flip(store.fork("pool-c", point("p", 30), forkEvent("c", "p", 30, 300, 2001)))
          assert.instanceOf(beyond, NoSuchRevision)
          const orphan = yield* Effect.flip(store.fork("pool-d", point("x", 0), forkEvent("d", "x", 0, 0, 2002)))
          assert.instanceOf(orphan, NoSuchRevision)
          assert.strictEqual(yield* store.lastRevision("pool-c"), undefined)
          assert.strictEqual(yield* store.lastRevision("pool-d"), undefined)
          assert.strictEqual((yield* store.readAll({ maxCount: 1000 })).length, 31)
          assert.deepStrictEqual((yield* readWhole(store, "pool-b")).map((e) => e.revision).slice(-1), [12])
        })
      )
    )

    it.effect("a branch of a branch reads through both, and may branch inside the shared prefix", () =>
      withStore((store) =>
        Effect.gen(function* () {
          yield* parentAndBranch(store)
          yield* store.append("pool-b", testBatch(500, 4), ExpectedRevision.at(12))
          yield* store.fork("pool-c", point("b", 14), forkEvent("c", "b", 14, 5010, 3000))
          yield* store.fork("pool-e", point("b", 5), forkEvent("e", "b", 5, 50, 3001))
          const b = yield* readWhole(store, "pool-b")
          const c = yield* readWhole(store, "pool-c")
          const e = yield* readWhole(store, "pool-e")
          assert.deepStrictEqual(
            c.slice(0, 15).map((x) => x.id),
            b.slice(0, 15).map((x) => x.id)
          )
          assert.strictEqual(c.length, 16)
          assert.deepStrictEqual(
            e.slice(0, 6).map((x) => x.id),
            b.slice(0, 6).map((x) => x.id)
          )
          assert.deepStrictEqual(
            e.map((x) => x.revision),
            [0, 1, 2, 3, 4, 5, 6]
          )
        })
      )
    )

    it.effect(
      "of two writers continuing one pool (or one branch) at once, one wins, the other is told; nothing lost",
      () =>
        Effect.gen(function* () {
          yield* Fx.simulate(Fx.scenarioPath("idle-migration"), { pool: "idle" })
          yield* Fx.fork("idle", "500ms", "idle-b")
          for (const pool of ["idle", "idle-b"]) {
            const before = yield* Stream.runCount(Fx.events(pool))
            const loser = Fx.continuePool(pool, [{ op: "shutdown-vm", vm: "idle-1" }], {
              beforeAppend: Effect.asVoid(Fx.continuePool(pool, [{ op: "disable-host", host: "h1" }]))
            })
            const error = yield* Effect.flip(loser)
            assert.match(error.message, /^the pool changed while continuing it .*nothing was written/)
            const events = Chunk.toReadonlyArray(yield* Stream.runCollect(Fx.events(pool)))
            const records = events.filter((e) => e.event._tag === "OperationsRequested")
            assert.strictEqual(records.length, 1)
            assert.include(
              records[0]!.event._tag === "OperationsRequested" ? records[0]!.event.operations : "",
              "disable-host"
            )
            assert.deepStrictEqual(
              events.map((e) => e.revision),
              Array.from({ length: events.length }, (_, i) => i)
            )
            assert.isAbove(events.length, before)
            // and the loser, run again, continues from the new end
            yield* Fx.continuePool(pool, [{ op: "shutdown-vm", vm: "idle-1" }])
          }
        }).pipe(Effect.provide(makeLayer()))
    )
  })
}
