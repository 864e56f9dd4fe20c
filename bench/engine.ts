/**
 * Pool-engine benchmarks: complete `rate`-model migrations per second with their events appended to the
 * memory store, with SimGrid's live-migration plugin migrating the same VM as the baseline (bench/simgrid.ts;
 * skipped without it), and rolling maintenance as a series over 64, 256 and 1,024 hosts (about 31 VMs per host) appended to
 * SQLite, each point against the one before.
 */
import { Effect, Either, Layer } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { poolStreamName } from "../domain/ids.js"
import { transferFactory } from "../engine/migration/index.js"
import type { EmittedEvent } from "../engine/simulation.js"
import { compileScenario } from "../simulations/compile.js"
import { runScenario } from "../simulations/run.js"
import { parseScenarioJson } from "../simulations/scenario.js"
import { EventStore, ExpectedRevision } from "../store/EventStore.js"
import { layerMemory } from "../store/memory.js"
import { layerSqlite } from "../store/sqlite.js"
import { withBaseline, type Benchmark, type BenchResult } from "./harness.js"
import { simgridFigure } from "./simgrid.js"

const compile = (json: unknown) => {
  const parsed = parseScenarioJson("bench", JSON.stringify(json))
  if (Either.isLeft(parsed)) throw new Error(`${parsed.left.path}: ${parsed.left.expected}`)
  const compiled = compileScenario("bench", parsed.right)
  if (Either.isLeft(compiled)) throw new Error(`${compiled.left.path}: ${compiled.left.expected}`)
  return compiled.right
}

/**
 * Runs the scenario and appends its events to the store in one batch; returns wall ms, the event count
 * and the operation count (not the run's state, which repeated runs would keep alive for nothing).
 */
const runInto = async (json: unknown, layer: Layer.Layer<EventStore, unknown>) => {
  const scenario = compile(json)
  const start = performance.now()
  const events: EmittedEvent[] = []
  const { result } = runScenario(scenario, { transferFactory, sink: (batch) => events.push(...batch) })
  await Effect.runPromise(
    Effect.gen(function* () {
      const store = yield* EventStore
      yield* store.append(poolStreamName(scenario.pool), events, ExpectedRevision.noStream)
    }).pipe(Effect.provide(layer)) as Effect.Effect<void, unknown, never>
  )
  return { ms: performance.now() - start, events: events.length, operations: result.operations.length }
}

const MIGRATIONS = 20_000
const RATE_RUNS = 5
const MiB = 2 ** 20
/** The VMs of `manyMigrations`, and SimGrid's one VM. */
const VM_MEMORY_MIB = 64
const VM_DIRTY_RATE_MIB_PER_S = 8
const VM_WORKING_SET_MIB = 16
const NIC_GBIT_PER_S = 10

/** 20,000 VMs, each migrated once from h1 to h2, one every 200 ms of simulated time. */
const manyMigrations = {
  format: "xenpool-scenario",
  version: 1,
  name: "many-migrations",
  pool: { id: "bench", linkLatency: "100us" },
  hosts: [{ id: "h", count: 2, memory: "8TiB", overhead: "2GiB", nic: `${NIC_GBIT_PER_S}Gbit/s` }],
  vms: [
    {
      id: "v",
      count: MIGRATIONS,
      vcpus: 1,
      memory: `${VM_MEMORY_MIB}MiB`,
      host: "h1",
      workload: {
        model: "rate",
        dirtyRate: `${VM_DIRTY_RATE_MIB_PER_S}MiB/s`,
        workingSet: `${VM_WORKING_SET_MIB}MiB`
      }
    }
  ],
  schedule: Array.from({ length: MIGRATIONS }, (_, i) => ({
    at: `${(i + 1) * 200}ms`,
    op: "migrate",
    vm: `v${i + 1}`,
    to: "h2"
  })),
  limits: { simulatedTime: "1d" }
}

/** The 64-host pool's VMs: 1,200 web, 600 app and 200 db, about 31 per host; larger pools keep the proportion. */
const ROLLING_BASE_HOSTS = 64
const ROLLING_BASE_VMS = { web: 1200, app: 600, db: 200 }

/**
 * Rolling maintenance of `hosts` hosts of 256 GiB (about 79 % of guest memory used), each host evacuated,
 * held for 60 s and re-enabled in turn; the VMs scale with the hosts.
 */
export const rollingScenario = (hosts: number) => {
  const scale = hosts / ROLLING_BASE_HOSTS
  return {
    format: "xenpool-scenario",
    version: 1,
    name: `rolling-${hosts}`,
    pool: { id: `rolling${hosts}`, linkLatency: "100us" },
    hosts: [{ id: "h", count: hosts, memory: "256GiB", overhead: "4GiB", nic: "10Gbit/s", cpus: 64 }],
    vms: [
      {
        id: "web",
        count: ROLLING_BASE_VMS.web * scale,
        vcpus: 2,
        memory: "4GiB",
        workload: { model: "rate", dirtyRate: "20MiB/s", workingSet: "1GiB" }
      },
      {
        id: "app",
        count: ROLLING_BASE_VMS.app * scale,
        vcpus: 4,
        memory: "8GiB",
        workload: { model: "rate", dirtyRate: "60MiB/s", workingSet: "2GiB" }
      },
      {
        id: "db",
        count: ROLLING_BASE_VMS.db * scale,
        vcpus: 8,
        memory: "16GiB",
        workload: { model: "rate", dirtyRate: "150MiB/s", workingSet: "4GiB" }
      }
    ],
    schedule: [{ at: "10s", op: "rolling-maintenance", maintenance: "60s" }],
    limits: { simulatedTime: "30d" }
  }
}

