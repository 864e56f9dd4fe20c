/**
 * The SQLite adapter of the snapshot port: the `snapshots` table in the store's own file, created with
 * the other tables when the store opens (store/sqlite.ts runs `snapshotSchemaStatements`), used through
 * the store's connection and lock, so a snapshot never races an append of the same process.
 *
 * Adding the table does not change the file's format: a store written before it simply has no
 * snapshots, and an older xenpool ignores the table.
 */
import { Effect, Option } from "effect"
import type { StoreError } from "./errors.js"
import type { Snapshot, SnapshotInfo, SnapshotKey, SnapshotStoreShape } from "./SnapshotStore.js"

export const snapshotSchemaStatements: ReadonlyArray<string> = [
  `CREATE TABLE IF NOT EXISTS snapshots (
    stream TEXT NOT NULL,
    projection_version TEXT NOT NULL,
    revision INTEGER NOT NULL,
    at_us INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (stream, projection_version, revision)
  ) STRICT`,
  // Lookups walk revisions downwards and test at_us; with it in the index they never touch the (large) rows.
  "CREATE INDEX IF NOT EXISTS snapshots_by_revision ON snapshots (stream, projection_version, revision, at_us)"
]

const sql = {
  save: `INSERT INTO snapshots (stream, projection_version, revision, at_us, data) VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (stream, projection_version, revision) DO UPDATE SET at_us = excluded.at_us, data = excluded.data`,
  atOrBeforeRevision: `SELECT revision, at_us AS atUs, data FROM snapshots
    WHERE stream = ? AND projection_version = ? AND revision <= ? ORDER BY revision DESC LIMIT 1`,
  atOrBeforeTime: `SELECT revision, at_us AS atUs, data FROM snapshots
    WHERE stream = ? AND projection_version = ? AND at_us <= ? ORDER BY revision DESC LIMIT 1`,
  latest: `SELECT revision, at_us AS atUs FROM snapshots
    WHERE stream = ? AND projection_version = ? ORDER BY revision DESC LIMIT 1`
} as const

type Row = Record<string, unknown>

/** How the store lets its parts run statements: on its connection, under its lock, errors as StoreError. */
export type RunStatement = (
  operation: string,
  text: string,
  params: ReadonlyArray<unknown>
) => Effect.Effect<ReadonlyArray<Row>, StoreError>

/** Runs statements in one write transaction (BEGIN IMMEDIATE … COMMIT), under the store's lock. */
export type RunInTransaction = (
  operation: string,
  statements: ReadonlyArray<{ readonly text: string; readonly params: ReadonlyArray<unknown> }>
) => Effect.Effect<void, StoreError>

const info = (key: SnapshotKey, row: Row): SnapshotInfo => ({
  stream: key.stream,
  projectionVersion: key.projectionVersion,
  revision: Number(row["revision"]),
  atUs: Number(row["atUs"])
})

const snapshotOf = (key: SnapshotKey, rows: ReadonlyArray<Row>): Option.Option<Snapshot> => {
  const row = rows[0]
  return row === undefined ? Option.none() : Option.some({ ...info(key, row), data: String(row["data"]) })
}

export const makeSqliteSnapshots = (run: RunStatement, inTransaction: RunInTransaction): SnapshotStoreShape => ({
  save: (snapshots) =>
    snapshots.length === 0
      ? Effect.void
      : inTransaction(
          "save snapshots",
          snapshots.map((s) => ({
            text: sql.save,
            params: [s.stream, s.projectionVersion, s.revision, s.atUs, s.data]
          }))
        ),
  loadAtOrBeforeRevision: (key, revision) =>
    Effect.map(
      run("load snapshot", sql.atOrBeforeRevision, [key.stream, key.projectionVersion, Math.floor(revision)]),
      (rows) => snapshotOf(key, rows)
    ),
  loadAtOrBeforeTime: (key, atUs) =>
    Effect.map(
      run("load snapshot", sql.atOrBeforeTime, [key.stream, key.projectionVersion, Math.floor(atUs)]),
      (rows) => snapshotOf(key, rows)
    ),
  latest: (key) =>
    Effect.map(run("latest snapshot", sql.latest, [key.stream, key.projectionVersion]), (rows) =>
      rows[0] === undefined ? Option.none() : Option.some(info(key, rows[0]))
    )
})
