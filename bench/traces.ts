/**
 * Trace replay benchmarks (issue 4's closing figures): records per second replaying a generated
 * 1,000,000-line trace into the memory store (the one pass of `xenpool replay` that reads, validates,
 * runs and appends), validation alone for comparison, and the peak memory of the process. The replay
 * runs in a child process (bench/traceReplayChild.ts) through the same function as `xenpool replay`,
 * so its peak RSS is the replay's alone.
 *
 * The series (issue 18): the same trace at 100,000, 1,000,000 and 10,000,000 lines, each point against
 * the one before (10x the records): `trace.replay.recordsPerSecond.<N>` (flat when linear),
 * `trace.replay.cpu.recordsPerSecond.<N>` and `trace.replay.peakRssMiB.<N>`. The 1,000,000-line point is
 * the run the figures above come from.
 *
 * The trace: 16 hosts, 192 VMs of 256 MiB in the `pages` model; 96 % page writes (8 gfns or a range of
 * 8 pages, to a random VM), 4 % pauses and unpauses (of half the VMs), 0.1 % link slowdowns and
 * restores, and a live migration (of the other half) every 10,000 records; 10 µs of simulated time
 * between records (10 s in all). Each migration sends its 65,536 pages one by one (the pages model).
 */
import { spawnSync } from "node:child_process"
import { closeSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { Prng } from "../engine/prng.js"
import { headerLine, recordLine, type TraceHeaderInput, type TraceRecordInput } from "../simulations/trace.js"
import { withBaseline, type Benchmark, type BenchResult } from "./harness.js"

const TRACE_LINES = 1_000_000
/** The series' lengths, each 10x the one before. */
const SERIES: ReadonlyArray<{ readonly label: string; readonly lines: number }> = [
  { label: "100k", lines: 100_000 },
  { label: "1M", lines: TRACE_LINES },
  { label: "10M", lines: 10_000_000 }
]
const HOSTS = 16
const VMS = 192
const VM_PAGES = 65_536
const RECORD_SPACING_US = 10
const MIGRATE_EVERY_RECORDS = 10_000

const header: TraceHeaderInput = {
  name: "bench: page writes, VM operations, link faults and migrations",
  seed: 1,
  pool: {
    id: "trace-bench",
    linkLatency: "100us",
    hosts: [{ id: "h", count: HOSTS, memory: "64GiB", overhead: "2GiB", nic: "10Gbit/s" }],
    vms: Array.from({ length: VMS }, (_, i) => ({
      id: `v${i + 1}`,
      memory: `${VM_PAGES}pages`,
      host: `h${(i % HOSTS) + 1}`,
      workload: { model: "pages" as const, dirtyRate: "0B/s" }
    }))
  }
}

/** The record at position i (1-based after the header): deterministic from the PRNG. */
const makeRecord = (i: number, prng: Prng, location: Int32Array, paused: Uint8Array): TraceRecordInput => {
  const atUs = i * RECORD_SPACING_US
  const vmIndex = prng.nextInt(VMS)
  const vm = `v${vmIndex + 1}`
  if (i % MIGRATE_EVERY_RECORDS === 0) {
    // The first half of the VMs migrates, the second half is paused and unpaused: no refusals.
    const migrating = prng.nextInt(VMS / 2)
    const to = (location[migrating]! + 1 + prng.nextInt(HOSTS - 1)) % HOSTS
    location[migrating] = to
    return { atUs, op: "migrate", vm: `v${migrating + 1}`, to: `h${to + 1}` }
  }
  const roll = prng.nextInt(100)
  if (roll < 4) {
    const pausing = VMS / 2 + prng.nextInt(VMS / 2)
    paused[pausing] ^= 1
    return { atUs, op: paused[pausing] === 1 ? "pause-vm" : "unpause-vm", vm: `v${pausing + 1}` }
  }
  if (roll === 4 && prng.nextInt(10) === 0) {
    const host = `h${prng.nextInt(HOSTS) + 1}`
    return prng.nextInt(2) === 0 ? { atUs, op: "slow-link", host, percent: 50 } : { atUs, op: "restore-link", host }
  }
  if (roll < 50) {
    const first = prng.nextInt(VM_PAGES - 8)
    return { atUs, op: "write", vm, ranges: [[first, first + 7]] }
  }
  return { atUs, op: "write", vm, gfns: Array.from({ length: 8 }, () => prng.nextInt(VM_PAGES)) }
}

/** Writes the trace with the trace writer's line functions, in 4 MiB chunks. */
const writeBenchTrace = (path: string, lines = TRACE_LINES): void => {
  const fd = openSync(path, "w")
  const prng = Prng.fromSeed(42).fork("bench-trace")
  const location = Int32Array.from({ length: VMS }, (_, i) => i % HOSTS)
  const paused = new Uint8Array(VMS)
  let chunk: string[] = [headerLine(header)]
  let size = 0
  for (let i = 1; i < lines; i++) {
    const line = recordLine(makeRecord(i, prng, location, paused))
    chunk.push(line)
    size += line.length
    if (size > 4 << 20) {
      writeSync(fd, `${chunk.join("\n")}\n`)
      chunk = []
      size = 0
    }
  }
  if (chunk.length > 0) writeSync(fd, `${chunk.join("\n")}\n`)
  closeSync(fd)
}

interface ChildReport {
  readonly records: number
  readonly events: number
  readonly validateMs: number
  readonly replayMs: number
  readonly cpuMs: number
  readonly maxRssKiB: number
}

/** The child's report, or why it failed (the last lines of its stderr: an out-of-memory abort at 10M). */
const runChild = (path: string): ChildReport | { readonly failed: string } => {
  const child = resolve(import.meta.dirname, "traceReplayChild.js")
  const result = spawnSync(process.execPath, [child, path], { encoding: "utf8", maxBuffer: 1 << 24 })
  if (result.status !== 0) {
    const said = `${result.stderr || result.stdout}`.trim().split("\n").slice(-3).join(" / ")
    return { failed: `exit ${result.status ?? result.signal}: ${said}` }
  }
  return JSON.parse(result.stdout) as ChildReport
}

const count = (n: number) => n.toLocaleString("en-US")

const perSecond = (records: number, ms: number) => Math.round((records * 1000) / ms)

const mib = (kib: number) => Math.round((kib / 1024) * 10) / 10

/** Writes the trace of `lines` lines in a temp directory, replays it in a child and removes it. */
const replayPoint = (lines: number) => {
  const dir = mkdtempSync(join(tmpdir(), "xenpool-bench-trace-"))
  try {
    const path = join(dir, "bench.jsonl")
    process.stderr.write(`  trace.replay: writing and replaying ${count(lines)} lines ...\n`)
    writeBenchTrace(path, lines)
    const bytes = statSync(path).size
    return { report: runChild(path), bytes }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

interface SeriesPoint {
  readonly rate: BenchResult
  readonly cpu: BenchResult
  readonly rss: BenchResult
}

const seriesPoint = (label: string, lines: number, report: ChildReport, bytes: number): SeriesPoint => {
  const trace = `${count(lines)}-line trace of ${count(Math.round(bytes / 1_048_576))} MiB (${count(report.records)} records → ${count(report.events)} events) into memory`
  return {
    rate: {
      name: `trace.replay.recordsPerSecond.${label}`,
      workload: `${trace}: wall time`,
      value: perSecond(report.records, report.replayMs),
      unit: "records/s"
    },
    cpu: {
      name: `trace.replay.cpu.recordsPerSecond.${label}`,
      workload: `${trace}: CPU time`,
      value: perSecond(report.records, report.cpuMs),
      unit: "records/s"
    },
    rss: {
      name: `trace.replay.peakRssMiB.${label}`,
      workload: `${trace}: peak RSS of the child`,
      value: mib(report.maxRssKiB),
      unit: "MiB"
    }
  }
}

const againstPrevious = (point: SeriesPoint, previous: SeriesPoint | undefined): ReadonlyArray<BenchResult> => {
  if (previous === undefined) return [point.rate, point.cpu, point.rss]
  const step = "; 10x the records of the point before"
  return [
    withBaseline({ ...point.rate, workload: point.rate.workload + step }, previous.rate),
    withBaseline({ ...point.cpu, workload: point.cpu.workload + step }, previous.cpu),
    withBaseline({ ...point.rss, workload: point.rss.workload + step }, previous.rss)
  ]
}

/** The figures of the 1,000,000-line run, under the names they had before the series. */
const fullSet = (report: ChildReport): ReadonlyArray<BenchResult> => {
  const workload = `${count(TRACE_LINES)}-line generated trace (${count(report.records)} records → ${count(report.events)} events), ${HOSTS} hosts, ${VMS} VMs, pages model; read, validate, run and append to the memory store in one pass`
  return [
    {
      name: "trace.replay.recordsPerSecond",
      workload: `${workload} (target ≥ 200,000)`,
      value: perSecond(report.records, report.replayMs),
      unit: "records/s"
    },
    {
      name: "trace.replay.cpu.recordsPerSecond",
      workload: `the same replay per second of CPU time (user + system): the figure a busy machine does not distort`,
      value: perSecond(report.records, report.cpuMs),
      unit: "records/s"
    },
    {
      name: "trace.replay.validate.recordsPerSecond",
      workload: `validation alone (schema, order, ids, gfns; no engine) over the same trace`,
      value: perSecond(report.records, report.validateMs),
      unit: "records/s"
    },
    {
      name: "trace.replay.peakRssMiB",
      workload: `peak resident memory of the process that validated, then replayed the same trace (target < 500)`,
      value: mib(report.maxRssKiB),
      unit: "MiB"
    }
  ]
}

const replayBenchmark: Benchmark = {
  name: "trace.replay",
  run: async () => {
    const full: BenchResult[] = []
    const series: BenchResult[] = []
    let previous: SeriesPoint | undefined
    for (const { label, lines } of SERIES) {
      const { report, bytes } = replayPoint(lines)
      if ("failed" in report) {
        series.push({
          name: `trace.replay.recordsPerSecond.${label}`,
          workload: `${count(lines)}-line trace of ${count(Math.round(bytes / 1_048_576))} MiB: the replay failed (${report.failed})`,
          value: Number.NaN,
          unit: "records/s"
        })
        break
      }
      if (lines === TRACE_LINES) full.push(...fullSet(report))
      const point = seriesPoint(label, lines, report, bytes)
      series.push(...againstPrevious(point, previous))
      previous = point
    }
    return [...full, ...series]
  }
}

export const traceBenchmarks: ReadonlyArray<Benchmark> = [replayBenchmark]
