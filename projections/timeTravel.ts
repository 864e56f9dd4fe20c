/**
 * Time travel (DESIGN.md §4): the pool's state at a revision or at a simulated time.
 *
 * - `{ revision: r }`: the state after the events 0..r.
 * - `{ atUs: t }`: as of t, inclusive (Datomic's as-of): the state after the last event with atUs <= t.
 *   Precisely, the events of the stream's longest prefix whose times are all <= t; in a pool stream,
 *   which is in time order, that is every event at or before t.
 * - Before the pool's first event (a time earlier than it, or revision -1): the empty pool, `bound:
 *   "before-first"`. Past its last event (a later time or a greater revision): the latest state,
 *   `bound: "after-last"`. Both are answers, not errors; only a pool with no events at all is one.
 *
 * A query first catches the pool's snapshots up (nothing to do unless N events came since the last
 * one), then loads the nearest snapshot at or before its target and folds the few events after it: at
 * most N (projections/snapshots.ts). For a time, the snapshot is the last one whose events are all at
 * or before t, so no search over the stream is needed: the next snapshot is past t, so the fold reads
 * fewer than N events before it meets the first event after t.
 */
import { Effect, Option, Schema } from "effect"
import { evolve } from "../domain/evolve.js"
import { poolIdOfStream, poolStreamName, PoolId } from "../domain/ids.js"
import { initialState, type PoolState } from "../domain/state.js"
import { EventStore, type BranchPoint } from "../store/EventStore.js"
import type { EventDecodeError, StoreError } from "../store/errors.js"
import { SnapshotStore } from "../store/SnapshotStore.js"
import { foldStartFrom, streamStart, type FoldStart } from "./snapshotChain.js"
import { catchUpSnapshots, snapshotCadence, snapshotKey } from "./snapshots.js"

export type TimeTravelTarget = { readonly revision: number } | { readonly atUs: number }

/** Where the target fell in the pool's history. */
export type HistoryBound = "before-first" | "within" | "after-last"

export interface StateAt {
  readonly pool: PoolId
  readonly target: TimeTravelTarget
  readonly state: PoolState
  /** The revision of the last event folded in; -1 before the first event. */
  readonly revision: number
  /** The time the answer holds at: the time asked, or for a revision that event's time (0 before any). */
  readonly atUs: number
  readonly bound: HistoryBound
  /** The stream's last revision when the query ran. */
  readonly lastRevision: number
  /** How it was computed: the snapshot the fold started from (-1: the stream's start) and the events folded. */
  readonly snapshotRevision: number
  readonly eventsFolded: number
}

/** The pool has no events in this store. */
export class UnknownPool extends Schema.TaggedError<UnknownPool>()("UnknownPool", { pool: PoolId }) {
  override get message() {
    return `pool ${this.pool} has no events in this store`
  }
}

export interface StateAtOptions {
  /** Catch the snapshots up before the query (default true); off, a query uses the snapshots there are. */
  readonly catchUp?: boolean
}

/** Events read per page while folding towards a time: small, so that little is decoded past the target. */
const TIME_PAGE_EVENTS = 128
const REVISION_PAGE_EVENTS = 4_096

/** Folds the stream from `start` through `toRevision` (inclusive). */
const foldToRevision = (pool: PoolId, start: FoldStart, toRevision: number) =>
  Effect.gen(function* () {
    const store = yield* EventStore
    let { state, revision } = start
    // Bounded: every page moves `revision` forward or ends the loop.
    while (revision < toRevision) {
      const page = yield* store.read(poolStreamName(pool), {
        from: revision + 1,
        maxCount: Math.min(REVISION_PAGE_EVENTS, toRevision - revision)
      })
      if (page.length === 0) break
      for (const recorded of page) state = evolve(state, recorded.event)
      revision = page[page.length - 1]!.revision
    }
    return { state, revision }
  })

/** Folds the stream from `start` up to (not including) its first event after `atUs`, or its end. */
const foldToTime = (pool: PoolId, start: FoldStart, atUs: number) =>
  Effect.gen(function* () {
    const store = yield* EventStore
    let { state, revision } = start
    // Bounded: every page moves `revision` forward or ends the loop.
    for (;;) {
      const page = yield* store.read(poolStreamName(pool), { from: revision + 1, maxCount: TIME_PAGE_EVENTS })
      for (const recorded of page) {
        if (recorded.event.atUs > atUs) return { state, revision }
        state = evolve(state, recorded.event)
        revision = recorded.revision
      }
      if (page.length < TIME_PAGE_EVENTS) return { state, revision }
    }
  })

const boundOf = (revision: number, lastRevision: number, beyond: boolean): HistoryBound =>
  revision < 0 ? "before-first" : revision === lastRevision && beyond ? "after-last" : "within"

/**
 * A branch's state (store/branches.ts): before its fork event the parent's answer, which the parent's
 * snapshots serve; from the fork on the branch's own snapshots (kept for its own events, a whole state
 * first: projections/snapshots.ts), or before its first one the parent's state at the branch point, then
 * the branch's own events. The fork event's time is at or after the parent's event at the branch point
 * and before the parent's next one (api/fork.ts): so a time before it falls in the shared prefix, and the
 * parent answers it whole.
 */
