/** Builds and runs scenarios in tests with the engine's debug mode on (every invariant after every event). */
import { Either, Schema } from "effect"
import { readFileSync } from "node:fs"
import { resolve } from "node:path"
import { PoolEvent } from "../../domain/events.js"
import { transferFactory } from "../../engine/migration/index.js"
import type { EmittedEvent } from "../../engine/simulation.js"
import { compileScenario, type CompiledScenario } from "../../simulations/compile.js"
import { runScenario } from "../../simulations/run.js"
import { Scenario } from "../../simulations/scenario.js"
import { MigrationSummaries } from "../../projections/summary.js"

export const scenarioFile = (name: string): string =>
  resolve(import.meta.dirname, `../../simulations/scenarios/${name}.json`)

export const compileFile = (name: string, options: { seed?: number } = {}): CompiledScenario => {
  const json = JSON.parse(readFileSync(scenarioFile(name), "utf8"))
  return compile(json, options)
}

export const compile = (json: unknown, options: { seed?: number } = {}): CompiledScenario => {
  const scenario = Schema.decodeUnknownSync(Scenario)(json)
  const compiled = compileScenario("test", scenario, options)
  if (Either.isLeft(compiled)) throw new Error(`${compiled.left.path}: ${compiled.left.expected}`)
  return compiled.right
}

export const run = (scenario: CompiledScenario) => {
  const events: EmittedEvent[] = []
  const summaries = new MigrationSummaries()
  const { sim, result } = runScenario(scenario, {
    transferFactory,
    debug: true,
    sink: (batch) => {
      for (const e of batch) {
        events.push(e)
        summaries.add(e.event)
      }
    }
  })
  return { sim, result, events, migrations: summaries.list() }
}

const encode = Schema.encodeSync(PoolEvent)

/** The event log as bytes: ids and encoded events, one JSON line each. */
export const logBytes = (events: ReadonlyArray<EmittedEvent>): string =>
  events.map((e) => JSON.stringify({ id: e.id, event: encode(e.event) })).join("\n")

/** A minimal scenario: `hosts` hosts of 64 GiB on 10 Gbit/s, the given VMs and schedule. */
export const pool = (parts: {
  hosts?: number
  vms?: unknown[]
  schedule?: unknown[]
  policy?: unknown
  latency?: string
  seed?: number
}) => ({
  format: "xenpool-scenario",
  version: 1,
  name: "test",
  seed: parts.seed ?? 1,
  pool: { id: "t", linkLatency: parts.latency ?? "0us" },
  ...(parts.policy ? { policy: parts.policy } : {}),
  hosts: [{ id: "h", count: parts.hosts ?? 2, memory: "64GiB", overhead: "2GiB", nic: "10Gbit/s" }],
  vms: parts.vms ?? [],
  schedule: parts.schedule ?? []
})
