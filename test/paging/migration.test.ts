/**
 * Live migration of a paged VM (DESIGN.md §5): paged-out pages travel as markers without data (Xen's
 * XTAB) and stay paged on the destination; the paged count is the same after the commit, and the bytes
 * sent exclude them. A page paged back in during a live round is re-sent, with its data, the next
 * round, and the destination's reservation grows by its frame.
 */
import { describe, expect, it } from "vitest"
import type { PoolEvent } from "../../domain/events.js"
import { foldEvents } from "../../domain/evolve.js"
import { getVm, initialState } from "../../domain/state.js"
import type { VmWorkload } from "../../engine/config.js"
import { createPrecopy, policyByName, PageTracker } from "../../engine/migration/index.js"
import { PageState } from "../../engine/pageStates.js"
import { SETUP_US_DEFAULT } from "../../engine/migration/phases.js"
import { h, runToEnd, testPool, v, type TestPool } from "./helpers.js"

const PAGE = 4096
const GUEST = 65_536 // 256 MiB
const RESIDENT = 16_384 // paging target: 49,152 pages paged out

const pagedVm = (workload?: VmWorkload) =>
  testPool({
    hosts: [
      { id: "h1", pages: 1 << 20 },
      { id: "h2", pages: 1 << 20 }
    ],
    vms: [{ id: "a", pages: GUEST, host: "h1", ...(workload ? { workload } : {}) }],
    latencyUs: 100
  })

/** The VM as the log says it was right after the first event that matches. */
const vmAfter = (pool: TestPool, match: (e: PoolEvent) => boolean) => {
  const index = pool.events.findIndex(match)
  expect(index).toBeGreaterThanOrEqual(0)
  return getVm(foldEvents(initialState, pool.events.slice(0, index + 1)), v("a"))!
}

const migrateAt = (pool: TestPool, atUs: number) =>
  pool.at(atUs, () => expect(pool.sim.migrate(v("a"), h("h2"))).toBe(true))

const pageOutThenMigrate = (pool: TestPool) => {
  pool.at(0, () => pool.must({ _tag: "SetPagingTarget", atUs: 0, vm: v("a"), targetPages: RESIDENT }))
  migrateAt(pool, 5_000_000)
}

