/**
 * Snapshot chains: most snapshots hold only what changed since the snapshot before them (its `base`),
 * and every few a whole state, so that taking a snapshot costs about what changed, not the whole pool
 * (projections/snapshots.ts has the cadence). Reading one walks back through its bases to a whole state
 * and applies the changes forwards.
 *
 * A snapshot is a cache: a chain with a link that is missing or does not decode (a damaged file, a
 * snapshot that was deleted) is not trusted, and the state comes from an earlier snapshot, or in the
 * end from the stream's start. The answer is always the log's; only its cost changes.
 */
import { Effect, Either, Option } from "effect"
import { initialState, type PoolState } from "../domain/state.js"
import { SnapshotStore, type Snapshot, type SnapshotKey } from "../store/SnapshotStore.js"
import {
  applyChanges,
  decodeSnapshotData,
  encodeChanges,
  encodeSnapshot,
  type PoolStateChanges
} from "./snapshotCodec.js"

/** Where a fold starts: the empty pool before revision 0, or the state of a snapshot. */
export interface FoldStart {
  readonly state: PoolState
  /** The revision of the last event in `state`; -1 for the empty pool. */
  readonly revision: number
  /** The greatest atUs folded in. */
  readonly atUs: number
  /** For a snapshot's state: how many snapshots of changes lie between it and the last whole state. */
  readonly changesSinceWhole?: number
}

export const streamStart: FoldStart = { state: initialState, revision: -1, atUs: 0 }

/** A state to keep as a snapshot, at the revision of the last event folded in. */
export interface TakenState {
  readonly revision: number
  /** The greatest atUs folded in so far. */
  readonly atUs: number
  readonly state: PoolState
}

/**
 * Encodes taken states as a chain: a whole state first (unless it continues a chain from `from`), then
 * changes since the previous snapshot, and again a whole state every `wholeEvery` snapshots.
 */
export class SnapshotWriter {
  /** The last snapshot written (or continued from): its state is what the next changes are taken against. */
  private previous:
    { readonly revision: number; readonly changesSinceWhole: number; readonly state: PoolState } | undefined

  constructor(
    private readonly key: SnapshotKey,
    private readonly wholeEvery: number,
    from?: FoldStart
  ) {
    this.previous =
      from?.changesSinceWhole === undefined
        ? undefined
        : { revision: from.revision, changesSinceWhole: from.changesSinceWhole, state: from.state }
  }

  next(taken: TakenState): Snapshot {
    const previous = this.previous
    const changes = previous === undefined ? this.wholeEvery : previous.changesSinceWhole + 1
    const whole = changes >= this.wholeEvery
    const data = whole ? encodeSnapshot(taken.state) : encodeChanges(previous!.state, taken.state, previous!.revision)
    this.previous = { revision: taken.revision, changesSinceWhole: whole ? 0 : changes, state: taken.state }
    return { ...this.key, revision: taken.revision, atUs: taken.atUs, data }
  }
}

/** Snapshots that are not trusted, at most, before a fold starts from the stream's start instead. */
const UNTRUSTED_SKIPPED_MAX = 8

type ChainResult =
  | { readonly _tag: "state"; readonly start: FoldStart }
  /** The chain is broken at `at` (missing, or does not decode): snapshots before it may still be good. */
  | { readonly _tag: "broken"; readonly at: Snapshot; readonly detail: string }

/** The state of `snapshot`, through its chain of bases back to a whole state (at most `linksMax` links). */
const walkChain = (key: SnapshotKey, snapshot: Snapshot, linksMax: number) =>
  Effect.gen(function* () {
    const snapshots = yield* SnapshotStore
    const links: PoolStateChanges[] = []
    let current = snapshot
    // Bounded by linksMax: a chain longer than that is treated as broken.
    for (let i = 0; i <= linksMax; i++) {
      const decoded = decodeSnapshotData(current.data)
      if (Either.isLeft(decoded)) return { _tag: "broken", at: current, detail: decoded.left.detail } as ChainResult
      if (decoded.right._tag === "state") {
        let state = decoded.right.state
        for (let k = links.length - 1; k >= 0; k--) state = applyChanges(state, links[k]!)
        const start = { state, revision: snapshot.revision, atUs: snapshot.atUs, changesSinceWhole: links.length }
        return { _tag: "state", start } as ChainResult
      }
      const changes = decoded.right.changes
      links.push(changes)
      const base = yield* snapshots.loadAtOrBeforeRevision(key, changes.base)
      if (Option.isNone(base) || base.value.revision !== changes.base)
        return { _tag: "broken", at: current, detail: `its base, snapshot ${changes.base}, is missing` } as ChainResult
      current = base.value
    }
    return { _tag: "broken", at: current, detail: `more than ${linksMax} snapshots of changes in a row` } as ChainResult
  })

/**
 * Where a found snapshot leaves the fold. A broken chain is not trusted: the snapshot before the broken
 * link is tried, then the stream's start (each skip logged as a warning).
 */
export const foldStartFrom = (key: SnapshotKey, found: Option.Option<Snapshot>, wholeEvery: number) =>
  Effect.gen(function* () {
    const snapshots = yield* SnapshotStore
    const linksMax = Math.max(64, 2 * wholeEvery)
    let current = found
    for (let skipped = 0; Option.isSome(current) && skipped <= UNTRUSTED_SKIPPED_MAX; skipped++) {
      const result = yield* walkChain(key, current.value, linksMax)
      if (result._tag === "state") return result.start
      yield* Effect.logWarning(
        `snapshot ${key.stream}@${result.at.revision} is not usable (${result.detail}); trying an earlier one`
      )
      current = yield* snapshots.loadAtOrBeforeRevision(key, result.at.revision - 1)
    }
    return streamStart
  })
