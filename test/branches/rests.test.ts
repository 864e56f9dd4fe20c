/**
 * Continuing a pool from the engine at rest (issue 14, api/engineRests.ts): a run or a continuation that
 * ends at rest keeps its engine beside the snapshots, and the next continuation reads the log from there
 * only; a run keeps its engine at rest inside it too, where a branch made inside the run starts; what
 * either appends is what a rebuild from the pool's start appends; a rest that is not usable is passed over.
 */
import { Cause, Chunk, Effect, Exit, Option, Stream } from "effect"
import type { ScenarioInput } from "../../api/simulate.js"
import { SnapshotSettings } from "../../projections/snapshots.js"
import { savedRevisions } from "./savedRevisions.js"
import { loadRestPoint } from "../../api/engineRests.js"
import { listPools } from "../../api/pools.js"
import { describe, expect, it } from "vitest"
import * as Fx from "../../api/effect.js"
import { poolId, poolStreamName } from "../../domain/ids.js"
import { version } from "../../api/version.js"
import { SnapshotStore } from "../../store/SnapshotStore.js"
import type { RecordedEvent } from "../../store/EventStore.js"

const withStore = <A, E>(program: Effect.Effect<A, E, Fx.Store>) =>
  Effect.runPromise(program.pipe(Effect.provide(Fx.storeLayer("memory:"))))

const allEvents = (pool: string) => Effect.map(Stream.runCollect(Fx.events(pool)), Chunk.toReadonlyArray)

/** What two histories must agree on: every event's id and fields, in order. */
const lines = (events: ReadonlyArray<RecordedEvent>) => events.map((e) => JSON.stringify({ id: e.id, event: e.event }))

/** The demo pool, continued: an evacuation, then h2 enabled again, then a branch evacuating h4 instead. */
const story = (fromRest: boolean) =>
  Effect.gen(function* () {
    const { pool } = yield* Fx.simulate(Fx.scenarioPath("rolling-maintenance"))
    const runEnd = (yield* allEvents(pool)).length - 1
    const first = yield* Fx.continuePool(pool, [{ op: "evacuate", host: "h2" }], { fromRest })
    const second = yield* Fx.continuePool(pool, [{ op: "migrate", vm: "web-1", to: "h2" }], { fromRest })
    yield* Fx.fork(pool, `@${first.lastRevision}`, "what-if")
    const branch = yield* Fx.continuePool("what-if", [{ op: "evacuate", host: "h4" }], { fromRest })
    return {
      runEnd,
      rebuilt: [first.rebuilt, second.rebuilt, branch.rebuilt],
      second,
      pool: lines(yield* allEvents(pool)),
      branch: lines(yield* allEvents("what-if"))
    }
  })

