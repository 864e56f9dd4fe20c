/**
 * The KurrentDB adapter of the snapshot port (store/SnapshotStore.ts): a companion stream per event
 * stream, `snapshots-<stream>` (e.g. `snapshots-pool-rolling-1`), one `Snapshot` event per snapshot with
 * JSON data `{ projectionVersion, revision, atUs, data }`, appended with `any`, one append per snapshot
 * (a snapshot can be large, and the server limits one append's size).
 *
 * KurrentDB has no index to ask "the greatest revision at or before r", and snapshots may be saved out
 * of order or saved again (the newer one replaces the older), so a lookup must know every snapshot of
 * the stream. The store keeps, per companion stream, the headers of its snapshots (version, revision,
 * atUs, where it is in the companion stream; not the data), reads only what was appended since its last
 * look, picks the answer from the headers, then reads that one snapshot. Cost: the first lookup of a
 * stream in a process reads its whole companion stream once (one event per N pool events); every later
 * one reads what is new plus the one snapshot it returns. The event store's `readAll` never sees these
 * streams.
 *
 * A snapshot is a cache: a companion event that is not a snapshot of this shape is passed over, and a
 * companion stream may carry `$maxAge`/`$maxCount` (a snapshot that is gone is rebuilt).
 */
import { Effect, Option } from "effect"
import type { EventData, ReadStreamOptions, ResolvedEvent } from "@kurrent/kurrentdb-client"
import type { StoreError } from "./errors.js"
import { nameUuid, snapshotStreamPrefix } from "./kurrentMapping.js"
import type { Snapshot, SnapshotInfo, SnapshotKey, SnapshotStoreShape } from "./SnapshotStore.js"

/** What the snapshot store needs of the event store's connection (prefix and deadlines applied). */
export interface SnapshotConnection {
  /** A page of a stream (an absent stream reads empty). */
  readonly read: (stream: string, options: ReadStreamOptions) => Effect.Effect<ReadonlyArray<ResolvedEvent>, StoreError>
  /** One append with `any`. */
  readonly append: (stream: string, events: ReadonlyArray<EventData>) => Effect.Effect<void, StoreError>
}

const snapshotEventType = "Snapshot"

/** Companion events per read. */
const pageSize = 256

/** The companion stream of an event stream. */
const snapshotStreamOf = (stream: string): string => `${snapshotStreamPrefix}${stream}`

/** An id from the snapshot's key and content: saving the same snapshot again sends the same event. */
const snapshotId = (snapshot: Snapshot): string =>
  nameUuid(
    [snapshot.stream, snapshot.projectionVersion, snapshot.revision, snapshot.atUs, snapshot.data].join("\u0000")
  )

const toEventData = (snapshot: Snapshot): EventData => ({
  id: snapshotId(snapshot),
  contentType: "application/json",
  type: snapshotEventType,
  data: {
    projectionVersion: snapshot.projectionVersion,
    revision: snapshot.revision,
    atUs: snapshot.atUs,
    data: snapshot.data
  },
  metadata: undefined
})

/** A companion event as a snapshot of `stream`, or undefined when it is not one. */
const snapshotOf = (stream: string, resolved: ResolvedEvent): Snapshot | undefined => {
  const event = resolved.event
  if (event === undefined || event.type !== snapshotEventType) return undefined
  const body = event.data as Record<string, unknown> | undefined
  const { projectionVersion, revision, atUs, data } = body ?? {}
  if (
    typeof projectionVersion !== "string" ||
    !Number.isSafeInteger(revision) ||
    !Number.isSafeInteger(atUs) ||
    typeof data !== "string"
  ) {
    return undefined
  }
  return { stream, projectionVersion, revision: revision as number, atUs: atUs as number, data }
}

interface Header extends SnapshotInfo {
  /** Where the snapshot is in the companion stream. */
  readonly at: bigint
}

interface Headers {
  /** The next companion revision to read. */
  next: bigint
  /** Per projection version and revision, the newest snapshot's header (a later save replaces). */
  readonly byVersion: Map<string, Map<number, Header>>
}

/** The best header: the greatest revision among those `accept` takes. */
const best = (headers: Headers, key: SnapshotKey, accept: (header: Header) => boolean): Header | undefined => {
  let found: Header | undefined
  for (const header of headers.byVersion.get(key.projectionVersion)?.values() ?? []) {
    if (accept(header) && (found === undefined || header.revision > found.revision)) found = header
  }
  return found
}

export const makeKurrentSnapshots = (connection: SnapshotConnection): SnapshotStoreShape => {
  const cache = new Map<string, Headers>()

  /** Reads the companion events appended since the last look and keeps their headers. */
  const refresh = (stream: string) =>
    Effect.gen(function* () {
      const companion = snapshotStreamOf(stream)
      const headers = cache.get(companion) ?? { next: 0n, byVersion: new Map() }
      cache.set(companion, headers)
      // Bounded by the companion stream's length: a short page ends it.
      for (;;) {
        const page: ReadonlyArray<ResolvedEvent> = yield* connection.read(companion, {
          fromRevision: headers.next,
          maxCount: pageSize
        })
        for (const resolved of page) {
          const at = BigInt(resolved.event!.revision)
          headers.next = at + 1n
          const snapshot = snapshotOf(stream, resolved)
          if (snapshot === undefined) continue
          let byRevision = headers.byVersion.get(snapshot.projectionVersion)
          if (byRevision === undefined) headers.byVersion.set(snapshot.projectionVersion, (byRevision = new Map()))
          const { data: _data, ...info } = snapshot
          byRevision.set(snapshot.revision, { ...info, at })
        }
        if (page.length < pageSize) return headers
      }
    })

  /** The snapshot of the best header, read from the companion stream; one that is gone is forgotten. */
  const load = (key: SnapshotKey, accept: (header: Header) => boolean) =>
    Effect.gen(function* () {
      const headers = yield* refresh(key.stream)
      // Bounded: every pass forgets one header.
      for (;;) {
        const header = best(headers, key, accept)
        if (header === undefined) return Option.none<Snapshot>()
        const page = yield* connection.read(snapshotStreamOf(key.stream), { fromRevision: header.at, maxCount: 1 })
        const first = page[0]
        const snapshot =
          first !== undefined && BigInt(first.event!.revision) === header.at ? snapshotOf(key.stream, first) : undefined
        if (snapshot !== undefined) return Option.some(snapshot)
        // Erased by the companion stream's own $maxAge / $maxCount: a cache entry gone, not an error.
        headers.byVersion.get(key.projectionVersion)?.delete(header.revision)
      }
    })

  return {
    save: (snapshots) =>
      // In revision order within a call, so that the companion stream reads in the order it was meant.
      Effect.forEach(
        [...snapshots].sort((a, b) => a.revision - b.revision),
        (snapshot) => connection.append(snapshotStreamOf(snapshot.stream), [toEventData(snapshot)]),
        { discard: true }
      ),
    loadAtOrBeforeRevision: (key, revision) => load(key, (header) => header.revision <= revision),
    loadAtOrBeforeTime: (key, atUs) => load(key, (header) => header.atUs <= atUs),
    latest: (key) =>
      Effect.map(refresh(key.stream), (headers) => {
        const header = best(headers, key, () => true)
        if (header === undefined) return Option.none<SnapshotInfo>()
        const { at: _at, ...info } = header
        return Option.some(info)
      })
  }
}
