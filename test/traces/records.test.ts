/**
 * Every record kind of trace format v1: it parses, it round-trips through the writer, the compiled
 * predicate agrees with its schema, and a trace using every kind the engine supports replays with no
 * refusal. The paging kinds validate too (their replay is in test/paging/trace.test.ts).
 */
import { describe, expect, it } from "vitest"
import { Either, Schema } from "effect"
import {
  recordLine,
  recordOps,
  recordProblem,
  recordSchemas,
  TraceRecord,
  TraceWriter,
  type TraceRecordInput
} from "../../simulations/trace.js"
import { firstError, replay, smallPool, trace } from "./helpers.js"

const pagesVm = { id: "a", memory: "4GiB", host: "h1", workload: { model: "pages" as const, dirtyRate: "0B/s" } }
const rateVm = { id: "b", memory: "1GiB", host: "h2" }
const header = smallPool([pagesVm, rateVm])

/** One record of every kind the engine replays, in an order that makes sense for the pool above. */
const supported: ReadonlyArray<TraceRecordInput> = [
  { atUs: 0, op: "join-host", host: "h3", memory: "32GiB", overhead: "1GiB", nic: "1Gbit/s", cpus: 8 },
  { atUs: 0, op: "disable-host", host: "h3" },
  { atUs: 1, op: "enable-host", host: "h3" },
  {
    atUs: 10,
    op: "create-vm",
    vm: "c",
    vcpus: 2,
    memory: { staticMin: "1GiB", dynamicMin: "1GiB", target: "1GiB", dynamicMax: "2GiB", staticMax: "2GiB" },
    overhead: "8MiB",
    blockedOperations: ["clean_reboot"],
    workload: { model: "rate", dirtyRate: "1MiB/s", workingSet: "50%" }
  },
  { atUs: 20, op: "start-vm", vm: "c", host: "h3" },
  { atUs: 30, op: "pause-vm", vm: "c" },
  { atUs: 40, op: "unpause-vm", vm: "c" },
  { atUs: 50, op: "set-memory-target", vm: "c", target: "1536MiB" },
  { atUs: 60, op: "set-workload", vm: "c", workload: { model: "pages", writer: "hot-cold", dirtyRate: "0B/s" } },
  { atUs: 70, op: "write", vm: "c", gfns: [1, 2, 3] },
  {
    atUs: 80,
    op: "write",
    vm: "c",
    ranges: [
      [10, 20],
      [100, 100]
    ]
  },
  { atUs: 1_000, op: "migrate", vm: "a", to: "h2", policy: { name: "max-downtime", maxDowntime: "30ms" } },
  { atUs: 1_000, op: "migration-started", migration: "rec-1", vm: "c", to: "h1", policy: "xen" },
  { atUs: 1_500, op: "migration-phase-completed", migration: "rec-1", phase: "setup", durationUs: 500 },
  {
    atUs: 2_000,
    op: "migration-round-completed",
    migration: "rec-1",
    round: 1,
    live: true,
    pagesSent: 393_216,
    pagesSkipped: 0,
    bytesSent: 1_610_612_736,
    pagesDirtied: 12,
    durationUs: 1_000
  },
  { atUs: 2_000, op: "migration-stop-and-copy", migration: "rec-1", reason: "dirty-below-threshold" },
  { atUs: 2_050, op: "migration-phase-completed", migration: "rec-1", phase: "suspend", durationUs: 50 },
  {
    atUs: 2_100,
    op: "migration-round-completed",
    migration: "rec-1",
    round: 2,
    live: false,
    pagesSent: 12,
    pagesSkipped: 0,
    bytesSent: 53_248,
    pagesDirtied: 0,
    durationUs: 50,
    stateBytes: 4_096
  },
  { atUs: 2_200, op: "migration-phase-completed", migration: "rec-1", phase: "restore", durationUs: 100 },
  { atUs: 2_200, op: "migration-committed", migration: "rec-1" },
  { atUs: 3_000, op: "migration-started", migration: "rec-2", vm: "c", to: "h3", policy: "xen" },
  {
    atUs: 3_100,
    op: "migration-round-interrupted",
    migration: "rec-2",
    round: 1,
    live: true,
    pagesSent: 24,
    pagesSkipped: 0,
    bytesSent: 100_000,
    durationUs: 100
  },
  { atUs: 3_100, op: "migration-aborted", migration: "rec-2", reason: "operator" },
  { atUs: 4_000, op: "slow-link", host: "h1", percent: 50 },
  { atUs: 5_000, op: "restore-link", host: "h1" },
  { atUs: 6_000, op: "fail-link", host: "h2" },
  { atUs: 6_000, op: "restore-link", host: "h2" },
  { atUs: 7_000, op: "suspend-vm", vm: "b" },
  { atUs: 8_000, op: "resume-vm", vm: "b", host: "h2" },
  { atUs: 9_000, op: "shutdown-vm", vm: "b", hard: true },
  { atUs: 10_000, op: "destroy-vm", vm: "b" },
  { atUs: 11_000, op: "fail-host", host: "h3" },
  { atUs: 12_000, op: "recover-host", host: "h3" },
  { atUs: 13_000, op: "evacuate", host: "h2" },
  { atUs: 14_000, op: "rolling-maintenance", hosts: ["h3"], maintenance: "1ms" },
  { atUs: 20_000, op: "set-vm-ha", vm: "a", restartPriority: "restart", order: 1, alwaysRun: true },
  { atUs: 20_000, op: "enable-ha", hostFailuresToTolerate: 0, livenessTimeout: "30s" },
  { atUs: 21_000, op: "set-ha-failures-to-tolerate", hostFailuresToTolerate: 1 },
  { atUs: 22_000, op: "ha-restart-failed", vm: "a", reason: "no host can take VM a", retryAtUs: 142_000 },
  { atUs: 22_000, op: "disable-ha" },
  { atUs: 23_000, op: "fail-host", host: "h3", declared: true }
]

