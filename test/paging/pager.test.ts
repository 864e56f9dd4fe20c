/**
 * xenpaging in the engine (engine/paging.ts): eviction toward the paging target at a bounded rate,
 * nominate-then-evict, the MRU window, faults and their vCPU wait, page-ins when the target rises, and a
 * page-in that waits for a free frame. Every run has debug mode on.
 */
import { describe, expect, it } from "vitest"
import { defaultMemoryConfig } from "../../engine/memoryConfig.js"
import { PageState, PageStates, pageStatesFactory, type PageStatesSpec } from "../../engine/pageStates.js"
import { SimulationDefect } from "../../engine/simulation.js"
import { h, runToEnd, sum, testPool, v } from "./helpers.js"

const { stepUs, evictPagesPerStep, pageInLatencyUs, prefetchPagesPerStep } = defaultMemoryConfig
const MiB = 256 // pages

/** One 256 MiB VM (65,536 pages) on a 1 GiB host. */
const oneVm = (memory = {}) =>
  testPool({ hosts: [{ id: "h1", pages: 1024 * MiB }], vms: [{ id: "a", pages: 256 * MiB, host: "h1" }], memory })

const setPagingTarget = (pool: ReturnType<typeof oneVm>, atUs: number, targetPages: number, vm = "a") =>
  pool.at(atUs, () => pool.must({ _tag: "SetPagingTarget", atUs, vm: v(vm), targetPages }))

describe("eviction toward the paging target", () => {
  it("evicts at most evictPagesPerStep a step, one step after nominating, until the target is reached", () => {
    const pool = oneVm()
    setPagingTarget(pool, 1_000, 32_768)
    runToEnd(pool)
    const out = pool.all("VmPagesPagedOut", "a")
    expect(sum(out.map((e) => e.pages))).toBe(32_768)
    expect(Math.max(...out.map((e) => e.pages))).toBe(evictPagesPerStep)
    expect(out).toHaveLength(32_768 / evictPagesPerStep)
    // the first batch is nominated when the target is set and evicted one step later
    expect(out[0]!.atUs).toBe(1_000 + stepUs)
    for (let i = 1; i < out.length; i++) expect(out[i]!.atUs - out[i - 1]!.atUs).toBe(stepUs)
    expect(pool.vm("a")).toMatchObject({ guestPages: 65_536, populatedPages: 32_768, pagedOutPages: 32_768 })
    // the host's physical use followed
    expect(pool.host("h1").residentPages).toBe(32_768)
    expect(pool.sim.memory.view(v("a"))).toMatchObject({ rwPages: 32_768, pagedPages: 32_768, pagingOutPages: 0 })
  })

  it("victims go round-robin from gfn 0 (policy_default's cursor)", () => {
    const pool = oneVm()
    setPagingTarget(pool, 0, 65_536 - 1_000)
    runToEnd(pool)
    const pages = pool.sim.memory.pager.pagesOf(v("a"))!
    expect(pages.state(0)).toBe(PageState.Paged)
    expect(pages.state(999)).toBe(PageState.Paged)
    expect(pages.state(1_000)).toBe(PageState.Rw)
  })

  it("never evicts the mruPages most recently paged-in pages; stops short of the target when only those are left", () => {
    // 1024 pages, MRU window 64: gfns [0, 512) out; [0, 100) back in; then a target of 50
    const pool = testPool({
      hosts: [{ id: "h1", pages: 4096 }],
      vms: [{ id: "a", pages: 1024, host: "h1" }],
      memory: { mruPages: 64, evictPagesPerStep: 16 }
    })
    setPagingTarget(pool, 0, 512)
    pool.at(1_000_000, () => pool.sim.memory.accessRange(v("a"), 0, 100))
    setPagingTarget(pool, 2_000_000, 50)
    runToEnd(pool)
    const pages = pool.sim.memory.pager.pagesOf(v("a"))!
    const rw = Array.from({ length: 1024 }, (_, gfn) => gfn).filter((gfn) => pages.state(gfn) === PageState.Rw)
    // the 64 most recent page-ins are gfns 36..99 (read back in gfn order)
    expect(rw).toEqual(Array.from({ length: 64 }, (_, i) => 36 + i))
    expect(pool.vm("a")).toMatchObject({ populatedPages: 64, pagedOutPages: 960, pagingTargetPages: 50 })
  })

  it("the paging target may not exceed static max, and needs a domain", () => {
    const pool = oneVm()
    pool.at(0, () => {
      expect(pool.sim.attempt({ _tag: "SetPagingTarget", atUs: 0, vm: v("a"), targetPages: 65_537 }, "too big")).toBe(
        false
      )
      pool.must({ _tag: "ShutdownVm", atUs: 0, vm: v("a"), mode: "hard" })
      expect(pool.sim.attempt({ _tag: "SetPagingTarget", atUs: 0, vm: v("a"), targetPages: 1 }, "halted")).toBe(false)
    })
    const result = runToEnd(pool)
    expect(result.refusals.map((r) => r.error._tag)).toEqual(["MemoryConstraintViolation", "VmBadPowerState"])
  })
})

