/**
 * Page writes from a trace during a migration in the `pages` model. The replay reads the trace lazily,
 * one slice ahead of the clock; these tests hold it to the machine that knows every write from the
 * start (engine/migration: the same pre-copy machine with a plain `traceWriter`), round by round, for
 * every policy, with and without the workload's own generated writes. The engine checks at every commit
 * that the destination has every page's last version (no lost writes) and runs in debug mode here.
 */
import { describe, expect, it } from "vitest"
import type { VmMigrationRoundCompleted } from "../../domain/events.js"
import {
  bytesPerSAsWrites,
  createPrecopy,
  driveAtConstantRate,
  mergeWriters,
  phasesFor,
  policyByName,
  traceWriter,
  uniformWriter,
  type PageWriter,
  type PhasesChoice,
  type TraceWrite
} from "../../engine/migration/index.js"
import { Prng } from "../../engine/prng.js"
import { WriteQueue } from "../../simulations/trace/feed.js"
import type { TraceRecordInput } from "../../simulations/trace.js"
import { replay, smallPool, trace } from "./helpers.js"

const PAGE = 4096
const MEMORY_PAGES = 16_384 // 64 MiB
const LINK_BYTES_PER_S = 1_250_000_000 // 10 Gbit/s, both NICs
const START_US = 1_000_000
const SEED = 7

/** Writes from the trace: single gfns, lists and ranges, at distinct and shared times. */
const traceRecords = (): { records: TraceRecordInput[]; writes: TraceWrite[] } => {
  const records: TraceRecordInput[] = [{ atUs: 500_000, op: "write", vm: "a", gfns: [1, 2, 3] }]
  const writes: TraceWrite[] = []
  records.push({ atUs: START_US, op: "migrate", vm: "a", to: "h2" })
  for (let i = 0; i < 1_500; i++) {
    const atUs = START_US + 40 + i * 97
    if (i % 10 === 0) {
      const first = (i * 31) % (MEMORY_PAGES - 8)
      records.push({ atUs, op: "write", vm: "a", ranges: [[first, first + 7]] })
      for (let g = first; g <= first + 7; g++) writes.push({ gfn: g, atUs })
    } else {
      const gfns = [(i * 7_919) % MEMORY_PAGES, (i * 104_729) % MEMORY_PAGES]
      records.push({ atUs, op: "write", vm: "a", gfns })
      for (const gfn of gfns) writes.push({ gfn, atUs })
    }
    // Other records in between, so that slices are not all writes.
    if (i % 100 === 50) records.push({ atUs, op: "pause-vm", vm: "idle" }, { atUs, op: "unpause-vm", vm: "idle" })
  }
  return { records, writes }
}

const vm = (dirtyRate: string) => ({
  id: "a",
  memory: "64MiB",
  host: "h1",
  workload: { model: "pages" as const, dirtyRate, workingSet: "50%" }
})
const idle = { id: "idle", memory: "64MiB", host: "h2" }

/** The machine that knows every write from the start, on a link of constant bandwidth. */
const oracleRounds = (
  policy: string,
  writes: ReadonlyArray<TraceWrite>,
  dirtyRateBytesPerS: number,
  phases: PhasesChoice = "default"
) => {
  let writer: PageWriter = traceWriter(writes)
  if (dirtyRateBytesPerS > 0) {
    const generated = uniformWriter({
      prng: Prng.fromSeed(SEED).fork("migration:m1").fork("writer"),
      rate: bytesPerSAsWrites(dirtyRateBytesPerS, PAGE),
      memoryPages: MEMORY_PAGES,
      workingSetPages: MEMORY_PAGES / 2,
      startUs: START_US
    })
    writer = mergeWriters(generated, writer)
  }
  const precopy = createPrecopy({
    memoryPages: MEMORY_PAGES,
    pageSizeBytes: PAGE,
    policy: policyByName(policy),
    model: { kind: "pages", writer },
    latencyUs: 0,
    startUs: START_US,
    // with phases, setup first: writes during it are settled, log-dirty is not on yet
    phases: phasesFor(policyByName(policy), phases)
  })
  driveAtConstantRate(precopy, LINK_BYTES_PER_S, 10_000)
  return precopy.rounds().map((r) => ({
    live: r.live,
    pagesSent: r.pagesSent,
    pagesSkipped: r.pagesSkipped,
    durationUs: r.durationUs,
    pagesDirtied: r.dirtyPagesAfter
  }))
}

const replayedRounds = (text: string, options: { readAheadRecordsMax?: number } = {}) => {
  const { events, result } = replay(text, { seed: SEED, ...options })
  expect(result.refusals).toEqual([])
  const rounds = events
    .map((e) => e.event)
    .filter((e): e is VmMigrationRoundCompleted => e._tag === "VmMigrationRoundCompleted")
    .map((r) => ({
      live: r.live,
      pagesSent: r.pagesSent,
      pagesSkipped: r.pagesSkipped,
      durationUs: r.durationUs,
      pagesDirtied: r.pagesDirtied
    }))
  const committed = events.some((e) => e.event._tag === "VmMigrationCommitted")
  return { rounds, committed }
}

