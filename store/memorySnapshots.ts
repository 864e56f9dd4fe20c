/**
 * The memory adapter of the snapshot port: per stream and projection version, the snapshots in
 * revision order. Every operation is one synchronous step.
 */
import { Effect, Layer, Option } from "effect"
import { SnapshotStore, type Snapshot, type SnapshotKey, type SnapshotStoreShape } from "./SnapshotStore.js"

const keyOf = (key: SnapshotKey): string => `${key.projectionVersion}\u0000${key.stream}`

/** Index of the last snapshot whose revision is <= `revision`, or -1 (snapshots in revision order). */
const lastAtOrBefore = (snapshots: ReadonlyArray<Snapshot>, revision: number): number => {
  let low = 0
  let high = snapshots.length - 1
  let found = -1
  while (low <= high) {
    const middle = (low + high) >>> 1
    if (snapshots[middle]!.revision <= revision) {
      found = middle
      low = middle + 1
    } else high = middle - 1
  }
  return found
}

const insert = (snapshots: Snapshot[], snapshot: Snapshot): void => {
  const index = lastAtOrBefore(snapshots, snapshot.revision)
  if (index >= 0 && snapshots[index]!.revision === snapshot.revision) snapshots[index] = snapshot
  else snapshots.splice(index + 1, 0, snapshot)
}

export const makeMemorySnapshots: Effect.Effect<SnapshotStoreShape> = Effect.sync(() => {
  const byKey = new Map<string, Snapshot[]>()
  const of = (key: SnapshotKey): ReadonlyArray<Snapshot> => byKey.get(keyOf(key)) ?? []
  const store: SnapshotStoreShape = {
    save: (snapshots) =>
      Effect.sync(() => {
        for (const snapshot of snapshots) {
          const key = keyOf(snapshot)
          let list = byKey.get(key)
          if (list === undefined) byKey.set(key, (list = []))
          // A copy: the caller's object is not the stored one.
          insert(list, { ...snapshot })
        }
      }),
    loadAtOrBeforeRevision: (key, revision) =>
      Effect.sync(() => {
        const list = of(key)
        return Option.fromNullable(list[lastAtOrBefore(list, revision)])
      }),
    // A scan from the newest: correct whatever the times, and snapshots are few (one per N events).
    loadAtOrBeforeTime: (key, atUs) =>
      Effect.sync(() => Option.fromNullable(of(key).findLast((snapshot) => snapshot.atUs <= atUs))),
    latest: (key) =>
      Effect.sync(() => {
        const list = of(key)
        const last = list[list.length - 1]
        return last === undefined
          ? Option.none()
          : Option.some({
              stream: last.stream,
              projectionVersion: last.projectionVersion,
              revision: last.revision,
              atUs: last.atUs
            })
      })
  }
  return store
})

/** A fresh, empty snapshot map each time the layer is built. */
export const layerMemorySnapshots: Layer.Layer<SnapshotStore> = Layer.effect(SnapshotStore, makeMemorySnapshots)