export const rollingVms = (hosts: number) =>
  ((ROLLING_BASE_VMS.web + ROLLING_BASE_VMS.app + ROLLING_BASE_VMS.db) * hosts) / ROLLING_BASE_HOSTS

/** The series' sizes: each is 4x the one before, hosts and VMs alike. */
const ROLLING_HOSTS: ReadonlyArray<number> = [64, 256, 1024]

const count = (n: number) => n.toLocaleString("en-US")

/** One point of the series: the run into a fresh SQLite file, its wall time and events per second. */
const rollingPoint = async (hosts: number): Promise<{ wall: BenchResult; rate: BenchResult }> => {
  const dir = mkdtempSync(join(tmpdir(), "xenpool-bench-"))
  try {
    const label = `${hosts}x${rollingVms(hosts)}`
    process.stderr.write(`  rolling maintenance ${label} ...\n`)
    const { ms, events, operations } = await runInto(rollingScenario(hosts), layerSqlite(join(dir, "bench.db")))
    const pool = `rolling maintenance of ${count(hosts)} hosts with ${count(rollingVms(hosts))} VMs (${count(events)} events, ${count(operations)} operations)`
    const wall: BenchResult = {
      name: `engine.rollingMaintenance.${label}.wallMs`,
      workload: `${pool}: engine + one atomic SQLite append`,
      value: Math.round(ms),
      unit: "ms"
    }
    const rate: BenchResult = {
      name: `engine.rollingMaintenance.${label}.eventsPerSecond`,
      workload: `same run: events over wall time`,
      value: Math.round((events * 1000) / ms),
      unit: "events/s"
    }
    return { wall, rate }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

export const engineBenchmarks: ReadonlyArray<Benchmark> = [
  {
    name: "engine.migration.rate.perSecond",
    run: async (): Promise<ReadonlyArray<BenchResult>> => {
      // The first run pays for the JIT and for growing the heap: it is reported on its own, and the
      // figure is the median of the runs after it, each into a fresh memory store.
      const first = await runInto(manyMigrations, layerMemory)
      const runs = []
      for (let i = 0; i < RATE_RUNS; i++) runs.push(await runInto(manyMigrations, layerMemory))
      const ms = runs.map((r) => r.ms).sort((a, b) => a - b)
      const median = ms[Math.floor(ms.length / 2)]!
      const perSecond = (wallMs: number) => Math.round((MIGRATIONS * 1000) / wallMs)
      const workload =
        `${MIGRATIONS.toLocaleString("en-US")} complete rate-model migrations (20,000 VMs of 64 MiB created, started ` +
        `and migrated once, 8 MiB/s dirty, xen policy), ${first.events.toLocaleString("en-US")} events appended to memory`
      const figure: BenchResult = {
        name: "engine.migration.rate.perSecond",
        workload: `${workload}; median of ${RATE_RUNS} runs after a first one (range ${perSecond(ms[ms.length - 1]!).toLocaleString("en-US")}-${perSecond(ms[0]!).toLocaleString("en-US")}/s)`,
        value: perSecond(median),
        unit: "migrations/s"
      }
      const firstRun: BenchResult = {
        name: "engine.migration.rate.perSecond.firstRun",
        workload: "the same, the process's first run (JIT warm-up, heap growth)",
        value: perSecond(first.ms),
        unit: "migrations/s"
      }
      // SimGrid has no pool, no event log and no VM life cycle: its baseline only migrates the same VM.
      const simgrid = simgridFigure(
        "engine.migration.rate.perSecond.simgrid",
        `one VM as above (${VM_MEMORY_MIB} MiB, ${VM_DIRTY_RATE_MIB_PER_S} MiB/s over ${VM_WORKING_SET_MIB} MiB, ` +
          `${NIC_GBIT_PER_S} Gbit/s, no link latency), no events`,
        {
          memoryBytes: VM_MEMORY_MIB * MiB,
          bandwidthBytesPerS: (NIC_GBIT_PER_S * 1e9) / 8,
          dirtyRateBytesPerS: VM_DIRTY_RATE_MIB_PER_S * MiB,
          workingSetBytes: VM_WORKING_SET_MIB * MiB
        }
      )
      if (simgrid === undefined) return [figure, firstRun]
      return [withBaseline(figure, simgrid), firstRun, simgrid]
    }
  },
  {
    name: "engine.rollingMaintenance",
    run: async (): Promise<ReadonlyArray<BenchResult>> => {
      // Each point against the one before (4x the hosts and VMs): a linear wall time gives 4.0, a flat rate 1.0.
      // An untimed first run of the smallest pool lets the JIT settle, or the first point would look slow.
      await rollingPoint(ROLLING_HOSTS[0]!)
      const results: BenchResult[] = []
      let previous: { hosts: number; wall: BenchResult; rate: BenchResult } | undefined
      for (const hosts of ROLLING_HOSTS) {
        const point = await rollingPoint(hosts)
        if (previous === undefined) results.push(point.wall, point.rate)
        else {
          const step = `; ${hosts / previous.hosts}x the hosts and VMs of the point before`
          results.push(
            withBaseline({ ...point.wall, workload: point.wall.workload + step }, previous.wall),
            withBaseline({ ...point.rate, workload: point.rate.workload + step }, previous.rate)
          )
        }
        previous = { hosts, ...point }
      }
      return results
    }
  }
]
