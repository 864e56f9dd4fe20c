/**
 * `poolState`: the fold of `evolve` over a pool's stream, read page by page through the store, so a
 * long history folds in bounded memory. Optionally stops at a revision (inclusive).
 */
import { Effect } from "effect"
import { evolve } from "../domain/evolve.js"
import { poolStreamName, type PoolId } from "../domain/ids.js"
import { initialState, type PoolState } from "../domain/state.js"
import { EventStore } from "../store/EventStore.js"

const READ_PAGE_EVENTS = 4096

interface FoldedState {
  readonly state: PoolState
  /** The revision of the last event folded in; -1 for an empty stream. */
  readonly revision: number
}

export const poolState = (pool: PoolId, options: { readonly toRevision?: number } = {}) =>
  Effect.gen(function* () {
    const store = yield* EventStore
    const stream = poolStreamName(pool)
    let state = initialState
    let revision = -1
    const last = options.toRevision ?? Number.MAX_SAFE_INTEGER
    for (;;) {
      const remaining = last - revision
      if (remaining <= 0) break
      const page = yield* store.read(stream, {
        from: revision + 1,
        direction: "forwards",
        maxCount: Math.min(READ_PAGE_EVENTS, remaining)
      })
      for (const recorded of page) {
        state = evolve(state, recorded.event)
        revision = recorded.revision
      }
      if (page.length < Math.min(READ_PAGE_EVENTS, remaining)) break
    }
    return { state, revision } satisfies FoldedState
  })
