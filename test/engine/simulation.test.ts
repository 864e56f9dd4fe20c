/**
 * The pool engine: determinism, migrations on shared links, aborts, faults, evacuation. Every run here
 * has debug mode on, so every domain invariant is asserted after every event.
 */
import { describe, expect, it } from "vitest"
import { HashMap } from "effect"
import { hostId, vmId } from "../../domain/ids.js"
import { getHost, getVm } from "../../domain/state.js"
import { compile, compileFile, logBytes, pool, run } from "./harness.js"
import {
  RESTORE_US_DEFAULT,
  SETUP_US_DEFAULT,
  STATE_BYTES_DEFAULT,
  SUSPEND_US_DEFAULT
} from "../../engine/migration/phases.js"

describe("determinism", () => {
  it("the same scenario and seed give a byte-identical event log", () => {
    const a = run(compileFile("rolling-maintenance"))
    const b = run(compileFile("rolling-maintenance"))
    expect(a.events.length).toBeGreaterThan(100)
    expect(logBytes(a.events)).toBe(logBytes(b.events))
  })

  it("a different seed gives a different log (event ids and page-level writes come from the seed)", () => {
    const pages = (seed: number) =>
      compile(
        pool({
          seed,
          vms: [
            {
              id: "v",
              memory: "256MiB",
              host: "h1",
              workload: { model: "pages", dirtyRate: "4000pages/s", workingSet: "64MiB" }
            }
          ],
          schedule: [{ at: "1s", op: "migrate", vm: "v", to: "h2" }]
        })
      )
    const a = run(pages(1))
    const b = run(pages(2))
    expect(logBytes(a.events)).not.toBe(logBytes(b.events))
    const rounds = (r: ReturnType<typeof run>) =>
      r.events
        .filter((e) => e.event._tag === "VmMigrationRoundCompleted")
        .map((e) => (e.event as { pagesSent: number }).pagesSent)
    expect(rounds(a)).not.toEqual(rounds(b))
  })
})

describe("live migration on the pool", () => {
  it("an idle VM moves in one full round and an empty paused round, with a new domid on the destination", () => {
    const r = run(compileFile("idle-migration"))
    const m = r.migrations[0]!
    expect(m.outcome).toBe("committed")
    expect(m.rounds).toBe(2)
    // every page, then the paused round's vCPU and device state (engine/migration/phases.ts)
    expect(m.bytesSent).toBe(4 * 2 ** 30 + STATE_BYTES_DEFAULT)
    const vm = getVm(r.result.state, vmId("idle-1"))!
    expect(vm.residentOn).toBe("h2")
    expect(vm.powerState).toBe("Running")
    expect(vm.domid).toBe(1)
    // Setup; 4 GiB at 1.25e9 B/s = 3,435,974 µs (ceil) + 100 µs latency; suspend; the paused round: no pages,
    // the state at 1.25e9 B/s = ceil(1,215.9) µs + 100 µs latency; restore, at whose end it commits.
    const pausedRoundUs = 1_216 + 100
    expect(m.totalUs).toBe(SETUP_US_DEFAULT + 3_435_974 + 100 + SUSPEND_US_DEFAULT + pausedRoundUs + RESTORE_US_DEFAULT)
    expect(m.downtimeUs).toBe(SUSPEND_US_DEFAULT + pausedRoundUs + RESTORE_US_DEFAULT)
  })

  it("with phases none, an idle VM's migration is its two rounds plus the commit's latency, as in the pure model", () => {
    const scenario = compileFile("idle-migration")
    const r = run({ ...scenario, policy: { name: "xen", phases: "none" } as const })
    const m = r.migrations[0]!
    expect(m.bytesSent).toBe(4 * 2 ** 30)
    // 4 GiB at 1.25e9 B/s = 3,435,974 µs (ceil), plus 100 µs latency for round 1 and for the paused round.
    expect(m.totalUs).toBe(3_435_974 + 100 + 100 + 100)
    expect(r.events.some((e) => e.event._tag === "VmMigrationPhaseCompleted")).toBe(false)
  })

  it("a write-heavy VM never converges: xen stops after 5 live rounds and pauses for a 6th", () => {
    const r = run(compileFile("write-heavy"))
    const m = r.migrations[0]!
    expect(m.rounds).toBe(6)
    expect(m.stopReason).toBe("iteration-cap")
    expect(m.outcome).toBe("committed")
    expect(m.downtimeUs).toBeGreaterThan(1_000_000)
  })

  it("two equal migrations through the same host, started together, each take about twice as long as one alone", () => {
    // the link's sharing alone: no setup or stop-and-copy parts, which do not use the link
    const policy = { name: "xen", phases: "none" }
    const vm = (id: string) => ({ id, memory: "4GiB", host: "h1" })
    const alone = run(
      compile(pool({ hosts: 3, policy, vms: [vm("a")], schedule: [{ at: "0s", op: "migrate", vm: "a", to: "h2" }] }))
    )
    const shared = run(
      compile(
        pool({
          hosts: 3,
          policy,
          vms: [vm("a"), vm("b")],
          schedule: [
            { at: "0s", op: "migrate", vm: "a", to: "h2" },
            { at: "0s", op: "migrate", vm: "b", to: "h3" }
          ]
        })
      )
    )
    const one = alone.migrations[0]!.totalUs
    for (const m of shared.migrations) {
      expect(m.outcome).toBe("committed")
      expect(m.totalUs / one).toBeGreaterThan(1.95)
      expect(m.totalUs / one).toBeLessThan(2.05)
    }
  })

  it("when one of two sharing migrations ends, the other speeds up to the whole link", () => {
    const r = run(
      compile(
        pool({
          hosts: 3,
          policy: { name: "xen", phases: "none" },
          vms: [
            { id: "small", memory: "1GiB", host: "h1" },
            { id: "big", memory: "4GiB", host: "h1" }
          ],
          schedule: [
            { at: "0s", op: "migrate", vm: "small", to: "h2" },
            { at: "0s", op: "migrate", vm: "big", to: "h3" }
          ]
        })
      )
    )
    const big = r.migrations.find((m) => m.vm === "big")!
    // big shares the link for 2 GiB (1 GiB each), then has it alone for 3 GiB: 5 GiB worth of full-link time.
    const fullLinkUs = (bytes: number) => (bytes * 1e6) / 1.25e9
    expect(big.totalUs / fullLinkUs(5 * 2 ** 30)).toBeGreaterThan(0.99)
    expect(big.totalUs / fullLinkUs(5 * 2 ** 30)).toBeLessThan(1.01)
  })

  it("a migration to a host without room is refused with HostNotEnoughFreeMemory and changes nothing", () => {
    const r = run(
      compile(
        pool({
          vms: [
            { id: "big", memory: "40GiB", host: "h1" },
            { id: "filler", memory: "40GiB", host: "h2" }
          ],
          schedule: [{ at: "1s", op: "migrate", vm: "big", to: "h2" }]
        })
      )
    )
    expect(r.migrations).toEqual([])
    expect(r.result.refusals.map((x) => x.error._tag)).toEqual(["HostNotEnoughFreeMemory"])
    expect(getVm(r.result.state, vmId("big"))!.residentOn).toBe("h1")
  })
})

