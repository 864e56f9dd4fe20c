/**
 * Ballooning (engine/balloon.ts, domain/paging.ts): a resident VM's populated pages follow its memory
 * target at a bounded rate, never below dynamic_min or above dynamic_max; the host's physical free
 * memory follows; a paused guest's balloon does not move; growth waits for free frames; a paged guest
 * gives back paged gfns by dropping them.
 */
import { describe, expect, it } from "vitest"
import { hostPhysicalFreePages } from "../../domain/memory.js"
import { defaultMemoryConfig } from "../../engine/memoryConfig.js"
import { PageState } from "../../engine/pageStates.js"
import { runToEnd, sum, testPool, v } from "./helpers.js"

const { stepUs, balloonPagesPerStep } = defaultMemoryConfig

/** VM a: dynamic range [1000, 3000], target 2000, on a 10,000-page host. */
const elastic = () =>
  testPool({
    hosts: [{ id: "h1", pages: 10_000 }],
    vms: [{ id: "a", pages: 3_000, dynamicMin: 1_000, target: 2_000, host: "h1" }]
  })

const setTarget = (pool: ReturnType<typeof elastic>, atUs: number, targetPages: number) =>
  pool.at(atUs, () => pool.must({ _tag: "SetMemoryTarget", atUs, vm: v("a"), targetPages }))

describe("the guest follows its target at a bounded rate", () => {
  it("down: balloonPagesPerStep a step until the target, frames back to the host", () => {
    const pool = elastic()
    setTarget(pool, 1_000, 1_000)
    pool.at(1_000, () => expect(pool.vm("a")).toMatchObject({ guestPages: 2_000, memory: { targetPages: 1_000 } }))
    runToEnd(pool)
    const steps = pool.all("VmBalloonInflated", "a")
    expect(steps.map((e) => e.releasedPages)).toEqual([balloonPagesPerStep, 1_000 - balloonPagesPerStep])
    expect(steps.map((e) => e.atUs)).toEqual([1_000, 1_000 + stepUs])
    expect(pool.vm("a")).toMatchObject({ guestPages: 1_000, populatedPages: 1_000 })
    expect(hostPhysicalFreePages(pool.host("h1"))).toBe(9_000)
  })

  it("up: the same steps the other way, each taking free frames", () => {
    const pool = elastic()
    setTarget(pool, 0, 3_000)
    runToEnd(pool)
    const steps = pool.all("VmBalloonDeflated", "a")
    expect(steps.map((e) => e.pages)).toEqual([balloonPagesPerStep, 1_000 - balloonPagesPerStep])
    expect(pool.vm("a")).toMatchObject({ guestPages: 3_000, populatedPages: 3_000 })
    expect(hostPhysicalFreePages(pool.host("h1"))).toBe(7_000)
  })

  it("the target stays within [dynamic_min, dynamic_max]; so does the guest at every event", () => {
    const pool = elastic()
    pool.at(0, () => {
      expect(pool.sim.attempt({ _tag: "SetMemoryTarget", atUs: 0, vm: v("a"), targetPages: 999 }, "below")).toBe(false)
      expect(pool.sim.attempt({ _tag: "SetMemoryTarget", atUs: 0, vm: v("a"), targetPages: 3_001 }, "above")).toBe(
        false
      )
    })
    setTarget(pool, 1_000, 1_000)
    setTarget(pool, 5_000, 3_000) // turns round mid-way
    const result = runToEnd(pool)
    expect(result.refusals.map((r) => r.error._tag)).toEqual(["MemoryConstraintViolation", "MemoryConstraintViolation"])
    let guest = 2_000
    for (const e of pool.events) {
      if (e._tag === "VmBalloonInflated" && e.vm === "a") guest -= e.releasedPages + e.droppedPages
      if (e._tag === "VmBalloonDeflated" && e.vm === "a") guest += e.pages
      expect(guest).toBeGreaterThanOrEqual(1_000)
      expect(guest).toBeLessThanOrEqual(3_000)
    }
    expect(guest).toBe(3_000)
    // one inflation step (2000 → 1360) before the turn, then up to 3000
    expect(pool.all("VmBalloonInflated", "a").map((e) => e.releasedPages)).toEqual([balloonPagesPerStep])
    expect(sum(pool.all("VmBalloonDeflated", "a").map((e) => e.pages))).toBe(3_000 - (2_000 - balloonPagesPerStep))
  })

  it("a paused guest's balloon does not move; it goes on when unpaused", () => {
    const pool = elastic()
    pool.at(0, () => pool.must({ _tag: "PauseVm", atUs: 0, vm: v("a") }))
    setTarget(pool, 1_000, 1_000)
    pool.at(1_000_000, () => {
      expect(pool.vm("a").guestPages).toBe(2_000)
      pool.must({ _tag: "UnpauseVm", atUs: 1_000_000, vm: v("a") })
    })
    runToEnd(pool)
    expect(pool.all("VmBalloonInflated", "a")[0]!.atUs).toBe(1_000_000)
    expect(pool.vm("a").guestPages).toBe(1_000)
  })

  it("growth waits for free frames: it stops when the host is full and goes on when memory is freed", () => {
    // h1 has 3000 pages: a holds 2000, b 500; a may grow to 2500, but c takes the last 500 first
    const pool = testPool({
      hosts: [{ id: "h1", pages: 3_000 }],
      vms: [
        { id: "a", pages: 3_000, dynamicMin: 1_000, target: 2_000, host: "h1" },
        { id: "b", pages: 500, host: "h1" },
        { id: "c", pages: 500 }
      ]
    })
    pool.at(0, () => {
      pool.must({ _tag: "SetMemoryTarget", atUs: 0, vm: v("a"), targetPages: 2_500 })
      pool.must({ _tag: "StartVm", atUs: 0, vm: v("c") })
    })
    pool.at(1_000_000, () => {
      expect(pool.vm("a").guestPages).toBe(2_000)
      expect(hostPhysicalFreePages(pool.host("h1"))).toBe(0)
      pool.must({ _tag: "ShutdownVm", atUs: 1_000_000, vm: v("b"), mode: "hard" })
    })
    runToEnd(pool)
    expect(pool.vm("a").guestPages).toBe(2_500)
    expect(pool.all("VmBalloonDeflated", "a").map((e) => [e.atUs, e.pages])).toEqual([[1_000_000, 500]])
  })
})

