/**
 * Time travel answers equal the full fold: for random points of generated histories, with snapshots
 * every N events for random N, `stateAt` by revision and by time equals the fold of `evolve` over the
 * log up to that point, and folds fewer than N events past its snapshot. Plus the exact meaning of
 * as-of (inclusive, ties, before the first event, after the last) on a small hand-made history.
 */
import { Effect } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { HostDisabled, HostEnabled, HostJoined, PoolCreated, type PoolEvent } from "../../domain/events.js"
import { hostId, poolId } from "../../domain/ids.js"
import { initialState } from "../../domain/state.js"
import { stateAt, stateAtByFullFold, UnknownPool, type TimeTravelTarget } from "../../projections/timeTravel.js"
import {
  appendHistory,
  buildHistory,
  foldThrough,
  foldUntil,
  historyArb,
  memoryWithSnapshotsEvery,
  plain,
  testPool
} from "./helpers.js"

/** Query points: revisions and times drawn as shares of the history, plus the edges. */
const pointsArb = fc.array(
  fc.record({
    byTime: fc.boolean(),
    perMille: fc.integer({ min: 0, max: 1_100 }),
    nudge: fc.integer({ min: -1, max: 1 })
  }),
  { minLength: 1, maxLength: 12 }
)

const targetOf = (
  events: ReadonlyArray<PoolEvent>,
  p: { byTime: boolean; perMille: number; nudge: number }
): TimeTravelTarget => {
  const last = events.length - 1
  if (!p.byTime) return { revision: Math.max(0, Math.floor((p.perMille * last) / 1_000) + p.nudge) }
  const lastAtUs = events[last]!.atUs
  return { atUs: Math.max(0, Math.floor((p.perMille * lastAtUs) / 1_000) + p.nudge) }
}

describe("stateAt equals the full fold", () => {
  it("at random revisions and times of generated histories, for random N and K (a property)", () => {
    fc.assert(
      fc.property(
        historyArb(),
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 5 }),
        pointsArb,
        (draw, everyEvents, wholeStateEvery, points) => {
          const events = buildHistory(draw)
          const answers = Effect.runSync(
            Effect.gen(function* () {
              yield* appendHistory(testPool, events, 7)
              const out = []
              for (const p of points) {
                const target = targetOf(events, p)
                out.push({
                  target,
                  answer: yield* stateAt(testPool, target),
                  full: yield* stateAtByFullFold(testPool, target)
                })
              }
              return out
            }).pipe(Effect.provide(memoryWithSnapshotsEvery(everyEvents, wholeStateEvery)))
          )
          for (const { target, answer, full } of answers) {
            const expected =
              "revision" in target
                ? {
                    state: foldThrough(events, target.revision),
                    revision: Math.min(target.revision, events.length - 1)
                  }
                : foldUntil(events, target.atUs)
            expect(answer.revision).toBe(expected.revision)
            expect(plain(answer.state)).toStrictEqual(plain(expected.state))
            expect(full.revision).toBe(expected.revision)
            expect(plain(full.state)).toStrictEqual(plain(expected.state))
            // The snapshots were caught up, so the fold after the snapshot is shorter than N.
            expect(answer.eventsFolded).toBeLessThan(everyEvents)
            expect(answer.lastRevision).toBe(events.length - 1)
          }
        }
      ),
      { numRuns: 150 }
    )
  })

  it("without snapshots caught up (N larger than the history), the answer is the same fold from the start", () => {
    const events = buildHistory(fc.sample(historyArb(200), { seed: 7, numRuns: 1 })[0]!)
    const answer = Effect.runSync(
      Effect.gen(function* () {
        yield* appendHistory(testPool, events)
        return yield* stateAt(testPool, { revision: events.length - 1 })
      }).pipe(Effect.provide(memoryWithSnapshotsEvery(1_000_000)))
    )
    expect(answer.snapshotRevision).toBe(-1)
    expect(answer.eventsFolded).toBe(events.length)
    expect(plain(answer.state)).toStrictEqual(plain(foldThrough(events, events.length - 1)))
  })
})

