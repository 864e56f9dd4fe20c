/**
 * XAPI's squeezer (domain/squeezer.ts, engine/balloon.ts): a start, resume or migration that passes the
 * placement rule but finds physical memory short waits while the host's VMs balloon down toward
 * dynamic_min, or fails with HostNotEnoughFreeMemory: at once when even dynamic_min everywhere would
 * not free enough, later when the balloons make no progress within the bound.
 */
import { Either } from "effect"
import { describe, expect, it } from "vitest"
import { hostPhysicalFreePages } from "../../domain/memory.js"
import { planSqueeze } from "../../domain/squeezer.js"
import { defaultMemoryConfig } from "../../engine/memoryConfig.js"
import { h, runToEnd, testPool, v } from "./helpers.js"

const { squeezeCheckUs, squeezeStuckUs } = defaultMemoryConfig

/**
 * h1, the only host: 10,000 pages. a runs there, dynamic range [2000, 6000] at 6000: placement 2000, physical 6000.
 * b (halted) needs `bPages` resident with a dynamic_min of 1000: placement passes (8000 free), physical
 * does not (4000 free).
 */
const squeezable = (bPages: number) =>
  testPool({
    hosts: [{ id: "h1", pages: 10_000 }],
    vms: [
      { id: "a", pages: 6_000, dynamicMin: 2_000, host: "h1" },
      { id: "b", pages: bPages, dynamicMin: 1_000 }
    ]
  })

describe("the plan (squeezed's proportional policy)", () => {
  it("every balloonable VM gets the same share of its dynamic range; only targets that go down", () => {
    const pool = testPool({
      hosts: [{ id: "h1", pages: 10_000 }],
      vms: [
        { id: "a", pages: 4_000, dynamicMin: 2_000, host: "h1" }, // range 2000
        { id: "c", pages: 4_000, dynamicMin: 0, host: "h1" }, // range 4000
        { id: "d", pages: 1_000, host: "h1" } // no range
      ]
    })
    // free 1000; at dynamic_min everywhere 1000 + 2000 + 4000 = 7000; asking 4000 leaves a surplus of 3000
    const plan = planSqueeze(pool.sim.state, pool.host("h1"), v("x"), 4_000)
    expect(Either.getOrThrow(plan)).toEqual([
      { vm: "a", targetPages: 2_000 + 1_000 },
      { vm: "c", targetPages: 0 + 2_000 }
    ])
    expect(Either.getLeft(planSqueeze(pool.sim.state, pool.host("h1"), v("x"), 7_001))).toMatchObject({
      _tag: "Some",
      value: { _tag: "HostNotEnoughFreeMemory", requiredPages: 7_001, availablePages: 7_000 }
    })
  })
})

describe("a start the squeezer admits", () => {
  it("a is ballooned down, b starts at squeezed's next look, and both fit", () => {
    const pool = squeezable(6_000)
    pool.at(0, () => expect(pool.sim.attempt({ _tag: "StartVm", atUs: 0, vm: v("b") }, "start b")).toBe(false))
    const result = runToEnd(pool)
    // maximum free 4000 + 4000 = 8000; surplus 2000 over the 6000 asked: a keeps 2000 of its 4000 range
    expect(pool.all("VmMemoryTargetSet", "a")).toEqual([expect.objectContaining({ atUs: 0, targetPages: 4_000 })])
    expect(pool.all("VmStarted", "b")).toEqual([expect.objectContaining({ atUs: squeezeCheckUs, host: "h1" })])
    expect(result.operations).toEqual([
      expect.objectContaining({ operation: "start b", ok: true, detail: `after squeezing h1 for ${squeezeCheckUs} µs` })
    ])
    expect(result.refusals).toEqual([])
    expect(pool.vm("a")).toMatchObject({ guestPages: 4_000, populatedPages: 4_000 })
    expect(hostPhysicalFreePages(pool.host("h1"))).toBe(0)
  })

  it("without the squeezer's help (b fits as it is) nothing is squeezed", () => {
    const pool = squeezable(4_000)
    pool.at(0, () =>
      expect(pool.sim.attempt({ _tag: "StartVm", atUs: 0, vm: v("b"), host: h("h1") }, "start b")).toBe(true)
    )
    runToEnd(pool)
    expect(pool.all("VmMemoryTargetSet")).toEqual([])
  })

  it("a migration onto the squeezed host waits for the balloons, then runs and commits", () => {
    const pool = testPool({
      hosts: [
        { id: "h1", pages: 10_000 },
        { id: "h2", pages: 10_000 }
      ],
      vms: [
        { id: "a", pages: 6_000, dynamicMin: 2_000, host: "h1" },
        { id: "m", pages: 6_000, dynamicMin: 1_000, host: "h2" }
      ]
    })
    pool.at(0, () => expect(pool.sim.migrate(v("m"), h("h1"))).toBe(false))
    const result = runToEnd(pool)
    expect(pool.all("VmMigrationStarted", "m")).toEqual([expect.objectContaining({ atUs: squeezeCheckUs })])
    expect(pool.all("VmMigrationCommitted", "m")).toHaveLength(1)
    expect(pool.vm("m").residentOn).toBe("h1")
    expect(result.operations.map((o) => [o.operation, o.ok])).toEqual([["migrate m to h1", true]])
  })
})

