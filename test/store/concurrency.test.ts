/**
 * Two processes appending to one SQLite file at once: writers wait for each other's write lock (the
 * busy timeout) instead of failing, every event lands, revisions stay contiguous, and writers racing on
 * the same expected revision lose with WrongExpectedVersion, never with SQLITE_BUSY or a corrupt stream.
 */
import * as path from "node:path"
import { assert, beforeAll, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { ExpectedRevision, type RecordedEvent } from "../../store/EventStore.js"
import { makeSqlite } from "../../store/sqlite.js"
import { killOnExit, requireCompiledStore, spawnFixture, type Exited } from "./children.js"
import { readWhole, testBatch } from "./contract.js"
import { tempDirectory, withRawDatabase } from "./sqliteFiles.js"

const stream = "pool-shared"

interface WriterReport {
  readonly writer: number
  readonly appended: number
  readonly conflicts: number
}

/** Ids encode writer-batch-...-index (test/fixtures/store-concurrent-writer.mjs). */
const parseId = (id: string) => {
  const [writer, batch, , , index] = id.split("-").map((part) => parseInt(part, 16))
  return { writer: writer!, batch: batch!, index: index! }
}

const runWriters = (options: { file: string; mode: "any" | "expected"; batches: number; batchSize: number }) =>
  Effect.gen(function* () {
    // Both start at the same wall-clock moment, once both have loaded and opened the store.
    const startAt = String(Date.now() + 1500)
    const writers = [1, 2].map((writer) =>
      spawnFixture("store-concurrent-writer.mjs", [
        options.file,
        stream,
        String(writer),
        options.mode,
        String(options.batches),
        String(options.batchSize),
        startAt
      ])
    )
    for (const writer of writers) yield* killOnExit(writer)
    const exits: ReadonlyArray<Exited> = yield* Effect.promise(() => Promise.all(writers.map((w) => w.exited)))
    return exits.map((exit, i): WriterReport => {
      assert.strictEqual(exit.code, 0, `writer ${i + 1} failed: ${exit.stderr}`)
      return JSON.parse(exit.stdout) as WriterReport
    })
  })

/** The stream is contiguous, every writer's batches are whole, in order and all there. */
const assertWholeBatches = (events: ReadonlyArray<RecordedEvent>, options: { batches: number; batchSize: number }) => {
  assert.strictEqual(events.length, 2 * options.batches * options.batchSize, "every event is there")
  events.forEach((event, revision) => assert.strictEqual(event.revision, revision, "revisions are contiguous"))
  const nextBatch = new Map<number, number>([
    [1, 0],
    [2, 0]
  ])
  for (let at = 0; at < events.length; at += options.batchSize) {
    const first = parseId(events[at]!.id)
    assert.strictEqual(first.batch, nextBatch.get(first.writer), `writer ${first.writer}'s batches in order`)
    for (let index = 0; index < options.batchSize; index++) {
      assert.deepStrictEqual(parseId(events[at + index]!.id), { ...first, index }, "a batch is contiguous")
    }
    nextBatch.set(first.writer, first.batch + 1)
  }
  assert.deepStrictEqual([nextBatch.get(1), nextBatch.get(2)], [options.batches, options.batches])
}

const integrityOf = (file: string) => withRawDatabase(file, (db) => db.pragma("integrity_check", { simple: true }))

describe("SQLite store shared by two processes", () => {
  beforeAll(requireCompiledStore)

  it.scopedLive("appends with any from both processes all land, whole and contiguous", () =>
    Effect.gen(function* () {
      const file = path.join(yield* tempDirectory, "shared-any.db")
      const shape = { batches: 300, batchSize: 20 }
      const reports = yield* runWriters({ file, mode: "any", ...shape })
      assert.deepStrictEqual(
        reports.map((r) => r.appended),
        [shape.batches, shape.batches]
      )
      const store = yield* makeSqlite(file)
      assertWholeBatches(yield* readWhole(store, stream), shape)
      assert.strictEqual(integrityOf(file), "ok")
    })
  )

  it.scopedLive("writers racing on the same expected revision lose with WrongExpectedVersion and retry", () =>
    Effect.gen(function* () {
      const file = path.join(yield* tempDirectory, "shared-expected.db")
      const shape = { batches: 100, batchSize: 5 }
      const reports = yield* runWriters({ file, mode: "expected", ...shape })
      const conflicts = reports.reduce((n, r) => n + r.conflicts, 0)
      // Each writer reads, waits 1 ms, then appends: with both running, some appends must lose.
      assert.isAbove(conflicts, 0, "the writers raced")
      const store = yield* makeSqlite(file)
      assertWholeBatches(yield* readWhole(store, stream), shape)
      assert.strictEqual(integrityOf(file), "ok")
    })
  )

  it.scopedLive("an append waits for another process's write lock instead of failing", () =>
    Effect.gen(function* () {
      const file = path.join(yield* tempDirectory, "locked.db")
      const store = yield* makeSqlite(file)
      const holdMs = 400
      const holder = spawnFixture("sqlite-hold-write-lock.mjs", [file, String(holdMs)])
      yield* killOnExit(holder)
      yield* Effect.promise(() => holder.lineMatching((line) => line === "locked"))
      const started = performance.now()
      const result = yield* store.append(stream, testBatch(0, 3), ExpectedRevision.noStream)
      const waitedMs = performance.now() - started
      assert.strictEqual(result.nextExpectedRevision, 2)
      assert.isAbove(waitedMs, holdMs / 2, "it waited for the lock")
      assert.strictEqual((yield* Effect.promise(() => holder.exited)).code, 0)
    })
  )
})
