/**
 * The snapshotter: keeps a pool's pool-state snapshots caught up with its stream, one after every N
 * events (revisions N-1, 2N-1, …), so that a time-travel query folds at most N events after the
 * snapshot it starts from (projections/timeTravel.ts). Every K-th snapshot holds a whole state, the
 * others what changed since the snapshot before (projections/snapshotChain.ts).
 *
 * Three ways in, one layout:
 * - `catchUpSnapshots(pool)`: from the newest snapshot of this projection version (or the stream's start)
 *   to the stream's end, reading the events back. Queries run it first (lazily), so any pool gets its
 *   snapshots, whoever appended it and whichever projection version wrote the old ones.
 * - `saveRunSnapshots(pool, taker)`: after a run is appended, the states a `RunSnapshotTaker` took while
 *   the engine decided (no fold of its own: the engine had the states already).
 * - `snapshotEvents(pool, events)`: after appending events the caller holds, by folding them once.
 */
import { Context, Effect, Either, Option } from "effect"
import type { PoolCommand } from "../domain/commands.js"
import { decide, type Decision } from "../domain/decide.js"
import type { Placement } from "../domain/placement/index.js"
import type { PoolEvent } from "../domain/events.js"
import { evolve } from "../domain/evolve.js"
import { poolStreamName, type PoolId } from "../domain/ids.js"
import { persistentState, type PoolRead, type PoolState } from "../domain/state.js"
import { EventStore } from "../store/EventStore.js"
import { SnapshotStore, type SnapshotKey } from "../store/SnapshotStore.js"
import { foldStartFrom, SnapshotWriter, streamStart, type FoldStart, type TakenState } from "./snapshotChain.js"
import { projectionVersion } from "./snapshotCodec.js"

/**
 * N, the events between two snapshots: a query folds fewer than N events after its snapshot. 1,000 gives
 * a median query of about 15 ms on a 2,000-VM pool with a million events, for snapshots costing about
 * 30 % of its append time (docs/time-travel.md has the measurements and the other values tried).
 */
export const SNAPSHOT_EVERY_EVENTS_DEFAULT = 1_000

/**
 * K: every K-th snapshot holds a whole state, the K-1 between hold changes. A query reads up to K
 * snapshots (one whole, the changes after it); taking a snapshot of changes costs about what changed.
 */
export const WHOLE_STATE_EVERY_SNAPSHOTS_DEFAULT = 8

export interface SnapshotSettingsShape {
  /** N: a snapshot after every N events of a pool's stream. */
  readonly everyEvents: number
  /** K: a whole state every K snapshots (1: every snapshot whole); default 8. */
  readonly wholeStateEvery?: number
  /**
   * The engine's rests inside a run (api/engineRests.ts) come every N × K events, and at least this many
   * events per VM and host of the pool apart (250 numbers of a rest's page data weighing as one);
   * default `REST_EVENTS_PER_ENTITY_DEFAULT`, 0 for none.
   */
  readonly restEventsPerEntity?: number
}

/**
 * A rest encodes the whole pool (about 8 µs per VM or host here, in its codecs and the store), and the
 * engine decides an event in about 16 µs: at ten events per VM or host between two rests, they cost
 * about 5 % of a run. A rolling maintenance of 32,000 VMs on 1,024 hosts that kept one every 8,000
 * events ran 3× as long.
 */
const REST_EVENTS_PER_ENTITY_DEFAULT = 10

/** The snapshot cadence; override with `Effect.provideService(SnapshotSettings, { everyEvents })`. */
export class SnapshotSettings extends Context.Reference<SnapshotSettings>()("xenpool/SnapshotSettings", {
  defaultValue: (): SnapshotSettingsShape => ({
    everyEvents: SNAPSHOT_EVERY_EVENTS_DEFAULT,
    wholeStateEvery: WHOLE_STATE_EVERY_SNAPSHOTS_DEFAULT
  })
}) {}

const positive = (n: number, what: string): number => {
  if (!(Number.isSafeInteger(n) && n >= 1)) throw new RangeError(`${what} ${n}: expected an integer >= 1`)
  return n
}

const count = (n: number, what: string): number => {
  if (!(Number.isSafeInteger(n) && n >= 0)) throw new RangeError(`${what} ${n}: expected an integer >= 0`)
  return n
}

/** N and K, checked (a bad setting is a defect of whoever provided it). */
export const snapshotCadence = Effect.map(SnapshotSettings, (settings) => ({
  everyEvents: positive(settings.everyEvents, "snapshot every (events)"),
  wholeStateEvery: positive(
    settings.wholeStateEvery ?? WHOLE_STATE_EVERY_SNAPSHOTS_DEFAULT,
    "whole state every (snapshots)"
  ),
  restEventsPerEntity: count(
    settings.restEventsPerEntity ?? REST_EVENTS_PER_ENTITY_DEFAULT,
    "rest events per VM and host"
  )
}))

const snapshotEveryEvents = Effect.map(snapshotCadence, (cadence) => cadence.everyEvents)

export const snapshotKey = (pool: PoolId): SnapshotKey => ({ stream: poolStreamName(pool), projectionVersion })

