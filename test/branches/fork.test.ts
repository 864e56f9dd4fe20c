/**
 * Branches through the API (issue 14): `fork` makes a pool that shares its parent's history up to a
 * moment; time travel, history, events and diff on it see the parent's history before the fork; a bad
 * fork writes nothing. The property: a fork at R followed by no operation equals the parent up to R.
 */
import { fc, it as prop } from "@fast-check/vitest"
import { Chunk, Effect, ManagedRuntime, Stream } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import * as Fx from "../../api/effect.js"
import { XenpoolError } from "../../api/errors.js"
import { poolId } from "../../domain/ids.js"
import { EventStore } from "../../store/EventStore.js"

type Services = Fx.Store

const withStore = <A, E>(program: Effect.Effect<A, E, Services>) =>
  Effect.runPromise(program.pipe(Effect.provide(Fx.storeLayer("memory:"))))

const allEvents = (pool: string) => Effect.map(Stream.runCollect(Fx.events(pool)), Chunk.toReadonlyArray)

/** `at --json` without what names the pool or places the answer in its own history. */
const stateOnly = (doc: Fx.PoolAt) => ({ hosts: doc.hosts, vms: doc.vms, migrations: doc.migrations })

const stored = Effect.flatMap(EventStore, (store) => store.readAll({ maxCount: 1_000_000 }))

const demoPool = Effect.map(Fx.simulate(Fx.scenarioPath("rolling-maintenance")), (run) => run.pool)

describe("fork", () => {
  it("shares the parent's history up to the moment, stores one event, and time travel on it sees the parent's", () =>
    withStore(
      Effect.gen(function* () {
        const parent = yield* demoPool
        const before = (yield* stored).length
        const branch = yield* Fx.fork(parent, "3m10s", "what-if")
        expect(branch).toMatchObject({ pool: "what-if", parent, atUs: 190_000_000, eventsStored: 1 })
        const R = branch.revision
        expect(branch.events).toBe(R + 2)
        expect((yield* stored).length).toBe(before + 1)

        const parentEvents = yield* allEvents(parent)
        const branchEvents = yield* allEvents("what-if")
        expect(branchEvents.slice(0, R + 1).map((e) => [e.revision, e.id, e.event])).toEqual(
          parentEvents.slice(0, R + 1).map((e) => [e.revision, e.id, e.event])
        )
        expect(branchEvents.map((e) => e.event._tag).slice(R + 1)).toEqual(["PoolForked"])

        for (const when of ["@0", "@50", `@${R}`, "1min", "2m16s", "3m09s"] as const) {
          expect(stateOnly(yield* Fx.stateAt("what-if", when))).toEqual(stateOnly(yield* Fx.stateAt(parent, when)))
        }
        // At and after the fork the branch is the parent as it was then.
        const atFork = stateOnly(yield* Fx.stateAt(parent, `@${R}`))
        expect(stateOnly(yield* Fx.stateAt("what-if", "3m10s"))).toEqual(atFork)
        expect(stateOnly(yield* Fx.stateAt("what-if", "6min"))).toEqual(atFork)
        expect(stateOnly(yield* Fx.stateAt("what-if", `@${R + 1}`))).toEqual(atFork)
        expect((yield* Fx.stateAt("what-if", "6min")).bound).toBe("after-last")

        const vm = yield* Fx.history(parent, { vm: "db-1" })
        const vmOnBranch = yield* Fx.history("what-if", { vm: "db-1" })
        expect(vmOnBranch.changes).toEqual(vm.changes.filter((c) => c.revision <= R))

        const pools = yield* Fx.listPools
        const listed = pools.find((p) => p.id === "what-if")!
        const parentListed = pools.find((p) => p.id === parent)!
        expect(listed.events).toBe(R + 2)
        expect(listed.provenance).toEqual({
          ...parentListed.provenance,
          parent: { pool: parent, revision: R, xenpoolVersion: Fx.version }
        })
      })
    ))

  it("diff across pools: the branch at the fork against the parent then is empty; against the parent's end, it is what came after", () =>
    withStore(
      Effect.gen(function* () {
        const parent = yield* demoPool
        const branch = yield* Fx.fork(parent, "@120", "b")
        const same = yield* Fx.diff("b", "@121", "@120", { against: parent })
        expect(same).toMatchObject({ pool: "b", against: parent, from: { pool: "b", revision: 121 } })
        expect([same.vmsMoved, same.hostsChanged, same.vmsStarted, same.vmsStopped]).toEqual([[], [], [], []])
        const later = yield* Fx.diff("b", "6min", "6min", { against: parent })
        const parentOwn = yield* Fx.diff(parent, `@${branch.revision}`, "6min")
        expect(later.vmsMoved).toEqual(parentOwn.vmsMoved)
        expect(later.hostsChanged).toEqual(parentOwn.hostsChanged)
        expect(later.vmsMoved.length).toBeGreaterThan(0)
      })
    ))

  it("refuses, writing nothing: an unknown pool, a taken name, a moment past the end, a bad moment or id", () =>
    withStore(
      Effect.gen(function* () {
        const parent = yield* demoPool
        yield* Fx.fork(parent, "@10", "taken")
        const before = (yield* stored).length
        const refusals = yield* Effect.all(
          [
            Fx.fork("nope", "1s", "x1"),
            Fx.fork(parent, "1s", "taken"),
            Fx.fork(parent, "2h", "x2"),
            Fx.fork(parent, "@100000", "x3"),
            Fx.fork(parent, "soon", "x4"),
            Fx.fork(parent, "1s", "bad id!"),
            Fx.fork(parent, { revision: -1 }, "x5")
          ].map((attempt) => Effect.flip(attempt))
        )
        expect(refusals.every((e) => e instanceof XenpoolError)).toBe(true)
        expect(refusals.map((e) => (e as XenpoolError).what)).toEqual([
          "unknown pool",
          "pool already exists",
          "beyond the end of the pool",
          "beyond the end of the pool",
          "bad time",
          "bad pool id",
          "bad revision"
        ])
        expect((yield* stored).length).toBe(before)
        expect((yield* Fx.listPools).map((p) => p.id).sort()).toEqual([parent, "taken"].sort())
      })
    ))

  it("a branch of a branch, and export of a branch with its root's seed", () =>
    withStore(
      Effect.gen(function* () {
        const parent = yield* demoPool
        yield* Fx.fork(parent, "@150", "b1")
        const b2 = yield* Fx.fork("b1", "@100", "b2")
        expect(b2.revision).toBe(100)
        const root = yield* allEvents(parent)
        const nested = yield* allEvents("b2")
        expect(nested.slice(0, 101).map((e) => e.id)).toEqual(root.slice(0, 101).map((e) => e.id))
        const parts: string[] = []
        yield* Fx.exportTrace("b2", (text) => Effect.succeed(parts.push(text) > 0))
        const lines = parts.join("").trim().split("\n")
        expect(JSON.parse(lines[0]!)).toMatchObject({ seed: 42 })
      })
    ))
})

