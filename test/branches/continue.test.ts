/**
 * Continuing a pool through the API (issue 14): the engine rebuilt from the log, operations applied at
 * the pool's end (a branch's end is its fork point), what they caused appended at once; a refused
 * operation appends nothing; a log this engine would not write is refused; two writers at once: one wins.
 */
import { Chunk, Effect, Stream } from "effect"
import { describe, expect, it } from "vitest"
import * as Fx from "../../api/effect.js"
import { XenpoolError } from "../../api/errors.js"
import type { RecordedEvent } from "../../store/EventStore.js"

const withStore = <A, E>(program: Effect.Effect<A, E, Fx.Store>) =>
  Effect.runPromise(program.pipe(Effect.provide(Fx.storeLayer("memory:"))))

const allEvents = (pool: string) => Effect.map(Stream.runCollect(Fx.events(pool)), Chunk.toReadonlyArray)

const demoPool = Effect.map(Fx.simulate(Fx.scenarioPath("rolling-maintenance")), (run) => run.pool)

/** The decided events: what a run and a continuation must agree on (ids and fields), markers aside. */
const decided = (events: ReadonlyArray<RecordedEvent>) =>
  events
    .filter((e) => e.event._tag !== "OperationsRequested" && e.event._tag !== "PoolForked")
    .map((e) => ({ id: e.id, event: e.event._tag === "PoolCreated" ? { ...e.event, provenance: null } : e.event }))

describe("continue", () => {
  it("applies an operation at the pool's end and appends it with what it caused; the record comes first", () =>
    withStore(
      Effect.gen(function* () {
        const pool = yield* demoPool
        const before = yield* allEvents(pool)
        const end = before[before.length - 1]!.event.atUs
        const run = yield* Fx.continuePool(pool, [{ op: "evacuate", host: "h2" }])
        const after = yield* allEvents(pool)
        expect(after.slice(0, before.length)).toEqual(before)
        expect(run.firstRevision).toBe(before.length)
        expect(run.lastRevision).toBe(after.length - 1)
        expect(run.atUs).toBe(end)
        const record = after[before.length]!.event
        expect(record._tag).toBe("OperationsRequested")
        expect(run.events).toBe(after.length - before.length - 1)
        expect(run.migrations.length).toBeGreaterThan(0)
        expect(run.migrations.every((m) => m.from === "h2" && m.outcome === "committed")).toBe(true)
        const h2 = (yield* Fx.stateAt(pool, "@" + String(after.length - 1))).hosts.find((h) => h.id === "h2")
        expect(h2?.vms).toEqual([])
      })
    ))

  it("equals a run whose scenario had the operation at that time from the start", () =>
    withStore(
      Effect.gen(function* () {
        const pool = yield* demoPool
        const events = yield* allEvents(pool)
        const end = events[events.length - 1]!.event.atUs
        yield* Fx.continuePool(pool, [{ op: "evacuate", host: "h3", at: `${end + 5_000_000}us` }])
        const continued = yield* allEvents(pool)
        const scenario = JSON.parse(
          (events[0]!.event._tag === "PoolCreated" && events[0]!.event.provenance._tag === "run"
            ? events[0]!.event.provenance.scenario
            : undefined) ?? "null"
        )
        scenario.schedule.push({ at: `${end + 5_000_000}us`, op: "evacuate", host: "h3" })
        // the same limits as the continuation's: the scenario's own time past the operation
        const whole = yield* Fx.simulate(scenario, { pool: "whole" })
        expect(whole.events).toBeGreaterThan(events.length)
        const direct = yield* allEvents("whole")
        expect(decided(continued).map((e) => e.event)).toEqual(
          decided(direct).map((e) => ({ ...e.event, ...("pool" in e.event ? { pool } : {}) }))
        )
      })
    ))

  it("continues a branch from its fork point, with its own event ids, and diff sees the what-if", () =>
    withStore(
      Effect.gen(function* () {
        const parent = yield* demoPool
        const branch = yield* Fx.fork(parent, "3m10s", "what-if")
        const run = yield* Fx.continuePool("what-if", [{ op: "shutdown-vm", vm: "web-1" }])
        expect(run.atUs).toBe(190_000_000)
        const events = yield* allEvents("what-if")
        expect(events[branch.revision + 1]!.event._tag).toBe("PoolForked")
        expect(events[branch.revision + 2]!.event._tag).toBe("OperationsRequested")
        const parentIds = new Set((yield* allEvents(parent)).map((e) => e.id))
        const own = events.slice(branch.revision + 1)
        expect(own.length).toBeGreaterThan(2)
        expect(own.filter((e) => parentIds.has(e.id))).toEqual([])
        // the maintenance in flight at 3m10s goes on in the branch (it migrates after the fork), without web-1
        expect(run.migrations.length).toBeGreaterThan(0)
        expect(run.operations.map((o) => o.operation)).toContain("rolling maintenance")
        const changes = yield* Fx.diff(parent, "1h", "1h", { against: "what-if" })
        expect(changes.vmsStopped).toEqual([expect.objectContaining({ vm: "web-1" })])
      })
    ))

  it("refuses an operation the pool refuses, with XAPI's error code, and appends nothing", () =>
    withStore(
      Effect.gen(function* () {
        const pool = yield* demoPool
        const before = (yield* allEvents(pool)).length
        const error = yield* Effect.flip(Fx.continuePool(pool, [{ op: "start-vm", vm: "web-1" }]))
        expect(error).toBeInstanceOf(XenpoolError)
        expect(error.message).toMatch(
          /^VM_BAD_POWER_STATE \(start-vm web-1 at .* in pool rolling-1\): .*nothing was appended/
        )
        expect((yield* allEvents(pool)).length).toBe(before)
        const unknown = yield* Effect.flip(Fx.continuePool(pool, [{ op: "migrate", vm: "nope", to: "h1" }]))
        expect(unknown.message).toMatch(/^bad operation \(operations\[0\], vm\): expected a VM/)
        expect((yield* allEvents(pool)).length).toBe(before)
      })
    ))

  it("of two writers continuing the same pool at once, one wins and the other is told, nothing lost", () =>
    withStore(
      Effect.gen(function* () {
        const pool = yield* demoPool
        const first = Fx.continuePool(pool, [{ op: "disable-host", host: "h1" }], {
          beforeAppend: Effect.asVoid(Fx.continuePool(pool, [{ op: "disable-host", host: "h2" }]))
        })
        const error = yield* Effect.flip(first)
        expect(error.message).toMatch(/the pool changed while continuing it .*nothing was written/)
        const events = yield* allEvents(pool)
        const records = events.filter((e) => e.event._tag === "OperationsRequested")
        expect(records.map((e) => (e.event._tag === "OperationsRequested" ? e.event.operations : ""))).toEqual([
          expect.stringContaining('"h2"')
        ])
      })
    ))
})
