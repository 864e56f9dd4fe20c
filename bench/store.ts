/**
 * The SQLite store's figures (DESIGN.md §9), each beside a raw better-sqlite3 baseline measured in the
 * same run on the same table shape:
 * - `store.sqlite.append.batchN`: events/s appended through the adapter (encode, expected-revision and
 *   idempotency checks, one transaction per append) into a fresh temp file, batches of N;
 *   baseline `store.sqlite.raw.batchN`: a prepared single-row INSERT per event (data = JSON.stringify of
 *   the event), one transaction per batch.
 * - `store.sqlite.read.forwards`: events/s read and decoded with the schemas, a page of 4096 at a time;
 *   baseline `store.sqlite.raw.read.forwards`: the same rows with a prepared SELECT and JSON.parse.
 * Same pragmas on both sides (WAL, synchronous=NORMAL, the adapter's checkpoint interval).
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import Database from "better-sqlite3"
import { Effect } from "effect"
import { VmMigrationRoundCompleted, type PoolEvent } from "../domain/events.js"
import { eventId, migrationId, vmId } from "../domain/ids.js"
import { Prng } from "../engine/prng.js"
import { ExpectedRevision, type NewEvent } from "../store/EventStore.js"
import { connectionPragmas, makeSqlite, schemaStatements } from "../store/sqlite.js"
import { nowMs, withBaseline, type Benchmark, type BenchResult } from "./harness.js"

const stream = "pool-bench"
const eventKind = "VmMigrationRoundCompleted"

/** Appends per figure: sized so that each side runs for about a second. */
const appendsByBatchSize: ReadonlyMap<number, number> = new Map([
  [1, 20_000],
  [100, 3_000],
  [1000, 400]
])
const readEventsCount = 200_000
const readPageSize = 4096

// --- workload -------------------------------------------------------------------------------------

/**
 * `ordered`: the engine's ids (`Prng.orderedUuid`: the event's sequence number in the leading digits, as
 * UUIDv7 puts a timestamp there), so the id index grows at its end. `random`: UUID-v4-shaped ids from
 * `Prng.uuid`, whose index entries land anywhere in the id index: the cost the engine's ids avoid.
 */
type IdOrder = "random" | "ordered"

const makeIds = (count: number, seed: number, order: IdOrder): ReadonlyArray<string> => {
  const ids = Prng.fromSeed(seed)
  return Array.from({ length: count }, (_, n) => (order === "ordered" ? ids.orderedUuid(n) : ids.uuid()))
}

/** A pool of realistic migration rounds; batches reuse them (only ids must be unique). */
const roundEvents: ReadonlyArray<PoolEvent> = Array.from(
  { length: 1000 },
  (_, i) =>
    new VmMigrationRoundCompleted({
      atUs: 1_000_000 + i * 8_000,
      migration: migrationId(`mig-${i % 16}`),
      vm: vmId(`web-${i % 64}`),
      round: 1 + (i % 30),
      live: i % 30 !== 29,
      pagesSent: 262_144 >> (i % 8),
      pagesSkipped: i % 3,
      bytesSent: (262_144 >> (i % 8)) * 4096,
      pagesDirtied: (i * 97) % 5000,
      durationUs: 8_589_934 >> (i % 8)
    })
)

export const makeBatches = (
  batchSize: number,
  appends: number,
  order: IdOrder = "random"
): ReadonlyArray<ReadonlyArray<NewEvent>> => {
  const ids = makeIds(batchSize * appends, batchSize, order)
  return Array.from({ length: appends }, (_, k) =>
    Array.from({ length: batchSize }, (_, i) => {
      const n = k * batchSize + i
      return { id: eventId(ids[n]!), event: roundEvents[n % roundEvents.length]! }
    })
  )
}

export const withTempFile = async <A>(name: string, body: (file: string) => Promise<A>): Promise<A> => {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), "xenpool-bench-"))
  try {
    return await body(path.join(directory, name))
  } finally {
    fs.rmSync(directory, { recursive: true, force: true })
  }
}

export const eventsPerS = (events: number, elapsedMs: number): number => Math.round((events * 1000) / elapsedMs)

// --- raw better-sqlite3 ---------------------------------------------------------------------------

const openRaw = (file: string): Database.Database => {
  const db = new Database(file)
  db.pragma("journal_mode = WAL")
  for (const pragma of connectionPragmas()) db.pragma(pragma)
  for (const statement of schemaStatements) db.exec(statement)
  return db
}

const rawAppendMs = (file: string, batches: ReadonlyArray<ReadonlyArray<NewEvent>>): number => {
  const db = openRaw(file)
  try {
    const insert = db.prepare(
      "INSERT INTO events (position, stream, revision, id, type, at_us, data) VALUES (?, ?, ?, ?, ?, ?, ?)"
    )
    const appendBatch = db.transaction((batch: ReadonlyArray<NewEvent>, first: number) => {
      batch.forEach(({ id, event }, i) =>
        insert.run(first + i + 1, stream, first + i, id, event._tag, event.atUs, JSON.stringify(event))
      )
    })
    const start = nowMs()
    let written = 0
    for (const batch of batches) {
      appendBatch(batch, written)
      written += batch.length
    }
    return nowMs() - start
  } finally {
    db.close()
  }
}

