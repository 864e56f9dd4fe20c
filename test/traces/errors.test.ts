/**
 * Bad traces: the first bad line is reported with its line number, the field's JSON path and what was
 * expected; through the CLI it is one line on stderr, a non-zero exit, and nothing of the trace in the
 * store.
 */
import { describe, expect, it } from "vitest"
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { textInput, TraceReader, type TraceRecordInput } from "../../simulations/trace.js"
import { isCleanError, tempDir, xenpool } from "../cli/run.js"
import { firstError, smallPool, trace } from "./helpers.js"

const header = smallPool([
  { id: "a", memory: "64MiB", host: "h1", workload: { model: "pages", dirtyRate: "0B/s" } },
  { id: "b", memory: "64MiB", host: "h2" }
])
const headerLine = trace(header, []).trim()
/** A trace whose line `n` (1-based, the header is line 1) is `bad`, after good records. */
const withLine = (bad: string, before: ReadonlyArray<TraceRecordInput> = []): string =>
  `${trace(header, before)}${bad}\n${JSON.stringify({ atUs: 9_000_000, op: "pause-vm", vm: "nope" })}\n`

const good: ReadonlyArray<TraceRecordInput> = [
  { atUs: 0, op: "pause-vm", vm: "a" },
  { atUs: 10, op: "unpause-vm", vm: "a" }
]

interface Case {
  readonly name: string
  readonly text: string
  readonly line: number
  readonly path: string
  readonly expected: string | RegExp
}

