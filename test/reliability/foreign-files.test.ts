/**
 * A file at the store's path that is not a xenpool store is refused, and left exactly as it was: same
 * bytes, same modification time, no `-wal`, `-shm` or `-journal` file beside it. Checked through the
 * commands a user would point at it (`pools`, `events`, `at`, `simulate`, `demo`). An absent or empty
 * file still becomes a new store, and real stores, however their pages are laid out, still open.
 */
import { spawnSync } from "node:child_process"
import { createHash } from "node:crypto"
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs"
import { join, resolve } from "node:path"
import Database from "better-sqlite3"
import { Effect } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import { makeSqlite, schemaStatements, storeFormatVersion } from "../../store/sqlite.js"
import { isCleanError, tempDir, xenpool } from "../cli/run.js"

const scenario = resolve(import.meta.dirname, "../../simulations/scenarios/idle-migration.json")

/** Bytes that look like nothing in particular, the same on every run (xorshift32). */
const noise = (length: number, seed: number): Buffer => {
  const bytes = Buffer.alloc(length)
  let x = seed
  for (let i = 0; i < length; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    bytes[i] = x & 0xff
  }
  return bytes
}

const withDatabase = (file: string, body: (db: Database.Database) => void): void => {
  const db = new Database(file)
  try {
    body(db)
  } finally {
    db.close()
  }
}

const anotherProgramsDatabase = (journalMode: "delete" | "wal") => (file: string) =>
  withDatabase(file, (db) => {
    db.pragma(`journal_mode = ${journalMode}`)
    db.exec("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT); CREATE TABLE orders (id INTEGER, total REAL)")
    db.prepare("INSERT INTO customers (name) VALUES (?)").run("Ada")
  })

/** A xenpool store (made by `demo`) whose meta.format says a newer xenpool wrote it. */
let newerStore: Buffer

interface Foreign {
  readonly name: string
  readonly make: (file: string) => void
  /** What the one line on stderr says after the path. */
  readonly says: string
}

const foreign: ReadonlyArray<Foreign> = [
  {
    name: "a text file",
    make: (file) => writeFileSync(file, "host,vm,memory\nh1,web-1,4096\n".repeat(200)),
    says: "is not a SQLite database (it does not begin with SQLite's header)"
  },
  {
    name: "another program's SQLite file",
    make: anotherProgramsDatabase("delete"),
    says: "is a SQLite database but not a xenpool store (its tables: customers, orders)"
  },
  {
    name: "another program's SQLite file in WAL mode",
    make: anotherProgramsDatabase("wal"),
    says: "is a SQLite database but not a xenpool store (its tables: customers, orders)"
  },
  {
    name: "a xenpool store of a newer format",
    make: (file) => writeFileSync(file, newerStore),
    says: `is a xenpool store of format ${storeFormatVersion + 1}, and this xenpool reads format ${storeFormatVersion}`
  }
]

/** Less common shapes, each checked with `pools` only. */
const foreignToo: ReadonlyArray<Foreign> = [
  {
    name: "random bytes",
    make: (file) => writeFileSync(file, noise(64 * 1024, 7)),
    says: "is not a SQLite database (it does not begin with SQLite's header)"
  },
  {
    name: "SQLite's header followed by random bytes",
    make: (file) => {
      const bytes = noise(16 * 4096, 11)
      Buffer.from("SQLite format 3\u0000", "latin1").copy(bytes)
      bytes.writeUInt16BE(4096, 16)
      bytes[20] = 0
      bytes.writeUInt32BE(1, 56)
      writeFileSync(file, bytes)
    },
    // The magic, then noise: whatever the noise makes of the header fields, a refusal.
    says: "is "
  },
  {
    name: "another program's SQLite file that set its application id",
    make: (file) => {
      anotherProgramsDatabase("wal")(file)
      withDatabase(file, (db) => db.pragma("application_id = 1234"))
    },
    says: "is a SQLite database of another program (application id 0x4d2), not a xenpool store"
  },
  {
    name: "another program's file with xenpool's table names but no format",
    make: (file) =>
      withDatabase(file, (db) => {
        db.pragma("journal_mode = wal")
        db.exec(
          "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT); CREATE TABLE events (x); CREATE TABLE streams (y)"
        )
        db.prepare("INSERT INTO meta VALUES ('version', '3')").run()
      }),
    says: "is a SQLite database but not a xenpool store (its tables: meta, events, streams)"
  }
]

const commands: ReadonlyArray<[string, ReadonlyArray<string>]> = [
  ["pools", ["pools"]],
  ["events", ["events", "--pool", "rolling-1"]],
  ["at", ["at", "10s", "--pool", "rolling-1"]],
  ["simulate", ["simulate", scenario]],
  ["demo", ["demo"]]
]

interface FileState {
  readonly sha256: string
  readonly size: number
  readonly mtimeMs: number
  readonly directory: ReadonlyArray<string>
}

const stateOf = (file: string): FileState => ({
  sha256: createHash("sha256").update(readFileSync(file)).digest("hex"),
  size: statSync(file).size,
  mtimeMs: statSync(file).mtimeMs,
  directory: readdirSync(resolve(file, "..")).sort()
})

