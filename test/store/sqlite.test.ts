import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Context, Effect, Fiber, Layer, Option, Stream } from "effect"
import { EventStore, ExpectedRevision } from "../../store/EventStore.js"
import { SnapshotStore } from "../../store/SnapshotStore.js"
import { layerSqlite, makeSqlite, makeSqliteStores, storeFormatVersion } from "../../store/sqlite.js"
import { branchStoreContract } from "../branches/storeContract.js"
import { CorruptStoredEvent, eventStoreContract, readWhole, testBatch, type ContractLayer } from "./contract.js"
import { corruptStoredData, tempDirectory, withRawDatabase } from "./sqliteFiles.js"

const freshSqliteStore = (): ContractLayer =>
  Layer.scopedContext(
    Effect.gen(function* () {
      const file = path.join(yield* tempDirectory, "store.db")
      const { events, snapshots } = yield* makeSqliteStores(file)
      const corrupt = (stream: string, revision: number, data: string) =>
        Effect.sync(() => corruptStoredData(file, stream, revision, data))
      return Context.make(EventStore, events).pipe(
        Context.add(SnapshotStore, snapshots),
        Context.add(CorruptStoredEvent, corrupt)
      )
    })
  )

eventStoreContract("sqlite", freshSqliteStore)
branchStoreContract("sqlite", freshSqliteStore)

const openError = (file: string) => Effect.flip(Effect.scoped(makeSqlite(file)))

describe("SQLite store", () => {
  it.scoped("what was appended is there after the store is closed and opened again", () =>
    Effect.gen(function* () {
      const file = path.join(yield* tempDirectory, "reopen.db")
      const batch = testBatch(0, 300)
      yield* Effect.scoped(
        Effect.flatMap(makeSqlite(file), (store) => store.append("pool-a", batch, ExpectedRevision.noStream))
      )
      const reopened = yield* makeSqlite(file)
      const read = yield* readWhole(reopened, "pool-a")
      assert.deepStrictEqual(
        read.map((r) => r.id),
        batch.map((e) => e.id)
      )
      assert.deepStrictEqual(
        read.map((r) => r.event),
        batch.map((e) => e.event)
      )
      assert.deepStrictEqual(yield* reopened.streams(), [{ stream: "pool-a", events: 300, lastAtUs: 2990 }])
      const next = yield* reopened.append("pool-a", testBatch(300, 1), ExpectedRevision.at(299))
      assert.strictEqual(next.position, 301)
    })
  )

  it.scoped("the layer opens the file named by its path and closes it with the scope", () =>
    Effect.gen(function* () {
      const file = path.join(yield* tempDirectory, "layer.db")
      const written = yield* Effect.flatMap(EventStore, (store) =>
        store.append("pool-a", testBatch(0, 2), ExpectedRevision.any)
      ).pipe(Effect.provide(layerSqlite(file)))
      assert.strictEqual(written.nextExpectedRevision, 1)
      const tables = withRawDatabase(file, (db) =>
        db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all()
      )
      assert.deepStrictEqual(tables, ["events", "meta", "snapshots", "streams"])
      const mode = withRawDatabase(file, (db) => db.pragma("journal_mode", { simple: true }))
      assert.strictEqual(mode, "wal")
    })
  )

  it.scoped("a missing directory is a StoreError naming the path", () =>
    Effect.gen(function* () {
      const file = path.join(yield* tempDirectory, "no", "such", "dir", "x.db")
      const error = yield* openError(file)
      assert.strictEqual(error._tag, "StoreError")
      assert.strictEqual(error.operation, "open")
      assert.include(error.detail, path.dirname(file))
      assert.include(error.detail, "does not exist")
      assert.notInclude(error.detail, "\n")
    })
  )

  it.scoped("a file that is not a database is a StoreError naming the path", () =>
    Effect.gen(function* () {
      const file = path.join(yield* tempDirectory, "text.db")
      fs.writeFileSync(file, "this is not a SQLite database, just text that is long enough to have a header".repeat(20))
      const error = yield* openError(file)
      assert.strictEqual(error._tag, "StoreError")
      assert.include(error.detail, file)
      assert.include(error.detail, "not a SQLite database")
    })
  )

  it.scoped("a directory given as the file is a StoreError naming the path", () =>
    Effect.gen(function* () {
      const directory = yield* tempDirectory
      const error = yield* openError(directory)
      assert.include(error.detail, directory)
      assert.include(error.detail, "is a directory")
    })
  )

  it.scoped.skipIf(process.getuid?.() === 0)("a file without write permission is a StoreError naming the path", () =>
    Effect.gen(function* () {
      const directory = yield* tempDirectory
      const file = path.join(directory, "locked.db")
      yield* Effect.scoped(makeSqlite(file))
      fs.chmodSync(file, 0o444)
      fs.chmodSync(directory, 0o555)
      yield* Effect.addFinalizer(() => Effect.sync(() => fs.chmodSync(directory, 0o755)))
      const error = yield* openError(file)
      assert.strictEqual(error._tag, "StoreError")
      assert.include(error.detail, file)
    })
  )

  it.scoped("a SQLite database of another application is refused, not altered", () =>
    Effect.gen(function* () {
      const file = path.join(yield* tempDirectory, "other.db")
      withRawDatabase(file, (db) => db.exec("CREATE TABLE things (x INTEGER)"))
      const error = yield* openError(file)
      assert.include(error.detail, "not a xenpool store")
      const tables = withRawDatabase(file, (db) => db.prepare("SELECT name FROM sqlite_master").pluck().all())
      assert.deepStrictEqual(tables, ["things"])
    })
  )

  it.scoped("a store written in a newer format is refused", () =>
    Effect.gen(function* () {
      const file = path.join(yield* tempDirectory, "newer.db")
      yield* Effect.scoped(makeSqlite(file))
      withRawDatabase(file, (db) =>
        db.prepare("UPDATE meta SET value = ? WHERE key = 'format'").run(String(storeFormatVersion + 1))
      )
      const error = yield* openError(file)
      assert.include(error.detail, `format ${storeFormatVersion + 1}`)
    })
  )

  it.scopedLive("two stores open on one file in one process see each other's appends at once", () =>
    Effect.gen(function* () {
      const file = path.join(yield* tempDirectory, "twice.db")
      // A poll interval far beyond the test's timeout: only the in-process signal can wake the watcher.
      const first = yield* makeSqlite(file, { pollInterval: "1 hour" })
      const second = yield* makeSqlite(file)
      const watcher = yield* first.subscribe().pipe(Stream.take(400), Stream.runCollect, Effect.fork)
      yield* first.append("pool-a", testBatch(0, 200), ExpectedRevision.noStream)
      yield* Effect.sleep("50 millis") // the watcher has caught up and waits
      yield* second.append("pool-a", testBatch(200, 200), ExpectedRevision.at(199))
      const seen = yield* Fiber.join(watcher).pipe(Effect.timeout("5 seconds"))
      assert.strictEqual(Chunk.size(seen), 400)
      assert.strictEqual((yield* readWhole(second, "pool-a")).length, 400)
    })
  )
})

