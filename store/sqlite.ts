/**
 * The SQLite adapter (`sqlite:PATH`), the embedded default: one file in WAL mode, one transaction per
 * append, on `@effect/sql-sqlite-node` (better-sqlite3). docs/durability.md says what it promises.
 *
 * - Every append runs in `BEGIN IMMEDIATE`: the write lock is taken before anything is read, so a
 *   writer in another process makes it wait (up to the busy timeout) instead of failing. A deferred
 *   `BEGIN` that reads and then writes would fail at once with SQLITE_BUSY_SNAPSHOT when another process
 *   committed in between, and the busy timeout does not apply to that case.
 * - Positions are assigned inside that transaction (last position + 1), so commit order is position
 *   order: a reader that has seen position p never later finds a new event below p.
 * - The client has one connection, held by the store for its lifetime. Each operation takes a lock
 *   shared by every store open on the same file in this process, so a reader never runs between the
 *   statements of another fiber's transaction, and two stores on one file in one process never make
 *   each other wait on SQLite's busy timeout (better-sqlite3 waits synchronously, blocking the process).
 */
import * as fs from "node:fs"
import * as nodePath from "node:path"
import type { Connection } from "@effect/sql/SqlConnection"
import { SqlError } from "@effect/sql/SqlError"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import { Context, Duration, Effect, Either, Exit, Layer, type Scope } from "effect"
import { decodeAll, encodeEvent, type EncodedEvent, type StoredEvent } from "./codec.js"
import {
  EventStore,
  ExpectedRevision,
  type AppendResult,
  type EventStoreShape,
  type NewEvent,
  type ReadAllOptions,
  type ReadOptions,
  type RecordedEvent,
  type StreamInfo
} from "./EventStore.js"
import { type EventDecodeError, StoreError, type WrongExpectedVersion } from "./errors.js"
import { beforeFirstPosition, clampMaxCount, decideAppend, readRange, sameIds, wrongExpectedVersion } from "./rules.js"
import { SnapshotStore, type SnapshotStoreShape } from "./SnapshotStore.js"
import { readSqliteHeader, xenpoolApplicationId } from "./sqliteHeader.js"
import { makeSqliteSnapshots, snapshotSchemaStatements } from "./sqliteSnapshots.js"
import { nextTurn } from "./turn.js"
import { withBranches, type PlainEventStore } from "./branches.js"
import { followLog, unsafeMakeAppendSignal, type AppendSignal } from "./subscription.js"

/** The layout of the file; a file written by a newer layout is refused rather than misread. */
export const storeFormatVersion = 1

/**
 * How long a writer waits for another process's write lock. better-sqlite3's default is also 5 s; it
 * is set explicitly so the promise in docs/durability.md does not rest on a library default.
 */
const busyTimeoutMs = 5_000

/**
 * Checkpoint the WAL into the database file every 10,000 pages (about 40 MiB) instead of SQLite's 1,000.
 * Event ids are random, so an append dirties about one page of the id index per event; checkpointing
 * after every few appends rewrote those pages (and fsynced) again and again. Measured at batches of 1000
 * with random ids: about twice the throughput. Costs up to ~40 MiB of WAL on disk and a longer WAL scan
 * when a crashed store is reopened; durability is unchanged (a commit is durable in the WAL).
 */
const walAutocheckpointPages = 10_000

/** The per-connection settings (the benchmark's raw baseline applies the same ones). */
export const connectionPragmas = (options: SqliteOptions = {}): ReadonlyArray<string> => [
  `busy_timeout = ${busyTimeoutMs}`,
  `synchronous = ${options.synchronous === "full" ? "FULL" : "NORMAL"}`,
  `wal_autocheckpoint = ${walAutocheckpointPages}`
]

/** How often a caught-up subscription looks for appends made by other processes. */
const defaultPollInterval = Duration.millis(50)