describe("a start the squeezer cannot help", () => {
  it("fails at once when even every VM at dynamic_min leaves too little; no target moves", () => {
    const pool = squeezable(8_001)
    pool.at(0, () =>
      expect(pool.sim.attempt({ _tag: "StartVm", atUs: 0, vm: v("b"), host: h("h1") }, "start b")).toBe(false)
    )
    const result = runToEnd(pool)
    expect(result.refusals).toEqual([
      expect.objectContaining({
        atUs: 0,
        operation: "start b",
        error: expect.objectContaining({ _tag: "HostNotEnoughFreeMemory", requiredPages: 8_001, availablePages: 8_000 })
      })
    ])
    expect(pool.all("VmMemoryTargetSet")).toEqual([])
    expect(pool.vm("b").powerState).toBe("Halted")
  })

  it("fails when the balloons make no progress within the bound (the guest was paused)", () => {
    const pool = squeezable(6_000)
    pool.at(0, () => {
      pool.sim.attempt({ _tag: "StartVm", atUs: 0, vm: v("b") }, "start b")
      // a paused guest's balloon driver does not run: the squeeze is stuck
      pool.must({ _tag: "PauseVm", atUs: 0, vm: v("a") })
    })
    const result = runToEnd(pool)
    expect(result.refusals).toEqual([
      expect.objectContaining({
        atUs: squeezeStuckUs,
        operation: "start b",
        error: expect.objectContaining({ _tag: "HostNotEnoughFreeMemory", requiredPages: 6_000, availablePages: 4_000 })
      })
    ])
    expect(result.operations).toEqual([expect.objectContaining({ operation: "start b", ok: false })])
    expect(pool.vm("b").powerState).toBe("Halted")
    expect(pool.vm("a").guestPages).toBe(6_000)
  })

  it("a start that fails placement is not squeezed: decide's refusal stands", () => {
    const pool = squeezable(6_000)
    pool.at(0, () => {
      pool.must({ _tag: "DisableHost", atUs: 0, host: h("h1") })
      pool.sim.attempt({ _tag: "StartVm", atUs: 0, vm: v("b") }, "start b")
    })
    const result = runToEnd(pool)
    expect(result.refusals.map((r) => r.error._tag)).toEqual(["NoHostsAvailable"])
    expect(pool.all("VmMemoryTargetSet")).toEqual([])
  })

  it("two starts on one host wait in turn, the second planned with the first's claim", () => {
    const pool = testPool({
      hosts: [{ id: "h1", pages: 10_000 }],
      vms: [
        { id: "a", pages: 8_000, dynamicMin: 1_000, host: "h1" },
        { id: "b", pages: 3_000, dynamicMin: 1_000 },
        { id: "c", pages: 3_000, dynamicMin: 1_000 }
      ]
    })
    pool.at(0, () => {
      pool.sim.attempt({ _tag: "StartVm", atUs: 0, vm: v("b"), host: h("h1") }, "start b")
      pool.sim.attempt({ _tag: "StartVm", atUs: 0, vm: v("c"), host: h("h1") }, "start c")
    })
    const result = runToEnd(pool)
    expect(result.refusals).toEqual([])
    expect(pool.vm("b").powerState).toBe("Running")
    expect(pool.vm("c").powerState).toBe("Running")
    expect(pool.vm("a").guestPages).toBeLessThanOrEqual(4_000)
  })
})