describe("SQLite snapshots", () => {
  const key = { stream: "pool-a", projectionVersion: "v1" }

  it.scoped("snapshots are in the store's file: they are there after closing and opening it again", () =>
    Effect.gen(function* () {
      const file = path.join(yield* tempDirectory, "snapshots.db")
      yield* Effect.scoped(
        Effect.flatMap(makeSqliteStores(file), ({ snapshots }) =>
          snapshots.save([{ ...key, revision: 999, atUs: 5_000, data: "state" }])
        )
      )
      const { snapshots } = yield* makeSqliteStores(file)
      const found = yield* snapshots.loadAtOrBeforeTime(key, 5_000)
      assert.deepStrictEqual(
        Option.map(found, (s) => [s.revision, s.data]),
        Option.some([999, "state"])
      )
    })
  )

  it.scoped("a store written before snapshots existed opens, keeps its events and gains the table", () =>
    Effect.gen(function* () {
      const file = path.join(yield* tempDirectory, "older.db")
      yield* Effect.scoped(
        Effect.flatMap(makeSqlite(file), (store) => store.append("pool-a", testBatch(0, 5), ExpectedRevision.noStream))
      )
      withRawDatabase(file, (db) => db.exec("DROP TABLE snapshots"))
      const { events, snapshots } = yield* makeSqliteStores(file)
      assert.strictEqual((yield* readWhole(events, "pool-a")).length, 5)
      assert.isTrue(Option.isNone(yield* snapshots.latest(key)))
      yield* snapshots.save([{ ...key, revision: 4, atUs: 40, data: "state" }])
      assert.deepStrictEqual(
        Option.map(yield* snapshots.latest(key), (s) => s.revision),
        Option.some(4)
      )
    })
  )

  it.scoped("the layer provides both the event store and its snapshots, on one file", () =>
    Effect.gen(function* () {
      const file = path.join(yield* tempDirectory, "both.db")
      yield* Effect.gen(function* () {
        yield* (yield* EventStore).append("pool-a", testBatch(0, 2), ExpectedRevision.noStream)
        yield* (yield* SnapshotStore).save([{ ...key, revision: 1, atUs: 20, data: "state" }])
      }).pipe(Effect.provide(layerSqlite(file)))
      const count = withRawDatabase(file, (db) => db.prepare("SELECT count(*) FROM snapshots").pluck().get())
      assert.strictEqual(count, 1)
    })
  )
})
