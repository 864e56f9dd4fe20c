/**
 * Long synchronous work (an engine run, a replay) done in slices, with a turn of Node's event loop
 * between them: an interruption (Ctrl-C in the CLI, `Fiber.interrupt`, an `AbortSignal` of the Promise
 * API) lands at the next slice boundary instead of after the whole run.
 *
 * @internal
 */
import { Effect } from "effect"
import { nextTurn } from "../store/turn.js"

/** Runs `slice` until it returns a value, with a turn of the event loop between slices. */
export const inSlices = <A, E, R>(slice: Effect.Effect<A | undefined, E, R>): Effect.Effect<A, E, R> =>
  Effect.gen(function* () {
    // Bounded by the work itself: each slice advances it (an engine run towards its limits, a file's lines).
    for (;;) {
      const done = yield* slice
      if (done !== undefined) return done
      yield* nextTurn
    }
  })