const cases: ReadonlyArray<Case> = [
  {
    name: "malformed JSON",
    text: withLine(`{"atUs": 20, "op": "pause-vm",`, good),
    line: 4,
    path: "(json)",
    expected: /valid JSON/
  },
  { name: "not an object", text: withLine(`[1, 2]`, good), line: 4, path: "(root)", expected: /a record object/ },
  {
    name: "an unknown op",
    text: withLine(`{"atUs":20,"op":"reboot-vm","vm":"a"}`, good),
    line: 4,
    path: "op",
    expected: /one of join-host, .*(got "reboot-vm")/
  },
  {
    name: "a missing field",
    text: withLine(`{"atUs":20,"op":"start-vm"}`, good),
    line: 4,
    path: "vm",
    expected: "a value: the field is required"
  },
  {
    name: "a field of the wrong type",
    text: withLine(`{"atUs":20,"op":"write","vm":"a","gfns":[1,"2"]}`, good),
    line: 4,
    path: "gfns[1]",
    expected: /number/
  },
  {
    name: "an excess field",
    text: withLine(`{"atUs":20,"op":"pause-vm","vm":"a","colour":"red"}`, good),
    line: 4,
    path: "colour",
    expected: `no such field here (the fields are "atUs" | "op" | "vm")`
  },
  {
    name: "a negative time",
    text: withLine(`{"atUs":-1,"op":"pause-vm","vm":"a"}`),
    line: 2,
    path: "atUs",
    expected: /non-negative/
  },
  {
    name: "a time that is not an integer",
    text: withLine(`{"atUs":1.5,"op":"pause-vm","vm":"a"}`),
    line: 2,
    path: "atUs",
    expected: /integer/
  },
  {
    name: "an out-of-order atUs",
    text: withLine(`{"atUs":5,"op":"pause-vm","vm":"a"}`, good),
    line: 4,
    path: "atUs",
    expected: "atUs >= 10 (records are ordered by time; line 3 is at 10), got 5"
  },
  {
    name: "an unknown VM",
    text: withLine(`{"atUs":20,"op":"start-vm","vm":"ghost"}`, good),
    line: 4,
    path: "vm",
    expected: "a VM declared in the header or by an earlier create-vm record (no VM 'ghost')"
  },
  {
    name: "an unknown host",
    text: withLine(`{"atUs":20,"op":"disable-host","host":"h9"}`, good),
    line: 4,
    path: "host",
    expected: "a host declared in the header or by an earlier join-host record (no host 'h9')"
  },
  {
    name: "an unknown destination",
    text: withLine(`{"atUs":20,"op":"migrate","vm":"a","to":"h9"}`, good),
    line: 4,
    path: "to",
    expected: /no host 'h9'/
  },
  {
    name: "an unknown migration",
    text: withLine(`{"atUs":20,"op":"migration-committed","migration":"x1"}`, good),
    line: 4,
    path: "migration",
    expected: /no migration 'x1'/
  },
  {
    name: "a gfn beyond the VM's memory",
    text: withLine(`{"atUs":20,"op":"write","vm":"a","gfns":[0,16384]}`, good),
    line: 4,
    path: "gfns[1]",
    expected: "a gfn below 16384 (VM 'a' has 16384 pages of memory), got 16384"
  },
  {
    name: "a range beyond the VM's memory",
    text: withLine(`{"atUs":20,"op":"write","vm":"a","ranges":[[0,9],[100,20000]]}`, good),
    line: 4,
    path: "ranges[1][1]",
    expected: /a gfn below 16384/
  },
  {
    name: "a range backwards",
    text: withLine(`{"atUs":20,"op":"write","vm":"a","ranges":[[9,0]]}`, good),
    line: 4,
    path: "ranges[0]",
    expected: /first <= last/
  },
  {
    name: "gfns and ranges at once",
    text: withLine(`{"atUs":20,"op":"write","vm":"a","gfns":[1],"ranges":[[1,2]]}`, good),
    line: 4,
    path: "ranges",
    expected: /not both/
  },
  {
    name: "a write without pages",
    text: withLine(`{"atUs":20,"op":"write","vm":"a"}`, good),
    line: 4,
    path: "gfns",
    expected: /gfns .* or ranges/
  },
  {
    name: "page writes to a VM of the rate model",
    text: withLine(`{"atUs":20,"op":"write","vm":"b","gfns":[1]}`, good),
    line: 4,
    path: "vm",
    expected: /pages model/
  },
  {
    name: "a size without a unit",
    text: withLine(`{"atUs":20,"op":"set-memory-target","vm":"a","target":"2048"}`, good),
    line: 4,
    path: "target",
    expected: /a size with a unit.*\(got '2048'\)/
  },
  {
    name: "an ambiguous size",
    text: withLine(`{"atUs":20,"op":"join-host","host":"h3","memory":"64GB"}`, good),
    line: 4,
    path: "memory",
    expected: /GiB/
  },
  {
    name: "a rate without /s",
    text: withLine(`{"atUs":20,"op":"set-workload","vm":"a","workload":{"model":"pages","dirtyRate":"10MiB"}}`, good),
    line: 4,
    path: "workload.dirtyRate",
    expected: /needs '\/s'/
  },
  {
    name: "a VM size without a unit",
    text: withLine(`{"atUs":20,"op":"create-vm","vm":"c","memory":{"target":"4096"}}`, good),
    line: 4,
    path: "memory.target",
    expected: /a size with a unit/
  },
  {
    name: "a VM declared twice",
    text: withLine(`{"atUs":20,"op":"create-vm","vm":"a","memory":"1GiB"}`, good),
    line: 4,
    path: "vm",
    expected: "a new VM id (VM 'a' is declared in the header)"
  },
  {
    name: "a host that joins twice",
    text: withLine(`{"atUs":20,"op":"join-host","host":"h1","memory":"1GiB"}`, good),
    line: 4,
    path: "host",
    expected: /a new host id/
  },
  // since paging exists (docs/paging.md): a paging record is checked like the others
  {
    name: "an access beyond the VM's memory",
    text: withLine(`{"atUs":20,"op":"access","vm":"b","gfns":[16384]}`, good),
    line: 4,
    path: "gfns[0]",
    expected: "a gfn below 16384 (VM 'b' has 16384 pages of memory), got 16384"
  },
  {
    name: "an access with both random and gfns",
    text: withLine(`{"atUs":20,"op":"access","vm":"b","gfns":[1],"random":5}`, good),
    line: 4,
    path: "random",
    expected: "one of gfns, ranges, random in one record"
  },
  {
    name: "an evacuation of an undeclared host",
    text: withLine(`{"atUs":20,"op":"evacuate","host":"h9"}`, good),
    line: 4,
    path: "host",
    expected: /no host 'h9'/
  },
  {
    name: "a rolling maintenance of an undeclared host",
    text: withLine(`{"atUs":20,"op":"rolling-maintenance","hosts":["h1","h9"]}`, good),
    line: 4,
    path: "hosts[1]",
    expected: /no host 'h9'/
  },
  {
    name: "a maintenance time without a unit",
    text: withLine(`{"atUs":20,"op":"rolling-maintenance","hosts":["h1"],"maintenance":"60"}`, good),
    line: 4,
    path: "maintenance",
    expected: /a duration with a unit/
  },
  {
    name: "a paging target without a unit",
    text: withLine(`{"atUs":20,"op":"set-paging-target","vm":"a","target":"1024"}`, good),
    line: 4,
    path: "target",
    expected: /a size with a unit/
  },
  {
    name: "a bad policy duration",
    text: withLine(
      `{"atUs":20,"op":"migrate","vm":"a","to":"h2","policy":{"name":"max-downtime","maxDowntime":"30"}}`,
      good
    ),
    line: 4,
    path: "policy.maxDowntime",
    expected: /a duration with a unit/
  },
  {
    name: "engine-level and engine-style recorded migrations mixed",
    text: withLine(`{"atUs":30,"op":"migration-started","migration":"m7","vm":"b","to":"h1","policy":"xen"}`, [
      ...good,
      { atUs: 20, op: "migrate", vm: "a", to: "h2" }
    ]),
    line: 5,
    path: "migration",
    expected: /not of the form m<N>.*line 4/
  },
  { name: "an empty file", text: "", line: 1, path: "(header)", expected: /a header line .* got an empty file/ },
  {
    name: "a record where the header should be",
    text: `{"atUs":0,"op":"pause-vm","vm":"a"}\n`,
    line: 1,
    path: "format",
    expected: /a header line/
  },
  {
    name: "a header of another format",
    text: headerLine.replace("xenpool-trace", "xenpool-scenario"),
    line: 1,
    path: "format",
    expected: /"xenpool-trace"/
  },
  {
    name: "a header of another version",
    text: headerLine.replace(`"version":1`, `"version":2`),
    line: 1,
    path: "version",
    expected: /1/
  },
  {
    name: "a header host without a unit",
    text: headerLine.replace(`"memory":"64GiB"`, `"memory":"64"`),
    line: 1,
    path: "pool.hosts[0].memory",
    expected: /a size with a unit/
  },
  {
    name: "a header VM on an unknown host",
    text: headerLine.replace(`"host":"h2"`, `"host":"h7"`),
    line: 1,
    path: "pool.vms[1].host",
    expected: /no host 'h7'/
  }
]

