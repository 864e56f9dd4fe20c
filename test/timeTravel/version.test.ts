/**
 * The projection version guards snapshots: it is derived from the snapshot schema and EVOLVE_VERSION,
 * a snapshot written under another version is never read (the query rebuilds), and one written under
 * this version is (so the guard is what keeps the old ones out).
 */
import { Effect, Option, Schema } from "effect"
import { readFileSync } from "node:fs"
import { resolve } from "node:path"
import { createHash } from "node:crypto"
import { upcastEvent } from "../../domain/upcast.js"
import { describe, expect, it } from "vitest"
import { PoolEvent } from "../../domain/events.js"
import { foldEvents } from "../../domain/evolve.js"
import { initialState } from "../../domain/state.js"
import {
  encodeSnapshot,
  EVOLVE_VERSION,
  makeProjectionVersion,
  projectionVersion,
  snapshotSchemaDescription
} from "../../projections/snapshotCodec.js"
import { catchUpSnapshots, snapshotKey } from "../../projections/snapshots.js"
import { stateAt } from "../../projections/timeTravel.js"
import { poolStreamName } from "../../domain/ids.js"
import { SnapshotStore } from "../../store/SnapshotStore.js"
import {
  appendHistory,
  buildHistory,
  foldThrough,
  historyArb,
  memoryWithSnapshotsEvery,
  plain,
  testPool
} from "./helpers.js"
import fc from "fast-check"

const events = buildHistory(fc.sample(historyArb(300), { seed: 11, numRuns: 1 })[0]!)

describe("the projection version", () => {
  it("names the evolve version and fingerprints the schema", () => {
    expect(projectionVersion).toBe(makeProjectionVersion(EVOLVE_VERSION, snapshotSchemaDescription))
    expect(projectionVersion).toMatch(new RegExp(`^pool-state\\.e${EVOLVE_VERSION}\\.[0-9a-f]{8}$`))
  })

  it("changes with the evolve version and with the schema, and with nothing else", () => {
    expect(makeProjectionVersion(EVOLVE_VERSION + 1, snapshotSchemaDescription)).not.toBe(projectionVersion)
    // A field added to a VM changes the schema's description.
    const grown = snapshotSchemaDescription.replace(
      "readonly domid: Int;",
      "readonly domid: Int; readonly numaNode: Int;"
    )
    expect(grown).not.toBe(snapshotSchemaDescription)
    expect(makeProjectionVersion(EVOLVE_VERSION, grown)).not.toBe(projectionVersion)
    expect(makeProjectionVersion(EVOLVE_VERSION, snapshotSchemaDescription)).toBe(projectionVersion)
  })

  it("a snapshot of another projection version is never read: the query rebuilds from the log", () => {
    const lastRevision = events.length - 1
    const stale = makeProjectionVersion(EVOLVE_VERSION - 1, snapshotSchemaDescription)
    // What an older xenpool left: a decodable snapshot of the empty pool at the last revision.
    const wrong = {
      stream: poolStreamName(testPool),
      projectionVersion: stale,
      revision: lastRevision,
      atUs: 0,
      data: encodeSnapshot(initialState)
    }
    const { answer, staleAfter, current } = Effect.runSync(
      Effect.gen(function* () {
        yield* appendHistory(testPool, events)
        const snapshots = yield* SnapshotStore
        yield* snapshots.save([wrong])
        const answer = yield* stateAt(testPool, { revision: lastRevision })
        return {
          answer,
          staleAfter: yield* snapshots.latest({ stream: wrong.stream, projectionVersion: stale }),
          current: yield* snapshots.latest(snapshotKey(testPool))
        }
      }).pipe(Effect.provide(memoryWithSnapshotsEvery(10)))
    )
    expect(plain(answer.state)).toStrictEqual(plain(foldThrough(events, lastRevision)))
    // Folded from this version's own snapshot (written by the catch-up), never from the stale one.
    expect(Option.map(current, (s) => s.revision)).toStrictEqual(Option.some(answer.snapshotRevision))
    expect(answer.snapshotRevision).toBe(Math.floor((lastRevision + 1) / 10) * 10 - 1)
    // The old version's snapshot is left alone.
    expect(Option.map(staleAfter, (s) => s.revision)).toStrictEqual(Option.some(lastRevision))
  })

  it("a snapshot of this projection version is read as it is (the control: the version is what keeps stale ones out)", () => {
    const lastRevision = events.length - 1
    const planted = { ...snapshotKey(testPool), revision: lastRevision, atUs: 0, data: encodeSnapshot(initialState) }
    const answer = Effect.runSync(
      Effect.gen(function* () {
        yield* appendHistory(testPool, events)
        yield* catchUpSnapshots(testPool)
        yield* (yield* SnapshotStore).save([planted])
        return yield* stateAt(testPool, { revision: lastRevision })
      }).pipe(Effect.provide(memoryWithSnapshotsEvery(10)))
    )
    expect(answer.snapshotRevision).toBe(lastRevision)
    expect(plain(answer.state)).toStrictEqual(plain(initialState))
  })
})

/**
 * A reminder to bump EVOLVE_VERSION: the fold of a fixed log (every kind of event) is fingerprinted
 * with the projection version it was recorded under. If evolve folds it differently and the version
 * did not change, old snapshots would be read as if they were still right.
 */
describe("evolve's output on a fixed log", () => {
  const recordFile = resolve(import.meta.dirname, "fixtures/evolve-fingerprint.json")
  const logFile = resolve(import.meta.dirname, "fixtures/evolve-log.jsonl")
  const decode = Schema.decodeUnknownSync(PoolEvent)

  it("is unchanged, or the projection version changed with it", () => {
    const log = readFileSync(logFile, "utf8")
      .trim()
      .split("\n")
      // Written at schema v1: read as the store reads it, through the upcasters.
      .map((line) => decode(upcastEvent(JSON.parse(line))))
    const fingerprint = createHash("sha256")
      .update(JSON.stringify(plain(foldEvents(initialState, log))))
      .digest("hex")
      .slice(0, 16)
    const recorded = JSON.parse(readFileSync(recordFile, "utf8")) as { projectionVersion: string; fingerprint: string }
    if (fingerprint !== recorded.fingerprint)
      expect(
        projectionVersion,
        "evolve folds the fixed log differently: bump EVOLVE_VERSION in projections/snapshotCodec.ts, then record the new fingerprint in test/timeTravel/fixtures/evolve-fingerprint.json"
      ).not.toBe(recorded.projectionVersion)
    expect(
      { projectionVersion, fingerprint },
      "the projection version or the fold changed: record them in test/timeTravel/fixtures/evolve-fingerprint.json"
    ).toStrictEqual(recorded)
  })
})