describe("faults", () => {
  /** VM a with gfns [0, 32768) paged out, by 1 s. */
  const paged = () => {
    const pool = oneVm()
    setPagingTarget(pool, 0, 32_768)
    return pool
  }

  it("an access to a paged gfn faults: the vCPU waits the page-in latency, the page comes back in", () => {
    const pool = paged()
    pool.at(2_000_000, () => {
      const outcome = pool.sim.memory.access(v("a"), [1, 2, 3, 40_000, 50_000])
      expect(outcome).toEqual({ accesses: 5, hits: 2, faults: 3, ignored: 0 })
    })
    runToEnd(pool)
    expect(pool.all("VmPageFaultsServed", "a")).toEqual([
      expect.objectContaining({ atUs: 2_000_000 + pageInLatencyUs, faults: 3, vcpuWaitUs: 3 * pageInLatencyUs })
    ])
    const pagedIn = pool.all("VmPagesPagedIn", "a")
    expect(pagedIn).toEqual([expect.objectContaining({ atUs: 2_000_000 + pageInLatencyUs, pages: 3 })])
    const pages = pool.sim.memory.pager.pagesOf(v("a"))!
    expect([1, 2, 3].map((gfn) => pages.state(gfn))).toEqual([PageState.Rw, PageState.Rw, PageState.Rw])
    // back over the target: the pager evicted three others (never the ones just paged in)
    expect(pool.vm("a")).toMatchObject({ populatedPages: 32_768, pagedOutPages: 32_768 })
  })

  it("a second access to a page already paging in waits for that page-in", () => {
    const pool = paged()
    pool.at(2_000_000, () => pool.sim.memory.access(v("a"), [7]))
    pool.at(2_000_050, () => pool.sim.memory.access(v("a"), [7]))
    runToEnd(pool)
    expect(pool.all("VmPageFaultsServed", "a")).toEqual([
      expect.objectContaining({ faults: 2, vcpuWaitUs: pageInLatencyUs + (pageInLatencyUs - 50) })
    ])
    expect(pool.all("VmPagesPagedIn", "a")).toEqual([expect.objectContaining({ pages: 1 })])
  })

  it("an access to a page still paging out fails its evict: served when the batch is written, frame kept", () => {
    const pool = oneVm()
    setPagingTarget(pool, 1_000, 65_536 - 10) // one batch of 10: gfns 0..9, evicted at 1 000 + stepUs
    pool.at(4_000, () => expect(pool.sim.memory.access(v("a"), [5]).faults).toBe(1))
    runToEnd(pool)
    expect(pool.all("VmPageFaultsServed", "a")[0]).toMatchObject({
      atUs: 1_000 + stepUs,
      faults: 1,
      vcpuWaitUs: 1_000 + stepUs - 4_000
    })
    // the batch's evict gave 9 pages; the 10th came from the next batch, and nothing was paged in
    expect(pool.all("VmPagesPagedOut", "a").map((e) => e.pages)).toEqual([9, 1])
    expect(pool.all("VmPagesPagedIn", "a")).toEqual([])
    expect(pool.sim.memory.pager.pagesOf(v("a"))!.state(5)).toBe(PageState.Rw)
  })

  it("accesses of a guest that is not running are ignored, as are ballooned-out gfns; gfns beyond static max throw", () => {
    const pool = testPool({
      hosts: [{ id: "h1", pages: 4096 }],
      vms: [{ id: "a", pages: 1024, target: 512, dynamicMin: 512, host: "h1" }]
    })
    pool.at(0, () => {
      expect(pool.sim.memory.access(v("a"), [0, 600])).toEqual({ accesses: 2, hits: 1, faults: 0, ignored: 1 })
      expect(() => pool.sim.memory.access(v("a"), [1024])).toThrow("outside the VM's memory")
      pool.must({ _tag: "PauseVm", atUs: 0, vm: v("a") })
      expect(pool.sim.memory.access(v("a"), [0])).toEqual({ accesses: 1, hits: 0, faults: 0, ignored: 1 })
    })
    runToEnd(pool)
  })
})