export interface SqliteOptions {
  /**
   * `normal` (default): in WAL mode a commit is not fsynced; a killed process loses nothing
   * acknowledged, a power loss can lose the last appends but never corrupts the file.
   * `full`: every commit is fsynced before the append returns; survives power loss, costs an fsync per
   * append. See docs/durability.md.
   */
  readonly synchronous?: "normal" | "full"
  readonly pollInterval?: Duration.DurationInput
}

/** The tables; also used by the benchmark's raw baseline so that both write the same shape. */
export const schemaStatements: ReadonlyArray<string> = [
  "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT",
  `CREATE TABLE IF NOT EXISTS events (
    position INTEGER PRIMARY KEY,
    stream TEXT NOT NULL,
    revision INTEGER NOT NULL,
    id TEXT NOT NULL,
    type TEXT NOT NULL,
    at_us INTEGER NOT NULL,
    data TEXT NOT NULL,
    UNIQUE (stream, revision)
  ) STRICT`,
  "CREATE INDEX IF NOT EXISTS events_by_id ON events (id)",
  `CREATE TABLE IF NOT EXISTS streams (
    stream TEXT PRIMARY KEY,
    last_revision INTEGER NOT NULL,
    last_at_us INTEGER NOT NULL
  ) STRICT`,
  ...snapshotSchemaStatements
]

/** Columns bound per event row; the insert below lists them in this order. */
const columnsPerRow = 7

/**
 * Rows per INSERT statement at most (448 variables, far under SQLite's limit of 32,766). Multi-row
 * statements save a round trip through the client per row; beyond about a hundred rows they got slower
 * again with random ids (measured: 512-row statements lost a third against 32 to 128). Batches are split
 * into power-of-two chunks, so only seven distinct statements are ever prepared (and stay cached).
 */
const maxRowsPerInsert = 64

const insertSqlByRows = new Map<number, string>()

const insertSql = (rows: number): string => {
  let sql = insertSqlByRows.get(rows)
  if (sql === undefined) {
    const values = new Array<string>(rows).fill("(?, ?, ?, ?, ?, ?, ?)").join(", ")
    sql = `INSERT INTO events (position, stream, revision, id, type, at_us, data) VALUES ${values}`
    insertSqlByRows.set(rows, sql)
  }
  return sql
}

/** Splits n rows into power-of-two chunks of at most `maxRowsPerInsert`, largest first. */
const insertChunkSizes = (rows: number): ReadonlyArray<number> => {
  const sizes: number[] = []
  let rest = rows
  for (let size = maxRowsPerInsert; size >= 1; size >>= 1) {
    while (rest >= size) {
      sizes.push(size)
      rest -= size
    }
  }
  return sizes
}

const sql = {
  begin: "BEGIN IMMEDIATE",
  commit: "COMMIT",
  rollback: "ROLLBACK",
  lastRevision: "SELECT last_revision AS lastRevision FROM streams WHERE stream = ?",
  /** What an append decides on, in one statement: the stream's last revision, the batch's first id's revision, the log's last position. */
  appendState: `SELECT
    (SELECT last_revision FROM streams WHERE stream = ?) AS lastRevision,
    (SELECT revision FROM events WHERE id = ? AND stream = ?) AS firstIdRevision,
    (SELECT coalesce(max(position), 0) FROM events) AS lastPosition`,
  idsFrom: "SELECT id, position FROM events WHERE stream = ? AND revision >= ? AND revision <= ? ORDER BY revision",
  positionAt: "SELECT position FROM events WHERE stream = ? AND revision = ?",
  upsertStream: `INSERT INTO streams (stream, last_revision, last_at_us) VALUES (?, ?, ?)
    ON CONFLICT (stream) DO UPDATE SET last_revision = excluded.last_revision, last_at_us = excluded.last_at_us`,
  readForwards:
    "SELECT position, stream, revision, id, type, data FROM events WHERE stream = ? AND revision >= ? ORDER BY revision LIMIT ?",
  readBackwards:
    "SELECT position, stream, revision, id, type, data FROM events WHERE stream = ? AND revision <= ? ORDER BY revision DESC LIMIT ?",
  readAll: "SELECT position, stream, revision, id, type, data FROM events WHERE position > ? ORDER BY position LIMIT ?",
  streams: "SELECT stream, last_revision AS lastRevision, last_at_us AS lastAtUs FROM streams ORDER BY stream",
  tables: "SELECT name FROM sqlite_master WHERE type = 'table'",
  insertFormat: "INSERT OR IGNORE INTO meta (key, value) VALUES ('format', ?)",
  format: "SELECT value FROM meta WHERE key = 'format'"
} as const

