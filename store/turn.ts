/**
 * One turn of the event loop, for long work done in slices (a large append, an engine run): Node runs
 * signal handlers only between turns, so a slice boundary is where Ctrl-C can land (cli/interrupt.ts).
 * `setImmediate` runs after the loop's I/O and signal callbacks; interrupting the wait cancels it.
 */
import { Effect } from "effect"

export const nextTurn: Effect.Effect<void> = Effect.async<void>((resume) => {
  const handle = setImmediate(() => resume(Effect.void))
  return Effect.sync(() => clearImmediate(handle))
})
