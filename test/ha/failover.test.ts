/**
 * HA in the engine (engine/ha.ts): a host failure with HA on is noticed after the liveness timeout, its
 * VMs halt, the protected ones restart by plan in ascending order, a failed restart is tried again after
 * 120 s, then the best-effort ones; with HA off nothing changes. Runs in debug mode (every invariant
 * after every event).
 */
import { Either, Schema } from "effect"
import { describe, expect, it } from "vitest"
import type { PoolEvent } from "../../domain/events.js"
import { vmId } from "../../domain/ids.js"
import { HA_LIVENESS_TIMEOUT_DEFAULT_US, HA_RESTART_RETRY_US } from "../../engine/ha.js"
import { compileScenario } from "../../simulations/compile.js"
import { Scenario } from "../../simulations/scenario.js"
import { compile, compileFile, logBytes, run } from "../engine/harness.js"
import { firstError, smallPool, trace } from "../traces/helpers.js"

const S = 1_000_000

const ofType = <T extends PoolEvent["_tag"]>(events: ReadonlyArray<{ event: PoolEvent }>, tag: T) =>
  events.map((e) => e.event).filter((e): e is Extract<PoolEvent, { _tag: T }> => e._tag === tag)

/** Two or three 8 GiB hosts with HA (ntol 1 unless said) and the given VMs and schedule. */
const haPool = (parts: {
  hosts?: number
  ntol?: number
  livenessTimeout?: string
  vms: unknown[]
  schedule: unknown[]
}) => ({
  format: "xenpool-scenario",
  version: 1,
  name: "ha",
  seed: 1,
  pool: {
    id: "ha",
    linkLatency: "0us",
    ha: {
      hostFailuresToTolerate: parts.ntol ?? 1,
      ...(parts.livenessTimeout === undefined ? {} : { livenessTimeout: parts.livenessTimeout })
    }
  },
  hosts: [{ id: "h", count: parts.hosts ?? 3, memory: "8GiB", overhead: "1GiB", nic: "10Gbit/s" }],
  vms: parts.vms,
  schedule: parts.schedule
})

describe("the bundled scenario ha-failover.json", () => {
  const { events, sim } = run(compileFile("ha-failover"))

  it("h3 fails at 100 s during the rolling maintenance and is declared dead after the 60 s liveness timeout", () => {
    expect(ofType(events, "HostFailed").map((e) => [e.host, e.atUs])).toEqual([["h3", 160 * S]])
    expect(ofType(events, "PoolHaEnabled")).toHaveLength(1)
  })

  it("restarts the protected VMs by plan in ascending order, then tries the best-effort ones", () => {
    const restarts = sim.ha.restarts
    const halted = ofType(events, "VmShutdown").filter((e) => e.mode === "host-failed")
    expect(halted.length).toBeGreaterThan(0)
    const protectedRestarts = restarts.filter((r) => r.priority === "restart")
    expect(protectedRestarts.every((r) => r.ok && r.plannedHost !== undefined)).toBe(true)
    expect(protectedRestarts.map((r) => r.order)).toEqual([...protectedRestarts.map((r) => r.order)].sort())
    const lastProtected = Math.max(...restarts.map((r, i) => (r.priority === "restart" ? i : -1)))
    const firstBestEffort = restarts.findIndex((r) => r.priority === "best-effort")
    expect(firstBestEffort).toBeGreaterThan(lastProtected)
    // every protected VM (db-*, web-*) the failure halted runs again, where the plan put it
    const protectedHalted = halted.map((e) => e.vm).filter((vm) => vm.startsWith("db-") || vm.startsWith("web-"))
    expect(protectedHalted.length).toBeGreaterThan(0)
    expect(protectedRestarts.map((r) => r.vm).sort()).toEqual([...protectedHalted].sort())
    for (const r of protectedRestarts) {
      const vm = sim.view.vm(r.vm)!
      expect(vm.powerState).toBe("Running")
      expect(vm.residentOn).toBe(r.plannedHost)
    }
  })

  it("a best-effort VM that fits nowhere is reported, not retried", () => {
    const failed = ofType(events, "VmHaRestartFailed")
    expect(failed.length).toBeGreaterThan(0)
    expect(failed.every((e) => e.vm.startsWith("batch") && e.retryAtUs === null)).toBe(true)
  })

  it("is deterministic: the same seed gives the same log, byte for byte", () => {
    expect(logBytes(run(compileFile("ha-failover")).events)).toBe(logBytes(events))
  })
})

