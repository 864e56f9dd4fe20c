/**
 * The memory event store as the properties use it: batches appended as the engine hands them over,
 * each with the expected revision, and the pool state read back through the code every reader uses:
 * the projection at a revision (`projections/poolState`), and time travel (`projections/timeTravel`'s
 * `stateAt`) through versioned snapshots kept in the memory snapshot store, at the cadence the property
 * chose. The memory adapter encodes and decodes every event, as SQLite does, so a codec bug shows up
 * here too.
 */
import { Effect, Either } from "effect"
import { poolStreamName, type PoolId } from "../domain/ids.js"
import type { PoolState } from "../domain/state.js"
import type { EmittedEvent } from "../engine/simulation.js"
import { poolState } from "../projections/poolState.js"
import {
  saveRunSnapshots,
  SnapshotSettings,
  type RunSnapshotTaker,
  type SnapshotSettingsShape
} from "../projections/snapshots.js"
import { stateAt, type StateAt, type TimeTravelTarget } from "../projections/timeTravel.js"
import { EventStore, ExpectedRevision } from "../store/EventStore.js"
import { makeMemory } from "../store/memory.js"
import { makeMemorySnapshots } from "../store/memorySnapshots.js"
import { SnapshotStore } from "../store/SnapshotStore.js"

export interface PropertyStore {
  readonly append: (batch: ReadonlyArray<EmittedEvent>) => void
  /** The state folded from the store's first event up to `revision` (inclusive); -1 is the empty pool. */
  readonly stateAt: (revision: number) => PoolState
  /**
   * Time travel as `xenpool at` answers it: `stateAt` from the nearest snapshot. `catchUp` (default
   * true) lets the query write the snapshots missing first; off, it reads only those already saved.
   * Left: the query failed, in words.
   */
  readonly timeTravel: (
    target: TimeTravelTarget,
    options?: { readonly catchUp?: boolean }
  ) => Either.Either<StateAt, string>
  /** Saves the snapshots a taker kept while the engine ran, as `simulate` does after its append. */
  readonly saveRunSnapshots: (taker: RunSnapshotTaker) => number
  /** Events appended so far (the last revision + 1). */
  readonly size: () => number
}

export const makePropertyStore = (
  pool: PoolId,
  /** The snapshot cadence (N, K); the defaults otherwise. */
  snapshotCadence?: SnapshotSettingsShape
): PropertyStore => {
  const store = Effect.runSync(makeMemory)
  const snapshots = Effect.runSync(makeMemorySnapshots)
  const stream = poolStreamName(pool)
  let size = 0
  const provide = <A, E>(effect: Effect.Effect<A, E, EventStore | SnapshotStore>): Effect.Effect<A, E> => {
    const provided = effect.pipe(
      Effect.provideService(EventStore, store),
      Effect.provideService(SnapshotStore, snapshots)
    )
    return snapshotCadence === undefined ? provided : Effect.provideService(provided, SnapshotSettings, snapshotCadence)
  }
  return {
    append: (batch) => {
      if (batch.length === 0) return
      const expected = size === 0 ? ExpectedRevision.noStream : ExpectedRevision.at(size - 1)
      Effect.runSync(store.append(stream, batch, expected))
      size += batch.length
    },
    stateAt: (revision) =>
      Effect.runSync(poolState(pool, { toRevision: revision }).pipe(Effect.provideService(EventStore, store))).state,
    timeTravel: (target, options = {}) =>
      Either.mapLeft(Effect.runSync(Effect.either(provide(stateAt(pool, target, options)))), (error) =>
        error._tag === "UnknownPool" ? error.message : `${error._tag}: ${String(error)}`
      ),
    saveRunSnapshots: (taker) => Effect.runSync(provide(saveRunSnapshots(pool, taker))),
    size: () => size
  }
}
