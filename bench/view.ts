/**
 * The view in a browser (Debian's Chromium through playwright-core), on the demo pool and on a pool of
 * 1,000,000 events (the fold benchmark's log: 64 hosts, 2,000 VMs, live migrations) in SQLite with its
 * snapshots:
 * - `view.firstPaint.demo` / `.1M`: from navigation to the hosts at the moment drawn (median of 5 loads);
 * - `view.overview.1M`: from navigation to the Gantt chart and the charts over time drawn (one load; the
 *   server reads the whole history once for them, then keeps the answer for that revision);
 * - `view.scrub.p50` / `.p99` (1M): from the slider's input event to the hosts drawn at the new moment,
 *   over 100 scrubs to seeded random times, beside `stateAt` alone at the same times in the same run
 *   (the ratio is what HTTP, JSON and the DOM add);
 * - `view.report.bytes.demo`: the size of `xenpool report`'s file for the demo pool.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect } from "effect"
import type { Page } from "playwright-core"
import { eventId, poolId, poolStreamName } from "../domain/ids.js"
import { Prng } from "../engine/prng.js"
import { snapshotEvents } from "../projections/snapshots.js"
import { stateAt } from "../projections/timeTravel.js"
import { EventStore, ExpectedRevision, type NewEvent } from "../store/EventStore.js"
import { layerSqlite } from "../store/sqlite.js"
import { generateFoldLog } from "./fold.js"
import { nowMs, percentile, withBaseline, type Benchmark, type BenchResult } from "./harness.js"
import { runXenpool } from "./killRuns.js"
import { launchChromium, startView } from "./viewBrowser.js"

const SEED = 20_261_207
const BIG_POOL = poolId("big")
const APPEND_BATCH_EVENTS = 10_000
const LOADS = 5
const SCRUBS = 100

/** The 1M-event pool in a SQLite file, with its snapshots, as `simulate` would leave it. */
const buildBigPool = (file: string) =>
  Effect.gen(function* () {
    const { events } = generateFoldLog()
    const store = yield* EventStore
    const ids = Prng.fromSeed(SEED).fork("bench.view.ids")
    for (let first = 0; first < events.length; first += APPEND_BATCH_EVENTS) {
      const slice = events.slice(first, first + APPEND_BATCH_EVENTS)
      const batch: NewEvent[] = slice.map((event, i) => ({ id: eventId(ids.orderedUuid(first + i)), event }))
      const expected = first === 0 ? ExpectedRevision.noStream : ExpectedRevision.at(first - 1)
      yield* store.append(poolStreamName(BIG_POOL), batch, expected)
    }
    yield* snapshotEvents(BIG_POOL, events)
    return { firstAtUs: events[0]!.atUs, lastAtUs: events[events.length - 1]!.atUs }
  }).pipe(Effect.provide(layerSqlite(file)))

type Figures = {
  firstPaintMs?: number
  scrubMs: number[]
  scrubFetchMs: number[]
  scrubDrawMs: number[]
  busy: number
}
const figuresOf = (page: Page) =>
  page.evaluate(() => (globalThis as unknown as { xenpoolFigures: Figures }).xenpoolFigures)

const median = (values: ReadonlyArray<number>) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!

const firstPaints = async (page: Page, url: string): Promise<number> => {
  const times: number[] = []
  for (let i = 0; i < LOADS; i++) {
    await page.goto(url)
    await page.waitForFunction(
      () => (globalThis as unknown as { xenpoolFigures: Figures }).xenpoolFigures.firstPaintMs !== undefined
    )
    times.push((await figuresOf(page)).firstPaintMs!)
  }
  return median(times)
}

/**
 * Scrubs to each time and waits for its drawing; the page times each from the input event. `settle`:
 * before each scrub, wait until the page is idle (the previous moment's events list and Gantt window
 * loaded), as a user pausing between moments; otherwise the scrubs follow each other at once, as a drag.
 */
const scrubLatencies = async (page: Page, times: ReadonlyArray<number>, settle: boolean): Promise<number[]> => {
  const before = (await figuresOf(page)).scrubMs.length
  for (const [i, atUs] of times.entries()) {
    if (settle)
      await page.waitForFunction(() => (globalThis as unknown as { xenpoolFigures: Figures }).xenpoolFigures.busy === 0)
    await page.locator("#time").fill(String(atUs))
    await page.waitForFunction(
      (n) => (globalThis as unknown as { xenpoolFigures: Figures }).xenpoolFigures.scrubMs.length >= n,
      before + i + 1
    )
  }
  return (await figuresOf(page)).scrubMs.slice(before)
}