describe("continuing from the engine at rest", () => {
  it("reads the log from the last rest on, and appends what a rebuild from the start appends", async () => {
    const fromRest = await withStore(story(true))
    const fromStart = await withStore(story(false))
    // the run ended at rest, then each continuation did: each one read its predecessor's end only
    expect(fromRest.rebuilt[0]).toEqual({ restRevision: fromRest.runEnd, eventsRead: 1 })
    expect(fromRest.rebuilt[1]!.restRevision).toBe(fromRest.second.firstRevision - 1)
    expect(fromRest.rebuilt[1]!.eventsRead).toBe(1)
    // the branch leaves its parent at the first continuation's last event; the parent's engine rested
    // later than that (its clock went on after the event), so the branch starts at the run's rest
    expect(fromRest.rebuilt[2]!.restRevision).toBe(fromRest.runEnd)
    expect(fromStart.rebuilt.map((r) => r.restRevision)).toEqual([-1, -1, -1])
    expect(fromStart.rebuilt[1]!.eventsRead).toBe(fromStart.second.firstRevision)
    expect(fromRest.pool).toEqual(fromStart.pool)
    expect(fromRest.branch).toEqual(fromStart.branch)
    expect(fromRest.pool.length).toBeGreaterThan(fromRest.runEnd + 10)
  })

  it("keeps the engine at rest when it stops with an evacuation in flight (its batches and migrations as data): the next continuation starts there, and appends what a rebuild from the start appends", async () => {
    const cutAndGoOn = (fromRest: boolean) =>
      withStore(
        Effect.gen(function* () {
          const { pool } = yield* Fx.simulate(Fx.scenarioPath("rolling-maintenance"))
          const events = yield* allEvents(pool)
          const end = events[events.length - 1]!.event.atUs
          // stopped 50 ms into an evacuation: its migrations are in flight
          const cut = yield* Fx.continuePool(pool, [{ op: "evacuate", host: "h1" }], {
            until: `${end + 50_000}us`,
            fromRest
          })
          const next = yield* Fx.continuePool(pool, [], { fromRest })
          const after = yield* Fx.continuePool(pool, [], { fromRest })
          return { cut, next, after, pool: lines(yield* allEvents(pool)) }
        })
      )
    const fromRest = await cutAndGoOn(true)
    const fromStart = await cutAndGoOn(false)
    expect(fromRest.cut.stopReason).toBe("time-limit")
    expect(fromRest.next.rebuilt).toEqual({ restRevision: fromRest.cut.lastRevision, eventsRead: 1 })
    expect(fromRest.next.events).toBeGreaterThan(0)
    expect(fromRest.next.stopReason).toBe("quiescent")
    // and that one ended at rest
    expect(fromRest.after.rebuilt.restRevision).toBe(fromRest.next.lastRevision)
    expect(fromStart.next.rebuilt.restRevision).toBe(-1)
    expect(fromRest.pool).toEqual(fromStart.pool)
  })

  it("passes over a rest that no longer matches the log, or does not decode, and rebuilds without it", () =>
    withStore(
      Effect.gen(function* () {
        const { pool } = yield* Fx.simulate(Fx.scenarioPath("rolling-maintenance"))
        const snapshots = yield* SnapshotStore
        const key = { stream: poolStreamName(poolId(pool)), projectionVersion: restVersion }
        /** Writes `data` over the rest kept at the pool's end. */
        const spoil = (data: (kept: string) => string) =>
          Effect.gen(function* () {
            const events = yield* allEvents(pool)
            const last = events[events.length - 1]!
            const kept = yield* snapshots.loadAtOrBeforeRevision(key, last.revision)
            if (Option.isNone(kept) || kept.value.revision !== last.revision) return yield* Effect.die("no rest kept")
            yield* snapshots.save([{ ...kept.value, data: data(kept.value.data) }])
            return events
          })
        // a rest taken after another event than the one its revision holds (the pool was rewritten)
        const events = yield* spoil((kept) => JSON.stringify({ ...JSON.parse(kept), eventId: "x" }))
        const first = yield* Fx.continuePool(pool, [{ op: "evacuate", host: "h2" }])
        expect(first.rebuilt).toEqual({ restRevision: -1, eventsRead: events.length })
        // a rest that does not decode: the one before it (the spoiled one above) is not usable either
        const more = yield* spoil(() => "{")
        const second = yield* Fx.continuePool(pool, [{ op: "enable-host", host: "h2" }])
        expect(second.rebuilt).toEqual({ restRevision: -1, eventsRead: more.length })
      })
    ))
})

/** Eight VMs on four hosts, one migration every 10 s: the engine rests between them. */
const spaced: ScenarioInput = {
  format: "xenpool-scenario",
  version: 1,
  name: "spaced",
  seed: 3,
  pool: { id: "spaced", linkLatency: "100us" },
  hosts: [{ id: "h", count: 4, memory: "16GiB", overhead: "1GiB", nic: "10Gbit/s" }],
  vms: Array.from({ length: 8 }, (_, i) => ({ id: `vm-${i}`, vcpus: 1, memory: "256MiB", host: `h${(i % 4) + 1}` })),
  schedule: Array.from({ length: 24 }, (_, k) => ({
    at: `${10 + k * 10}s`,
    op: "migrate",
    vm: `vm-${k % 8}`,
    to: `h${(((k % 8) + Math.floor(k / 8) + 1) % 4) + 1}`
  }))
} as unknown as ScenarioInput

/** The spaced pool, forked half-way through its run and continued there. */
const forkInsideRun = (fromRest: boolean) =>
  Effect.gen(function* () {
    const { pool, events } = yield* Fx.simulate(spaced)
    const kept = yield* restRevisions(pool)
    yield* Fx.fork(pool, "125s", "half")
    const branch = yield* Fx.continuePool("half", [{ op: "migrate", vm: "vm-0", to: "h4" }], { fromRest })
    return { events, kept, branch, lines: lines(yield* allEvents("half")) }
  }).pipe(Effect.provideService(SnapshotSettings, { everyEvents: 10, wholeStateEvery: 1, restEventsPerEntity: 0 }))

/** The revisions a pool's engine rests are kept after. */
const restRevisions = (pool: string) =>
  savedRevisions({ stream: poolStreamName(poolId(pool)), projectionVersion: restVersion })

