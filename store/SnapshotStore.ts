/**
 * The snapshot port: projection snapshots kept beside the event log, in the same store, so that a
 * time-travel query loads the nearest snapshot and folds a few events instead of the whole history
 * (DESIGN.md §4). A snapshot is a cache of a fold: losing one costs time, never an answer.
 *
 * A snapshot is keyed by stream, projection version and revision. Readers ask only for their own
 * projection version, so a snapshot written by another version of a projection is never read: it is
 * rebuilt instead. The data is opaque text to the store (the projection encodes and decodes it).
 *
 * Where each adapter keeps them:
 * - `memory:`: a map per stream and version, gone with the process;
 * - `sqlite:PATH`: the `snapshots` table in the same file, created when the store opens
 *   (store/sqliteSnapshots.ts);
 * - `kurrentdb://…` (store/kurrentSnapshots.ts): a companion stream per pool stream,
 *   `snapshots-<stream>` (e.g. `snapshots-pool-rolling-1`; not `$…`, which names system streams),
 *   one event per snapshot, of type `Snapshot`, with JSON data `{ projectionVersion, revision, atUs,
 *   data }`, appended with `any`. Keep `$maxAge`/`$maxCount` off the pool stream; they may be set on the
 *   companion stream to bound its size: a snapshot that is gone is rebuilt.
 *
 * Snapshots are saved in revision order by the snapshotter, but an adapter must not rely on it: saving
 * an earlier revision later, or the same key again, is allowed (the newer replaces the older).
 */
import { Context, type Effect, type Option } from "effect"
import type { StoreError } from "./errors.js"

export interface SnapshotKey {
  readonly stream: string
  /** The version of the projection that wrote it; only the same version reads it. */
  readonly projectionVersion: string
}

export interface SnapshotInfo extends SnapshotKey {
  /** The revision of the last event folded into the snapshot. */
  readonly revision: number
  /**
   * The greatest `atUs` of the events folded in: in a stream in time order (every pool stream is),
   * the last event's. A time lookup may use it to know that every event up to `revision` is at or
   * before a time.
   */
  readonly atUs: number
}

export interface Snapshot extends SnapshotInfo {
  /** The projection's encoding of its state, opaque to the store. */
  readonly data: string
}

export interface SnapshotStoreShape {
  /**
   * Saves snapshots, each replacing any saved before under the same stream, version and revision.
   * Not atomic as a whole: a batch cut short leaves the snapshots before the failure, which is safe.
   */
  readonly save: (snapshots: ReadonlyArray<Snapshot>) => Effect.Effect<void, StoreError>
  /** The snapshot with the greatest revision at or before `revision`. */
  readonly loadAtOrBeforeRevision: (
    key: SnapshotKey,
    revision: number
  ) => Effect.Effect<Option.Option<Snapshot>, StoreError>
  /** The snapshot with the greatest revision among those whose `atUs` is at or before `atUs`. */
  readonly loadAtOrBeforeTime: (key: SnapshotKey, atUs: number) => Effect.Effect<Option.Option<Snapshot>, StoreError>
  /** The snapshot with the greatest revision, without its data (the snapshotter's catch-up starts from it). */
  readonly latest: (key: SnapshotKey) => Effect.Effect<Option.Option<SnapshotInfo>, StoreError>
}

export class SnapshotStore extends Context.Tag("xenpool/SnapshotStore")<SnapshotStore, SnapshotStoreShape>() {}
