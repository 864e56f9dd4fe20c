/**
 * Branching a pool's history (issue 14, docs/branches.md): a new pool that shares its parent's events up
 * to a moment, stored as a reference to that prefix (the store's `fork`, store/branches.ts), never a copy.
 */
import { createHash } from "node:crypto"
import { Effect } from "effect"
import { PoolForked } from "../domain/events.js"
import { eventId, poolStreamName, type EventId, type PoolId } from "../domain/ids.js"
import { stateAt as stateAtProjection } from "../projections/timeTravel.js"
import { EventStore } from "../store/EventStore.js"
import { XenpoolError } from "./errors.js"
import { checkPoolId, requirePool } from "./pools.js"
import { describeTarget, targetOf, type When } from "./timeTravel.js"
import { version } from "./version.js"

/** What `fork` made: `xenpool fork --json` prints it. */
export interface ForkOutput {
  /** The new pool (the branch). */
  readonly pool: PoolId
  readonly parent: PoolId
  /** The parent's last revision the branch shares; the branch's fork event is the next one. */
  readonly revision: number
  /**
   * Where the branch's history leaves its parent's, the time of its fork event: the time asked, or for a
   * revision that revision's time.
   */
  readonly atUs: number
  /** The branch's events as its readers count them (the shared ones and its fork event). */
  readonly events: number
  /** Events the store wrote for it: only its fork event, whatever the length of the shared history. */
  readonly eventsStored: number
}

/**
 * A UUID-shaped digest of what an event is, for the events xenpool writes beside the engine's (a fork, a
 * continuation's record): the same one asked twice is the same event (the store acknowledges a retry
 * without writing twice), and no randomness enters the log.
 *
 * @internal
 */
export const digestEventId = (text: string): EventId => {
  const hex = createHash("sha256").update(text).digest("hex")
  const variant = ((parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16)
  return eventId(
    `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`
  )
}

/** The fork event's id: a digest of what the fork is (parent, revision, new pool). */
const forkEventId = (parent: PoolId, revision: number, pool: PoolId): EventId =>
  digestEventId(`xenpool fork ${parent}@${revision} as ${pool}`)

const poolExists = (pool: PoolId) =>
  new XenpoolError({ what: "pool already exists", where: pool, expected: "a new pool id for --as" })

/** The parent's revision a moment names; one past its end (or before its start) is an error, not a clamp. */
const branchRevision = (parent: PoolId, when: When, parentLast: number) =>
  Effect.gen(function* () {
    const target = yield* targetOf(when)
    const answer = yield* stateAtProjection(parent, target)
    const beyond =
      "revision" in target
        ? target.revision > parentLast
        : answer.bound === "after-last" && target.atUs > answer.state.atUs
    if (beyond)
      return yield* new XenpoolError({
        what: "beyond the end of the pool",
        where: `${describeTarget(target)} in pool ${parent}`,
        expected: `a moment of its history: @0..@${parentLast}, or a time up to ${describeTarget({ atUs: answer.state.atUs })}`
      })
    if (answer.revision < 0)
      return yield* new XenpoolError({
        what: "before the pool's first event",
        where: `${describeTarget(target)} in pool ${parent}`,
        expected: "a moment at or after its creation"
      })
    // The branch's clock starts where it was asked to: a time (what a continuation would start from), or
    // the time of the revision asked. Either way no later than the parent's next event.
    return { revision: answer.revision, atUs: "atUs" in target ? target.atUs : answer.state.atUs }
  })

/**
 * A new pool `as` sharing pool `pool`'s history up to `at` (a time, inclusive as `at` is, or `@REVISION`),
 * from where it can diverge. The store keeps one event for it (its fork event), whatever the length of the
 * shared history; time travel on the branch reads the parent's events before it. Atomic: the branch is
 * there whole or not at all. Fails with an XenpoolError for an unknown parent, an `as` already taken, or a
 * moment beyond the parent's end; nothing is written then.
 *
 * @example
 * const branch = yield* fork("rolling-1", "3m10s", "what-if")
 * const then = yield* stateAt("what-if", "3m10s") // the parent's pool at 3m10s
 */
export const fork = (pool: string, at: When, as: string) =>
  Effect.gen(function* () {
    const parent = yield* checkPoolId(pool)
    const id = yield* checkPoolId(as)
    const target = yield* targetOf(at)
    const parentLast = yield* requirePool(parent)
    const store = yield* EventStore
    if ((yield* store.lastRevision(poolStreamName(id))) !== undefined) return yield* poolExists(id)
    const point = yield* branchRevision(parent, target, parentLast)
    const event = new PoolForked({
      atUs: point.atUs,
      pool: id,
      parent,
      parentRevision: point.revision,
      xenpoolVersion: version
    })
    const written = yield* store
      .fork(
        poolStreamName(id),
        { parent: poolStreamName(parent), parentRevision: point.revision },
        { id: forkEventId(parent, point.revision, id), event }
      )
      .pipe(
        Effect.catchTags({
          WrongExpectedVersion: () => Effect.fail(poolExists(id)),
          NoSuchRevision: (error) =>
            Effect.fail(
              new XenpoolError({
                what: "no such revision",
                where: `@${error.revision} in pool ${parent}`,
                expected: error.message
              })
            )
        })
      )
    return {
      pool: id,
      parent,
      revision: point.revision,
      atUs: point.atUs,
      events: written.nextExpectedRevision + 1,
      eventsStored: 1
    } satisfies ForkOutput
  })
