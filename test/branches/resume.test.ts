/**
 * The engine rebuilt from the log (simulations/resume.ts): the `resume` and `continue-equals-run`
 * properties (run in test/properties) reach the cases they name; a log the engine would not have written is refused naming the
 * revision; continuations and forks stack (a branch of a continued branch continues); a fork inside the
 * events of one moment cannot be continued, and says why.
 */
import { Chunk, Effect, Stream } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import * as Fx from "../../api/effect.js"
import { VmMigrationRoundCompleted } from "../../domain/events.js"
import { scenarioArb, type ScenarioJson } from "../../properties/arbitraries.js"
import { runEngine } from "../../properties/engineRun.js"
import type { RestInRun } from "../../simulations/run.js"
import { EventStore, ExpectedRevision } from "../../store/EventStore.js"

const withStore = <A, E>(program: Effect.Effect<A, E, Fx.Store>) =>
  Effect.runPromise(program.pipe(Effect.provide(Fx.storeLayer("memory:"))))

const allEvents = (pool: string) => Effect.map(Stream.runCollect(Fx.events(pool)), Chunk.toReadonlyArray)

describe("the engine rebuilt from its log", () => {
  it("the generated cases reach inside migration rounds and page-ins (the property is not vacuous)", () => {
    const count = (arbitrary: fc.Arbitrary<ScenarioJson>, tag: string) =>
      fc
        .sample(arbitrary, { numRuns: 40, seed: 7 })
        .filter((scenario) => runEngine(scenario).emitted.some((e) => e.event._tag === tag)).length
    const rounds = count(scenarioArb(), "VmMigrationRoundCompleted")
    const pageIns = count(scenarioArb({ faults: ["paging"], pageOutFirst: true }), "VmPagesPagedIn")
    expect(rounds).toBeGreaterThan(10)
    expect(pageIns).toBeGreaterThan(10)
  })

  it("the generated runs rest between their schedule's items, some with stale round ends on the agenda, some with migrations in flight (the property's rests inside a run are not vacuous)", () => {
    const runs = fc.sample(scenarioArb(), { numRuns: 400, seed: 7 }).map((scenario) => {
      const rests: RestInRun[] = []
      const run = runEngine(scenario, { rests: { everyEvents: 1, take: (rest) => rests.push(rest) } })
      return { events: run.emitted.length, rests }
    })
    // a rest before the run's last event, with events of the schedule's still to come
    const resting = runs.filter((r) => r.rests.some((rest) => rest.engine.events < r.events && rest.scheduleRun > 0))
    expect(resting.length).toBeGreaterThan(10)
    // and some with stale round ends still on the agenda (they move the clock when they come)
    const idle = runs.filter((r) => r.rests.some((rest) => rest.engine.idleUs.length > 0))
    expect(idle.length).toBeGreaterThan(2)
    // and some with migrations in flight (a round on the link, a paused round, a part: setup, suspend,
    // restore; a commit to come), some of them overlapping, and some inside an evacuation
    const inFlight = (pick: (machine: RestInRun["engine"]["transfers"][number]["machine"]) => boolean) =>
      runs.filter((r) =>
        r.rests.some((rest) => rest.engine.events < r.events && rest.engine.transfers.some((t) => pick(t.machine)))
      ).length
    expect(inFlight((m) => m.round !== undefined && m.round.progress.bytesDelivered > 0)).toBeGreaterThan(10)
    expect(inFlight((m) => m.round !== undefined && !m.round.live)).toBeGreaterThan(10)
    expect(inFlight((m) => m.part !== undefined)).toBeGreaterThan(10)
    expect(inFlight((m) => m.ending !== undefined)).toBeGreaterThan(10)
    const overlapping = runs.filter((r) => r.rests.some((rest) => rest.engine.transfers.length > 1))
    expect(overlapping.length).toBeGreaterThan(5)
    const evacuating = runs.filter((r) => r.rests.some((rest) => rest.engine.evacuations.length > 0))
    expect(evacuating.length).toBeGreaterThan(10)
  })

  it("the generated paging runs rest with pages paged out, and with page-outs and page-ins in flight (the pager's states and work cross as data)", () => {
    const paging = fc.sample(scenarioArb({ faults: ["paging"], pageOutFirst: true }), { numRuns: 40, seed: 7 })
    let inFlight = 0
    const withPaged = paging.filter((scenario) => {
      const rests: RestInRun[] = []
      const run = runEngine(scenario, { rests: { everyEvents: 1, take: (rest) => rests.push(rest) } })
      const paged = (rest: RestInRun) =>
        rest.engine.memory.pagers.some((p) => p.pages.runs.some((v, i) => i % 2 === 0 && v === 3))
      const inside = rests.filter((rest) => rest.engine.events < run.emitted.length)
      if (inside.some((rest) => rest.engine.memory.pagers.some((p) => p.batch.length + p.reads.length > 0))) inFlight++
      return inside.some(paged)
    })
    expect(withPaged.length).toBeGreaterThan(10)
    expect(inFlight).toBeGreaterThan(10)
  })

  it("refuses a log this engine would not have written, naming the first revision that differs", () =>
    withStore(
      Effect.gen(function* () {
        const run = yield* Fx.simulate(Fx.scenarioPath("idle-migration"), { pool: "idle" })
        expect(run.events).toBeGreaterThan(5)
        // A copy of the pool with one round changed: the same ids, a different byte count.
        const store = yield* EventStore
        const events = yield* allEvents("idle")
        const at = events.findIndex((e) => e.event._tag === "VmMigrationRoundCompleted")
        const copied = events.map((e, i) =>
          i === at && e.event._tag === "VmMigrationRoundCompleted"
            ? { id: e.id, event: new VmMigrationRoundCompleted({ ...e.event, bytesSent: e.event.bytesSent + 1 }) }
            : { id: e.id, event: e.event }
        )
        yield* store.append("pool-tampered", copied, ExpectedRevision.noStream)
        const error = yield* Effect.flip(Fx.continuePool("tampered", [{ op: "disable-host", host: "h1" }]))
        expect(error.message).toMatch(
          new RegExp(`^cannot continue the pool \\(tampered @${at}\\): this xenpool decides VmMigrationRoundCompleted`)
        )
      })
    ))

  it("continuations and forks stack: a branch of a continued branch continues, each rebuilt from the log", () =>
    withStore(
      Effect.gen(function* () {
        const parent = (yield* Fx.simulate(Fx.scenarioPath("rolling-maintenance"))).pool
        yield* Fx.fork(parent, "3m10s", "a")
        yield* Fx.continuePool("a", [{ op: "evacuate", host: "h4" }])
        const shutdown = yield* Fx.continuePool("a", [{ op: "shutdown-vm", vm: "web-1" }])
        const a = yield* allEvents("a")
        const mid = a[Math.floor((a.length + 133) / 2)]!.event.atUs
        yield* Fx.fork("a", { atUs: mid }, "b")
        const run = yield* Fx.continuePool("b", [{ op: "shutdown-vm", vm: "web-2" }])
        expect(run.atUs).toBe(mid)
        const b = yield* allEvents("b")
        expect(b.filter((e) => e.event._tag === "PoolForked").length).toBe(2)
        expect(b.filter((e) => e.event._tag === "OperationsRequested").length).toBe(2)
        // and once more on the same branch: the rebuilt engine agrees with everything above
        yield* Fx.continuePool("b", [{ op: "start-vm", vm: "web-2" }])
        const state = yield* Fx.stateAt("b", "2h")
        expect(state.vms.find((v) => v.id === "web-2")?.powerState).toBe("Running")
        // web-1's shutdown in `a` came after b's fork point or not: b has it only if it came before
        expect(state.vms.find((v) => v.id === "web-1")?.powerState).toBe(shutdown.atUs <= mid ? "Halted" : "Running")
      })
    ))

  it("a fork inside the events of one moment cannot be continued, and says why", () =>
    withStore(
      Effect.gen(function* () {
        const parent = (yield* Fx.simulate(Fx.scenarioPath("rolling-maintenance"))).pool
        const events = yield* allEvents(parent)
        // two events at the same µs from one decision: fork between them
        const i = events.findIndex((e, k) => k > 0 && e.event.atUs === events[k + 1]?.event.atUs)
        yield* Fx.fork(parent, `@${i}`, "split")
        const error = yield* Effect.flip(Fx.continuePool("split", [{ op: "disable-host", host: "h1" }]))
        expect(error.message).toMatch(/the fork point splits the events of one moment/)
      })
    ))
})
