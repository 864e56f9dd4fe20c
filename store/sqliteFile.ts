/**
 * What an existing SQLite file holds, read with plain file reads before SQLite opens it: the 100-byte
 * header, the schema table and the rows of one small table (the format is sqlite.org/fileformat2.html).
 * store/sqlite.ts refuses a file that is not a xenpool store on what this finds, because SQLite itself
 * cannot look without touching: a read-write connection switches the file to WAL (rewriting its header),
 * and even a read-only one creates `-wal` and `-shm` files beside a WAL-mode file.
 *
 * Only the main file is read, never a `-wal` beside it. That is enough for the question asked: every page
 * of the main file is some committed version of that page, and the tables of a xenpool store, once made,
 * never change; a store whose tables are still only in its `-wal` (a process killed just after creating
 * it) shows no tables here, like an empty file.
 *
 * Internal to store/: the only caller is store/sqlite.ts.
 */
import * as fs from "node:fs"

export type SqliteValue = null | number | string | Uint8Array

export type SqliteFileContents =
  /** The file does not begin with SQLite's header, or its pages do not read as SQLite's b-trees. */
  | { readonly _tag: "NotSqlite"; readonly detail: string }
  /** The file could not be read at all (permissions, an I/O error). */
  | { readonly _tag: "Unreadable"; readonly detail: string }
  | {
      readonly _tag: "Sqlite"
      /** Every table in the schema, SQLite's own (`sqlite_sequence`, …) included. */
      readonly tables: ReadonlyArray<string>
      /** The rows of the table asked for; undefined when it is absent or not a plain (rowid) table. */
      readonly rows: ReadonlyArray<ReadonlyArray<SqliteValue>> | undefined
    }

const magic = Buffer.from("SQLite format 3\u0000", "latin1")
const headerBytes = 100
/** Pages one table may span before reading stops: a schema or a meta table takes a handful. */
const tablePagesMax = 4096
/** Depth of a table b-tree at most (SQLite's own cursor limit is 20). */
const treeDepthMax = 20
/** Bytes of one row at most. */
const recordBytesMax = 16 * 1024 * 1024

const pageKind = { tableInterior: 0x05, tableLeaf: 0x0d, indexInterior: 0x02, indexLeaf: 0x0a } as const

/** Thrown inside the reader when the bytes are not what SQLite writes; caught in `readSqliteFile`. */
class Malformed {
  constructor(readonly detail: string) {}
}

interface OpenFile {
  readonly fd: number
  readonly pageSize: number
  /** Page size less the bytes reserved at the end of each page. */
  readonly usableSize: number
  readonly pageCount: number
  readonly encoding: "utf8" | "utf16le" | "utf16be"
}

const u8 = (b: Buffer, at: number): number => {
  if (at < 0 || at >= b.length) throw new Malformed("a value runs past the end of its page")
  return b[at]!
}
const u16 = (b: Buffer, at: number): number => (u8(b, at) << 8) | u8(b, at + 1)
const u32 = (b: Buffer, at: number): number => u16(b, at) * 65536 + u16(b, at + 2)

/** SQLite's variable-length integer: 1 to 9 bytes, big-endian, 7 bits a byte (8 in the ninth). */
const varint = (b: Buffer, at: number): { readonly value: number; readonly next: number } => {
  let value = 0
  for (let i = 0; i < 8; i++) {
    const byte = u8(b, at + i)
    value = value * 128 + (byte & 0x7f)
    if (byte < 0x80) return { value, next: at + i + 1 }
  }
  return { value: value * 256 + u8(b, at + 8), next: at + 9 }
}

const readPage = (file: OpenFile, page: number): Buffer => {
  if (!Number.isInteger(page) || page < 1 || page > file.pageCount) {
    throw new Malformed(`a b-tree points to page ${page}, outside the file's ${file.pageCount} pages`)
  }
  const buffer = Buffer.alloc(file.pageSize)
  const read = fs.readSync(file.fd, buffer, 0, file.pageSize, (page - 1) * file.pageSize)
  if (read !== file.pageSize) throw new Malformed(`page ${page} is cut short`)
  return buffer
}

