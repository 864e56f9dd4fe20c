/**
 * The snapshotter's three ways in write the same snapshots, one after every N events, a whole state
 * every K-th and the changes since the one before in between, each (through its chain) equal to the
 * fold up to its revision: catching up from the store (also after more appends, and idempotently),
 * folding events the writer holds, and taking the engine's own states during a run (no fold of its own).
 * A chain with a link that does not decode or is missing is not trusted: the answer comes from the log.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect, Either, Layer, Option } from "effect"
import fc from "fast-check"
import { afterAll, describe, expect, it } from "vitest"
import type { PoolEvent } from "../../domain/events.js"
import { poolStreamName, type PoolId } from "../../domain/ids.js"
import { transferFactory } from "../../engine/migration/index.js"
import { foldStartFrom } from "../../projections/snapshotChain.js"
import { decodeSnapshotData } from "../../projections/snapshotCodec.js"
import {
  catchUpSnapshots,
  RunSnapshotTaker,
  saveRunSnapshots,
  snapshotEvents,
  SnapshotSettings,
  snapshotKey
} from "../../projections/snapshots.js"
import { stateAt } from "../../projections/timeTravel.js"
import { runScenario } from "../../simulations/run.js"
import { EventStore, ExpectedRevision, type NewEvent } from "../../store/EventStore.js"
import type { StoreError } from "../../store/errors.js"
import { SnapshotStore, type Snapshot, type SnapshotStoreShape } from "../../store/SnapshotStore.js"
import { layerMemory } from "../../store/memory.js"
import { layerSqlite } from "../../store/sqlite.js"
import { compileFile } from "../engine/harness.js"
import { appendHistory, buildHistory, foldThrough, historyArb, plain, testPool, withIds } from "./helpers.js"

const events = buildHistory(fc.sample(historyArb(400), { seed: 3, numRuns: 1 })[0]!)

/** A memory store with snapshots every N events, a whole state every K. */
const memoryStore = (everyEvents: number, wholeStateEvery: number) =>
  Layer.merge(layerMemory, Layer.succeed(SnapshotSettings, { everyEvents, wholeStateEvery }))

interface Found {
  readonly snapshot: Snapshot
  readonly kind: "state" | "changes"
  readonly state: ReturnType<typeof foldThrough>
}

/** Every snapshot of the pool in revision order, with what it holds and the state its chain gives. */
const allSnapshots = (pool: PoolId, wholeStateEvery: number) =>
  Effect.gen(function* () {
    const snapshots = yield* SnapshotStore
    const key = snapshotKey(pool)
    const found: Found[] = []
    let next = Number.MAX_SAFE_INTEGER
    for (;;) {
      const one = yield* snapshots.loadAtOrBeforeRevision(key, next)
      if (Option.isNone(one)) return found.reverse()
      const decoded = decodeSnapshotData(one.value.data)
      if (Either.isLeft(decoded)) throw decoded.left
      const start = yield* foldStartFrom(key, one, wholeStateEvery)
      expect(start.revision).toBe(one.value.revision)
      found.push({ snapshot: one.value, kind: decoded.right._tag, state: start.state })
      next = one.value.revision - 1
    }
  })

/** One snapshot after every N events, whole every K-th, each the fold up to its revision. */
const expectSnapshotsOfFold = (
  found: ReadonlyArray<Found>,
  log: ReadonlyArray<PoolEvent>,
  everyEvents: number,
  wholeStateEvery: number
) => {
  const expected = Array.from({ length: Math.floor(log.length / everyEvents) }, (_, k) => (k + 1) * everyEvents - 1)
  expect(found.map((f) => f.snapshot.revision)).toStrictEqual(expected)
  expect(found.map((f) => f.kind)).toStrictEqual(
    expected.map((_, k) => (k % wholeStateEvery === 0 ? "state" : "changes"))
  )
  for (const f of found) {
    expect(plain(f.state)).toStrictEqual(plain(foldThrough(log, f.snapshot.revision)))
    expect(f.snapshot.atUs).toBe(log[f.snapshot.revision]!.atUs)
  }
}