describe("the fork property", () => {
  /** The demo's pool, written once; forks are added beside it, each under a fresh name. */
  const runtime = ManagedRuntime.make(Fx.storeLayer("memory:"))
  let forks = 0
  const run = <A, E>(program: Effect.Effect<A, E, Services>) => runtime.runPromise(program)
  const parentReady = run(demoPool)
  afterAll(() => runtime.dispose())

  prop.prop([fc.integer({ min: 0, max: 256 }), fc.integer({ min: 0, max: 400_000_000 })], {
    numRuns: 25,
    seed: 20261207
  })("a fork at R followed by no operation equals the parent up to R: events, ids, and every state", async (r, t) => {
    const parent = await parentReady
    await run(
      Effect.gen(function* () {
        const name = poolId(`p-${forks++}`)
        const branch = yield* Fx.fork(parent, { revision: r }, name)
        const parentEvents = yield* allEvents(parent)
        const branchEvents = yield* allEvents(name)
        expect(branchEvents.length).toBe(r + 2)
        expect(branchEvents.slice(0, r + 1)).toEqual(
          parentEvents.slice(0, r + 1).map((e) => ({ ...e, stream: `pool-${name}` }))
        )
        const atR = stateOnly(yield* Fx.stateAt(parent, { revision: r }))
        expect(stateOnly(yield* Fx.stateAt(name, { revision: r + 1 }))).toEqual(atR)
        // Any time: before the fork the parent's answer, after it the parent's at R.
        const expected = t < branch.atUs ? stateOnly(yield* Fx.stateAt(parent, { atUs: t })) : atR
        expect(stateOnly(yield* Fx.stateAt(name, { atUs: t }))).toEqual(expected)
      })
    )
  })
})