type Row = Record<string, unknown>

const query = (conn: Connection, text: string, params: ReadonlyArray<unknown> = []) =>
  conn.execute(text, params, undefined) as Effect.Effect<ReadonlyArray<Row>, SqlError>

const numberIn = (row: Row | undefined, column: string): number | undefined => {
  const value = row?.[column]
  return typeof value === "number" ? value : undefined
}

// --- errors ---------------------------------------------------------------------------------------

const sqliteCode = (cause: unknown): string | undefined => {
  const code = typeof cause === "object" && cause !== null ? (cause as { code?: unknown }).code : undefined
  return typeof code === "string" ? code : undefined
}

const describeCause = (cause: unknown): string => {
  const code = sqliteCode(cause)
  if (code === "SQLITE_BUSY") {
    return `the database is locked: another writer held it longer than the ${busyTimeoutMs / 1000} s busy timeout (SQLITE_BUSY)`
  }
  const message = cause instanceof Error ? cause.message : String(cause)
  return code === undefined ? message : `${message} (${code})`
}

const storeError = (url: string, operation: string) => (error: SqlError) =>
  new StoreError({ url, operation, detail: describeCause(error.cause ?? error) })

// --- opening --------------------------------------------------------------------------------------

/** What is wrong with the path before SQLite is asked, in words a user can act on. */
const pathProblem = (file: string): string | undefined => {
  const directory = nodePath.dirname(file)
  const stat = (p: string) => fs.statSync(p, { throwIfNoEntry: false })
  const directoryStat = stat(directory)
  if (directoryStat === undefined) return `the directory ${directory} does not exist`
  if (!directoryStat.isDirectory()) return `${directory} is not a directory`
  if (stat(file)?.isDirectory() === true) return `${file} is a directory, not a SQLite file`
  return undefined
}

/** The tables every xenpool store has; a newer xenpool may add tables without changing the format. */
const storeTables: ReadonlyArray<string> = ["meta", "events", "streams"]

const notChanged = "expected a xenpool store, or an absent or empty file to make one; the file was left unchanged"

type ExistingFile =
  /** Absent, empty, a SQLite file without a schema, or a WAL file: open it (createSchema checks the last). */
  | { readonly _tag: "Open" }
  /** A SQLite file in rollback-journal mode with a schema: look at it read-only before opening it. */
  | { readonly _tag: "LookReadOnly" }
  | { readonly _tag: "Refuse"; readonly detail: string }

/**
 * What a file already at the path is, as far as its first bytes tell, before SQLite opens it
 * (store/sqliteHeader.ts says why). A path that is not a regular file is left to SQLite's own checks.
 */
const existingFile = (file: string): ExistingFile => {
  const stat = fs.statSync(file, { throwIfNoEntry: false })
  if (stat === undefined || !stat.isFile() || stat.size === 0) return { _tag: "Open" }
  let fd: number
  try {
    fd = fs.openSync(file, "r")
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error)
    return { _tag: "Refuse", detail: `cannot read ${file} (${code}): ${notChanged}` }
  }
  try {
    const header = readSqliteHeader(fd)
    if (header._tag === "NotSqlite") {
      return {
        _tag: "Refuse",
        detail: `${file} is not a SQLite database (it does not begin with SQLite's header): ${notChanged}`
      }
    }
    if (header.applicationId !== 0 && header.applicationId !== xenpoolApplicationId) {
      const id = `0x${header.applicationId.toString(16)}`
      return {
        _tag: "Refuse",
        detail: `${file} is a SQLite database of another program (application id ${id}), not a xenpool store: ${notChanged}`
      }
    }
    return header.wal || header.emptySchema ? { _tag: "Open" } : { _tag: "LookReadOnly" }
  } finally {
    fs.closeSync(fd)
  }
}

