/**
 * The run loop's own contract, apart from what it simulates: where it stops (quiescent, the simulated
 * time limit, the events limit), how often it reports progress, and what a migration's `onEnd` hears.
 * Added for the blind spots a mutation run of `engine/simulation.ts` showed. Writing them found a bug:
 * a migration started between runs (not from a happening) had no round end planned, so the next run
 * ended at once, "quiescent", with the migration hanging at rate 0.
 */
import { describe, expect, it } from "vitest"
import { hostId, poolId, vmId } from "../../domain/ids.js"
import { transferFactory } from "../../engine/migration/index.js"
import { Simulation } from "../../engine/simulation.js"
import { compile, pool, run } from "./harness.js"

const MS = 1_000

/** Two hosts and one idle 1 GiB VM on h1; its migration to h2 takes about 0.86 s. */
const oneVm = (parts: { schedule?: unknown[]; limits?: unknown } = {}) =>
  compile({
    ...pool({
      vms: [{ id: "v", memory: "1GiB", host: "h1" }],
      schedule: parts.schedule ?? [],
      latency: "100us"
    }),
    ...(parts.limits ? { limits: parts.limits } : {})
  })

describe("where the run stops", () => {
  it("quiescent: nothing left to do", () => {
    const r = run(oneVm({ schedule: [{ at: "1s", op: "migrate", vm: "v", to: "h2" }] }))
    expect(r.result.stopReason).toBe("quiescent")
    expect(r.migrations[0]!.outcome).toBe("committed")
  })

  it("at the simulated time limit, before anything scheduled after it", () => {
    const r = run(
      oneVm({ schedule: [{ at: "1s", op: "migrate", vm: "v", to: "h2" }], limits: { simulatedTime: "500ms" } })
    )
    expect(r.result.stopReason).toBe("time-limit")
    expect(r.result.simulatedUs).toBeLessThanOrEqual(500 * MS)
    expect(r.events.some((e) => e.event._tag === "VmMigrationStarted")).toBe(false)
  })

  it("at the events limit, before the happening that would pass it", () => {
    const unlimited = run(oneVm({ schedule: [{ at: "1s", op: "migrate", vm: "v", to: "h2" }] }))
    const eventsMax = unlimited.events.length - 2
    const r = run(oneVm({ schedule: [{ at: "1s", op: "migrate", vm: "v", to: "h2" }], limits: { events: eventsMax } }))
    expect(r.result.stopReason).toBe("events-limit")
    expect(r.result.events).toBe(eventsMax)
    expect(r.events.map((e) => e.id)).toEqual(unlimited.events.slice(0, eventsMax).map((e) => e.id))
  })
})

describe("progress", () => {
  it("is reported every progressEveryEvents events, with the time and the count", () => {
    const calls: Array<readonly [number, number]> = []
    const sim = new Simulation({
      seed: 1,
      pool: poolId("p"),
      policy: { name: "xen" },
      workloads: new Map(),
      limits: { eventsMax: 1_000, simulatedUsMax: 10 ** 12 },
      transferFactory,
      progressEveryEvents: 5,
      onProgress: (nowUs, events) => calls.push([nowUs, events])
    })
    sim.attempt({ _tag: "CreatePool", atUs: 0, pool: poolId("p"), pageSizeBytes: 4096, linkLatencyUs: 100 }, "pool")
    for (let i = 0; i < 11; i++) {
      sim.attempt(
        {
          _tag: "JoinHost",
          atUs: 0,
          host: hostId(`h${i}`),
          memoryTotalPages: 1_000_000,
          memoryOverheadPages: 100,
          nicBandwidthBytesPerS: 1_250_000_000,
          cpus: 8
        },
        `join h${i}`
      )
    }
    expect(sim.events).toBe(12)
    expect(calls).toEqual([
      [0, 5],
      [0, 10]
    ])
  })
})

describe("what a migration's onEnd hears", () => {
  const settled = () => {
    const r = run(oneVm())
    return r.sim
  }

  it("committed, with no reason, once the migration commits", () => {
    const sim = settled()
    const heard: Array<readonly [string, string]> = []
    expect(sim.migrate(vmId("v"), hostId("h2"), (outcome, reason) => heard.push([outcome, reason]))).toBe(true)
    expect(heard).toEqual([])
    sim.run()
    expect(heard).toEqual([["committed", ""]])
  })

  it("aborted with the abort's reason when the link fails mid-round", () => {
    const sim = settled()
    const heard: Array<readonly [string, string]> = []
    sim.migrate(vmId("v"), hostId("h2"), (outcome, reason) => heard.push([outcome, reason]))
    sim.at(sim.nowUs + 100 * MS, () => sim.failLink(hostId("h2")))
    sim.run()
    expect(heard).toEqual([["aborted", "link of h2 failed"]])
  })

  it("aborted as refused, at once, when the migration is refused", () => {
    const sim = settled()
    const heard: Array<readonly [string, string]> = []
    expect(sim.migrate(vmId("v"), hostId("h1"), (outcome, reason) => heard.push([outcome, reason]))).toBe(false)
    expect(heard).toEqual([["aborted", "refused"]])
  })
})
