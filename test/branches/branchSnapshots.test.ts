/**
 * A branch's own snapshots (projections/snapshots.ts, projections/timeTravel.ts): a branch that went on
 * long after its fork keeps snapshots of its own events (a whole state first, never of the prefix it
 * shares), so that time travel on it folds at most N events past one instead of every event since the
 * fork; every answer equals the full fold.
 */
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import * as Fx from "../../api/effect.js"
import { poolId } from "../../domain/ids.js"
import { SnapshotSettings, snapshotKey } from "../../projections/snapshots.js"
import { stateAt, stateAtByFullFold } from "../../projections/timeTravel.js"
import { savedRevisions } from "./savedRevisions.js"
import { plain } from "../timeTravel/helpers.js"

const EVERY = 30

const withStore = <A, E>(program: Effect.Effect<A, E, Fx.Store>) =>
  Effect.runPromise(
    program.pipe(
      Effect.provideService(SnapshotSettings, { everyEvents: EVERY, wholeStateEvery: 4 }),
      Effect.provide(Fx.storeLayer("memory:"))
    )
  )

/** The revisions of the snapshots kept under a pool's own key. */
const ownSnapshots = (pool: string) => savedRevisions(snapshotKey(poolId(pool)))

describe("a branch's own snapshots", () => {
  it("are kept for its own events only, and time travel on it folds fewer than N events past one, with the full fold's answer", () =>
    withStore(
      Effect.gen(function* () {
        const parent = (yield* Fx.simulate(Fx.scenarioPath("rolling-maintenance"))).pool
        // forked early and run on: the branch decides its parent's future as its own events
        const fork = yield* Fx.fork(parent, "30s", "early")
        const went = yield* Fx.continuePool("early", [{ op: "disable-host", host: "h4" }])
        expect(went.lastRevision - fork.revision).toBeGreaterThan(4 * EVERY)
        const branch = poolId("early")
        const revisions = [fork.revision + 2, went.firstRevision + 7, went.lastRevision - 3, went.lastRevision]
        for (const revision of revisions) {
          const answer = yield* stateAt(branch, { revision })
          const full = yield* stateAtByFullFold(branch, { revision })
          expect(plain(answer.state)).toStrictEqual(plain(full.state))
          if (revision > fork.revision + EVERY) expect(answer.eventsFolded).toBeLessThan(EVERY)
        }
        const end = (yield* stateAt(branch, { revision: went.lastRevision })).atUs
        for (const atUs of [fork.atUs, Math.floor((fork.atUs + end) / 2), end]) {
          const answer = yield* stateAt(branch, { atUs })
          expect(plain(answer.state)).toStrictEqual(plain((yield* stateAtByFullFold(branch, { atUs })).state))
        }
        // one per N of its own revisions, none in the shared prefix
        const own = yield* ownSnapshots("early")
        expect(own.length).toBeGreaterThanOrEqual(Math.floor((went.lastRevision - fork.revision) / EVERY) - 1)
        expect(own.every((r) => r > fork.revision)).toBe(true)
        // the parent's answers are untouched
        const atR = yield* stateAt(poolId(parent), { revision: fork.revision - 1 })
        expect(plain((yield* stateAt(branch, { revision: fork.revision - 1 })).state)).toStrictEqual(plain(atR.state))
      })
    ))
})
