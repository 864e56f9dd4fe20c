/**
 * The memory event store as the properties use it: batches appended as the engine hands them over,
 * each with the expected revision, and the pool state folded back from the store at a revision through
 * the projection every reader uses (`projections/poolState`). The memory adapter encodes and decodes
 * every event, as SQLite does, so a codec bug shows up here too.
 */
import { Effect } from "effect"
import { poolStreamName, type PoolId } from "../domain/ids.js"
import type { PoolState } from "../domain/state.js"
import type { EmittedEvent } from "../engine/simulation.js"
import { poolState } from "../projections/poolState.js"
import { EventStore, ExpectedRevision } from "../store/EventStore.js"
import { makeMemory } from "../store/memory.js"

export interface PropertyStore {
  readonly append: (batch: ReadonlyArray<EmittedEvent>) => void
  /** The state folded from the store's first event up to `revision` (inclusive); -1 is the empty pool. */
  readonly stateAt: (revision: number) => PoolState
  /** Events appended so far (the last revision + 1). */
  readonly size: () => number
}

export const makePropertyStore = (pool: PoolId): PropertyStore => {
  const store = Effect.runSync(makeMemory)
  const stream = poolStreamName(pool)
  let size = 0
  return {
    append: (batch) => {
      if (batch.length === 0) return
      const expected = size === 0 ? ExpectedRevision.noStream : ExpectedRevision.at(size - 1)
      Effect.runSync(store.append(stream, batch, expected))
      size += batch.length
    },
    stateAt: (revision) =>
      Effect.runSync(poolState(pool, { toRevision: revision }).pipe(Effect.provideService(EventStore, store))).state,
    size: () => size
  }
}