describe("host failure with HA on", () => {
  const vm = (id: string, memory: string, ha?: unknown, host?: string) => ({
    id,
    memory,
    ...(ha === undefined ? {} : { ha }),
    ...(host === undefined ? {} : { host })
  })

  it("the liveness timeout is a setting; the migrations through the failed host abort at the failure", () => {
    const { events } = run(
      compile(
        haPool({
          livenessTimeout: "5s",
          vms: [vm("p", "2GiB", { restartPriority: "restart" }, "h1"), vm("m", "4GiB", undefined, "h2")],
          schedule: [
            { at: "1s", op: "migrate", vm: "m", to: "h3" },
            { at: "1001ms", op: "fail-host", host: "h3" }
          ]
        })
      )
    )
    expect(ofType(events, "VmMigrationAborted").map((e) => e.atUs)).toEqual([1_001_000])
    expect(ofType(events, "HostFailed").map((e) => e.atUs)).toEqual([6_001_000])
  })

  it("the default liveness timeout is XAPI's 60 s; the master's failure elects a new master before restarts", () => {
    const { events } = run(
      compile(
        haPool({
          vms: [vm("p", "2GiB", { restartPriority: "restart" }, "h1")],
          schedule: [{ at: "1s", op: "fail-host", host: "h1" }]
        })
      )
    )
    const tags = events.map((e) => e.event).filter((e) => e.atUs > 1 * S)
    expect(tags[0]).toMatchObject({ _tag: "HostFailed", host: "h1", atUs: 1 * S + HA_LIVENESS_TIMEOUT_DEFAULT_US })
    expect(tags[1]).toMatchObject({ _tag: "PoolMasterElected", host: "h2" })
    const started = ofType(events, "VmStarted").filter((e) => e.vm === "p")
    expect(started.map((e) => e.atUs)).toEqual([0, 1 * S + HA_LIVENESS_TIMEOUT_DEFAULT_US])
  })

  it("order: a lower order restarts first, whatever the ids", () => {
    const { sim } = run(
      compile(
        haPool({
          hosts: 3,
          vms: [
            vm("a", "1GiB", { restartPriority: "restart", order: 2 }, "h1"),
            vm("b", "1GiB", { restartPriority: "restart", order: 0 }, "h1"),
            vm("c", "1GiB", { restartPriority: "restart", order: 1 }, "h1")
          ],
          schedule: [{ at: "1s", op: "fail-host", host: "h1" }]
        })
      )
    )
    expect(sim.ha.restarts.map((r) => r.vm)).toEqual(["b", "c", "a"])
  })

  it("a restart that fails is reported and tried again 120 s later", () => {
    // two hosts: p (protected, 3 GiB) on h1, u (unprotected, 6 GiB) on h2: no room for p when h1 fails,
    // until u is shut down at 100 s
    const { events, sim } = run(
      compile(
        haPool({
          hosts: 2,
          vms: [vm("p", "3GiB", { restartPriority: "restart" }, "h1"), vm("u", "6GiB", undefined, "h2")],
          schedule: [
            { at: "1s", op: "fail-host", host: "h1" },
            { at: "100s", op: "shutdown-vm", vm: "u" }
          ]
        })
      )
    )
    const detectedUs = 1 * S + HA_LIVENESS_TIMEOUT_DEFAULT_US
    expect(ofType(events, "VmHaRestartFailed").map((e) => [e.vm, e.atUs, e.retryAtUs])).toEqual([
      ["p", detectedUs, detectedUs + HA_RESTART_RETRY_US]
    ])
    expect(sim.ha.restarts.map((r) => [r.attempt, r.ok, r.atUs])).toEqual([
      [1, false, detectedUs],
      [2, true, detectedUs + HA_RESTART_RETRY_US]
    ])
  })

  it("a failure during an evacuation: the migration to the failed host aborts at once, HA restarts its VMs after the timeout, the evacuation re-plans onto the hosts left", () => {
    const { events, result, sim } = run(
      compile({
        ...haPool({
          livenessTimeout: "30s",
          vms: [
            {
              id: "p",
              count: 4,
              memory: "2GiB",
              host: "h1",
              ha: { restartPriority: "restart" },
              workload: { model: "rate", dirtyRate: "10MiB/s" }
            },
            { id: "q", count: 2, memory: "1GiB", host: "h3", ha: { restartPriority: "restart" } }
          ],
          schedule: [
            { at: "1s", op: "disable-host", host: "h1" },
            { at: "1s", op: "evacuate", host: "h1" },
            { at: "5s", op: "fail-host", host: "h3" }
          ]
        }),
        hosts: [{ id: "h", count: 3, memory: "16GiB", overhead: "1GiB", nic: "1Gbit/s" }]
      })
    )
    const toH3 = ofType(events, "VmMigrationStarted").filter((e) => e.destination === "h3")
    expect(toH3.map((e) => e.vm)).toEqual(["p3"])
    expect(ofType(events, "VmMigrationAborted").map((e) => [e.vm, e.atUs, e.reason])).toEqual([
      ["p3", 5 * S, "link of h3 failed"]
    ])
    expect(ofType(events, "HostFailed").map((e) => e.atUs)).toEqual([35 * S])
    expect(sim.ha.restarts.map((r) => [r.vm, r.ok, r.atUs])).toEqual([
      ["q1", true, 35 * S],
      ["q2", true, 35 * S]
    ])
    // the evacuation's next pass, after its batch, sends p3 to h2: the host ends empty
    expect(ofType(events, "VmMigrationCommitted").find((e) => e.vm === "p3")?.destination).toBe("h2")
    expect(result.operations).toContainEqual(expect.objectContaining({ operation: "evacuate h1", ok: true }))
  })

  it("a failure after the restarts: the restarted VM's new host fails and it restarts again", () => {
    const { sim } = run(
      compile(
        haPool({
          ntol: 2,
          vms: [vm("p", "2GiB", { restartPriority: "restart" }, "h1")],
          schedule: [
            { at: "1s", op: "fail-host", host: "h1" },
            { at: "62s", op: "fail-host", host: "h2" }
          ]
        })
      )
    )
    expect(sim.ha.restarts.map((r) => [r.vm, r.plannedHost, r.ok, r.atUs])).toEqual([
      ["p", "h2", true, 61 * S],
      ["p", "h3", true, 122 * S]
    ])
    expect(sim.view.vm(vmId("p"))).toMatchObject({ powerState: "Running", residentOn: "h3" })
  })

  it("a host that recovers after HA declared it dead gets its link back: migrations to it run", () => {
    const { events } = run(
      compile(
        haPool({
          vms: [vm("p", "2GiB", { restartPriority: "restart" }, "h1"), vm("m", "1GiB", undefined, "h3")],
          schedule: [
            { at: "1s", op: "fail-host", host: "h2" },
            { at: "100s", op: "recover-host", host: "h2" },
            { at: "101s", op: "enable-host", host: "h2" },
            { at: "110s", op: "migrate", vm: "m", to: "h2" }
          ]
        })
      )
    )
    expect(ofType(events, "HostRecovered").map((e) => e.atUs)).toEqual([100 * S])
    expect(ofType(events, "VmMigrationCommitted").map((e) => [e.vm, e.destination])).toEqual([["m", "h2"]])
  })

  it("HA off: the host is declared dead at once and nothing restarts (as before HA existed)", () => {
    const json = {
      ...haPool({ vms: [vm("p", "2GiB", { restartPriority: "restart" }, "h1")], schedule: [] }),
      pool: { id: "ha", linkLatency: "0us" },
      schedule: [{ at: "1s", op: "fail-host", host: "h1" }]
    }
    const { events, sim } = run(compile(json))
    expect(ofType(events, "HostFailed").map((e) => e.atUs)).toEqual([1 * S])
    expect(ofType(events, "VmStarted").filter((e) => e.atUs > 0)).toEqual([])
    expect(sim.ha.restarts).toEqual([])
  })
})