describe("a rest inside a run", () => {
  it("refuses a rest cadence per VM and host that is not a count, and writes nothing", () =>
    withStore(
      Effect.gen(function* () {
        for (const restEventsPerEntity of [-1, 2.5, Number.NaN]) {
          const exit = yield* Effect.exit(
            Fx.simulate(spaced).pipe(Effect.provideService(SnapshotSettings, { everyEvents: 10, restEventsPerEntity }))
          )
          expect(Exit.isFailure(exit) ? Cause.pretty(exit.cause) : "succeeded").toMatch(
            /rest events per VM and host .*: expected an integer >= 0/
          )
        }
        expect(yield* listPools).toEqual([])
      })
    ))

  it("comes at least so many events per VM and host apart, the pool's size bounding what rests cost", () =>
    withStore(
      Effect.gen(function* () {
        const { pool, events } = yield* Fx.simulate(spaced)
        const kept = yield* restRevisions(pool)
        // the spaced pool has 4 hosts and 8 VMs: rests inside the run at least 5 × 12 events apart
        const inside = kept.slice(0, -1)
        expect(inside.length).toBeGreaterThan(2)
        for (let i = 1; i < inside.length; i++) expect(inside[i]! - inside[i - 1]!).toBeGreaterThanOrEqual(60)
        expect(kept[kept.length - 1]).toBe(events - 1)
      }).pipe(Effect.provideService(SnapshotSettings, { everyEvents: 10, wholeStateEvery: 1, restEventsPerEntity: 5 }))
    ))

  it("reads the schedule's items still to run from the run's chunks, or without them from the creation event", () =>
    withStore(
      Effect.gen(function* () {
        const { pool } = yield* Fx.simulate(spaced)
        const kept = yield* restRevisions(pool)
        const inside = kept[Math.floor(kept.length / 2)]!
        const point = Option.getOrThrow(yield* loadRestPoint(poolId(pool), inside))
        expect(point.scheduleRun).toBeGreaterThan(0)
        expect(point.scheduleToRun?.places.length).toBe(24 - point.scheduleRun!)
        expect(JSON.parse(point.scenario).schedule).toEqual([])
        // a chunk that does not decode: the creation event gives the whole schedule instead
        const snapshots = yield* SnapshotStore
        const chunks = { stream: poolStreamName(poolId(pool)), projectionVersion: `schedule-chunks/1/${version}` }
        const chunk = Option.getOrThrow(yield* snapshots.loadAtOrBeforeRevision(chunks, 0))
        yield* snapshots.save([{ ...chunk, data: "{" }])
        const again = Option.getOrThrow(yield* loadRestPoint(poolId(pool), inside))
        expect(again.scheduleToRun).toBeUndefined()
        expect(JSON.parse(again.scenario).schedule).toHaveLength(24)
      }).pipe(Effect.provideService(SnapshotSettings, { everyEvents: 10, wholeStateEvery: 1, restEventsPerEntity: 0 }))
    ))
})

describe("a branch made inside a run", () => {
  it("starts from the run's last rest before the fork point, and appends what a rebuild from the start appends", async () => {
    const fromRest = await withStore(forkInsideRun(true))
    const fromStart = await withStore(forkInsideRun(false))
    // rests inside the run, at least 10 events apart (the cadence), and one at its end
    expect(fromRest.kept.length).toBeGreaterThan(5)
    expect(fromRest.kept[fromRest.kept.length - 1]).toBe(fromRest.events - 1)
    for (let i = 1; i < fromRest.kept.length - 1; i++)
      expect(fromRest.kept[i]! - fromRest.kept[i - 1]!).toBeGreaterThanOrEqual(10)
    // the fork at 125 s leaves the run half-way: the branch started at a rest inside it, before the fork
    const forkRevision = fromRest.branch.firstRevision - 2
    const restRevision = fromRest.branch.rebuilt.restRevision
    expect(restRevision).toBeGreaterThan(0)
    expect(restRevision).toBeLessThanOrEqual(forkRevision)
    expect(fromRest.kept).toContain(restRevision)
    expect(fromRest.branch.rebuilt.eventsRead).toBeLessThan(forkRevision - restRevision + 5)
    expect(fromStart.branch.rebuilt.restRevision).toBe(-1)
    // the same history either way: the branch's run on to the end, with its migration
    expect(fromRest.branch.events).toBeGreaterThan(20)
    expect(fromRest.lines).toEqual(fromStart.lines)
  })
})

/** 24 more migrations of the spaced pool's VMs, 10 s apart, from 5 s after `endUs`. */
const spacedMigrations = (endUs: number) =>
  Array.from({ length: 24 }, (_, k) => ({
    at: `${endUs + 5_000_000 + k * 10_000_000}us`,
    op: "migrate" as const,
    vm: `vm-${k % 8}`,
    to: `h${(((k % 8) + Math.floor(k / 8) + 2) % 4) + 1}`
  }))