describe("raising the target pages back in", () => {
  it("at most prefetchPagesPerStep a step, each read taking the page-in latency", () => {
    const pool = oneVm()
    setPagingTarget(pool, 0, 32_768)
    setPagingTarget(pool, 5_000_000, 65_536)
    runToEnd(pool)
    const pagedIn = pool.all("VmPagesPagedIn", "a")
    expect(sum(pagedIn.map((e) => e.pages))).toBe(32_768)
    expect(Math.max(...pagedIn.map((e) => e.pages))).toBe(prefetchPagesPerStep)
    expect(pagedIn[0]!.atUs).toBe(5_000_000 + pageInLatencyUs)
    for (let i = 1; i < pagedIn.length; i++) expect(pagedIn[i]!.atUs - pagedIn[i - 1]!.atUs).toBe(stepUs)
    expect(pool.vm("a")).toMatchObject({ populatedPages: 65_536, pagedOutPages: 0 })
    expect(pool.all("VmPageFaultsServed")).toEqual([])
  })
})

describe("a page-in needs a free frame", () => {
  it("waits while the host has none, and comes in when a VM leaves; the vCPU's wait includes it", () => {
    // h1: 2000 pages. a (1000, dynamic_min 500) pages out 500; then b (1500) fills the host: a's fault has no frame.
    const pool = testPool({
      hosts: [{ id: "h1", pages: 2_000 }],
      vms: [
        { id: "a", pages: 1_000, dynamicMin: 500, host: "h1" },
        { id: "b", pages: 1_500 }
      ]
    })
    setPagingTarget(pool, 0, 500)
    pool.at(1_000_000, () => pool.must({ _tag: "StartVm", atUs: 1_000_000, vm: v("b"), host: h("h1") }))
    pool.at(2_000_000, () => pool.sim.memory.access(v("a"), [0]))
    pool.at(3_000_000, () => pool.must({ _tag: "ShutdownVm", atUs: 3_000_000, vm: v("b"), mode: "hard" }))
    pool.at(2_500_000, () => {
      expect(pool.host("h1").residentPages).toBe(2_000)
      expect(pool.sim.memory.view(v("a"))).toMatchObject({ stalled: true, faultsWaiting: 1, pagingInPages: 1 })
    })
    runToEnd(pool)
    expect(pool.sim.memory.view(v("a"))?.stalled).toBe(false)
    expect(pool.all("VmPageFaultsServed", "a")).toEqual([
      expect.objectContaining({ atUs: 3_000_000, faults: 1, vcpuWaitUs: 1_000_000 })
    ])
    expect(pool.all("VmPagesPagedIn", "a")).toEqual([expect.objectContaining({ atUs: 3_000_000, pages: 1 })])
  })
})

describe("a domain's paging ends with it", () => {
  it("a shut-down VM restarts with its target populated, nothing paged, no pager", () => {
    const pool = oneVm()
    setPagingTarget(pool, 0, 1_000)
    pool.at(500_000, () => pool.must({ _tag: "ShutdownVm", atUs: 500_000, vm: v("a"), mode: "clean" }))
    pool.at(600_000, () => pool.must({ _tag: "StartVm", atUs: 600_000, vm: v("a") }))
    runToEnd(pool)
    expect(pool.vm("a")).toMatchObject({ populatedPages: 65_536, pagedOutPages: 0, pagingTargetPages: undefined })
    expect(pool.sim.memory.view(v("a"))).toBeUndefined()
    expect(pool.all("VmPagesPagedOut", "a").every((e) => e.atUs <= 500_000)).toBe(true)
  })
})

describe("the page-states seam", () => {
  it("the pager builds each VM's page states through the factory it is given, once, from the domain's sizes", () => {
    const specs: PageStatesSpec[] = []
    const pool = testPool({
      hosts: [{ id: "h1", pages: 1024 * MiB }],
      vms: [{ id: "a", pages: 256 * MiB, target: 128 * MiB, dynamicMin: 128 * MiB, host: "h1" }],
      pageStates: (spec) => {
        specs.push(spec)
        return pageStatesFactory(spec)
      }
    })
    setPagingTarget(pool, 1_000, 64 * MiB)
    runToEnd(pool)
    expect(specs).toEqual([{ vm: v("a"), staticMaxPages: 256 * MiB, guestPages: 128 * MiB, mruPages: 16_384 }])
    expect(pool.sim.memory.view(v("a"))).toMatchObject({ rwPages: 64 * MiB, pagedPages: 64 * MiB })
  })

  it("page states built for other sizes than the domain's are a defect", () => {
    const pool = testPool({
      hosts: [{ id: "h1", pages: 1024 * MiB }],
      vms: [{ id: "a", pages: 256 * MiB, host: "h1" }],
      pageStates: (spec) => new PageStates(spec.staticMaxPages, spec.guestPages - 1, spec.mruPages)
    })
    setPagingTarget(pool, 1_000, 64 * MiB)
    const defect = (() => {
      try {
        pool.sim.run()
      } catch (error) {
        return error
      }
    })()
    expect(defect).toBeInstanceOf(SimulationDefect)
    expect((defect as Error).message).toBe(
      "VM a's page states: built for 65535 of 65536 pages, the domain has 65536 of 65536"
    )
  })
})
