/**
 * Temporary SQLite stores for tests: a fresh directory under the OS temp dir per use, removed after.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import Database from "better-sqlite3"
import { Effect } from "effect"

export const tempDirectory = Effect.acquireRelease(
  Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "xenpool-store-"))),
  (directory) => Effect.sync(() => fs.rmSync(directory, { recursive: true, force: true }))
)

/** Runs `body` on a raw better-sqlite3 connection to `file`, beside whatever else has it open. */
export const withRawDatabase = <A>(file: string, body: (db: Database.Database) => A): A => {
  const db = new Database(file)
  try {
    return body(db)
  } finally {
    db.close()
  }
}

/** Overwrites one stored event's data behind the adapter's back. */
export const corruptStoredData = (file: string, stream: string, revision: number, data: string): void =>
  withRawDatabase(file, (db) => {
    const changes = db
      .prepare("UPDATE events SET data = ? WHERE stream = ? AND revision = ?")
      .run(data, stream, revision).changes
    if (changes !== 1) throw new Error(`no stored event ${stream}@${revision} in ${file}`)
  })
