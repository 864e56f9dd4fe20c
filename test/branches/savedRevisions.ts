/** Test helper: what a snapshot store keeps under one key. */
import { Effect, Option } from "effect"
import { SnapshotStore, type SnapshotKey } from "../../store/SnapshotStore.js"

/** The revisions saved under `key`, in order (walked back from the newest, one load each). */
export const savedRevisions = (key: SnapshotKey) =>
  Effect.gen(function* () {
    const snapshots = yield* SnapshotStore
    const revisions: number[] = []
    // Bounded: each pass finds an earlier snapshot than the last.
    for (let upTo = Number.MAX_SAFE_INTEGER; ;) {
      const found = yield* snapshots.loadAtOrBeforeRevision(key, upTo)
      if (Option.isNone(found)) return revisions.reverse()
      revisions.push(found.value.revision)
      if (found.value.revision === 0) return revisions.reverse()
      upTo = found.value.revision - 1
    }
  })