describe("a paged VM migrates", () => {
  it.each([
    ["rate model, idle guest", undefined],
    [
      "pages model, a guest writing its working set",
      { model: "pages", writer: "uniform", dirtyRateBytesPerS: 2_000 * PAGE, workingSetPages: 4_096 } as VmWorkload
    ]
  ])("%s: markers without data, same paged count after the commit", (_name, workload) => {
    const pool = pagedVm(workload)
    pageOutThenMigrate(pool)
    runToEnd(pool)
    const before = vmAfter(pool, (e) => e._tag === "VmMigrationStarted")
    expect(before).toMatchObject({ populatedPages: RESIDENT, pagedOutPages: GUEST - RESIDENT })
    // the reservation on h2 is the resident pages only
    expect(pool.all("VmMigrationStarted", "a")[0]!.reservedPages).toBe(RESIDENT)
    const rounds = pool.all("VmMigrationRoundCompleted", "a")
    expect(rounds[0]).toMatchObject({ round: 1, pagesSent: RESIDENT, bytesSent: RESIDENT * PAGE })
    const committed = pool.all("VmMigrationCommitted", "a")[0]!
    expect(committed.bytesSent).toBe(rounds.reduce((s, r) => s + r.bytesSent, 0))
    expect(committed.bytesSent).toBeLessThan(GUEST * PAGE)
    const after = vmAfter(pool, (e) => e._tag === "VmMigrationCommitted")
    expect(after).toMatchObject({ residentOn: "h2", pagedOutPages: before.pagedOutPages, populatedPages: RESIDENT })
    // the pages stay paged on the destination, whose pager holds the target
    const pages = pool.sim.memory.pager.pagesOf(v("a"))!
    expect(pages.count(PageState.Paged)).toBe(GUEST - RESIDENT)
    expect(pool.vm("a")).toMatchObject({
      residentOn: "h2",
      pagedOutPages: GUEST - RESIDENT,
      pagingTargetPages: RESIDENT
    })
    expect(pool.host("h1").residentPages).toBe(0)
    expect(pool.host("h2").residentPages).toBe(RESIDENT)
  })

  it("a page paged back in during a live round is re-sent with its data; the reservation grows by it", () => {
    const pool = pagedVm()
    pageOutThenMigrate(pool)
    // after setup, round 1 (16,384 pages at 1.25 GB/s) takes ~54 ms: these page-ins land in it
    pool.at(5_000_000 + SETUP_US_DEFAULT + 10_000, () =>
      expect(pool.sim.memory.access(v("a"), [0, 1, 2, 3, 4]).faults).toBe(5)
    )
    runToEnd(pool)
    const rounds = pool.all("VmMigrationRoundCompleted", "a")
    expect(rounds[0]!.pagesSent).toBe(RESIDENT)
    expect(rounds[1]).toMatchObject({ round: 2, pagesSent: 5, bytesSent: 5 * PAGE })
    const started = vmAfter(pool, (e) => e._tag === "VmMigrationStarted")
    const committed = vmAfter(pool, (e) => e._tag === "VmMigrationCommitted")
    expect(committed.pagedOutPages).toBe(started.pagedOutPages - 5)
    expect(committed.populatedPages).toBe(RESIDENT + 5)
    const pagedIn = pool.all("VmPagesPagedIn", "a")[0]!
    const state = foldEvents(initialState, pool.events.slice(0, pool.events.indexOf(pagedIn) + 1))
    expect([...state.migrations].map(([, m]) => m.reservedPages)).toEqual([RESIDENT + 5])
    // back on h2, over its paging target by 5: the pager there evicts 5 more
    expect(pool.vm("a")).toMatchObject({ residentOn: "h2", populatedPages: RESIDENT, pagedOutPages: GUEST - RESIDENT })
  })

  it("a batch being evicted when the migration starts is abandoned: its pages go back to rw, no marker for them", () => {
    const pool = pagedVm()
    pool.at(0, () => pool.must({ _tag: "SetPagingTarget", atUs: 0, vm: v("a"), targetPages: RESIDENT }))
    migrateAt(pool, 5_000) // a batch was nominated at 0, due at 10 ms
    runToEnd(pool)
    const started = vmAfter(pool, (e) => e._tag === "VmMigrationStarted")
    expect(started.pagedOutPages).toBe(0)
    expect(pool.all("VmMigrationRoundCompleted", "a")[0]!.bytesSent).toBe(GUEST * PAGE)
    expect(pool.all("VmMigrationCommitted", "a")).toHaveLength(1)
    // the pager goes on on the destination
    expect(pool.vm("a")).toMatchObject({ residentOn: "h2", populatedPages: RESIDENT })
  })
})

describe("the pre-copy machine and paged pages", () => {
  const paged = (gfns: ReadonlySet<number>) => ({
    isPaged: (gfn: number) => gfns.has(gfn),
    pagedCount: () => gfns.size
  })

  it("PageTracker: paged to-send pages go as markers (destination current, no data); a touched page is dirty again", () => {
    const tracker = new PageTracker(64)
    tracker.setPaged(paged(new Set([3, 40, 63])))
    expect(tracker.sendAll()).toBe(61)
    expect(tracker.markersSent()).toBe(3)
    expect([3, 40, 63].map((gfn) => tracker.isPending(gfn))).toEqual([false, false, false])
    expect(tracker.destinationVersion[40]).toBe(tracker.sourceVersion[40])
    tracker.touch(40)
    expect(tracker.isDirty(40)).toBe(true)
    expect(tracker.dirtyCount()).toBe(1)
  })

  it.each(["rate", "pages"] as const)("the %s model: round 1 sends only the pages that are not paged", (kind) => {
    const precopy = createPrecopy({
      memoryPages: 1_000,
      pageSizeBytes: PAGE,
      policy: policyByName("xen"),
      model:
        kind === "rate"
          ? { kind: "rate", dirtyRateBytesPerS: 0, workingSetPages: 1_000 }
          : { kind: "pages", writer: { atUs: Number.MAX_SAFE_INTEGER, gfn: -1, next: () => undefined } },
      latencyUs: 0,
      startUs: 0,
      paged: paged(new Set(Array.from({ length: 600 }, (_, i) => i * 1 + 400)))
    })
    const end = precopy.nextEventUs(PAGE * 1_000)!
    precopy.advance(end, PAGE * 1_000)
    expect(precopy.completeRound(end)).toMatchObject({ index: 1, pagesSent: 400, bytesSent: 400 * PAGE })
  })
})