/** Whether the state after `revision` is one the snapshotter keeps: after every N events. */
const isSnapshotRevision = (revision: number, everyEvents: number): boolean => (revision + 1) % everyEvents === 0

export { streamStart, type FoldStart, type TakenState } from "./snapshotChain.js"

/** A fold of `evolve` that keeps the state at every snapshot revision. Plain and synchronous. */
export class SnapshotFold {
  private current: FoldStart
  private readonly taken: TakenState[] = []

  constructor(
    start: FoldStart,
    private readonly everyEvents: number
  ) {
    this.current = start
  }

  add(event: PoolEvent): void {
    const revision = this.current.revision + 1
    const atUs = Math.max(this.current.atUs, event.atUs)
    this.current = { state: evolve(this.current.state, event), revision, atUs }
    if (isSnapshotRevision(revision, this.everyEvents)) this.taken.push(this.current)
  }

  get position(): FoldStart {
    return this.current
  }

  /** States kept and not drained yet. */
  get pending(): number {
    return this.taken.length
  }

  /** The states kept since the last call. */
  drain(): ReadonlyArray<TakenState> {
    return this.taken.splice(0, this.taken.length)
  }
}

/**
 * Takes the states at snapshot revisions while the engine runs a new stream (its first event is revision
 * 0), without folding anything itself. It wraps `decide` (the engine's seam, called with the engine's
 * state before each command) to see the state a batch starts from and the events decided, and counts
 * what the sink delivers; a snapshot revision inside a batch costs a fold of that batch's first events.
 * A batch it cannot match to the last decision (the same event objects) stops it: the rest of the run is
 * left to `catchUpSnapshots`, never a wrong state.
 */
export class RunSnapshotTaker {
  private emitted = 0
  private lastDecided: { readonly state: PoolState | undefined; readonly events: ReadonlyArray<PoolEvent> } | undefined
  private lost = false
  private maxAtUs = 0
  private readonly taken: TakenState[] = []

  constructor(
    private readonly everyEvents: number,
    private readonly inner: (state: PoolRead, command: PoolCommand, placement: Placement) => Decision = decide
  ) {}

  readonly decide = (state: PoolRead, command: PoolCommand, placement: Placement): Decision => {
    const decision = this.inner(state, command, placement)
    if (Either.isLeft(decision)) {
      this.lastDecided = undefined
      return decision
    }
    // The engine's state is a live view that the decision's events are about to change: it is kept (as
    // persistent maps) only when one of them falls on a snapshot revision, so most commands copy nothing.
    const events = decision.right
    const kept = this.holdsSnapshotRevision(events.length) ? persistentState(state) : undefined
    this.lastDecided = { state: kept, events }
    return decision
  }

  private holdsSnapshotRevision(count: number): boolean {
    const toNext = this.everyEvents - 1 - (this.emitted % this.everyEvents)
    return count > toNext
  }

  sink(batch: ReadonlyArray<{ readonly event: PoolEvent }>): void {
    const decided = this.lastDecided
    this.lastDecided = undefined
    if (!(decided !== undefined && sameEvents(decided.events, batch))) this.lost = true
    for (let i = 0; i < batch.length; i++) {
      const revision = this.emitted + i
      this.maxAtUs = Math.max(this.maxAtUs, batch[i]!.event.atUs)
      if (this.lost || !isSnapshotRevision(revision, this.everyEvents)) continue
      const start = decided!.state
      if (start === undefined) {
        this.lost = true
        continue
      }
      this.taken.push({ revision, atUs: this.maxAtUs, state: foldBatchPrefix(start, batch, i) })
    }
    this.emitted += batch.length
  }

  /** The states taken, and whether they cover the whole run (false: catch up from the store for the rest). */
  result(): { readonly taken: ReadonlyArray<TakenState>; readonly complete: boolean } {
    return { taken: this.taken, complete: !this.lost }
  }
}

const sameEvents = (decided: ReadonlyArray<PoolEvent>, batch: ReadonlyArray<{ readonly event: PoolEvent }>) =>
  decided.length === batch.length && decided.every((event, i) => event === batch[i]!.event)

/** The state after the batch's events 0..last, from the state the batch started from. */
const foldBatchPrefix = (start: PoolState, batch: ReadonlyArray<{ readonly event: PoolEvent }>, last: number) => {
  let state = start
  for (let i = 0; i <= last; i++) state = evolve(state, batch[i]!.event)
  return state
}

/** Snapshots saved per store write: bounds the encoded text held at once. */
const SAVE_GROUP_SNAPSHOTS = 16

/** Encodes kept states with `writer` (which continues its chain) and saves them, a group at a time. */
const saveWith = (writer: SnapshotWriter, taken: ReadonlyArray<TakenState>) =>
  Effect.gen(function* () {
    const snapshots = yield* SnapshotStore
    for (let start = 0; start < taken.length; start += SAVE_GROUP_SNAPSHOTS) {
      yield* snapshots.save(taken.slice(start, start + SAVE_GROUP_SNAPSHOTS).map((t) => writer.next(t)))
    }
    return taken.length
  })