const notAStore = (file: string, tables: ReadonlyArray<string>): string => {
  const listed =
    tables.length <= 6 ? tables.join(", ") : `${tables.slice(0, 6).join(", ")} and ${tables.length - 6} more`
  return `${file} is a SQLite database but not a xenpool store (its tables: ${listed}): ${notChanged}`
}

const newerFormat = (file: string, format: unknown): string =>
  `${file} is a xenpool store of format ${String(format)}, and this xenpool reads format ${storeFormatVersion} only: the file was left unchanged`

/** What is wrong with the tables and format a connection sees (undefined: a xenpool store of this format). */
const schemaProblem = (conn: Connection, file: string) =>
  Effect.gen(function* () {
    const tables = (yield* query(conn, sql.tables))
      .map((row) => String(row["name"]))
      .filter((t) => !t.startsWith("sqlite_"))
    if (tables.length === 0) return { _tag: "Empty" } as const
    const format = storeTables.every((t) => tables.includes(t))
      ? (yield* query(conn, sql.format))[0]?.["value"]
      : undefined
    if (format === undefined) return { _tag: "Refuse", detail: notAStore(file, tables) } as const
    if (format !== String(storeFormatVersion)) return { _tag: "Refuse", detail: newerFormat(file, format) } as const
    return { _tag: "Store" } as const
  })

/**
 * A rollback-journal file opened read-only, without WAL, writes nothing and creates no file beside it:
 * enough to see whether it is a xenpool store (one whose file was switched out of WAL by hand) before the
 * store's own connection switches it back to WAL.
 */
const lookReadOnly = (file: string, url: string): Effect.Effect<void, StoreError> =>
  Effect.scoped(
    Effect.gen(function* () {
      const client = yield* buildClient(file, url, { readonly: true, disableWAL: true })
      const conn = yield* Effect.mapError(client.reserve, storeError(url, "open"))
      const found = yield* Effect.mapError(schemaProblem(conn, file), storeError(url, "open"))
      if (found._tag === "Refuse") return yield* new StoreError({ url, operation: "open", detail: found.detail })
    })
  )

const openProblem = (file: string, cause: unknown): string => {
  switch (sqliteCode(cause)) {
    case "SQLITE_NOTADB":
      return `${file} is not a SQLite database`
    case "SQLITE_CANTOPEN":
      return `cannot open ${file} (permission denied or not a regular file)`
    case "SQLITE_READONLY":
    case "SQLITE_PERM":
    case "SQLITE_AUTH":
      return `cannot write ${file} (permission denied or read-only file system)`
    default:
      return `cannot open ${file}: ${describeCause(cause)}`
  }
}

const openClient = (file: string, url: string): Effect.Effect<SqliteClient.SqliteClient, StoreError, Scope.Scope> => {
  const problem = pathProblem(file)
  if (problem !== undefined) return Effect.fail(new StoreError({ url, operation: "open", detail: problem }))
  const existing = existingFile(file)
  if (existing._tag === "Refuse")
    return Effect.fail(new StoreError({ url, operation: "open", detail: existing.detail }))
  const looked = existing._tag === "LookReadOnly" ? lookReadOnly(file, url) : Effect.void
  return Effect.zipRight(looked, openChecked(file, url))
}

const openChecked = (file: string, url: string) => buildClient(file, url, {})