describe("as-of is inclusive, and the edges are answers", () => {
  const h1 = hostId("h1")
  const h2 = hostId("h2")
  const joined = (atUs: number, host: typeof h1) =>
    new HostJoined({
      atUs,
      host,
      memoryTotalPages: 1_000,
      memoryOverheadPages: 10,
      nicBandwidthBytesPerS: 1_000,
      cpus: 1
    })
  /** Revisions: 0 @5, 1 @5, 2 @5, 3 @10, 4 @10, 5 @20, 6 @30. */
  const events: ReadonlyArray<PoolEvent> = [
    new PoolCreated({ atUs: 5, pool: poolId("tt"), pageSizeBytes: 4096, linkLatencyUs: 0 }),
    joined(5, h1),
    joined(5, h2),
    new HostDisabled({ atUs: 10, host: h1 }),
    new HostDisabled({ atUs: 10, host: h2 }),
    new HostEnabled({ atUs: 20, host: h1 }),
    new HostEnabled({ atUs: 30, host: h2 })
  ]
  const ask = (target: TimeTravelTarget, everyEvents = 2) =>
    Effect.runSync(
      Effect.gen(function* () {
        yield* appendHistory(testPool, events)
        return yield* stateAt(testPool, target)
      }).pipe(Effect.provide(memoryWithSnapshotsEvery(everyEvents)))
    )

  it.each([
    [9, 2],
    [10, 4],
    [11, 4],
    [19, 4],
    [20, 5],
    [29, 5]
  ])("at %i µs the answer is the state after revision %i (every event at that time included)", (atUs, revision) => {
    for (const everyEvents of [1, 2, 3, 100]) {
      const answer = ask({ atUs }, everyEvents)
      expect(answer.revision).toBe(revision)
      expect(answer.bound).toBe("within")
      expect(answer.atUs).toBe(atUs)
      expect(plain(answer.state)).toStrictEqual(plain(foldThrough(events, revision)))
    }
  })

  it("a time before the first event answers the empty pool, said so", () => {
    const answer = ask({ atUs: 4 })
    expect([answer.revision, answer.bound, answer.eventsFolded]).toStrictEqual([-1, "before-first", 0])
    expect(plain(answer.state)).toStrictEqual(plain(initialState))
  })

  it("the last event's own time is within the history; any later time answers the latest state, said so", () => {
    expect([ask({ atUs: 30 }).revision, ask({ atUs: 30 }).bound]).toStrictEqual([6, "within"])
    const later = ask({ atUs: 31 })
    expect([later.revision, later.bound, later.atUs, later.lastRevision]).toStrictEqual([6, "after-last", 31, 6])
    expect(plain(later.state)).toStrictEqual(plain(foldThrough(events, 6)))
  })

  it("by revision: the event's own time; a revision past the last answers the latest state, said so", () => {
    const at3 = ask({ revision: 3 })
    expect([at3.revision, at3.atUs, at3.bound]).toStrictEqual([3, 10, "within"])
    const last = ask({ revision: 6 })
    expect([last.revision, last.bound]).toStrictEqual([6, "within"])
    const past = ask({ revision: 60 })
    expect([past.revision, past.bound, past.atUs]).toStrictEqual([6, "after-last", 30])
    expect(plain(past.state)).toStrictEqual(plain(foldThrough(events, 6)))
  })

  it("a pool with no events is an error naming it, not an empty answer", () => {
    const error = Effect.runSync(
      Effect.flip(stateAt(poolId("nope"), { atUs: 0 })).pipe(Effect.provide(memoryWithSnapshotsEvery(2)))
    )
    expect(error).toBeInstanceOf(UnknownPool)
    expect(error.message).toContain("nope")
  })
})