const branchStateAt = (
  pool: PoolId,
  point: BranchPoint,
  lastRevision: number,
  target: TimeTravelTarget,
  options: StateAtOptions
): Effect.Effect<StateAt, StoreError | EventDecodeError | UnknownPool, EventStore | SnapshotStore> =>
  Effect.gen(function* () {
    const store = yield* EventStore
    const snapshots = yield* SnapshotStore
    const parent = poolIdOfStream(point.parent) ?? (point.parent as PoolId)
    const [forked] = yield* store.read(poolStreamName(pool), { from: point.parentRevision + 1, maxCount: 1 })
    const forkAtUs = forked?.event.atUs ?? 0
    const inPrefix = "revision" in target ? target.revision <= point.parentRevision : target.atUs < forkAtUs
    if (inPrefix) {
      const answer = yield* stateAt(parent, target, options)
      return { ...answer, pool, lastRevision, bound: boundOf(answer.revision, lastRevision, false) }
    }
    const atPoint = Effect.map(stateAt(parent, { revision: point.parentRevision }, options), (answer) => ({
      start: { state: answer.state, revision: answer.revision, atUs: answer.state.atUs } satisfies FoldStart,
      snapshotRevision: answer.snapshotRevision,
      eventsFolded: answer.eventsFolded
    }))
    if (options.catchUp ?? true)
      yield* catchUpSnapshots(
        pool,
        Effect.map(atPoint, (p) => p.start)
      )
    const key = snapshotKey(pool)
    const { wholeStateEvery } = yield* snapshotCadence
    const own = yield* "revision" in target
      ? snapshots.loadAtOrBeforeRevision(key, Math.min(Math.floor(target.revision), lastRevision))
      : snapshots.loadAtOrBeforeTime(key, target.atUs)
    // the branch's own snapshot before the target if it has one (a broken chain falls back to the branch's
    // start, which reads through its parent: slower, the same answer); else the parent's state at the fork
    const from = Option.isSome(own)
      ? {
          start: yield* foldStartFrom(key, own, wholeStateEvery),
          snapshotRevision: own.value.revision,
          eventsFolded: 0
        }
      : yield* atPoint
    const start = from.start
    const snapshotRevision = Option.isSome(own) ? start.revision : from.snapshotRevision
    const folded = (revision: number) => from.eventsFolded + revision - start.revision
    if ("revision" in target) {
      const { state, revision } = yield* foldToRevision(
        pool,
        start,
        Math.min(Math.floor(target.revision), lastRevision)
      )
      return {
        pool,
        target,
        state,
        revision,
        atUs: state.atUs,
        bound: boundOf(revision, lastRevision, target.revision > lastRevision),
        lastRevision,
        snapshotRevision,
        eventsFolded: folded(revision)
      } satisfies StateAt
    }
    const { state, revision } = yield* foldToTime(pool, start, target.atUs)
    return {
      pool,
      target,
      state,
      revision,
      atUs: target.atUs,
      bound: boundOf(revision, lastRevision, target.atUs > state.atUs),
      lastRevision,
      snapshotRevision,
      eventsFolded: folded(revision)
    } satisfies StateAt
  })

/** The pool's state at a revision or a time (see the module's comment for the exact meaning). */
export const stateAt = (
  pool: PoolId,
  target: TimeTravelTarget,
  options: StateAtOptions = {}
): Effect.Effect<StateAt, StoreError | EventDecodeError | UnknownPool, EventStore | SnapshotStore> =>
  Effect.gen(function* () {
    const store = yield* EventStore
    const snapshots = yield* SnapshotStore
    const lastRevision = yield* store.lastRevision(poolStreamName(pool))
    if (lastRevision === undefined) return yield* new UnknownPool({ pool })
    const point = yield* store.branchOf(poolStreamName(pool))
    if (point !== undefined) return yield* branchStateAt(pool, point, lastRevision, target, options)
    if (options.catchUp ?? true) yield* catchUpSnapshots(pool)
    const key = snapshotKey(pool)
    const { wholeStateEvery } = yield* snapshotCadence
    if ("revision" in target) {
      const toRevision = Math.min(Math.floor(target.revision), lastRevision)
      const start =
        toRevision < 0
          ? streamStart
          : yield* foldStartFrom(key, yield* snapshots.loadAtOrBeforeRevision(key, toRevision), wholeStateEvery)
      const { state, revision } = yield* foldToRevision(pool, start, toRevision)
      return {
        pool,
        target,
        state,
        revision,
        atUs: revision < 0 ? 0 : state.atUs,
        bound: boundOf(revision, lastRevision, target.revision > lastRevision),
        lastRevision,
        snapshotRevision: start.revision,
        eventsFolded: revision - start.revision
      } satisfies StateAt
    }
    const start = yield* foldStartFrom(key, yield* snapshots.loadAtOrBeforeTime(key, target.atUs), wholeStateEvery)
    const { state, revision } = yield* foldToTime(pool, start, target.atUs)
    return {
      pool,
      target,
      state: revision < 0 ? initialState : state,
      revision,
      atUs: target.atUs,
      bound: boundOf(revision, lastRevision, target.atUs > state.atUs),
      lastRevision,
      snapshotRevision: start.revision,
      eventsFolded: revision - start.revision
    } satisfies StateAt
  })

/** The full fold from the stream's start, without snapshots: what every snapshot answer must equal. */
export const stateAtByFullFold = (pool: PoolId, target: TimeTravelTarget) =>
  Effect.gen(function* () {
    const store = yield* EventStore
    const lastRevision = yield* store.lastRevision(poolStreamName(pool))
    if (lastRevision === undefined) return yield* new UnknownPool({ pool })
    const { state, revision } =
      "revision" in target
        ? yield* foldToRevision(pool, streamStart, Math.min(Math.floor(target.revision), lastRevision))
        : yield* foldToTime(pool, streamStart, target.atUs)
    return { state, revision }
  })