describe("a balloon over paged memory", () => {
  it("gives back its highest gfns: paged ones are dropped (no frame freed), resident ones released", () => {
    const pool = elastic()
    pool.at(0, () => pool.must({ _tag: "SetPagingTarget", atUs: 0, vm: v("a"), targetPages: 0 }))
    // everything is paged out by 1 s (2000 pages at 256 a step): the balloon then drops paged gfns
    setTarget(pool, 1_000_000, 1_500)
    runToEnd(pool)
    expect(pool.all("VmBalloonInflated", "a")).toEqual([
      expect.objectContaining({ atUs: 1_000_000, releasedPages: 0, droppedPages: 500 })
    ])
    expect(pool.vm("a")).toMatchObject({ guestPages: 1_500, populatedPages: 0, pagedOutPages: 1_500 })
    const pages = pool.sim.memory.pager.pagesOf(v("a"))!
    expect([pages.state(1_499), pages.state(1_500)]).toEqual([PageState.Paged, PageState.Absent])
  })

  it("a halted VM's target takes effect at once: its next domain is built at it", () => {
    const pool = testPool({
      hosts: [{ id: "h1", pages: 10_000 }],
      vms: [{ id: "a", pages: 3_000, dynamicMin: 1_000, target: 2_000 }]
    })
    setTarget(pool, 0, 1_200)
    pool.at(0, () => expect(pool.vm("a")).toMatchObject({ guestPages: 1_200, populatedPages: 1_200 }))
    runToEnd(pool)
    expect(pool.all("VmBalloonInflated")).toEqual([])
  })
})