const rawReadMs = (file: string): { readonly ms: number; readonly events: number } => {
  const db = new Database(file, { readonly: true })
  try {
    const page = db.prepare(
      "SELECT position, revision, id, type, data FROM events WHERE stream = ? AND revision >= ? ORDER BY revision LIMIT ?"
    )
    const start = nowMs()
    let events = 0
    for (;;) {
      const rows = page.all(stream, events, readPageSize) as ReadonlyArray<{ readonly data: string }>
      for (const row of rows) JSON.parse(row.data)
      events += rows.length
      if (rows.length < readPageSize) break
    }
    return { ms: nowMs() - start, events }
  } finally {
    db.close()
  }
}

// --- through the adapter --------------------------------------------------------------------------

const adapterAppendMs = (file: string, batches: ReadonlyArray<ReadonlyArray<NewEvent>>): Promise<number> =>
  Effect.runPromise(
    Effect.scoped(
      Effect.gen(function* () {
        const store = yield* makeSqlite(file)
        const start = nowMs()
        let expected = ExpectedRevision.noStream
        for (const batch of batches) {
          const result = yield* store.append(stream, batch, expected)
          expected = ExpectedRevision.at(result.nextExpectedRevision)
        }
        return nowMs() - start
      })
    )
  )

const adapterReadMs = (file: string): Promise<{ readonly ms: number; readonly events: number }> =>
  Effect.runPromise(
    Effect.scoped(
      Effect.gen(function* () {
        const store = yield* makeSqlite(file)
        const start = nowMs()
        let events = 0
        for (;;) {
          const page = yield* store.read(stream, { from: events, maxCount: readPageSize })
          events += page.length
          if (page.length < readPageSize) break
        }
        return { ms: nowMs() - start, events }
      })
    )
  )

// --- benchmarks -----------------------------------------------------------------------------------

/** A short run of both sides first, so that neither pays for JIT warm-up in its figure. */
const warmUp = async (): Promise<void> => {
  const batches = makeBatches(100, 50)
  await withTempFile("warm-raw.db", async (file) => rawAppendMs(file, batches))
  await withTempFile("warm-adapter.db", (file) => adapterAppendMs(file, batches))
}

const appendBenchmark = (batchSize: number, order: IdOrder = "ordered"): Benchmark => {
  const suffix = order === "ordered" ? "" : ".randomIds"
  return {
    name: `store.sqlite.append.batch${batchSize}${suffix}`,
    run: async () => {
      const appends = appendsByBatchSize.get(batchSize)!
      const batches = makeBatches(batchSize, appends, order)
      const events = batchSize * appends
      const ids = order === "ordered" ? "the engine's sequence-prefixed ids" : "random UUIDv4-shaped ids"
      const workload = `${events.toLocaleString("en-US")} ${eventKind} events in ${appends.toLocaleString("en-US")} appends of ${batchSize}, ${ids}, one stream, fresh temp file, WAL, synchronous=NORMAL`
      await warmUp()
      const rawMs = await withTempFile("raw.db", async (file) => rawAppendMs(file, batches))
      const adapterMs = await withTempFile("adapter.db", (file) => adapterAppendMs(file, batches))
      const raw: BenchResult = {
        name: `store.sqlite.raw.batch${batchSize}${suffix}`,
        workload: `${workload}; raw better-sqlite3: prepared single-row INSERT, JSON.stringify, one transaction per batch`,
        value: eventsPerS(events, rawMs),
        unit: "events/s"
      }
      const adapter: BenchResult = {
        name: `store.sqlite.append.batch${batchSize}${suffix}`,
        workload: `${workload}; through layerSqlite with expected revisions`,
        value: eventsPerS(events, adapterMs),
        unit: "events/s"
      }
      return [withBaseline(adapter, raw), raw]
    }
  }
}

const readBenchmark: Benchmark = {
  name: "store.sqlite.read.forwards",
  run: () =>
    withTempFile("read.db", async (file) => {
      await adapterAppendMs(file, makeBatches(1000, readEventsCount / 1000))
      await adapterReadMs(file) // warm: page cache and JIT
      rawReadMs(file)
      const adapter = await adapterReadMs(file)
      const rawRead = rawReadMs(file)
      const workload = `${readEventsCount.toLocaleString("en-US")} ${eventKind} events, one stream, pages of ${readPageSize}`
      const raw: BenchResult = {
        name: "store.sqlite.raw.read.forwards",
        workload: `${workload}; raw better-sqlite3: prepared SELECT, JSON.parse only`,
        value: eventsPerS(rawRead.events, rawRead.ms),
        unit: "events/s"
      }
      const result: BenchResult = {
        name: "store.sqlite.read.forwards",
        workload: `${workload}; through layerSqlite, decoded with the event schemas`,
        value: eventsPerS(adapter.events, adapter.ms),
        unit: "events/s"
      }
      return [withBaseline(result, raw), raw]
    })
}

export const storeBenchmarks: ReadonlyArray<Benchmark> = [
  appendBenchmark(1),
  appendBenchmark(100),
  appendBenchmark(1000),
  appendBenchmark(1000, "random"),
  readBenchmark
]