describe("malformed HA input is refused with its path, nothing run", () => {
  const compileError = (json: unknown) => {
    const decoded = Schema.decodeUnknownEither(Scenario)(json)
    if (Either.isLeft(decoded)) return String(decoded.left.message)
    const compiled = compileScenario("s.json", decoded.right)
    return Either.isLeft(compiled) ? `${compiled.left.path}: ${compiled.left.expected}` : undefined
  }
  const base = haPool({ vms: [{ id: "p", memory: "1GiB" }], schedule: [] })

  it("scenario fields", () => {
    expect(compileError({ ...base, pool: { id: "ha", ha: { hostFailuresToTolerate: -1 } } })).toMatch(
      /hostFailuresToTolerate/
    )
    expect(compileError({ ...base, vms: [{ id: "p", memory: "1GiB", ha: { restartPriority: "always" } }] })).toMatch(
      /restartPriority/
    )
    expect(
      compileError({ ...base, pool: { id: "ha", ha: { hostFailuresToTolerate: 1, livenessTimeout: "soon" } } })
    ).toMatch(/^pool\.ha\.livenessTimeout: /)
    expect(
      compileError({ ...base, schedule: [{ at: "1s", op: "set-vm-ha", vm: "ghost", restartPriority: "" }] })
    ).toMatch(/^schedule\[0\]\.vm: /)
    expect(compileError(base)).toBeUndefined()
  })

  it("trace records: the line and the field", () => {
    const header = smallPool([{ id: "a", memory: "1GiB" }])
    // the writer refuses a bad record, so the bad line is written by hand
    const bad = firstError(
      `${trace(header, [{ atUs: 0, op: "enable-ha", hostFailuresToTolerate: 1 }])}${JSON.stringify({
        atUs: 1,
        op: "set-vm-ha",
        vm: "a",
        restartPriority: "sometimes"
      })}\n`
    )
    expect(bad).toMatchObject({ line: 3, path: "restartPriority" })
    const late = firstError(trace(header, [{ atUs: 0, op: "set-vm-ha", vm: "ghost", restartPriority: "restart" }]))
    expect(late).toMatchObject({ line: 2, path: "vm" })
    const timeout = firstError(
      trace(header, [{ atUs: 0, op: "enable-ha", hostFailuresToTolerate: 1, livenessTimeout: "5" }])
    )
    expect(timeout).toMatchObject({ line: 2, path: "livenessTimeout" })
  })
})