describe("faults", () => {
  const migrating = (schedule: unknown[]) =>
    compile(
      pool({
        hosts: 3,
        latency: "100us",
        vms: [
          { id: "v", memory: "8GiB", host: "h1", workload: { model: "rate", dirtyRate: "50MiB/s", workingSet: "1GiB" } }
        ],
        schedule: [{ at: "1s", op: "migrate", vm: "v", to: "h2" }, ...schedule]
      })
    )

  it("a link failure mid-round aborts: the VM keeps running on the source and the accounting is as before", () => {
    const before = run(migrating([]))
    const r = run(migrating([{ at: "3s", op: "fail-link", host: "h2" }]))
    expect(r.migrations[0]!.outcome).toBe("aborted")
    expect(r.migrations[0]!.reason).toContain("link of h2 failed")
    const vm = getVm(r.result.state, vmId("v"))!
    expect(vm.residentOn).toBe("h1")
    expect(vm.powerState).toBe("Running")
    expect(vm.scheduledToBeResidentOn).toBeUndefined()
    const setup = run(compile(pool({ hosts: 3, vms: [{ id: "v", memory: "8GiB", host: "h1" }] })))
    for (const h of ["h1", "h2", "h3"]) {
      expect(getHost(r.result.state, hostId(h))).toMatchObject({
        residentPages: getHost(setup.result.state, hostId(h))!.residentPages,
        reservedPages: 0,
        placementPages: getHost(setup.result.state, hostId(h))!.placementPages
      })
    }
    expect(before.migrations[0]!.outcome).toBe("committed")
  })

  it("a slower link makes the migration take longer, in proportion", () => {
    const fast = run(migrating([]))
    const slow = run(migrating([{ at: "1s", op: "slow-link", host: "h1", percent: 50 }]))
    expect(slow.migrations[0]!.totalUs).toBeGreaterThan(fast.migrations[0]!.totalUs * 1.9)
  })

  it("the destination failing mid-migration aborts it; the VM stays on the source", () => {
    const r = run(migrating([{ at: "2s", op: "fail-host", host: "h2" }]))
    expect(r.migrations[0]!.outcome).toBe("aborted")
    expect(getVm(r.result.state, vmId("v"))!.residentOn).toBe("h1")
    expect(HashMap.size(r.result.state.migrations)).toBe(0)
  })

  it("the source failing mid-migration aborts it and the VM goes Halted", () => {
    const r = run(migrating([{ at: "2s", op: "fail-host", host: "h1" }]))
    expect(r.migrations[0]!.outcome).toBe("aborted")
    const vm = getVm(r.result.state, vmId("v"))!
    expect(vm.powerState).toBe("Halted")
    expect(vm.residentOn).toBeUndefined()
  })

  it("the source failing after the point of no return: the migration completes on the destination", () => {
    // Find when the paused round ends, then fail the source in the latency window before the commit.
    const clean = run(migrating([]))
    const paused = clean.events.find(
      (e) => e.event._tag === "VmMigrationRoundCompleted" && !(e.event as { live: boolean }).live
    )!
    const r = run(migrating([{ at: `${paused.event.atUs + 50}us`, op: "fail-host", host: "h1" }]))
    expect(r.migrations[0]!.outcome).toBe("committed")
    expect(getVm(r.result.state, vmId("v"))).toMatchObject({ residentOn: "h2", powerState: "Running" })
  })
})