describe("the first bad line names its line, field and what was expected", () => {
  for (const c of cases) {
    it(c.name, () => {
      const error = firstError(c.text, "bad.jsonl")
      expect(error).toMatchObject({ source: "bad.jsonl", line: c.line, path: c.path })
      if (typeof c.expected === "string") expect(error?.expected).toBe(c.expected)
      else expect(error?.expected).toMatch(c.expected)
    })
  }

  it("blank lines count in line numbers and are skipped", () => {
    const text = `${headerLine}\n\n   \n{"atUs":0,"op":"pause-vm","vm":"ghost"}\n`
    expect(firstError(text)).toMatchObject({ line: 4, path: "vm" })
  })

  it("CRLF line endings are read like LF", () => {
    const text = trace(header, good).replaceAll("\n", "\r\n")
    expect(firstError(text)).toBeUndefined()
  })

  it("a line longer than the limit is an error, not a crash", () => {
    const long = `{"atUs":0,"op":"write","vm":"a","gfns":[${Array.from({ length: 2000 }, () => 1).join(",")}]}`
    const reader = new TraceReader(textInput("long.jsonl", `${headerLine}\n${long}\n`), {
      chunkBytes: 256,
      lineBytesMax: 1024
    })
    expect(() => reader.next()).toThrow(/long.jsonl:2: \(line\): expected a line of at most 1024 bytes/)
  })

  it("lines split across read chunks are read whole", () => {
    const records = Array.from({ length: 300 }, (_, i): TraceRecordInput => ({
      atUs: i,
      op: "write",
      vm: "a",
      gfns: [i, i + 1, i + 2]
    }))
    const reader = new TraceReader(textInput("t.jsonl", trace(header, records)), { chunkBytes: 64 })
    let n = 0
    while (reader.next() !== undefined) n++
    expect(n).toBe(300)
  })
})