describe("page writes from a trace reach the migration, exactly as if every write were known up front", () => {
  const { records, writes } = traceRecords()
  const during = writes.filter((w) => w.atUs > START_US)

  for (const name of ["xen", "xen-legacy", "max-downtime"] as const) {
    for (const phases of ["none", "default"] as const) {
      const policy = { name, phases }
      it(`${name}, phases ${phases}: trace writes only`, () => {
        const text = trace({ ...smallPool([vm("0B/s"), idle]), seed: SEED, policy }, records)
        const replayed = replayedRounds(text)
        expect(replayed.committed).toBe(true)
        expect(replayed.rounds).toEqual(oracleRounds(name, during, 0, phases))
      })

      it(`${name}, phases ${phases}: trace writes merged with the workload's generated writes`, () => {
        const text = trace({ ...smallPool([vm("40MiB/s"), idle]), seed: SEED, policy }, records)
        const replayed = replayedRounds(text)
        expect(replayed.committed).toBe(true)
        expect(replayed.rounds).toEqual(oracleRounds(name, during, 40 * 2 ** 20, phases))
      })
    }
  }

  it("the same with one record per read (slices at distinct times read in parts change nothing)", () => {
    const text = trace({ ...smallPool([vm("40MiB/s"), idle]), seed: SEED, policy: "xen-legacy" }, records)
    expect(replayedRounds(text, { readAheadRecordsMax: 1 }).rounds).toEqual(
      oracleRounds("xen-legacy", during, 40 * 2 ** 20)
    )
  })

  it("round 1 finds exactly the pages written during it dirty (xen, the pure model, by hand)", () => {
    // without phases: the trace's writes (all within 146 ms of the start) fall in round 1, not in a setup
    const policy = { name: "xen" as const, phases: "none" as const }
    const text = trace({ ...smallPool([vm("0B/s"), idle]), seed: SEED, policy }, records)
    const [first, second] = replayedRounds(text).rounds
    // 16384 pages of 4 KiB at 1.25 GB/s: ceil(67108864 × 10^6 / 1.25 × 10^9) µs.
    expect(first!.durationUs).toBe(53_688)
    const endUs = START_US + first!.durationUs
    const written = new Set(during.filter((w) => w.atUs <= endUs).map((w) => w.gfn))
    expect(written.size).toBeGreaterThan(500)
    expect(first!.pagesDirtied).toBe(written.size)
    expect(second!.pagesSent).toBe(written.size)
  })
})

describe("the write queue of a VM", () => {
  it("keeps no writes that are past while no migration consumes them", () => {
    const queue = new WriteQueue()
    for (let t = 0; t < 10_000; t++) queue.push(t, t % 100, t % 100, t)
    expect(queue.size).toBe(1)
  })

  it("gives writes in order, ranges expanded, and drops gfns beyond the attached machine's memory", () => {
    const queue = new WriteQueue()
    queue.push(5, 8, 11, 0)
    queue.push(6, 3, 3, 0)
    queue.attach(10)
    const seen: Array<[number, number]> = []
    while (queue.size > 0) {
      seen.push([queue.atUs, queue.gfn])
      queue.next()
    }
    expect(seen).toEqual([
      [5, 8],
      [5, 9],
      [6, 3]
    ])
  })
})

describe("a hand-written trace", () => {
  // The pure model (phases none), timed by hand. A 64 MiB VM migrates at 1 s; round 1 (all 16,384 pages at 1.25 GB/s) lasts 53,688 µs. During it the
  // guest writes 100 pages (gfns 0–99, already sent) and gfns 16,000 and 16,383 (not yet sent); after it,
  // round 2 sends exactly those 102 pages, and the destination must end with every last version.
  const text = [
    `{"format":"xenpool-trace","version":1,"seed":1,"policy":{"name":"xen","phases":"none"},"pool":{"id":"hand","linkLatency":"0us","hosts":[{"id":"h","count":2,"memory":"64GiB","overhead":"2GiB","nic":"10Gbit/s"}],"vms":[{"id":"a","memory":"64MiB","host":"h1","workload":{"model":"pages","dirtyRate":"0B/s"}}]}}`,
    `{"atUs":1000000,"op":"migrate","vm":"a","to":"h2"}`,
    `{"atUs":1040000,"op":"write","vm":"a","ranges":[[0,99]]}`,
    `{"atUs":1040000,"op":"write","vm":"a","gfns":[16000,16383]}`,
    `{"atUs":1050000,"op":"write","vm":"a","gfns":[5,16000]}`,
    ""
  ].join("\n")

  it("its writes reach round 2 and the destination", () => {
    const { events } = replay(text)
    const rounds = events
      .map((e) => e.event)
      .filter((e): e is VmMigrationRoundCompleted => e._tag === "VmMigrationRoundCompleted")
    expect(rounds.map((r) => [r.round, r.live, r.pagesSent, r.pagesDirtied])).toEqual([
      [1, true, 16_384, 102],
      [2, true, 102, 0],
      [3, false, 0, 0]
    ])
    expect(events.at(-1)!.event).toMatchObject({ _tag: "VmMigrationCommitted", vm: "a", destination: "h2" })
  })
})