/** A writer of the pool's snapshots continuing the chain that ends at `from` (a snapshot's state), if any. */
const writerFor = (pool: PoolId, from?: FoldStart) =>
  Effect.map(snapshotCadence, (cadence) => new SnapshotWriter(snapshotKey(pool), cadence.wholeStateEvery, from))

/**
 * Encodes and saves kept states as snapshots of the pool, continuing the chain that ends at `from` (a
 * whole state first when `from` is not a snapshot's state).
 */
const saveTakenStates = (pool: PoolId, taken: ReadonlyArray<TakenState>, from?: FoldStart) =>
  Effect.flatMap(writerFor(pool, from), (writer) => saveWith(writer, taken))

/**
 * After a run taken by `taker` was appended as a new stream: saves the states it took, and if it could
 * not take them all, catches up from the store for the rest. Returns the snapshots written.
 */
export const saveRunSnapshots = (pool: PoolId, taker: RunSnapshotTaker) =>
  Effect.gen(function* () {
    const { taken, complete } = taker.result()
    const saved = yield* saveTakenStates(pool, taken)
    return complete ? saved : saved + (yield* catchUpSnapshots(pool)).snapshotsWritten
  })

/** Folds events the caller holds (the stream's revisions `from.revision + 1` on) and saves the snapshots. */
export const snapshotEvents = (pool: PoolId, events: Iterable<PoolEvent>, from: FoldStart = streamStart) =>
  Effect.gen(function* () {
    const fold = new SnapshotFold(from, yield* snapshotEveryEvents)
    const writer = yield* writerFor(pool, from)
    let saved = 0
    for (const event of events) {
      fold.add(event)
      // Saved as they come, so a long run never holds more than a group of states.
      if (fold.pending >= SAVE_GROUP_SNAPSHOTS) saved += yield* saveWith(writer, fold.drain())
    }
    return saved + (yield* saveWith(writer, fold.drain()))
  })

/** What a catch-up did. */
interface CatchUp {
  readonly snapshotsWritten: number
  readonly eventsFolded: number
}

const READ_PAGE_EVENTS = 4_096

/** Where the newest usable snapshot leaves the fold; the stream's start if there is none. */
const latestStart = (pool: PoolId) =>
  Effect.gen(function* () {
    const snapshots = yield* SnapshotStore
    const key = snapshotKey(pool)
    const latest = yield* snapshots.latest(key)
    if (Option.isNone(latest)) return streamStart
    const found = yield* snapshots.loadAtOrBeforeRevision(key, latest.value.revision)
    return yield* foldStartFrom(key, found, (yield* snapshotCadence).wholeStateEvery)
  })

/**
 * Brings the pool's snapshots up to its stream's end: nothing to do (two small reads) when fewer than N
 * events follow the newest snapshot, else folds from it and saves one snapshot per N events.
 *
 * A branch keeps snapshots of its own events only, never of the prefix it shares with its parent (that
 * would copy the parent's): its first one is a whole state, folded from `branchStart`, the parent's state
 * at the branch point (projections/timeTravel.ts gives it). Without `branchStart`, a branch is left as is.
 */
export const catchUpSnapshots = <E = never, R = never>(pool: PoolId, branchStart?: Effect.Effect<FoldStart, E, R>) =>
  Effect.gen(function* () {
    const store = yield* EventStore
    const snapshots = yield* SnapshotStore
    const everyEvents = yield* snapshotEveryEvents
    const stream = poolStreamName(pool)
    const lastRevision = yield* store.lastRevision(stream)
    if (lastRevision === undefined) return { snapshotsWritten: 0, eventsFolded: 0 } satisfies CatchUp
    const point = yield* store.branchOf(stream)
    if (point !== undefined && branchStart === undefined)
      return { snapshotsWritten: 0, eventsFolded: 0 } satisfies CatchUp
    const latest = yield* snapshots.latest(snapshotKey(pool))
    const latestRevision = Option.match(latest, {
      onNone: () => (point === undefined ? -1 : point.parentRevision),
      onSome: (s) => s.revision
    })
    if (lastRevision - latestRevision < everyEvents) return { snapshotsWritten: 0, eventsFolded: 0 } satisfies CatchUp
    const start = Option.isNone(latest) && branchStart !== undefined ? yield* branchStart : yield* latestStart(pool)
    const fold = new SnapshotFold(start, everyEvents)
    const writer = yield* writerFor(pool, start)
    const first = fold.position.revision
    let snapshotsWritten = 0
    // Bounded: each page moves the fold forward, and the loop ends at the stream's end as it was read above.
    while (fold.position.revision < lastRevision) {
      const page = yield* store.read(stream, {
        from: fold.position.revision + 1,
        maxCount: Math.min(READ_PAGE_EVENTS, lastRevision - fold.position.revision)
      })
      if (page.length === 0) break
      for (const recorded of page) fold.add(recorded.event)
      snapshotsWritten += yield* saveWith(writer, fold.drain())
    }
    return { snapshotsWritten, eventsFolded: fold.position.revision - first } satisfies CatchUp
  })
