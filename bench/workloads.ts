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
  fortyVms(
    id,
    "64MiB",
    // Each VM moves to the next host every 40 migrations: its last one (64 MiB at a share of 10 Gbit/s) is long over.
    Array.from({ length: migrations }, (_, k) => {
      const vm = k % 40
      const round = Math.floor(k / 40)
      return { at: `${1 + k * everyMs}ms`, op: "migrate", vm: `vm-${vm}`, to: `h${((vm + round + 1) % 4) + 1}` }
    })
  )

/** The bench's pool of 40 VMs of `memory` on 4 hosts of 64 GiB (10 Gbit/s), seed 1, with `schedule`. */
const fortyVms = (id: string, memory: string, schedule: ReadonlyArray<unknown>): Scenario =>
  ({
    format: "xenpool-scenario",
    version: 1,
    name: id,
    seed: 1,
    pool: { id, linkLatency: "100us" },
    hosts: [{ id: "h", count: 4, memory: "64GiB", overhead: "1GiB", nic: "10Gbit/s" }],
    vms: Array.from({ length: 40 }, (_, i) => ({ id: `vm-${i}`, vcpus: 1, memory, host: `h${(i % 4) + 1}` })),
    schedule
  }) as unknown as Scenario

/**
 * A pool under xenpaging that is never idle: 40 VMs of 256 MiB paged down to 128 MiB (more than
 * xenpaging's window of 16,384 recent page-ins, so that it keeps finding pages to evict), whose guests in
 * turn touch 1,024 random pages every `everyMs`: page-ins on their way, faults waiting for them and
 * batches paging out back to the target are in flight at almost every moment.
 */
export const busyPaging = (accesses: number, id = "paging", everyMs = 5): Scenario =>
  fortyVms(id, "256MiB", [
    ...Array.from({ length: 40 }, (_, i) => ({ at: "0s", op: "set-paging-target", vm: `vm-${i}`, target: "128MiB" })),
    ...Array.from({ length: accesses }, (_, k) => ({
      at: `${4000 + k * everyMs}ms`,
      op: "guest-access",
      vm: `vm-${k % 40}`,
      random: 1024
    }))
  ])

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