/** Makes the file alone in a new directory, runs the command on it, and checks it refused and changed nothing. */
const refusesUntouched = (kind: Foreign, args: ReadonlyArray<string>) => {
  const file = join(tempDir(), "store.db")
  kind.make(file)
  const before = stateOf(file)
  expect(before.directory).toEqual(["store.db"])
  const r = xenpool([...args, "--store", `sqlite:${file}`])
  expect(isCleanError(r)).toBe(true)
  expect(r.stdout).toBe("")
  expect(stateOf(file)).toEqual(before)
  expect(r.stderr).toContain(`${file} ${kind.says}`)
  expect(r.stderr).toContain("the file was left unchanged")
}

beforeAll(() => {
  const file = join(tempDir(), "newer.db")
  expect(xenpool(["demo", "--store", `sqlite:${file}`]).status).toBe(0)
  withDatabase(file, (db) =>
    db.prepare("UPDATE meta SET value = ? WHERE key = 'format'").run(String(storeFormatVersion + 1))
  )
  expect(readdirSync(resolve(file, ".."))).toEqual(["newer.db"])
  newerStore = readFileSync(file)
  // In WAL mode: the file a read-only SQLite connection would put -wal and -shm files beside.
  expect([newerStore[18], newerStore[19]]).toEqual([2, 2])
}, 60_000)

describe("a file that is not a xenpool store is refused and left untouched", () => {
  for (const kind of foreign) {
    for (const [name, args] of commands) {
      it(`${kind.name}: ${name}`, () => refusesUntouched(kind, args))
    }
  }
  for (const kind of foreignToo) {
    it(`${kind.name}: pools`, () => refusesUntouched(kind, ["pools"]))
  }
})

describe("what still opens", () => {
  it("an empty file becomes a new store in WAL mode, as an absent one does", () => {
    const dir = tempDir()
    const file = join(dir, "empty.db")
    writeFileSync(file, "")
    for (const path of [file, join(dir, "absent.db")]) {
      const r = xenpool(["pools", "--store", `sqlite:${path}`, "--json"])
      expect(r).toMatchObject({ status: 0, stderr: "" })
      expect(JSON.parse(r.stdout)).toEqual([])
      const header = readFileSync(path)
      expect(header.subarray(0, 16).toString("latin1")).toBe("SQLite format 3\u0000")
      expect([header[18], header[19]]).toEqual([2, 2])
    }
  })

  const opens = (file: string) => Effect.runPromise(Effect.scoped(makeSqlite(file)))

  const store = async (prepare?: (file: string) => void): Promise<string> => {
    const file = join(tempDir(), "store.db")
    prepare?.(file)
    await opens(file)
    return file
  }

  it("a store whose schema fills more than one page, its own tables last", async () => {
    const file = join(tempDir(), "store.db")
    withDatabase(file, (db) => {
      for (let i = 0; i < 120; i++) db.exec(`CREATE TABLE extra_${i} (a TEXT, b TEXT, c TEXT, d TEXT)`)
      db.exec(`CREATE VIEW long_view AS SELECT '${"x".repeat(20_000)}' AS filler`)
      for (const statement of schemaStatements) db.exec(statement)
      db.prepare("INSERT INTO meta (key, value) VALUES ('format', ?)").run(String(storeFormatVersion))
    })
    expect(readFileSync(file)[100]).toBe(0x05) // page 1 is an interior page
    await opens(file)
  })

  it("a store whose meta table spans pages, its format row last, and holds a row larger than a page", async () => {
    const file = await store()
    withDatabase(file, (db) => {
      const insert = db.prepare("INSERT INTO meta (key, value) VALUES (?, ?)")
      for (let i = 0; i < 300; i++) insert.run(`note-${i}`, "y".repeat(300))
      insert.run("large", "z".repeat(50_000))
      db.exec("DELETE FROM meta WHERE key = 'format'")
      insert.run("format", String(storeFormatVersion))
    })
    await opens(file)
  })

  it("a store with 64 KiB pages, with 512-byte pages, in UTF-16 (big and little endian)", async () => {
    const settings = ["page_size = 65536", "page_size = 512", "encoding = 'UTF-16be'", "encoding = 'UTF-16le'"]
    for (const setting of settings) {
      // A SQLite file with no tables yet becomes a store, like an empty file.
      const file = await store((f) =>
        withDatabase(f, (db) => {
          db.pragma(setting)
          // Fixes the setting in the file and leaves no table.
          db.exec("CREATE TABLE scratch (x); DROP TABLE scratch")
        })
      )
      await opens(file)
    }
  })

  it("a store whose tables are still only in its -wal (the process died before the first checkpoint)", async () => {
    const file = join(tempDir(), "store.db")
    const child = `
      const Database = require(${JSON.stringify(resolve(import.meta.dirname, "../../node_modules/better-sqlite3"))})
      const db = new Database(${JSON.stringify(file)})
      db.pragma("journal_mode = WAL")
      for (const statement of ${JSON.stringify(schemaStatements)}) db.exec(statement)
      db.prepare("INSERT INTO meta (key, value) VALUES ('format', ?)").run(${JSON.stringify(String(storeFormatVersion))})
      process.exit(0)`
    expect(spawnSync(process.execPath, ["-e", child]).status).toBe(0)
    expect(statSync(`${file}-wal`).size).toBeGreaterThan(0)
    await opens(file)
  })
})
