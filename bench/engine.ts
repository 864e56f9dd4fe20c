/**
 * Pool-engine benchmarks: complete `rate`-model migrations per second with their events appended to the
 * memory store, and rolling maintenance scaled to 64 hosts and 2,000 VMs appended to SQLite.
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
import type { Benchmark, BenchResult } from "./harness.js"

const compile = (json: unknown) => {
  const parsed = parseScenarioJson("bench", JSON.stringify(json))
  if (Either.isLeft(parsed)) throw new Error(`${parsed.left.path}: ${parsed.left.expected}`)
  const compiled = compileScenario("bench", parsed.right)
  if (Either.isLeft(compiled)) throw new Error(`${compiled.left.path}: ${compiled.left.expected}`)
  return compiled.right
}

/** Runs the scenario and appends its events to the store in one batch; returns wall ms and the event count. */
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
  return { ms: performance.now() - start, events: events.length, result }
}

const MIGRATIONS = 20_000

/** 20,000 VMs, each migrated once from h1 to h2, one every 200 ms of simulated time. */
const manyMigrations = {
  format: "xenpool-scenario",
  version: 1,
  name: "many-migrations",
  pool: { id: "bench", linkLatency: "100us" },
  hosts: [{ id: "h", count: 2, memory: "8TiB", overhead: "2GiB", nic: "10Gbit/s" }],
  vms: [
    {
      id: "v",
      count: MIGRATIONS,
      vcpus: 1,
      memory: "64MiB",
      host: "h1",
      workload: { model: "rate", dirtyRate: "8MiB/s", workingSet: "16MiB" }
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

const rolling64x2000 = {
  format: "xenpool-scenario",
  version: 1,
  name: "rolling-64x2000",
  pool: { id: "rolling64", linkLatency: "100us" },
  hosts: [{ id: "h", count: 64, memory: "256GiB", overhead: "4GiB", nic: "10Gbit/s", cpus: 64 }],
  vms: [
    {
      id: "web",
      count: 1200,
      vcpus: 2,
      memory: "4GiB",
      workload: { model: "rate", dirtyRate: "20MiB/s", workingSet: "1GiB" }
    },
    {
      id: "app",
      count: 600,
      vcpus: 4,
      memory: "8GiB",
      workload: { model: "rate", dirtyRate: "60MiB/s", workingSet: "2GiB" }
    },
    {
      id: "db",
      count: 200,
      vcpus: 8,
      memory: "16GiB",
      workload: { model: "rate", dirtyRate: "150MiB/s", workingSet: "4GiB" }
    }
  ],
  schedule: [{ at: "10s", op: "rolling-maintenance", maintenance: "60s" }],
  limits: { simulatedTime: "30d" }
}

export const engineBenchmarks: ReadonlyArray<Benchmark> = [
  {
    name: "engine.migration.rate.perSecond",
    run: async (): Promise<ReadonlyArray<BenchResult>> => {
      await runInto(
        {
          ...manyMigrations,
          vms: [{ ...manyMigrations.vms[0], count: 500 }],
          schedule: manyMigrations.schedule.slice(0, 500)
        },
        layerMemory
      ) // warm-up
      const { ms, events, result } = await runInto(manyMigrations, layerMemory)
      const committed = result.state.vms // all VMs end on h2
      void committed
      return [
        {
          name: "engine.migration.rate.perSecond",
          workload: `${MIGRATIONS.toLocaleString("en-US")} complete rate-model migrations (64 MiB VMs, 8 MiB/s dirty, xen policy), ${events.toLocaleString("en-US")} events appended to memory:`,
          value: Math.round((MIGRATIONS * 1000) / ms),
          unit: "migrations/s"
        }
      ]
    }
  },
  {
    name: "engine.rollingMaintenance.64x2000",
    run: async (): Promise<ReadonlyArray<BenchResult>> => {
      const dir = mkdtempSync(join(tmpdir(), "xenpool-bench-"))
      try {
        const { ms, events, result } = await runInto(rolling64x2000, layerSqlite(join(dir, "bench.db")))
        const migrations = result.operations.length
        return [
          {
            name: "engine.rollingMaintenance.64x2000.wallMs",
            workload: `rolling maintenance of 64 hosts with 2,000 VMs (${events.toLocaleString("en-US")} events, ${migrations} operations) into sqlite:`,
            value: Math.round(ms),
            unit: "ms"
          },
          {
            name: "engine.rollingMaintenance.64x2000.eventsPerSecond",
            workload: "same run: engine + one atomic SQLite append",
            value: Math.round((events * 1000) / ms),
            unit: "events/s"
          }
        ]
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    }
  }
]