describe("xenpool replay with a bad trace", () => {
  const dir = tempDir()
  const store = `sqlite:${join(dir, "s.db")}`
  /** Many good records that would produce events, then one bad line near the end. */
  const records: TraceRecordInput[] = []
  for (let i = 0; i < 2_000; i++)
    records.push({ atUs: 1_000 * i, op: i % 2 === 0 ? "pause-vm" : "unpause-vm", vm: "b" })
  const file = join(dir, "late-error.jsonl")
  writeFileSync(file, `${trace(header, records)}{"atUs":3000000,"op":"write","vm":"a","gfns":[99999]}\n`)

  it("prints one line naming file, line, field and expectation, exits non-zero, appends nothing", () => {
    const r = xenpool(["replay", file, "--store", store])
    expect(isCleanError(r)).toBe(true)
    expect(r.stderr.trim()).toBe(
      `xenpool: bad trace (${file}:2002, gfns[0]): expected a gfn below 16384 (VM 'a' has 16384 pages of memory), got 99999`
    )
    const pools = xenpool(["pools", "--store", store, "--json"])
    expect(JSON.parse(pools.stdout)).toEqual([])
  })

  it("a missing file is a one-line error", () => {
    const r = xenpool(["replay", join(dir, "absent.jsonl"), "--store", store])
    expect(isCleanError(r)).toBe(true)
    expect(r.stderr).toContain("cannot read trace")
  })

  it("--pool naming an existing pool is refused before anything runs", () => {
    const ok = join(dir, "ok.jsonl")
    writeFileSync(ok, trace(header, good))
    expect(xenpool(["replay", ok, "--store", store, "--pool", "mine"]).status).toBe(0)
    const again = xenpool(["replay", ok, "--store", store, "--pool", "mine"])
    expect(isCleanError(again)).toBe(true)
    expect(again.stderr).toContain("pool already exists")
  })
})

describe("xenpool replay appends nothing of a trace with any kind of bad line", () => {
  const dir = tempDir()
  const store = `sqlite:${join(dir, "s.db")}`
  const many: TraceRecordInput[] = Array.from({ length: 500 }, (_, i) => ({
    atUs: 10 * i,
    op: i % 2 === 0 ? "pause-vm" : "unpause-vm",
    vm: "b"
  }))
  const bad: ReadonlyArray<readonly [string, string, string]> = [
    ["malformed JSON", `{"atUs":6000,"op":"pause-vm"`, "(json)"],
    ["a schema violation", `{"atUs":6000,"op":"slow-link","host":"h1","percent":0}`, "percent"],
    ["an out-of-order atUs", `{"atUs":5,"op":"pause-vm","vm":"b"}`, "atUs"],
    ["an unknown VM", `{"atUs":6000,"op":"pause-vm","vm":"ghost"}`, "vm"],
    ["an unknown host", `{"atUs":6000,"op":"fail-host","host":"h9"}`, "host"],
    ["a gfn beyond the VM's memory", `{"atUs":6000,"op":"write","vm":"a","ranges":[[0,16384]]}`, "ranges[0][1]"],
    ["a size without a unit", `{"atUs":6000,"op":"set-memory-target","vm":"b","target":"65536"}`, "target"]
  ]
  for (const [name, line, path] of bad) {
    it(name, () => {
      const file = join(dir, `${name.replaceAll(" ", "-")}.jsonl`)
      writeFileSync(file, `${trace(header, many)}${line}\n`)
      const r = xenpool(["replay", file, "--store", store])
      expect(isCleanError(r)).toBe(true)
      expect(r.stderr).toContain(`(${file}:502, ${path}): expected `)
      expect(JSON.parse(xenpool(["pools", "--store", store, "--json"]).stdout)).toEqual([])
    })
  }
})
