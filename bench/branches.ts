/**
 * What a branch costs (docs/branches.md): the rows and bytes a fork stores against a copy of the prefix
 * it shares, and time travel on the branch against the same queries on its parent, on a SQLite store.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import Database from "better-sqlite3"
import * as Api from "../api/index.js"
import { nowMs, percentile, withBaseline, type Benchmark, type BenchResult } from "./harness.js"
import type { Scenario } from "../simulations/scenario.js"
import { rollingScenario, rollingVms } from "./engine.js"
import { busyPaging, manyMigrations, writeScenario } from "./workloads.js"

/** Migrations of the workload: about 8 events each (160,085 events for 20,000). */
const MIGRATIONS = 20_000
/** Where the branch leaves its parent: this share of the parent's events. */
const FORK_SHARE = 0.9
/** Where the early branch leaves its parent: this share of the parent's events. */
const EARLY_SHARE = 0.1
/** Time-travel queries per pool, spread over the shared prefix. */
const QUERIES = 40

const rowCost = (db: Database.Database, where = "1", params: ReadonlyArray<unknown> = []) =>
  db
    .prepare(
      `SELECT count(*) AS rows, coalesce(sum(length(data) + length(id) + length(type) + length(stream)), 0) AS bytes FROM events WHERE ${where}`
    )
    .get(...params) as { rows: number; bytes: number }

const stateAtP50Ms = async (store: Api.Store, pool: string, timesUs: ReadonlyArray<number>): Promise<number> => {
  await Api.stateAt(store, pool, { atUs: timesUs[0]! })
  const ms: number[] = []
  for (const atUs of timesUs) {
    const start = nowMs()
    await Api.stateAt(store, pool, { atUs })
    ms.push(nowMs() - start)
  }
  return percentile(
    ms.sort((a, b) => a - b),
    50
  )
}