describe("evacuation and rolling maintenance", () => {
  it("rolling maintenance empties, then re-enables, every host in turn; every VM ends Running", () => {
    const r = run(compileFile("rolling-maintenance"))
    expect(r.result.operations.map((o) => [o.operation, o.ok])).toEqual([
      ["evacuate h1", true],
      ["evacuate h2", true],
      ["evacuate h3", true],
      ["evacuate h4", true],
      ["rolling maintenance", true]
    ])
    for (const host of HashMap.values(r.result.state.hosts)) expect(host.enabled).toBe(true)
    for (const vm of HashMap.values(r.result.state.vms)) expect(vm.powerState).toBe("Running")
    expect(r.migrations.every((m) => m.outcome === "committed")).toBe(true)
  })

  it("evacuation migrates at most 10 VMs at a time", () => {
    const r = run(
      compile(
        pool({
          hosts: 3,
          vms: [{ id: "v", count: 25, memory: "1GiB", host: "h1" }],
          schedule: [
            { at: "1s", op: "disable-host", host: "h1" },
            { at: "1s", op: "evacuate", host: "h1" }
          ]
        })
      )
    )
    let inFlight = 0
    let peak = 0
    for (const { event } of r.events) {
      if (event._tag === "VmMigrationStarted") peak = Math.max(peak, ++inFlight)
      if (event._tag === "VmMigrationCommitted" || event._tag === "VmMigrationAborted") inFlight--
    }
    expect(peak).toBe(10)
    expect(r.migrations).toHaveLength(25)
    expect(r.result.operations).toEqual([expect.objectContaining({ operation: "evacuate h1", ok: true })])
  })

  /** Two hosts of 64 GiB, each holding a 40 GiB VM: neither can take the other's. */
  const twoFullHosts = (schedule: unknown[]) =>
    run(
      compile(
        pool({
          hosts: 2,
          vms: [
            { id: "a", memory: "40GiB", host: "h1" },
            { id: "b", memory: "40GiB", host: "h2" }
          ],
          schedule
        })
      )
    )

  it("evacuation fails with NoHostsAvailable, before moving anything, when the VMs do not fit", () => {
    const r = twoFullHosts([
      { at: "1s", op: "disable-host", host: "h1" },
      { at: "1s", op: "evacuate", host: "h1" }
    ])
    expect(r.migrations).toEqual([])
    expect(r.result.refusals.map((x) => x.error._tag)).toEqual(["NoHostsAvailable"])
    expect(r.result.operations[0]).toMatchObject({ operation: "evacuate h1", ok: false })
  })

  it("rolling maintenance stops at the first host it cannot empty, says so, and touches no further host", () => {
    const r = twoFullHosts([{ at: "1s", op: "rolling-maintenance", maintenance: "10s" }])
    expect(r.migrations).toEqual([])
    expect(r.result.operations).toEqual([
      expect.objectContaining({ operation: "evacuate h1", ok: false }),
      expect.objectContaining({ operation: "rolling maintenance", ok: false, detail: "stopped at h1" })
    ])
    const hosts = r.events.filter((e) => e.event._tag === "HostDisabled" || e.event._tag === "HostEnabled")
    expect(hosts.map((e) => [e.event._tag, (e.event as { host: string }).host])).toEqual([["HostDisabled", "h1"]])
  })

  it("a host failure in the middle of an evacuation: migrations into it abort, the rest is re-planned", () => {
    const r = run(compileFile("host-failure-during-evacuation"))
    expect(r.migrations.some((m) => m.outcome === "aborted" && m.reason?.includes("h3"))).toBe(true)
    expect(getHost(r.result.state, hostId("h3"))).toMatchObject({ live: false, enabled: false })
    expect(r.result.operations).toEqual([expect.objectContaining({ operation: "evacuate h1", ok: true })])
    for (const vm of HashMap.values(r.result.state.vms)) {
      expect(vm.residentOn === "h1").toBe(false)
      expect(vm.residentOn === "h3").toBe(false)
    }
  })
})

describe("a migration over a link that is already down", () => {
  it("aborts at once instead of waiting forever at rate 0", () => {
    const r = run(
      compile(
        pool({
          vms: [{ id: "v", memory: "1GiB", host: "h1" }],
          schedule: [
            { at: "0s", op: "fail-link", host: "h2" },
            { at: "1s", op: "migrate", vm: "v", to: "h2" }
          ]
        })
      )
    )
    expect(r.migrations).toEqual([expect.objectContaining({ outcome: "aborted", reason: "link of h2 is down" })])
    expect(getVm(r.result.state, vmId("v"))).toMatchObject({ residentOn: "h1", powerState: "Running" })
    expect(r.result.stopReason).toBe("quiescent")
  })
})
