/**
 * The page-writer extension point (engine/migration/writers.ts): a `pages` workload names a writer of
 * one's own, made of `evenlySpacedWriter` as the built-ins are; its writes decide the rounds; a bad name
 * or a bad page is refused with the field or the writer named.
 */
import { Chunk, Effect, Stream } from "effect"
import { describe, expect, it } from "vitest"
import * as Fx from "../../api/effect.js"
import { SnapshotSettings } from "../../projections/snapshots.js"
import {
  evenlySpacedWriter,
  events,
  openStore,
  simulate,
  uniform,
  type ScenarioInput,
  type WriterDefinition
} from "../../api/index.js"
import { rejection } from "./rejection.js"

/** A scan: write i lands on working-set page i mod the set (a guest streaming through a buffer). */
const sequential: WriterDefinition = {
  name: "sequential",
  summary: "writes the working set in order, round and round",
  make: (config) => {
    let i = 0
    return evenlySpacedWriter(config, () => i++ % config.workingSetPages)
  }
}

const scenario = (writer: string): ScenarioInput => ({
  format: "xenpool-scenario",
  version: 1,
  name: "one pages-model migration",
  pool: { id: "w" },
  hosts: [{ id: "h", count: 2, memory: "8GiB", overhead: "1GiB", nic: "1Gbit/s", cpus: 8 }],
  vms: [
    {
      id: "vm",
      memory: "256MiB",
      host: "h1",
      workload: { model: "pages", writer, dirtyRate: "20MiB/s", workingSet: "64MiB" }
    }
  ],
  schedule: [{ at: "1s", op: "migrate", vm: "vm", to: "h2" }]
})

/** Each round's pages sent and dirtied, in order. */
const rounds = async (writer: string, extensions: { writers?: ReadonlyArray<WriterDefinition> } = {}) => {
  const store = await openStore("memory:")
  const run = await simulate(scenario(writer), { store, extensions })
  const seen: string[] = []
  for await (const { event } of events(store, run.pool))
    if (event._tag === "VmMigrationRoundCompleted") seen.push(`${event.pagesSent}/${event.pagesDirtied}`)
  await store.close()
  return seen
}

describe("extensions: a page writer of one's own", () => {
  it("a pages workload names it; its writes drive the rounds, the same on every run", async () => {
    const mine = await rounds("sequential", { writers: [sequential] })
    expect(mine.length).toBeGreaterThan(1)
    expect(await rounds("sequential", { writers: [sequential] })).toEqual(mine)
    // a scan dirties every page of the set before any twice, so each live round finds more distinct
    // dirty pages than uniform draws (which repeat pages) do at the same rate
    const drawn = await rounds(uniform.name)
    const dirtied = (r: ReadonlyArray<string>) => Number(r[0]!.split("/")[1])
    expect(dirtied(mine)).toBeGreaterThan(dirtied(drawn))
  })

  it("an unknown writer is refused naming the field; a clash with a built-in and a page out of the set too", async () => {
    const store = await openStore("memory:")
    const unknown = await rejection(simulate(scenario("sequential"), { store }))
    expect(unknown.message).toMatch(/vms\[0\]\.workload\.writer\): expected one of uniform, hot-cold \(/)
    const clash = await rejection(
      simulate(scenario("uniform"), { store, extensions: { writers: [{ ...sequential, name: "uniform" }] } })
    )
    expect(clash.message).toMatch(/^extension named twice \(page writer uniform\)/)
    const outside: WriterDefinition = {
      name: "outside",
      summary: "picks a page past the working set",
      make: (config) => evenlySpacedWriter(config, () => config.workingSetPages)
    }
    const bad = await rejection(simulate(scenario("outside"), { store, extensions: { writers: [outside] } }))
    expect(bad.message).toMatch(/a page writer picked working-set page 16384, outside \[0, 16384\)/)
    await store.close()
  })

  it("that says what it holds (`own`) has a rest: a branch made inside its migration starts at a rest there, and appends what a rebuild from the start appends", async () => {
    // scans its first 12,500 pages once, then writes one page over and over: where it stands decides how
    // many pages a round finds dirty (at 5,120 writes/s it settles during the second round, after the
    // first rest); it keeps its place at rest and takes it back when `keeps`
    const settlingWriter = (keeps: boolean): WriterDefinition => ({
      name: "settling",
      summary: "scans 12,500 pages of the working set once, then writes its first page",
      make: (config) => {
        let i = config.from?.kind === "spaced" && typeof config.from.own === "number" ? config.from.own : 0
        const pick = () => (i < 12_500 ? i++ : 0)
        return keeps ? evenlySpacedWriter(config, pick, () => i) : evenlySpacedWriter(config, pick)
      }
    })
    const branchInside = (writer: WriterDefinition, fromRest: boolean) =>
      Effect.runPromise(
        Effect.gen(function* () {
          const extensions = { writers: [writer] }
          const { pool } = yield* Fx.simulate(scenario("settling"), { extensions })
          const events = Chunk.toReadonlyArray(yield* Stream.runCollect(Fx.events(pool)))
          const started = events.findIndex((e) => e.event._tag === "VmMigrationStarted")
          // at the first round's end, the writer half-way through its scan (a branch is made between moments)
          let at = events.findIndex((e) => e.event._tag === "VmMigrationRoundCompleted")
          while (events[at + 1]!.event.atUs === events[at]!.event.atUs) at++
          yield* Fx.fork(pool, `@${at}`, "inside")
          const out = yield* Fx.continuePool("inside", [{ op: "disable-host", host: "h2" }], { fromRest, extensions })
          const branch = Chunk.toReadonlyArray(yield* Stream.runCollect(Fx.events("inside")))
          return {
            started,
            at,
            rebuilt: out.rebuilt,
            lines: branch.map((e) => JSON.stringify({ id: e.id, event: e.event }))
          }
        }).pipe(
          Effect.provideService(SnapshotSettings, { everyEvents: 1, wholeStateEvery: 1, restEventsPerEntity: 0 }),
          Effect.provide(Fx.storeLayer("memory:"))
        )
      )
    const fromRest = await branchInside(settlingWriter(true), true)
    const fromStart = await branchInside(settlingWriter(true), false)
    expect(fromRest.lines).toEqual(fromStart.lines)
    expect(fromRest.lines.length).toBeGreaterThan(fromRest.at + 2)
    // the rest it started at was taken with the migration in flight, the writer's place in it
    expect(fromRest.rebuilt.restRevision).toBeGreaterThan(fromRest.started)
    expect(fromRest.rebuilt.eventsRead).toBeLessThan(fromStart.rebuilt.eventsRead)
    // the writer that keeps nothing has no rest while its migration is in flight: the last one is before
    const forgetting = await branchInside(settlingWriter(false), true)
    expect(forgetting.lines).toEqual(fromRest.lines)
    expect(forgetting.rebuilt.restRevision).toBeLessThan(forgetting.started)
  })
})