const run = async (): Promise<ReadonlyArray<BenchResult>> => {
  const dir = mkdtempSync(join(tmpdir(), "xenpool-bench-branches-"))
  try {
    const file = join(dir, "branches.db")
    const store = await Api.openStore(`sqlite:${file}`)
    try {
      const parent = await Api.simulate(writeScenario(dir, manyMigrations(MIGRATIONS)), { store })
      const revision = Math.floor(parent.events * FORK_SHARE)
      const db = new Database(file, { readonly: true })
      const before = rowCost(db)
      const prefix = rowCost(db, "stream = ? AND revision <= ?", [`pool-${parent.pool}`, revision])
      const start = nowMs()
      const branch = await Api.fork(store, parent.pool, { revision }, "branch")
      const forkMs = nowMs() - start
      const after = rowCost(db)
      db.close()
      const timesUs = Array.from({ length: QUERIES }, (_, i) => Math.floor((branch.atUs * (i + 0.5)) / QUERIES))
      const parentMs = await stateAtP50Ms(store, parent.pool, timesUs)
      const branchMs = await stateAtP50Ms(store, branch.pool, timesUs)
      // A branch made early and run on: most of its history is its own events, served by its own snapshots.
      const early = await Api.fork(store, parent.pool, { revision: Math.floor(parent.events * EARLY_SHARE) }, "probe")
      await Api.fork(store, parent.pool, { atUs: early.atUs }, "early")
      const ownRun = await Api.continuePool(store, "early", [])
      const firstOwnStart = nowMs()
      const endUs = (await Api.stateAt(store, "early", { revision: ownRun.lastRevision })).atUs
      const firstOwnMs = nowMs() - firstOwnStart
      const ownTimesUs = Array.from({ length: QUERIES }, (_, i) =>
        Math.floor(early.atUs + ((endUs - early.atUs) * (i + 0.5)) / QUERIES)
      )
      const ownParentMs = await stateAtP50Ms(store, parent.pool, ownTimesUs)
      const ownBranchMs = await stateAtP50Ms(store, "early", ownTimesUs)
      const ownWorkload = `a branch forked at ${Math.round(EARLY_SHARE * 100)} % of manyMigrations(${MIGRATIONS}) and run on: ${ownRun.events.toLocaleString("en-US")} events of its own after its fork; ${QUERIES} times over them`
      const workload = `manyMigrations(${MIGRATIONS}): ${parent.events} events on SQLite, forked at revision ${revision}`
      const copyRows: BenchResult = {
        name: "branches.copy.rows",
        workload,
        value: prefix.rows,
        unit: "rows"
      }
      const copyBytes: BenchResult = { name: "branches.copy.bytes", workload, value: prefix.bytes, unit: "B" }
      const parentQuery: BenchResult = {
        name: "branches.stateAt.parent.p50",
        workload: `${workload}; ${QUERIES} times over the shared prefix`,
        value: parentMs,
        unit: "ms"
      }
      return [
        withBaseline({ name: "branches.fork.rows", workload, value: after.rows - before.rows, unit: "rows" }, copyRows),
        withBaseline(
          { name: "branches.fork.bytes", workload, value: after.bytes - before.bytes, unit: "B" },
          copyBytes
        ),
        { name: "branches.fork.time", workload, value: forkMs, unit: "ms" },
        withBaseline({ ...parentQuery, name: "branches.stateAt.branch.p50", value: branchMs }, parentQuery),
        {
          name: "branches.stateAt.own.first",
          workload: `${ownWorkload}: the first query, which keeps the branch's own snapshots first`,
          value: firstOwnMs,
          unit: "ms"
        },
        withBaseline(
          { name: "branches.stateAt.own.p50", workload: ownWorkload, value: ownBranchMs, unit: "ms" },
          { name: "branches.stateAt.own.parent.p50", workload: ownWorkload, value: ownParentMs, unit: "ms" }
        )
      ]
    } finally {
      await store.close()
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** Pool sizes of the continue series: about 8 events per migration, so about 100k and 1M events. */
const CONTINUE_MIGRATIONS = [12_500, 125_000] as const
/** Continuations from the rest timed at each size, after a first one. */
const CONTINUE_REPEATS = 5

/**
 * What continuing a pool costs (docs/branches.md): one operation at the end of a pool of N events on
 * SQLite, at two sizes ten times apart. From the engine at rest the run kept at its end (the default),
 * it reads the events after that rest and reruns nothing before it; from the pool's start (`fromRest:
 * false`, the baseline, on the same pool right after), it reads the whole log and reruns its input
 * (simulations/resume.ts). The run that wrote the pool is the scale.
 */
const continueSeries = async (): Promise<ReadonlyArray<BenchResult>> => {
  const results: BenchResult[] = []
  let previous: { readonly events: number; readonly ms: number } | undefined
  for (const migrations of CONTINUE_MIGRATIONS) {
    const dir = mkdtempSync(join(tmpdir(), "xenpool-bench-continue-"))
    try {
      const store = await Api.openStore(`sqlite:${join(dir, "continue.db")}`)
      try {
        const started = nowMs()
        const parent = await Api.simulate(writeScenario(dir, manyMigrations(migrations)), { store })
        const runMs = nowMs() - started
        const timed = async (operation: Parameters<typeof Api.continuePool>[2][number], fromRest: boolean) => {
          const start = nowMs()
          const out = await Api.continuePool(store, parent.pool, [operation], { fromRest })
          return { out, ms: nowMs() - start }
        }
        // The first continuation after the run also pays for SQLite's checkpoint of the run's write-ahead
        // log and for the JIT: reported on its own; the figure is the median of the next ones.
        const first = await timed({ op: "disable-host", host: "h1" }, true)
        const next = []
        for (let i = 0; i < CONTINUE_REPEATS; i++)
          next.push(await timed({ op: i % 2 === 0 ? "enable-host" : "disable-host", host: "h1" }, true))
        const rested = [...next].sort((a, b) => a.ms - b.ms)[Math.floor(next.length / 2)]!
        const whole = await timed({ op: "disable-host", host: "h1" }, false)
        const size = `manyMigrations(${migrations}): ${parent.events.toLocaleString("en-US")} events on SQLite`
        const run: BenchResult = {
          name: `branches.continue.run.${parent.events}`,
          workload: `the run that wrote the pool: ${size}`,
          value: runMs,
          unit: "ms"
        }
        const fromStart: BenchResult = {
          name: `branches.continue.fromStart.${parent.events}`,
          workload: `${size}, one disable-host at its end (${whole.out.events} new event(s)), the engine rebuilt from the pool's start: ${whole.out.rebuilt.eventsRead.toLocaleString("en-US")} events read`,
          value: whole.ms,
          unit: "ms"
        }
        const fromRest = withBaseline(
          {
            name: `branches.continue.${parent.events}`,
            workload: `${size}, one operation at its end (${rested.out.events} new event(s)), the engine rebuilt from its rest at @${rested.out.rebuilt.restRevision}: ${rested.out.rebuilt.eventsRead.toLocaleString("en-US")} event(s) read; median of ${CONTINUE_REPEATS} continuations after a first one`,
            value: rested.ms,
            unit: "ms"
          },
          fromStart
        )
        const firstFromRest: BenchResult = {
          name: `branches.continue.first.${parent.events}`,
          workload: `the same, the first continuation after the run (SQLite checkpoints the run's write-ahead log, JIT warm-up): ${first.out.rebuilt.eventsRead} event(s) read`,
          value: first.ms,
          unit: "ms"
        }
        results.push(run, withBaseline(fromStart, run), fromRest, firstFromRest)
        if (previous !== undefined)
          results.push({
            name: "branches.continue.growth",
            workload: `continue time from the rest at ${parent.events.toLocaleString("en-US")} events / at ${previous.events.toLocaleString("en-US")} events (${(parent.events / previous.events).toFixed(1)}× the events before the rest, the same operation after it; near 1: proportional to what follows the rest)`,
            value: rested.ms / previous.ms,
            unit: "×"
          })
        previous = { events: parent.events, ms: rested.ms }
      } finally {
        await store.close()
      }
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }
  return results
}

/** A pool of the fork-inside series, at each of its sizes. */
interface InsideWorkload {
  readonly name: string
  readonly sizes: ReadonlyArray<number>
  readonly scenario: (size: number) => Scenario
  readonly says: (size: number) => string
}

/**
 * The fork-inside pools: migrations 300 ms apart, each over before the next (the engine rests between
 * them, nothing in flight); 50 ms apart, about four in flight at every moment (the engine rests with
 * migrations in flight, their machines as data); a pool under xenpaging whose pagers are never idle (the
 * memory model's work in flight as data); a rolling maintenance (an evacuation or a maintenance wait
 * under way at every moment, as data).
 */
const INSIDE_WORKLOADS: ReadonlyArray<InsideWorkload> = [
  {
    name: "",
    sizes: [12_500, 125_000],
    scenario: (n) => manyMigrations(n, "spaced", 300),
    says: (n) => `manyMigrations(${n}, 300 ms apart, each over before the next)`
  },
  {
    name: ".overlapping",
    sizes: [12_500, 125_000],
    scenario: (n) => manyMigrations(n, "overlapping", 50),
    says: (n) => `manyMigrations(${n}, 50 ms apart, about four always in flight)`
  },
  {
    name: ".paging",
    sizes: [12_000, 120_000],
    scenario: (n) => busyPaging(n),
    says: (n) =>
      `busyPaging(${n.toLocaleString("en-US")} guest accesses 5 ms apart on 40 VMs of 256 MiB paged to half: page-outs, page-ins and faults always in flight)`
  },
  {
    name: ".rolling",
    sizes: [256, 1024],
    scenario: (hosts) => rollingScenario(hosts) as unknown as Scenario,
    says: (hosts) => `rolling maintenance of ${hosts} hosts with ${rollingVms(hosts).toLocaleString("en-US")} VMs`
  }
]

/** Branches made and continued from the rest at each size; the figure is their median. */
const INSIDE_REPEATS = 3
/** Where the branch leaves its parent: this many events before the run's end, whatever the pool's size. */
const INSIDE_EVENTS_AFTER = 10_000

/** The first revision at or after `near` whose event is the last of its moment: a fork there can be continued. */
const momentEnd = async (store: Api.Store, pool: string, near: number): Promise<number> => {
  let previous: { readonly revision: number; readonly atUs: number } | undefined
  for await (const e of Api.events(store, pool, { from: Math.floor(near) })) {
    if (previous !== undefined && e.event.atUs !== previous.atUs) return previous.revision
    previous = { revision: e.revision, atUs: e.event.atUs }
  }
  return previous?.revision ?? near
}

/**
 * What a branch made inside a run costs to go on (docs/branches.md): a pool whose engine rests between
 * its operations, forked 10,000 events before the end of its run and continued with one operation (the
 * branch then runs the rest of the parent's schedule, its own future: the same work at both sizes). From
 * the run's last rest before the fork point (kept every 8,000 events: the default snapshot cadence's whole
 * states), against the same from the pool's start (the baseline, on the same pool, under another name).
 */
const forkInsideSeries = async (): Promise<ReadonlyArray<BenchResult>> => {
  const results: BenchResult[] = []
  for (const workload of INSIDE_WORKLOADS) results.push(...(await forkInside(workload)))
  return results
}

const forkInside = async (workload: InsideWorkload): Promise<ReadonlyArray<BenchResult>> => {
  const results: BenchResult[] = []
  let previous: { readonly events: number; readonly ms: number } | undefined
  for (const n of workload.sizes) {
    const dir = mkdtempSync(join(tmpdir(), "xenpool-bench-fork-inside-"))
    try {
      const store = await Api.openStore(`sqlite:${join(dir, "inside.db")}`)
      try {
        const parent = await Api.simulate(writeScenario(dir, workload.scenario(n)), {
          store
        })
        const revision = await momentEnd(store, parent.pool, parent.events - INSIDE_EVENTS_AFTER)
        const timed = async (as: string, fromRest: boolean) => {
          const start = nowMs()
          await Api.fork(store, parent.pool, { revision }, as)
          const out = await Api.continuePool(store, as, [{ op: "disable-host", host: "h1" }], { fromRest })
          return { out, ms: nowMs() - start }
        }
        // warm-up (JIT, SQLite's checkpoint of the run's write-ahead log), elsewhere in the run
        await Api.fork(
          store,
          parent.pool,
          { revision: await momentEnd(store, parent.pool, parent.events / 4) },
          "warm-up"
        )
        await Api.continuePool(store, "warm-up", [{ op: "disable-host", host: "h2" }])
        // the median of three branches at the same point (the machine's speed drifts)
        const tries = []
        for (let i = 0; i < INSIDE_REPEATS; i++) tries.push(await timed(`inside-rest-${i}`, true))
        const fromRest = [...tries].sort((a, b) => a.ms - b.ms)[Math.floor(tries.length / 2)]!
        const fromStart = await timed("inside-start", false)
        const size = `${workload.says(n)}: ${parent.events.toLocaleString("en-US")} events on SQLite, forked at @${revision}, one disable-host, then the rest of the parent's schedule (${fromRest.out.events.toLocaleString("en-US")} new events)`
        const baseline: BenchResult = {
          name: `branches.forkInside${workload.name}.fromStart.${parent.events}`,
          workload: `${size}; the engine rebuilt from the pool's start: ${fromStart.out.rebuilt.eventsRead.toLocaleString("en-US")} events read`,
          value: fromStart.ms,
          unit: "ms"
        }
        results.push(
          baseline,
          withBaseline(
            {
              name: `branches.forkInside${workload.name}.${parent.events}`,
              workload: `${size}; the engine rebuilt from the run's rest after @${fromRest.out.rebuilt.restRevision}: ${fromRest.out.rebuilt.eventsRead.toLocaleString("en-US")} events read; median of ${INSIDE_REPEATS} branches`,
              value: fromRest.ms,
              unit: "ms"
            },
            baseline
          )
        )
        if (previous !== undefined)
          results.push({
            name: `branches.forkInside${workload.name}.growth`,
            workload: `fork-and-continue time from the rest at ${parent.events.toLocaleString("en-US")} events / at ${previous.events.toLocaleString("en-US")} events (${(parent.events / previous.events).toFixed(1)}× the history before the fork, the same work after it; near 1: proportional to what follows the fork)`,
            value: fromRest.ms / previous.ms,
            unit: "×"
          })
        previous = { events: parent.events, ms: fromRest.ms }
      } finally {
        await store.close()
      }
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }
  return results
}

export const branchBenchmarks: ReadonlyArray<Benchmark> = [
  { name: "branches", run },
  { name: "branches.continue", run: continueSeries },
  { name: "branches.forkInside", run: forkInsideSeries }
]
