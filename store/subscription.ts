/**
 * A subscription as every adapter builds it: page through the stored log after a position (bounded
 * memory: one page at a time, pulled by the consumer), and once caught up wait for the next append,
 * then page again. Events come in position order, none lost (positions are assigned in commit order, so
 * nothing can appear behind the cursor) and none twice (the cursor only moves past what was delivered).
 */
import { Chunk, Deferred, type Duration, Effect, FiberId, Option, Stream } from "effect"
import type { RecordedEvent } from "./EventStore.js"

/** Wakes the subscriptions of this process when an append commits. */
export interface AppendSignal {
  /**
   * An effect that completes at the next append after this call. Take it BEFORE reading, so that an
   * append landing between the read and the wait still wakes the reader.
   */
  readonly nextAppend: Effect.Effect<Effect.Effect<void>>
  readonly notify: Effect.Effect<void>
}

/** Made synchronously, so that it can be created inside a synchronous registry update. */
export const unsafeMakeAppendSignal = (): AppendSignal => {
  let current = Deferred.unsafeMake<void>(FiberId.none)
  return {
    nextAppend: Effect.sync(() => Deferred.await(current)),
    notify: Effect.suspend(() => {
      const previous = current
      current = Deferred.unsafeMake<void>(FiberId.none)
      return Deferred.succeed(previous, undefined)
    })
  }
}

export const makeAppendSignal: Effect.Effect<AppendSignal> = Effect.sync(unsafeMakeAppendSignal)

export interface FollowOptions<E> {
  /** Exclusive: the first event delivered has a greater position. */
  readonly after: number
  /** One page of the global log after a position, in position order. */
  readonly readPage: (after: number) => Effect.Effect<ReadonlyArray<RecordedEvent>, E>
  readonly signal: AppendSignal
  /**
   * For stores that other processes append to, whose appends this process is not told of: look at
   * least this often while caught up. Absent: wait for this process's appends only.
   */
  readonly pollInterval?: Duration.DurationInput
}

const waitFor = (wake: Effect.Effect<void>, pollInterval: Duration.DurationInput | undefined): Effect.Effect<void> =>
  pollInterval === undefined ? wake : Effect.race(wake, Effect.sleep(pollInterval))

/** The next non-empty page after `after`, waiting for appends while there is none. Never ends by itself. */
const nextPage = <E>(options: FollowOptions<E>, after: number): Effect.Effect<ReadonlyArray<RecordedEvent>, E> =>
  Effect.gen(function* () {
    // Unbounded on purpose: a subscription follows the log until its consumer stops pulling.
    for (;;) {
      const wake = yield* options.signal.nextAppend
      const page = yield* options.readPage(after)
      if (page.length > 0) return page
      yield* waitFor(wake, options.pollInterval)
    }
  })

export const followLog = <E>(options: FollowOptions<E>): Stream.Stream<RecordedEvent, E> =>
  Stream.paginateChunkEffect(options.after, (after) =>
    Effect.map(nextPage(options, after), (page) => [
      Chunk.unsafeFromArray(page),
      Option.some(page[page.length - 1]!.position)
    ])
  )