/** A client on the file; opening errors (thrown by the client: defects in Effect terms) are StoreErrors. */
const buildClient = (
  file: string,
  url: string,
  config: { readonly readonly?: boolean; readonly disableWAL?: boolean }
): Effect.Effect<SqliteClient.SqliteClient, StoreError, Scope.Scope> =>
  Layer.build(SqliteClient.layer({ filename: file, ...config })).pipe(
    Effect.map((context) => Context.get(context, SqliteClient.SqliteClient)),
    Effect.catchAllDefect((cause) =>
      Effect.fail(new StoreError({ url, operation: "open", detail: openProblem(file, cause) }))
    ),
    Effect.mapError((error) =>
      error instanceof StoreError
        ? error
        : new StoreError({ url, operation: "open", detail: `${file}: ${error.message}` })
    )
  )

/** Runs `body` in a write transaction: commit on success, roll back on any failure or defect. */
const inWriteTransaction = <A, E>(
  conn: Connection,
  body: Effect.Effect<A, E | SqlError>
): Effect.Effect<A, E | SqlError> =>
  Effect.uninterruptible(
    Effect.gen(function* () {
      yield* query(conn, sql.begin)
      const exit = yield* Effect.exit(body)
      if (Exit.isSuccess(exit)) {
        const committed = yield* Effect.exit(query(conn, sql.commit))
        if (Exit.isSuccess(committed)) return exit.value
        yield* Effect.ignore(query(conn, sql.rollback))
        return yield* Effect.failCause(committed.cause)
      }
      // Ignored: SQLite may already have rolled back (e.g. on SQLITE_FULL); the original failure is what matters.
      yield* Effect.ignore(query(conn, sql.rollback))
      return yield* Effect.failCause(exit.cause)
    })
  )

/**
 * Like `inWriteTransaction`, but `body` may be interrupted (it takes turns of the event loop between
 * batches): an interruption or failure rolls back, and so does a failed COMMIT. The COMMIT and
 * `onCommitted` run uninterruptibly together, so a caller told "committed" is never told "interrupted".
 */
const inInterruptibleWriteTransaction = <A, E>(
  conn: Connection,
  body: Effect.Effect<A, E | SqlError>,
  onCommitted: (a: A) => void
): Effect.Effect<A, E | SqlError> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.gen(function* () {
      yield* query(conn, sql.begin)
      const exit = yield* Effect.exit(restore(body))
      if (Exit.isSuccess(exit)) {
        const committed = yield* Effect.exit(query(conn, sql.commit))
        if (Exit.isSuccess(committed)) {
          onCommitted(exit.value)
          return exit.value
        }
        yield* Effect.ignore(query(conn, sql.rollback))
        return yield* Effect.failCause(committed.cause)
      }
      yield* Effect.ignore(query(conn, sql.rollback))
      return yield* Effect.failCause(exit.cause)
    })
  )

/**
 * Makes the schema of a new store (no tables yet), or checks that an existing one is a xenpool store of
 * this format before anything is written (a refusal rolls the transaction back, the file unchanged), then
 * adds what an older store of this format lacks (the snapshots table).
 */
const createSchema = (conn: Connection, url: string): Effect.Effect<void, StoreError | SqlError> =>
  Effect.gen(function* () {
    const found = yield* schemaProblem(conn, url.slice("sqlite:".length))
    if (found._tag === "Refuse") return yield* new StoreError({ url, operation: "open", detail: found.detail })
    if (found._tag === "Empty") yield* query(conn, `PRAGMA application_id = ${xenpoolApplicationId}`)
    for (const statement of schemaStatements) yield* query(conn, statement)
    yield* query(conn, sql.insertFormat, [String(storeFormatVersion)])
  })