describe("catching up from the store", () => {
  it("writes a snapshot after every N events, each the fold up to it; again, nothing; after more events, the new ones", () => {
    const [everyEvents, wholeStateEvery] = [4, 3]
    const half = Math.floor(events.length / 2)
    const { first, again, later, found } = Effect.runSync(
      Effect.gen(function* () {
        const store = yield* EventStore
        const stream = poolStreamName(testPool)
        const all = withIds(events)
        yield* store.append(stream, all.slice(0, half), ExpectedRevision.noStream)
        const first = yield* catchUpSnapshots(testPool)
        const again = yield* catchUpSnapshots(testPool)
        yield* store.append(stream, all.slice(half), ExpectedRevision.at(half - 1))
        const later = yield* catchUpSnapshots(testPool)
        return { first, again, later, found: yield* allSnapshots(testPool, wholeStateEvery) }
      }).pipe(Effect.provide(memoryStore(everyEvents, wholeStateEvery)))
    )
    expect(first.snapshotsWritten).toBe(Math.floor(half / everyEvents))
    expect(again).toStrictEqual({ snapshotsWritten: 0, eventsFolded: 0 })
    expect(first.snapshotsWritten + later.snapshotsWritten).toBe(Math.floor(events.length / everyEvents))
    // The second catch-up started from the newest snapshot, not from the start, and continued its chain.
    expect(later.eventsFolded).toBeLessThan(events.length - half + everyEvents)
    expectSnapshotsOfFold(found, events, everyEvents, wholeStateEvery)
  })

  it.each([1, 2, 5, 1_000])(
    "writes the same snapshots as folding the events the writer holds (a whole state every %i)",
    (wholeStateEvery) => {
      const everyEvents = 5
      const [fromStore, fromEvents] = [true, false].map((viaStore) =>
        Effect.runSync(
          Effect.gen(function* () {
            yield* appendHistory(testPool, events)
            if (viaStore) yield* catchUpSnapshots(testPool)
            else yield* snapshotEvents(testPool, events)
            return yield* allSnapshots(testPool, wholeStateEvery)
          }).pipe(Effect.provide(memoryStore(everyEvents, wholeStateEvery)))
        )
      )
      expect(fromEvents!.map((f) => f.snapshot)).toStrictEqual(fromStore!.map((f) => f.snapshot))
      expectSnapshotsOfFold(fromEvents!, events, everyEvents, wholeStateEvery)
    }
  )

  it("a chain with a link that does not decode or is gone is not trusted: the fold starts before it, or at the log's start", () => {
    const [everyEvents, wholeStateEvery] = [5, 4]
    /** Snapshots at 4 (whole), 9, 14, 19 (changes), 24 (whole), 29 …; ask for revision 21. */
    const ask = (damage: (snapshots: SnapshotStoreShape) => Effect.Effect<void, StoreError>) =>
      Effect.runSync(
        Effect.gen(function* () {
          yield* appendHistory(testPool, events)
          yield* catchUpSnapshots(testPool)
          yield* damage(yield* SnapshotStore)
          return yield* stateAt(testPool, { revision: 21 }, { catchUp: false })
        }).pipe(Effect.provide(memoryStore(everyEvents, wholeStateEvery)))
      )
    const garbage = (revision: number) => ({ ...snapshotKey(testPool), revision, atUs: 0, data: '{"atUs":"garbage"}' })
    const intact = ask(() => Effect.void)
    expect(intact.snapshotRevision).toBe(19)
    const brokenLink = ask((s) => s.save([garbage(14)]))
    expect(brokenLink.snapshotRevision).toBe(9)
    const brokenWhole = ask((s) => s.save([garbage(4)]))
    expect(brokenWhole.snapshotRevision).toBe(-1)
    for (const answer of [intact, brokenLink, brokenWhole])
      expect(plain(answer.state)).toStrictEqual(plain(foldThrough(events, 21)))
  })
})

describe("taking the engine's states during a run", () => {
  const scenario = compileFile("rolling-maintenance")

  it("keeps the state after every N events without folding, equal to the fold, and covers the whole run", () => {
    const [everyEvents, wholeStateEvery] = [37, 3]
    const taker = new RunSnapshotTaker(everyEvents)
    const emitted: NewEvent[] = []
    runScenario(scenario, {
      transferFactory,
      decide: taker.decide,
      sink: (batch) => {
        for (const e of batch) emitted.push(e)
        taker.sink(batch)
      }
    })
    const { taken, complete } = taker.result()
    expect(complete).toBe(true)
    const log = emitted.map((e) => e.event)
    expect(taken.map((t) => t.revision)).toStrictEqual(
      Array.from({ length: Math.floor(log.length / everyEvents) }, (_, k) => (k + 1) * everyEvents - 1)
    )
    for (const t of taken) expect(plain(t.state)).toStrictEqual(plain(foldThrough(log, t.revision)))

    // Saved, they are the snapshots a catch-up would have written: it finds nothing left to do.
    const { written, catchUp, found } = Effect.runSync(
      Effect.gen(function* () {
        yield* (yield* EventStore).append(poolStreamName(scenario.pool), emitted, ExpectedRevision.noStream)
        const written = yield* saveRunSnapshots(scenario.pool, taker)
        const catchUp = yield* catchUpSnapshots(scenario.pool)
        return { written, catchUp, found: yield* allSnapshots(scenario.pool, wholeStateEvery) }
      }).pipe(Effect.provide(memoryStore(everyEvents, wholeStateEvery)))
    )
    expect([written, catchUp.snapshotsWritten]).toStrictEqual([taken.length, 0])
    expectSnapshotsOfFold(found, log, everyEvents, wholeStateEvery)
  })

  it("a batch it cannot match to a decision stops it taking states (the rest is left to a catch-up)", () => {
    const taker = new RunSnapshotTaker(2)
    taker.sink(withIds(events.slice(0, 5)))
    expect(taker.result()).toStrictEqual({ taken: [], complete: false })
  })
})

describe("in a SQLite store", () => {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), "xenpool-timetravel-"))
  afterAll(() => fs.rmSync(directory, { recursive: true, force: true }))

  it("snapshots go in the file beside the log, and every revision answers as the fold does", async () => {
    const [everyEvents, wholeStateEvery] = [16, 4]
    const file = path.join(directory, "tt.db")
    const layer = Layer.merge(layerSqlite(file), Layer.succeed(SnapshotSettings, { everyEvents, wholeStateEvery }))
    const answers = await Effect.runPromise(
      Effect.gen(function* () {
        yield* appendHistory(testPool, events, 50)
        const out = []
        for (let revision = 0; revision < events.length; revision += 3) out.push(yield* stateAt(testPool, { revision }))
        return { out, found: yield* allSnapshots(testPool, wholeStateEvery) }
      }).pipe(Effect.provide(layer))
    )
    for (const answer of answers.out) {
      expect(plain(answer.state)).toStrictEqual(plain(foldThrough(events, answer.revision)))
      expect(answer.eventsFolded).toBeLessThan(everyEvents)
    }
    expectSnapshotsOfFold(answers.found, events, everyEvents, wholeStateEvery)
  })
})