/** The kinds for paging and ballooning (docs/paging.md; replayed in context in test/paging/trace.test.ts). */
const paging: ReadonlyArray<TraceRecordInput> = [
  { atUs: 0, op: "set-paging-target", vm: "a", target: "2GiB" },
  { atUs: 0, op: "access", vm: "a", gfns: [1, 2] },
  { atUs: 0, op: "access", vm: "a", ranges: [[0, 9]] },
  { atUs: 0, op: "access", vm: "a", random: 100 },
  { atUs: 0, op: "set-balloon-target", vm: "a", target: "3GiB" },
  { atUs: 0, op: "pages-paged-out", vm: "a", pages: 100 },
  { atUs: 0, op: "pages-paged-in", vm: "a", pages: 10 },
  { atUs: 0, op: "page-faults-served", vm: "a", faults: 3, vcpuWaitUs: 300 },
  { atUs: 0, op: "balloon-inflated", vm: "a", releasedPages: 10, droppedPages: 2 },
  { atUs: 0, op: "balloon-deflated", vm: "a", pages: 10 }
]

const decodeRecord = Schema.decodeUnknownEither(TraceRecord, { onExcessProperty: "error" })

describe("every record kind", () => {
  it("the examples cover every op of the format", () => {
    expect(new Set([...supported, ...paging].map((r) => r.op))).toEqual(new Set(recordOps))
    expect(recordOps).toHaveLength(recordSchemas.length)
  })

  for (const record of [...supported, ...paging]) {
    it(`${record.op} parses and round-trips through the writer`, () => {
      expect(recordProblem(record)).toBeUndefined()
      const line = recordLine(record)
      expect(line.startsWith(`{"atUs":${record.atUs},"op":"${record.op}"`)).toBe(true)
      const parsed: unknown = JSON.parse(line)
      expect(parsed).toEqual(record)
      expect(Either.isRight(decodeRecord(parsed))).toBe(true)
    })
  }

  it("a trace of every supported kind validates and replays with no refusal", () => {
    const text = trace(header, supported)
    expect(firstError(text)).toBeUndefined()
    const { result, records, events } = replay(text)
    expect(records).toBe(supported.length)
    expect(result.refusals.map((r) => `${r.operation}: ${r.error.message}`)).toEqual([])
    const types = new Set(events.map((e) => e.event._tag))
    for (const type of ["HostJoined", "VmCreated", "VmMigrationCommitted", "VmMigrationAborted", "VmDestroyed"])
      expect(types).toContain(type)
    // evacuate: the VMs on h2 move away; rolling maintenance: h3 (still disabled since its recovery)
    // evacuated, kept 1 ms, enabled
    const enabled = events.filter((e) => e.event._tag === "HostEnabled" && e.event.atUs >= 14_000)
    expect(enabled.map((e) => e.event)).toEqual([expect.objectContaining({ atUs: 15_000, host: "h3" })])
    const evacuations = result.operations.filter(
      (o) => o.operation.startsWith("evacuate") || o.operation === "rolling maintenance"
    )
    expect(evacuations).toEqual([
      expect.objectContaining({ operation: "evacuate h2", ok: true }),
      expect.objectContaining({ operation: "evacuate h3", ok: true }),
      expect.objectContaining({ operation: "rolling maintenance", ok: true })
    ])
  })

  // since paging exists: each paging kind validates on its own (no longer "refused until paging exists")
  for (const record of paging) {
    it(`${record.op} validates`, () => {
      expect(firstError(trace(header, [record]))).toBeUndefined()
    })
  }
})