const setUp = (conn: Connection, url: string, options: SqliteOptions): Effect.Effect<void, StoreError | SqlError> =>
  Effect.gen(function* () {
    for (const pragma of connectionPragmas(options)) yield* query(conn, `PRAGMA ${pragma}`)
    const mode = (yield* query(conn, "PRAGMA journal_mode"))[0]?.["journal_mode"]
    if (mode !== "wal") {
      const detail = `the file system does not support WAL mode (journal mode is ${String(mode)})`
      return yield* new StoreError({ url, operation: "open", detail })
    }
    yield* inWriteTransaction(conn, createSchema(conn, url))
  })

// --- appending ------------------------------------------------------------------------------------

interface Batch {
  readonly stream: string
  readonly events: ReadonlyArray<NewEvent>
  readonly encoded: ReadonlyArray<EncodedEvent>
  readonly expected: ExpectedRevision
}

const insertRows = (conn: Connection, batch: Batch, first: { revision: number; position: number }) =>
  Effect.gen(function* () {
    let offset = 0
    for (const rows of insertChunkSizes(batch.events.length)) {
      const params = new Array<unknown>(rows * columnsPerRow)
      for (let i = 0; i < rows; i++) {
        const k = offset + i
        const { id, event } = batch.events[k]!
        const { type, data } = batch.encoded[k]!
        const p = i * columnsPerRow
        params[p] = first.position + k
        params[p + 1] = batch.stream
        params[p + 2] = first.revision + k
        params[p + 3] = id
        params[p + 4] = type
        params[p + 5] = event.atUs
        params[p + 6] = data
      }
      yield* query(conn, insertSql(rows), params)
      offset += rows
    }
  })

const writeBatch = (conn: Connection, batch: Batch, firstRevision: number, lastPosition: number) =>
  Effect.gen(function* () {
    yield* insertRows(conn, batch, { revision: firstRevision, position: lastPosition + 1 })
    const count = batch.events.length
    const lastAtUs = batch.events[count - 1]!.event.atUs
    yield* query(conn, sql.upsertStream, [batch.stream, firstRevision + count - 1, lastAtUs])
    return { nextExpectedRevision: firstRevision + count - 1, position: lastPosition + count, written: true }
  })

/** The batch may already be in the stream (a retry): acknowledge it if its ids are exactly there. */
const acknowledgeDuplicate = (
  conn: Connection,
  batch: Batch,
  firstRevision: number,
  lastRevision: number | undefined
) =>
  Effect.gen(function* () {
    const lastOfBatch = firstRevision + batch.events.length - 1
    const rows = yield* query(conn, sql.idsFrom, [batch.stream, firstRevision, lastOfBatch])
    if (
      !sameIds(
        rows.map((row) => String(row["id"])),
        batch.events
      )
    ) {
      return yield* wrongExpectedVersion(batch.stream, batch.expected, lastRevision)
    }
    return { nextExpectedRevision: lastOfBatch, position: numberIn(rows.slice(-1)[0], "position")!, written: false }
  })

const appendInTransaction = (
  conn: Connection,
  batch: Batch
): Effect.Effect<AppendResult, WrongExpectedVersion | SqlError> =>
  Effect.gen(function* () {
    // The first id is only looked up when there is one; an empty string matches no event id.
    const [state] = yield* query(conn, sql.appendState, [batch.stream, batch.events[0]?.id ?? "", batch.stream])
    const lastRevision = numberIn(state, "lastRevision")
    const firstIdRevision = numberIn(state, "firstIdRevision")
    const lastPosition = numberIn(state, "lastPosition") ?? 0
    const decision = decideAppend({
      expected: batch.expected,
      batchSize: batch.events.length,
      lastRevision,
      firstIdRevision
    })
    switch (decision._tag) {
      case "wrongExpectedVersion":
        return yield* wrongExpectedVersion(batch.stream, batch.expected, lastRevision)
      case "nothing": {
        const at = lastRevision === undefined ? [] : yield* query(conn, sql.positionAt, [batch.stream, lastRevision])
        return { nextExpectedRevision: lastRevision ?? -1, position: numberIn(at[0], "position") ?? -1, written: false }
      }
      case "compareIds":
        return yield* acknowledgeDuplicate(conn, batch, decision.firstRevision, lastRevision)
      case "write":
        return yield* writeBatch(conn, batch, decision.firstRevision, lastPosition)
    }
  })