/**
 * The server's answer at each time, fetched from Node (request, server, transfer, JSON.parse): the page's
 * endpoint (`hosts`) beside `at`'s whole document, at the same times in the same run. The last answer's size too.
 */
const answerLatencies = async (base: string, endpoint: "at" | "hosts", times: ReadonlyArray<number>) => {
  const latencies: number[] = []
  let bytes = 0
  for (const atUs of times) {
    const start = nowMs()
    const response = await fetch(new URL(`api/pools/${BIG_POOL}/${endpoint}?t=${atUs}us`, base))
    const body = await response.text()
    JSON.parse(body)
    latencies.push(nowMs() - start)
    if (response.status !== 200) throw new Error(`bench: ${endpoint} answered ${response.status}`)
    bytes = Buffer.byteLength(body)
  }
  return { latencies: latencies.sort((a, b) => a - b), bytes }
}

const stateAtLatencies = (file: string, times: ReadonlyArray<number>) =>
  Effect.gen(function* () {
    const latencies: number[] = []
    for (const atUs of times) {
      const start = nowMs()
      yield* stateAt(BIG_POOL, { atUs })
      latencies.push(nowMs() - start)
    }
    return latencies.sort((a, b) => a - b)
  }).pipe(Effect.provide(layerSqlite(file)))

const round1 = (value: number) => Math.round(value * 10) / 10