/** Variants of valid records that their schema refuses: the compiled predicate must refuse them too. */
const invalidVariants = (record: TraceRecordInput): ReadonlyArray<unknown> => {
  const fields = Object.keys(record).filter((k) => k !== "op")
  const variants: unknown[] = [
    { ...record, extra: 1 },
    { ...record, atUs: -1 },
    { ...record, atUs: 1.5 },
    { ...record, atUs: "0" },
    null,
    [record]
  ]
  for (const field of fields) {
    const { [field]: _removed, ...rest } = record as unknown as Record<string, unknown>
    variants.push(rest)
    variants.push({ ...record, [field]: { nested: true } })
    variants.push({ ...record, [field]: -7 })
    variants.push({ ...record, [field]: "" })
  }
  return variants
}

describe("the compiled predicate agrees with the schema", () => {
  const extra: ReadonlyArray<unknown> = [
    { atUs: 0, op: "write", vm: "a", gfns: [1, 2], ranges: [[1, 2]] },
    { atUs: 0, op: "write", vm: "a" },
    { atUs: 0, op: "write", vm: "a", ranges: [[5, 4]] },
    { atUs: 0, op: "write", vm: "a", ranges: [[5]] },
    { atUs: 0, op: "write", vm: "a", ranges: [[1, 2, 3]] },
    { atUs: 0, op: "write", vm: "a", gfns: [2 ** 31] },
    { atUs: 0, op: "write", vm: "a", gfns: [] },
    { atUs: 0, op: "write", vm: "bad id!", gfns: [1] },
    { atUs: 0, op: "write", vm: "a", gfns: [2 ** 31 - 1, 0, -0] },
    { atUs: 2 ** 53, op: "pause-vm", vm: "a" },
    { atUs: 2 ** 53 - 1, op: "pause-vm", vm: "a" },
    { atUs: 0, op: "pages-paged-out", vm: "a", pages: 0 },
    { atUs: 0, op: "slow-link", host: "h1", percent: 1 },
    { atUs: 0, op: "slow-link", host: "h1", percent: 100 },
    { atUs: 0, op: "slow-link", host: "h1", percent: 0 },
    { atUs: 0, op: "slow-link", host: "h1", percent: 101 },
    { atUs: 0, op: "create-vm", vm: "c", memory: { target: "1GiB", colour: "red" } },
    { atUs: 0, op: "access", vm: "a", random: 0 },
    { atUs: 0, op: "access", vm: "a", random: 2 ** 24 },
    { atUs: 0, op: "access", vm: "a", random: 2 ** 24 + 1 },
    { atUs: 0, op: "access", vm: "a", random: 5, gfns: [1] },
    { atUs: 0, op: "access", vm: "a", ranges: [[1, 2]], gfns: [1] },
    { atUs: 0, op: "access", vm: "a" },
    { atUs: 0, op: "rolling-maintenance", hosts: [] },
    { atUs: 0, op: "rolling-maintenance", hosts: ["bad id!"] }
  ]
  it("on valid records, their invalid variants and edge cases", () => {
    let compared = 0
    for (const value of [...supported, ...paging, ...[...supported, ...paging].flatMap(invalidVariants), ...extra]) {
      const schemaSays = Either.isRight(decodeRecord(value))
      expect({ value, ok: recordProblem(value) === undefined }).toEqual({ value, ok: schemaSays })
      compared++
    }
    expect(compared).toBeGreaterThan(500)
  })
})

describe("the trace writer", () => {
  it("writes the header first and refuses a record that goes back in time", () => {
    const lines: string[] = []
    const writer = new TraceWriter((line) => lines.push(line), header)
    writer.record({ atUs: 5, op: "pause-vm", vm: "a" })
    expect(() => writer.record({ atUs: 4, op: "unpause-vm", vm: "a" })).toThrow(/after one at 5/)
    expect(JSON.parse(lines[0]!)).toMatchObject({ format: "xenpool-trace", version: 1, pool: { id: "t" } })
    expect(lines).toHaveLength(2)
  })

  it("refuses a record its schema refuses", () => {
    const bad = { atUs: 0, op: "write", vm: "a", gfns: [-1] } as unknown as TraceRecordInput
    expect(() => recordLine(bad)).toThrow(/gfns\[0\]/)
  })
})
