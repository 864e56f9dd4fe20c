/**
 * Large inputs for the reliability tests and benchmarks, made on the fly: a scenario whose run is long enough to be
 * interrupted or killed at many moments (its simulation and its append each take a noticeable time), and
 * the same as a trace for `xenpool replay`.
 */
import { Either } from "effect"
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { scenarioTraceText } from "../simulations/trace.js"
import { parseScenarioJson, type Scenario } from "../simulations/scenario.js"

/** `migrations` live migrations of small idle VMs back and forth between four hosts: about 10 events each. */
/**
 * `migrations` migrations of 40 VMs of 64 MiB on 4 hosts, one every `everyMs`. A migration takes about
 * 200 ms (setup, the rounds, suspend, restore): at 50 ms four are in flight at once and the engine never
 * rests; at 300 ms each is over before the next, and the engine rests between them.
 */
export const manyMigrations = (migrations: number, id = "big", everyMs = 50): Scenario =>
  ({
    format: "xenpool-scenario",
    version: 1,
    name: id,
    seed: 1,
    pool: { id, linkLatency: "100us" },
    hosts: [{ id: "h", count: 4, memory: "64GiB", overhead: "1GiB", nic: "10Gbit/s" }],
    vms: Array.from({ length: 40 }, (_, i) => ({ id: `vm-${i}`, vcpus: 1, memory: "64MiB", host: `h${(i % 4) + 1}` })),
    // Each VM moves to the next host every 40 migrations: its last one (64 MiB at a share of 10 Gbit/s) is long over.
    schedule: Array.from({ length: migrations }, (_, k) => {
      const vm = k % 40
      const round = Math.floor(k / 40)
      return { at: `${1 + k * everyMs}ms`, op: "migrate", vm: `vm-${vm}`, to: `h${((vm + round + 1) % 4) + 1}` }
    })
  }) as unknown as Scenario

export const writeScenario = (dir: string, scenario: Scenario): string => {
  const path = join(dir, `${scenario.name}.json`)
  writeFileSync(path, JSON.stringify(scenario))
  return path
}

export const writeTrace = (dir: string, scenario: Scenario): string => {
  const path = join(dir, `${scenario.name}.trace.jsonl`)
  const parsed = parseScenarioJson(path, JSON.stringify(scenario))
  if (Either.isLeft(parsed)) throw new Error(`bad scenario: ${parsed.left.path}: ${parsed.left.expected}`)
  const trace = scenarioTraceText(path, parsed.right)
  if (Either.isLeft(trace)) throw new Error(`the scenario has no trace: ${trace.left.expected}`)
  writeFileSync(path, trace.right)
  return path
}
