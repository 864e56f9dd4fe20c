/**
 * Writing a run as a new pool: the pool's id, and its events committed whole (docs/durability.md).
 *
 * @internal
 *
 * A run's events go to the store in ONE atomic append at its end (`appendBatches`): until it commits,
 * nobody sees the pool; killed, interrupted or failing before, it wrote nothing. Without `--pool`, the
 * id is the base with the first free `-N`; two processes starting at once may pick the same one, and the
 * later commit then fails with WrongExpectedVersion. The run is then made again under the next free id
 * (its events name the pool and their ids derive from it), a bounded number of times.
 */
import { Effect } from "effect"
import { ID_LENGTH_MAX, isId, poolId, poolStreamName, type PoolId } from "../domain/ids.js"
import { EventStore, ExpectedRevision, type NewEvent } from "../store/EventStore.js"
import { StoreError, WrongExpectedVersion } from "../store/errors.js"
import { XenpoolError } from "./errors.js"
import { checkPoolId, poolStreams } from "./pools.js"
import type { Progress } from "./progress.js"
import { withProvenance } from "./provenance.js"
import type { PoolProvenance } from "../domain/events.js"

/** How many ids a run without `--pool` tries when other processes take them first. */
const poolIdAttemptsMax = 5

/** A new pool id for a run: the base with the first free `-N` suffix not in `skip`, or the one asked for if free. */
const choosePoolId = (base: string, explicit: string | undefined, skip: ReadonlySet<string> = new Set()) =>
  Effect.gen(function* () {
    if (explicit !== undefined) yield* checkPoolId(explicit)
    const taken = new Set<string>((yield* poolStreams).map((p) => p.id))
    if (explicit !== undefined) {
      if (taken.has(explicit)) {
        return yield* Effect.fail(
          new XenpoolError({
            what: "pool already exists",
            where: explicit,
            expected: "a new pool id for --pool (each run writes a new pool)"
          })
        )
      }
      return poolId(explicit)
    }
    // Bounded: at most |taken| + |skip| + 1 candidates are looked at.
    for (let n = 1; ; n++) {
      const candidate = `${base}-${n}`
      if (taken.has(candidate) || skip.has(candidate)) continue
      if (isId(candidate)) return poolId(candidate)
      return yield* new XenpoolError({
        what: "cannot name the new pool",
        where: `${base.slice(0, 40)}…-${n}`,
        expected: `expected a pool id of at most ${ID_LENGTH_MAX} characters with its -${n} suffix: give the new pool's id with --pool ID`
      })
    }
  })

/**
 * Runs `run` under a new pool id; if its commit loses the id to another process, again under the next
 * free one (only when the id was not given with `--pool`).
 */
export const withNewPool = <A, E, R>(
  base: string,
  explicit: string | undefined,
  run: (id: PoolId) => Effect.Effect<A, E, R>
) =>
  Effect.gen(function* () {
    const lost = new Set<string>()
    for (let attempt = 1; ; attempt++) {
      const id = yield* choosePoolId(base, explicit, lost)
      const outcome = yield* Effect.either(run(id))
      if (outcome._tag === "Right") return outcome.right
      const error = outcome.left
      if (!(error instanceof WrongExpectedVersion) || explicit !== undefined) return yield* Effect.fail(error)
      lost.add(id)
      if (attempt >= poolIdAttemptsMax) {
        return yield* new XenpoolError({
          what: "no free pool id",
          where: `${base}-N`,
          expected: `other runs took ${[...lost].join(", ")} first; give the run its own id with --pool`
        })
      }
    }
  })

/**
 * Commits a run's `events` (pulled in batches) as the new pool `pool`: one atomic append of every batch,
 * counted on the progress display as they go, which is then taken down. `onCommitted` hears of the
 * commit the moment it lands (the CLI's signal handler says what was written with it).
 */
export const commitRun = (
  pool: PoolId,
  run: {
    readonly events: number
    readonly batches: Iterable<ReadonlyArray<NewEvent>>
    readonly progress: Progress
    readonly onCommitted?: ((what: string) => void) | undefined
    /** How the pool was made, stamped on its creation event (api/provenance.ts); absent: as the engine made it. */
    readonly provenance?: PoolProvenance | undefined
  }
) =>
  Effect.gen(function* () {
    const store = yield* EventStore
    const stamped = run.provenance === undefined ? run.batches : withProvenance(run.batches, run.provenance)
    const counted = countedBatches(
      { ...run, batches: stamped },
      `writing ${run.events.toLocaleString("en-US")} events to ${store.url}`
    )
    const result = yield* store
      .appendBatches(poolStreamName(pool), counted, ExpectedRevision.noStream, (result) => {
        if (result.written) run.onCommitted?.(`pool ${pool} (${store.url})`)
      })
      .pipe(
        Effect.mapError((error) =>
          error instanceof StoreError
            ? new StoreError({ ...error, detail: `${error.detail}; nothing of pool ${pool} was written` })
            : error
        )
      )
    run.progress.stop()
    return result
  })

/** An array's elements in slices of `size`, for appending a long run in batches. */
export function* slices<A>(all: ReadonlyArray<A>, size: number): Generator<ReadonlyArray<A>> {
  for (let i = 0; i < all.length; i += size) yield all.slice(i, i + size)
}

/** The batches as the append pulls them, counted on the progress display. */
function* countedBatches<A>(
  run: { readonly events: number; readonly batches: Iterable<ReadonlyArray<A>>; readonly progress: Progress },
  label: string
): Generator<ReadonlyArray<A>> {
  let done = 0
  for (const batch of run.batches) {
    yield batch
    done += batch.length
    run.progress.update(label, done, run.events)
  }
}