/** The spaced pool continued with 24 more migrations 10 s apart, then forked inside that continuation. */
const forkInsideContinuation = (fromRest: boolean) =>
  Effect.gen(function* () {
    const { pool, events } = yield* Fx.simulate(spaced)
    const end = (yield* allEvents(pool))[events - 1]!.event.atUs
    const operations = spacedMigrations(end)
    const more = yield* Fx.continuePool(pool, operations, { fromRest })
    const kept = yield* restRevisions(pool)
    yield* Fx.fork(pool, `${end + 125_000_000}us`, "inside")
    const branch = yield* Fx.continuePool("inside", [{ op: "migrate", vm: "vm-1", to: "h4" }], { fromRest })
    return { more, kept, branch, lines: lines(yield* allEvents("inside")) }
  }).pipe(Effect.provideService(SnapshotSettings, { everyEvents: 10, wholeStateEvery: 1, restEventsPerEntity: 0 }))

/** The spaced pool continued with 24 more migrations but cut by --until half-way, then run on. */
const cutContinuation = (fromRest: boolean) =>
  Effect.gen(function* () {
    const { pool, events } = yield* Fx.simulate(spaced)
    const end = (yield* allEvents(pool))[events - 1]!.event.atUs
    const operations = spacedMigrations(end)
    // cut 50 ms into the 13th migration: it is in flight, and 11 items wait
    const cut = yield* Fx.continuePool(pool, operations, { fromRest, until: `${end + 125_050_000}us` })
    const next = yield* Fx.continuePool(pool, [], { fromRest })
    return { cut, next, lines: lines(yield* allEvents(pool)) }
  }).pipe(Effect.provideService(SnapshotSettings, { everyEvents: 10, wholeStateEvery: 1, restEventsPerEntity: 0 }))

describe("a branch made inside a continuation", () => {
  it("a continuation cut with work in flight: the next starts at a rest inside it, the cut one's later items still to come", async () => {
    const fromRest = await withStore(cutContinuation(true))
    const fromStart = await withStore(cutContinuation(false))
    expect(fromRest.cut.stopReason).toBe("time-limit")
    const restRevision = fromRest.next.rebuilt.restRevision
    expect(restRevision).toBeGreaterThanOrEqual(fromRest.cut.firstRevision)
    expect(restRevision).toBeLessThan(fromRest.cut.lastRevision)
    expect(fromRest.next.events).toBeGreaterThan(50)
    expect(fromRest.lines).toEqual(fromStart.lines)
  })

  it("starts from the continuation's last rest before the fork point, and appends what a rebuild from the start appends", async () => {
    const fromRest = await withStore(forkInsideContinuation(true))
    const fromStart = await withStore(forkInsideContinuation(false))
    // rests inside the continuation, after its record
    const inside = fromRest.kept.filter((r) => r >= fromRest.more.firstRevision - 1 && r < fromRest.more.lastRevision)
    expect(inside.length).toBeGreaterThan(5)
    const restRevision = fromRest.branch.rebuilt.restRevision
    expect(inside).toContain(restRevision)
    expect(restRevision).toBeLessThanOrEqual(fromRest.branch.firstRevision - 2)
    expect(fromRest.branch.rebuilt.eventsRead).toBeLessThan(40)
    expect(fromStart.branch.rebuilt.restRevision).toBe(-1)
    expect(fromRest.branch.events).toBeGreaterThan(20)
    expect(fromRest.lines).toEqual(fromStart.lines)
  })
})

/** The PlanetLab pool (load series, a consolidation controller every 300 s) forked at noon, and continued there and at its end. */
const consolidating = (fromRest: boolean) =>
  Effect.gen(function* () {
    const { pool, events } = yield* Fx.simulate(Fx.scenarioPath("planetlab-consolidation"))
    const kept = yield* restRevisions(pool)
    yield* Fx.fork(pool, "12h", "noon")
    const branch = yield* Fx.continuePool("noon", [{ op: "disable-host", host: "h3" }], { fromRest })
    const end = yield* Fx.continuePool(pool, [{ op: "disable-host", host: "h5" }], { fromRest })
    return { events, kept, branch, end, lines: lines(yield* allEvents("noon")) }
  }).pipe(Effect.provideService(SnapshotSettings, { everyEvents: 100, wholeStateEvery: 2, restEventsPerEntity: 0 }))

