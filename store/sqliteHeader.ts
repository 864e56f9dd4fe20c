/**
 * What an existing file's first page says, read with one plain read before SQLite opens it (the header
 * layout is sqlite.org/fileformat2.html §1.3). SQLite cannot open a file without possibly changing it: a
 * connection switches a rollback-journal file to WAL (rewriting its header) and creates `-wal` and `-shm`
 * files. So store/sqlite.ts first refuses, from these bytes alone, what can never be a xenpool store; a
 * WAL file that may be one is then opened and its schema checked before anything is written.
 *
 * Internal to store/: the only caller is store/sqlite.ts.
 */
import * as fs from "node:fs"

/** `PRAGMA application_id` of a xenpool store ("xenp"); stores made before it was set have 0. */
export const xenpoolApplicationId = 0x78656e70

export type SqliteHeader =
  | { readonly _tag: "NotSqlite" }
  | {
      readonly _tag: "Sqlite"
      /** Bytes 18 and 19 are 2: the file is in WAL mode, as every xenpool store is. */
      readonly wal: boolean
      readonly applicationId: number
      /** Page 1 (sqlite_master's root) holds no entry: the file has no table, index or view yet. */
      readonly emptySchema: boolean
    }

const magic = "SQLite format 3\u0000"
const headerBytes = 100

/** Reads the header and page 1's b-tree header (`fd` open for reading). */
export const readSqliteHeader = (fd: number): SqliteHeader => {
  const bytes = Buffer.alloc(headerBytes + 8)
  const read = fs.readSync(fd, bytes, 0, bytes.length, 0)
  if (read < headerBytes || bytes.toString("latin1", 0, 16) !== magic) return { _tag: "NotSqlite" }
  // Page 1's b-tree header follows the file header: its cell count is at offset 3 of it.
  const pageKind = bytes[headerBytes]
  const cells = read >= headerBytes + 5 ? bytes.readUInt16BE(headerBytes + 3) : 0
  return {
    _tag: "Sqlite",
    wal: bytes[18] === 2 && bytes[19] === 2,
    applicationId: bytes.readUInt32BE(68),
    emptySchema: pageKind === 0x0d && cells === 0
  }
}
