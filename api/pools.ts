/** The pools a store holds, and one pool's events in revision order. */
import { Effect, Option, Stream } from "effect"
import { idProblem, isId, poolIdOfStream, poolStreamName, type PoolId } from "../domain/ids.js"
import { EventStore, type RecordedEvent } from "../store/EventStore.js"
import type { EventDecodeError, StoreError } from "../store/errors.js"
import { provenanceOf, type ProvenanceJson } from "./provenance.js"
import { XenpoolError } from "./errors.js"

/**
 * A pool of the store: its id, its number of events (a branch's count its parent's shared prefix), the
 * simulated time of its last one, and how it was made.
 */
export interface PoolListing {
  readonly id: PoolId
  readonly events: number
  readonly lastAtUs: number
  readonly provenance: ProvenanceJson
}

/** @internal The pools' ids and sizes, without reading their provenance. */
export const poolStreams: Effect.Effect<
  ReadonlyArray<Omit<PoolListing, "provenance">>,
  StoreError,
  EventStore
> = Effect.gen(function* () {
  const store = yield* EventStore
  const streams = yield* store.streams()
  return streams.flatMap((s) => {
    const id = poolIdOfStream(s.stream)
    return id === undefined ? [] : [{ id, events: s.events, lastAtUs: s.lastAtUs }]
  })
})

/**
 * Every pool in the store, in the store's order, with its provenance (seed, xenpool version, input digest;
 * for a branch its parent and revision).
 *
 * @example
 * const pools = yield* listPools
 * pools.map((p) => `${p.id}: seed ${p.provenance.seed}, parent ${p.provenance.parent?.pool ?? "none"}`)
 */
export const listPools: Effect.Effect<
  ReadonlyArray<PoolListing>,
  StoreError | EventDecodeError,
  EventStore
> = Effect.flatMap(poolStreams, (pools) =>
  Effect.forEach(pools, (p) => Effect.map(provenanceOf(p.id), (provenance) => ({ ...p, provenance })))
)

/** `text` as a pool id, or an XenpoolError naming the id grammar. */
export const checkPoolId = (text: string): Effect.Effect<PoolId, XenpoolError> =>
  isId(text)
    ? Effect.succeed(text as PoolId)
    : Effect.fail(
        new XenpoolError({ what: "bad pool id", where: text, expected: `expected ${idProblem("pool", text)}` })
      )

/**
 * The pool's last revision; fails with an XenpoolError naming the pools that do exist when `pool` is
 * not one of them.
 */
export const requirePool = (pool: string) =>
  Effect.gen(function* () {
    const id = yield* checkPoolId(pool)
    const store = yield* EventStore
    const last = yield* store.lastRevision(poolStreamName(id))
    if (last !== undefined) return last
    const pools = yield* poolStreams
    const known = pools.length === 0 ? "the store has no pools" : `known pools: ${pools.map((p) => p.id).join(", ")}`
    return yield* new XenpoolError({ what: "unknown pool", where: `${id} in ${store.url}`, expected: known })
  })

/** Events read from the store at a time by `events`: what it holds in memory, whatever the history's length. */
export const EVENTS_PAGE = 4_096

export interface EventsOptions {
  /** First revision (default 0). */
  readonly from?: number
  /** Last revision, inclusive (default: the pool's last). */
  readonly to?: number
}

/**
 * A pool's recorded events in revision order, read a page at a time: a history longer than memory can
 * be folded over. Fails at once on an unknown pool.
 */
export const events = (pool: string, options: EventsOptions = {}) =>
  Stream.unwrap(
    Effect.gen(function* () {
      const last = yield* requirePool(pool)
      const to = Math.min(options.to ?? last, last)
      const page = (next: number) =>
        next > to
          ? Effect.succeed([[] as ReadonlyArray<RecordedEvent>, Option.none<number>()] as const)
          : Effect.map(eventsPage(pool as PoolId, next, to), (rows) => {
              const end = rows[rows.length - 1]
              const after =
                end === undefined || end.revision >= to ? Option.none<number>() : Option.some(end.revision + 1)
              return [rows, after] as const
            })
      return Stream.paginateEffect(options.from ?? 0, page).pipe(Stream.flattenIterables)
    })
  )

/** @internal One page of a pool's events, revisions [from, min(to, from + EVENTS_PAGE - 1)]. */
export const eventsPage = (pool: PoolId, from: number, to: number) =>
  Effect.flatMap(EventStore, (store) =>
    store.read(poolStreamName(pool), { from, maxCount: Math.max(0, Math.min(EVENTS_PAGE, to - from + 1)) })
  )