describe("a pool whose load series and consolidation controller run", () => {
  it("rests between the controller's ticks: a branch at noon starts at a rest that morning, and appends what a rebuild from the start appends", async () => {
    const fromRest = await withStore(consolidating(true))
    const fromStart = await withStore(consolidating(false))
    expect(fromRest.kept.length).toBeGreaterThan(5)
    const forkRevision = fromRest.branch.firstRevision - 2
    const restRevision = fromRest.branch.rebuilt.restRevision
    expect(restRevision).toBeGreaterThan(forkRevision / 2)
    expect(restRevision).toBeLessThanOrEqual(forkRevision)
    expect(fromStart.branch.rebuilt.restRevision).toBe(-1)
    // the controller went on ticking in the branch, as it would have: the same events, the same report
    expect(fromRest.branch.events).toBeGreaterThan(100)
    expect(fromRest.lines).toEqual(fromStart.lines)
    expect(fromRest.branch.consolidation).toEqual(fromStart.branch.consolidation)
    // at the pool's end the controller had stopped: the run's last rest holds its report
    expect(fromRest.end.rebuilt.restRevision).toBe(fromRest.events - 1)
    expect(fromRest.end.consolidation).toEqual(fromStart.end.consolidation)
    expect(fromRest.end.consolidation?.[0]?.ticks).toBeGreaterThan(200)
  })

  it("two controllers one continuation starts each hear their own migrations' ends, from a rest as from the start", async () => {
    // the branch at noon starts two more controllers beside the scenario's, for two hours
    const twoMore = (fromRest: boolean) =>
      Effect.gen(function* () {
        const { pool } = yield* Fx.simulate(Fx.scenarioPath("planetlab-consolidation"))
        yield* Fx.fork(pool, "12h", "noon")
        const controller = { op: "consolidate", overloadPct: 70, underloadPct: 30, packPct: 50 } as const
        const branch = yield* Fx.continuePool(
          "noon",
          [
            { ...controller, every: "300s", migrationsMaxPerInterval: 5 },
            { ...controller, every: "420s", migrationsMaxPerInterval: 3 }
          ],
          { fromRest, until: "14h" }
        )
        return { branch, lines: lines(yield* allEvents("noon")) }
      }).pipe(Effect.provideService(SnapshotSettings, { everyEvents: 100, wholeStateEvery: 2, restEventsPerEntity: 0 }))
    const fromRest = await withStore(twoMore(true))
    const fromStart = await withStore(twoMore(false))
    expect(fromRest.branch.rebuilt.restRevision).toBeGreaterThan(0)
    const reports = fromRest.branch.consolidation ?? []
    expect(reports).toHaveLength(3)
    // both new controllers moved VMs: each heard its own migrations end (a shared name would tell one both)
    for (const report of reports.slice(1)) expect(report.migrationsCommitted).toBeGreaterThan(0)
    expect(fromRest.lines).toEqual(fromStart.lines)
    expect(fromRest.branch.consolidation).toEqual(fromStart.branch.consolidation)
  })
})

/** The paging-and-ballooning pool continued at its end twice, and forked half-way and continued. */
const paging = (fromRest: boolean) =>
  Effect.gen(function* () {
    const { pool, events } = yield* Fx.simulate(Fx.scenarioPath("paging-and-ballooning"))
    const first = yield* Fx.continuePool(
      pool,
      [
        { op: "guest-access", vm: "db", random: 3000 },
        { op: "migrate", vm: "db", to: "h1" }
      ],
      { fromRest }
    )
    const second = yield* Fx.continuePool(pool, [{ op: "migrate", vm: "db", to: "h2" }], { fromRest })
    return { events, rebuilt: [first.rebuilt, second.rebuilt], lines: lines(yield* allEvents(pool)) }
  })

describe("a pool with VMs under xenpaging", () => {
  it("rests with its pages paged out: a continuation reads one event, and appends what a rebuild from the start appends", async () => {
    const fromRest = await withStore(paging(true))
    const fromStart = await withStore(paging(false))
    expect(fromRest.rebuilt[0]).toEqual({ restRevision: fromRest.events - 1, eventsRead: 1 })
    expect(fromRest.rebuilt[1]!.eventsRead).toBe(1)
    expect(fromStart.rebuilt[1]!.restRevision).toBe(-1)
    expect(fromRest.lines.length).toBeGreaterThan(fromRest.events + 10)
    expect(fromRest.lines).toEqual(fromStart.lines)
  })
})

/** The key rests are kept under by this xenpool (api/engineRests.ts). */
const restVersion = `engine-rest/1/${version}`