/** A row's bytes: the part stored in its cell, then its chain of overflow pages. */
const payload = (file: OpenFile, page: Buffer, at: number, size: number): Buffer => {
  if (size > recordBytesMax) throw new Malformed(`a row of ${size} bytes`)
  const usable = file.usableSize
  const maxLocal = usable - 35
  const local = (() => {
    if (size <= maxLocal) return size
    const minLocal = Math.floor(((usable - 12) * 32) / 255) - 23
    const k = minLocal + ((size - minLocal) % (usable - 4))
    return k <= maxLocal ? k : minLocal
  })()
  if (at + local > page.length) throw new Malformed("a row runs past the end of its page")
  const bytes = Buffer.alloc(size)
  page.copy(bytes, 0, at, at + local)
  let next = local < size ? u32(page, at + local) : 0
  // Bounded: each overflow page adds usable - 4 (>= 476) bytes until `size` are read.
  for (let filled = local; filled < size;) {
    const overflow = readPage(file, next)
    const n = Math.min(usable - 4, size - filled)
    overflow.copy(bytes, filled, 4, 4 + n)
    filled += n
    next = u32(overflow, 0)
  }
  return bytes
}

/** The rows (as raw records) of the table b-tree rooted at `root`, in rowid order; undefined for an index b-tree. */
const tableRecords = (file: OpenFile, root: number): ReadonlyArray<Buffer> | undefined => {
  const records: Buffer[] = []
  const visited = new Set<number>()
  const visit = (page: number, depth: number): boolean => {
    if (depth > treeDepthMax) throw new Malformed(`the b-tree at page ${root} is deeper than ${treeDepthMax}`)
    if (visited.has(page)) throw new Malformed(`page ${page} appears twice in one b-tree`)
    if (visited.size >= tablePagesMax) throw new Malformed(`a table spans more than ${tablePagesMax} pages`)
    visited.add(page)
    const data = readPage(file, page)
    const header = page === 1 ? headerBytes : 0
    const kind = u8(data, header)
    const cells = u16(data, header + 3)
    if (kind === pageKind.tableInterior) {
      for (let i = 0; i < cells; i++) visit(u32(data, u16(data, header + 12 + 2 * i)), depth + 1)
      return visit(u32(data, header + 8), depth + 1)
    }
    if (kind === pageKind.tableLeaf) {
      for (let i = 0; i < cells; i++) {
        const size = varint(data, u16(data, header + 8 + 2 * i))
        const rowid = varint(data, size.next)
        records.push(payload(file, data, rowid.next, size.value))
      }
      return true
    }
    if (depth === 0 && (kind === pageKind.indexInterior || kind === pageKind.indexLeaf)) return false
    throw new Malformed(`page ${page} is not a table b-tree page (type ${kind})`)
  }
  return visit(root, 0) ? records : undefined
}

const text = (bytes: Buffer, encoding: OpenFile["encoding"]): string =>
  encoding === "utf16be" ? Buffer.from(bytes).swap16().toString("utf16le") : bytes.toString(encoding)

/** The bytes a value of serial type `type` takes in a record. */
const serialWidth = (type: number): number => {
  if (type >= 12) return Math.floor((type - 12) / 2)
  const width = [0, 1, 2, 3, 4, 6, 8, 8, 0, 0][type]
  if (width === undefined) throw new Malformed(`a value of the reserved serial type ${type}`)
  return width
}

const serialValue = (record: Buffer, at: number, type: number, encoding: OpenFile["encoding"]): SqliteValue => {
  const width = serialWidth(type)
  if (type === 0) return null
  if (type <= 5) return record.readIntBE(at, width)
  if (type === 6) return Number(record.readBigInt64BE(at))
  if (type === 7) return record.readDoubleBE(at)
  if (type === 8 || type === 9) return type - 8
  const bytes = record.subarray(at, at + width)
  return type % 2 === 0 ? new Uint8Array(bytes) : text(bytes, encoding)
}