export const viewBenchmarks: ReadonlyArray<Benchmark> = [
  {
    name: "view",
    run: async () => {
      const directory = fs.mkdtempSync(path.join(os.tmpdir(), "xenpool-bench-view-"))
      const demoStore = `sqlite:${path.join(directory, "demo.db")}`
      const bigFile = path.join(directory, "big.db")
      const browser = await launchChromium()
      const servers: Array<{ running: { stop: (signal: NodeJS.Signals) => void } }> = []
      try {
        if ((await runXenpool(["demo", "--store", demoStore])).code !== 0) throw new Error("bench: demo failed")
        const report = path.join(directory, "report.html")
        if ((await runXenpool(["report", "--pool", "rolling-1", "--store", demoStore, "--out", report])).code !== 0)
          throw new Error("bench: report failed")
        const reportBytes = fs.statSync(report).size
        const span = await Effect.runPromise(buildBigPool(bigFile))
        const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } })
        const demo = await startView(["--store", demoStore])
        servers.push(demo)
        const demoPaintMs = await firstPaints(page, `${demo.url}?pool=rolling-1&t=3m10s`)
        demo.running.stop("SIGINT")
        const big = await startView(["--store", `sqlite:${bigFile}`])
        servers.push(big)
        const bigUrl = `${big.url}?pool=${BIG_POOL}&t=${Math.round(span.lastAtUs / 2)}us`
        const loadStart = nowMs()
        await page.goto(bigUrl)
        await page.locator("#chart-memory canvas").first().waitFor({ timeout: 600_000 })
        const overviewMs = nowMs() - loadStart
        const bigPaintMs = await firstPaints(page, bigUrl)
        await page.locator("#chart-memory canvas").first().waitFor({ timeout: 600_000 })
        const prng = Prng.fromSeed(SEED).fork("bench.view.scrubs")
        const times = Array.from(
          { length: SCRUBS },
          () => span.firstAtUs + Math.floor(((span.lastAtUs - span.firstAtUs) * prng.nextInt(1_000_000)) / 1_000_000)
        )
        const settledBefore = (await figuresOf(page)).scrubMs.length
        const scrubs = (await scrubLatencies(page, times, true)).sort((a, b) => a - b)
        const split = await figuresOf(page)
        const scrubFetch = split.scrubFetchMs.slice(settledBefore).sort((a, b) => a - b)
        const scrubDraw = split.scrubDrawMs.slice(settledBefore).sort((a, b) => a - b)
        const bursts = (await scrubLatencies(page, times, false)).sort((a, b) => a - b)
        const atAnswers = await answerLatencies(big.url, "at", times)
        const hostsAnswers = await answerLatencies(big.url, "hosts", times)
        big.running.stop("SIGINT")
        const direct = await Effect.runPromise(stateAtLatencies(bigFile, times))
        const workload1M =
          "SQLite, one pool of 1,000,000 events (64 hosts, 2,000 VMs), snapshots every 1,000 events; Chromium headless"
        const directP50: BenchResult = {
          name: "view.stateAt.p50",
          workload: `${workload1M}; stateAt alone at the same ${SCRUBS} times`,
          value: round1(percentile(direct, 50)),
          unit: "ms"
        }
        const directP99: BenchResult = {
          name: "view.stateAt.p99",
          workload: `${workload1M}; stateAt alone, 99th percentile`,
          value: round1(percentile(direct, 99)),
          unit: "ms"
        }
        const atP50: BenchResult = {
          name: "view.answer.at.p50",
          workload: `${workload1M}; GET /api/pools/ID/at (at --json's whole document) at the same times from Node`,
          value: round1(percentile(atAnswers.latencies, 50)),
          unit: "ms"
        }
        return [
          {
            name: "view.firstPaint.demo",
            workload: `the demo pool (203 events), ?t=3m10s: navigation to the hosts drawn, median of ${LOADS}`,
            value: round1(demoPaintMs),
            unit: "ms"
          },
          {
            name: "view.firstPaint.1M",
            workload: `${workload1M}; navigation to the hosts drawn, median of ${LOADS}`,
            value: round1(bigPaintMs),
            unit: "ms"
          },
          {
            name: "view.overview.1M",
            workload: `${workload1M}; navigation to the charts over time drawn (the server's first read of the whole history)`,
            value: round1(overviewMs),
            unit: "ms"
          },
          withBaseline(
            {
              name: "view.scrub.p50",
              workload: `${workload1M}; ${SCRUBS} scrubs to random times, the page idle before each: input event to hosts drawn`,
              value: round1(percentile(scrubs, 50)),
              unit: "ms"
            },
            directP50
          ),
          withBaseline(
            {
              name: "view.scrub.p99",
              workload: `${workload1M}; ${SCRUBS} scrubs, 99th percentile`,
              value: round1(percentile(scrubs, 99)),
              unit: "ms"
            },
            directP99
          ),
          withBaseline(
            {
              name: "view.scrub.burst.p50",
              workload: `${workload1M}; the same ${SCRUBS} scrubs one after the other (a drag): input event to hosts drawn`,
              value: round1(percentile(bursts, 50)),
              unit: "ms"
            },
            directP50
          ),
          withBaseline(
            {
              name: "view.scrub.burst.p99",
              workload: `${workload1M}; the same scrubs one after the other, 99th percentile`,
              value: round1(percentile(bursts, 99)),
              unit: "ms"
            },
            directP99
          ),
          {
            name: "view.scrub.fetch.p50",
            workload: `${workload1M}; of the idle scrubs: input event to the answer parsed (the page's own split)`,
            value: round1(percentile(scrubFetch, 50)),
            unit: "ms"
          },
          {
            name: "view.scrub.draw.p50",
            workload: `${workload1M}; of the idle scrubs: the answer parsed to the hosts drawn (the page's own split)`,
            value: round1(percentile(scrubDraw, 50)),
            unit: "ms"
          },
          withBaseline(
            {
              name: "view.answer.hosts.p50",
              workload: `${workload1M}; GET /api/pools/ID/hosts at the same ${SCRUBS} times from Node: request to JSON parsed`,
              value: round1(percentile(hostsAnswers.latencies, 50)),
              unit: "ms"
            },
            atP50
          ),
          atP50,
          withBaseline(
            {
              name: "view.answer.hosts.bytes",
              workload: `${workload1M}; the hosts endpoint's answer at the last time`,
              value: hostsAnswers.bytes,
              unit: "bytes"
            },
            {
              name: "view.answer.at.bytes",
              workload: `${workload1M}; the at endpoint's answer at the last time`,
              value: atAnswers.bytes,
              unit: "bytes"
            }
          ),
          directP50,
          directP99,
          {
            name: "view.report.bytes.demo",
            workload: "xenpool report --pool rolling-1 (the demo pool): the HTML file",
            value: reportBytes,
            unit: "bytes"
          }
        ]
      } finally {
        for (const server of servers) server.running.stop("SIGKILL")
        await browser.close()
        fs.rmSync(directory, { recursive: true, force: true })
      }
    }
  }
]