// --- reading --------------------------------------------------------------------------------------

const decoded = (rows: ReadonlyArray<Row>): Effect.Effect<ReadonlyArray<RecordedEvent>, EventDecodeError> => {
  const result = decodeAll(rows as unknown as ReadonlyArray<StoredEvent>)
  return Either.isRight(result) ? Effect.succeed(result.right) : Effect.fail(result.left)
}

const readStreamRows = (conn: Connection, stream: string, options: ReadOptions | undefined) => {
  const { direction, fromRevision, maxCount } = readRange(options)
  if (maxCount === 0 || fromRevision < 0) return Effect.succeed([])
  return query(conn, direction === "forwards" ? sql.readForwards : sql.readBackwards, [stream, fromRevision, maxCount])
}

const readAllRows = (conn: Connection, options: ReadAllOptions | undefined) =>
  query(conn, sql.readAll, [Math.floor(options?.after ?? beforeFirstPosition), clampMaxCount(options?.maxCount)])

const toStreamInfo = (row: Row): StreamInfo => ({
  stream: String(row["stream"]),
  events: Number(row["lastRevision"]) + 1,
  lastAtUs: Number(row["lastAtUs"])
})

// --- the store ------------------------------------------------------------------------------------

/** What the stores open on one file in this process share: the operation lock and the append signal. */
interface SharedByFile {
  readonly lock: Effect.Semaphore
  readonly signal: AppendSignal
  users: number
}

const sharedByFile = new Map<string, SharedByFile>()

const acquireShared = (file: string): Effect.Effect<SharedByFile, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => {
      let shared = sharedByFile.get(file)
      if (shared === undefined) {
        shared = { lock: Effect.unsafeMakeSemaphore(1), signal: unsafeMakeAppendSignal(), users: 0 }
        sharedByFile.set(file, shared)
      }
      shared.users++
      return shared
    }),
    (shared) =>
      Effect.sync(() => {
        shared.users--
        if (shared.users === 0) sharedByFile.delete(file)
      })
  )

/** The event store and the snapshot store of one SQLite file, sharing its connection and lock. */
export interface SqliteStores {
  readonly events: EventStoreShape
  readonly snapshots: SnapshotStoreShape
}

/** Opens (creating if absent) the SQLite store at `path`; closed with the scope. */
export const makeSqlite = (
  path: string,
  options: SqliteOptions = {}
): Effect.Effect<EventStoreShape, StoreError, Scope.Scope> =>
  Effect.map(makeSqliteStores(path, options), (s) => s.events)