/** A record's values: a header of serial types, then the values in that order. */
const recordValues = (record: Buffer, encoding: OpenFile["encoding"]): ReadonlyArray<SqliteValue> => {
  const headerSize = varint(record, 0)
  if (headerSize.value > record.length) throw new Malformed("a row's header runs past its end")
  const types: number[] = []
  // Bounded: each pass moves `at` forward by at least one byte, up to the header's size.
  for (let at = headerSize.next; at < headerSize.value;) {
    const type = varint(record, at)
    types.push(type.value)
    at = type.next
  }
  const values: SqliteValue[] = []
  let at = headerSize.value
  for (const type of types) {
    const width = serialWidth(type)
    if (at + width > record.length) throw new Malformed("a row's values run past its end")
    values.push(serialValue(record, at, type, encoding))
    at += width
  }
  return values
}

const encodings = { 0: "utf8", 1: "utf8", 2: "utf16le", 3: "utf16be" } as const

/** Reads the header; the page size and text encoding it gives are checked as SQLite checks them. */
const openFile = (fd: number, fileBytes: number): OpenFile | string => {
  const header = Buffer.alloc(headerBytes)
  const read = fs.readSync(fd, header, 0, headerBytes, 0)
  if (read < magic.length || !header.subarray(0, magic.length).equals(magic)) {
    return "it does not begin with SQLite's header"
  }
  if (read < headerBytes) throw new Malformed("it is shorter than SQLite's 100-byte header")
  const pageSizeField = u16(header, 16)
  const pageSize = pageSizeField === 1 ? 65536 : pageSizeField
  if (pageSize < 512 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0) {
    throw new Malformed(`its header gives a page size of ${pageSizeField}`)
  }
  const usableSize = pageSize - u8(header, 20)
  if (usableSize < 480) throw new Malformed(`its header reserves ${u8(header, 20)} bytes of each page`)
  const encoding = encodings[u32(header, 56) as keyof typeof encodings]
  if (encoding === undefined) throw new Malformed(`its header gives text encoding ${u32(header, 56)}`)
  return { fd, pageSize, usableSize, pageCount: Math.floor(fileBytes / pageSize), encoding }
}

const contents = (file: OpenFile, rowsOf: string): SqliteFileContents => {
  // The schema table, rooted at page 1: type, name, tbl_name, rootpage, sql.
  const schema = (tableRecords(file, 1) ?? []).map((record) => recordValues(record, file.encoding))
  const tableRows = schema.filter((row) => row[0] === "table" && typeof row[1] === "string")
  const tables = tableRows.map((row) => row[1] as string)
  const root = tableRows.find((row) => row[1] === rowsOf)?.[3]
  // A virtual table has root page 0 and no rows in the file.
  const records = typeof root === "number" && root > 0 ? tableRecords(file, root) : undefined
  const rows = records?.map((record) => recordValues(record, file.encoding))
  return { _tag: "Sqlite", tables, rows }
}

/**
 * The tables of the SQLite file at `path` and the rows of its table `rowsOf`, read without SQLite and
 * without writing anything. For an existing, non-empty regular file.
 */
export const readSqliteFile = (path: string, rowsOf: string): SqliteFileContents => {
  let fd: number | undefined
  try {
    fd = fs.openSync(path, "r")
    const file = openFile(fd, fs.fstatSync(fd).size)
    if (typeof file === "string") return { _tag: "NotSqlite", detail: file }
    return contents(file, rowsOf)
  } catch (error) {
    if (error instanceof Malformed) return { _tag: "NotSqlite", detail: error.detail }
    const code = (error as NodeJS.ErrnoException).code
    const detail = code === "EACCES" ? "permission denied" : error instanceof Error ? error.message : String(error)
    return { _tag: "Unreadable", detail }
  } finally {
    if (fd !== undefined) fs.closeSync(fd)
  }
}