/** Opens (creating if absent) the SQLite store at `path` with its snapshots; closed with the scope. */
export const makeSqliteStores = (
  path: string,
  options: SqliteOptions = {}
): Effect.Effect<SqliteStores, StoreError, Scope.Scope> =>
  Effect.gen(function* () {
    const url = `sqlite:${path}`
    const file = nodePath.resolve(path)
    const { lock, signal } = yield* acquireShared(file)
    const client = yield* lock.withPermits(1)(openClient(file, url))
    // Held for the store's lifetime: reserving the connection per operation costs more than a small append.
    const conn = yield* Effect.mapError(client.reserve, storeError(url, "open"))
    const withConnection = <A, E>(
      operation: string,
      use: (conn: Connection) => Effect.Effect<A, E>
    ): Effect.Effect<A, Exclude<E, SqlError> | StoreError> =>
      lock
        .withPermits(1)(use(conn))
        .pipe(
          Effect.mapError((error) =>
            error instanceof SqlError ? storeError(url, operation)(error) : (error as Exclude<E, SqlError>)
          )
        )
    yield* withConnection("open", (conn) => setUp(conn, url, options))

    // Rows are read under the lock and decoded after it, so that decoding never holds up an append.
    const readAll = (readOptions?: ReadAllOptions) =>
      Effect.flatMap(
        withConnection("readAll", (conn) => readAllRows(conn, readOptions)),
        decoded
      )

    const append = (stream: string, events: ReadonlyArray<NewEvent>, expected: ExpectedRevision) =>
      Effect.gen(function* () {
        // Encoded before the write lock is taken, to hold it as briefly as possible.
        const encoded = events.map(({ event }) => encodeEvent(event))
        const batch: Batch = { stream, events, encoded, expected }
        const result = yield* withConnection("append", (conn) =>
          inWriteTransaction(conn, appendInTransaction(conn, batch))
        )
        if (result.written) yield* signal.notify
        return result
      })

    // One transaction over every batch: no reader (here or in another process) sees the stream until the
    // COMMIT, and a failure, an interruption or a killed process leaves nothing of it.
    const appendBatches = (
      stream: string,
      batches: Iterable<ReadonlyArray<NewEvent>>,
      expected: ExpectedRevision,
      onCommitted?: (result: AppendResult) => void
    ) =>
      Effect.gen(function* () {
        const body = (conn: Connection) =>
          Effect.gen(function* () {
            let next = expected
            let result: AppendResult | undefined
            let written = false
            for (const events of batches) {
              if (events.length === 0) continue
              const encoded = events.map(({ event }) => encodeEvent(event))
              const one = yield* appendInTransaction(conn, { stream, events, encoded, expected: next })
              written ||= one.written
              result = { ...one, written }
              next = ExpectedRevision.at(one.nextExpectedRevision)
              yield* nextTurn
            }
            return result ?? (yield* appendInTransaction(conn, { stream, events: [], encoded: [], expected }))
          })
        const result = yield* withConnection("append", (conn) =>
          inInterruptibleWriteTransaction(conn, body(conn), (r) => onCommitted?.(r))
        )
        if (result.written) yield* signal.notify
        return result
      })

    const store: PlainEventStore = {
      url,
      append,
      appendBatches,
      read: (stream, readOptions) =>
        Effect.flatMap(
          withConnection("read", (conn) => readStreamRows(conn, stream, readOptions)),
          decoded
        ),
      readAll,
      subscribe: (subscribeOptions) =>
        followLog<StoreError | EventDecodeError>({
          after: subscribeOptions?.after ?? beforeFirstPosition,
          readPage: (after) => readAll({ after }),
          signal,
          pollInterval: options.pollInterval ?? defaultPollInterval
        }),
      streams: () =>
        withConnection("streams", (conn) => Effect.map(query(conn, sql.streams), (rows) => rows.map(toStreamInfo))),
      lastRevision: (stream) =>
        withConnection("lastRevision", (conn) =>
          Effect.map(query(conn, sql.lastRevision, [stream]), (rows) => numberIn(rows[0], "lastRevision"))
        )
    }
    const snapshots = makeSqliteSnapshots(
      (operation, text, params) => withConnection(operation, (conn) => query(conn, text, params)),
      (operation, statements) =>
        withConnection(operation, (conn) =>
          inWriteTransaction(
            conn,
            Effect.forEach(statements, (s) => query(conn, s.text, s.params), { discard: true })
          )
        )
    )
    return { events: withBranches(store), snapshots }
  })

/**
 * The SQLite store at `path` (relative to the working directory), opened when the layer is built: the
 * event store and, in the same file, its snapshots.
 */
export const layerSqlite = (
  path: string,
  options: SqliteOptions = {}
): Layer.Layer<EventStore | SnapshotStore, StoreError> =>
  Layer.scopedContext(
    Effect.map(makeSqliteStores(path, options), ({ events, snapshots }) =>
      Context.make(EventStore, events).pipe(Context.add(SnapshotStore, snapshots))
    )
  )
