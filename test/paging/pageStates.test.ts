/**
 * The page-state machine (engine/pageStates.ts): every one of the 25 (from, to) pairs is tried on a
 * page in `from`; exactly the edges of XEN.md §5 (and the balloon's three) succeed, everything else
 * throws and changes nothing. Plus the counts, the guest's gfn range and the MRU window.
 */
import { describe, expect, it } from "vitest"
import {
  GfnOutOfRange,
  IllegalPageTransition,
  isLegalPageEdge,
  PAGE_STATE_COUNT,
  pageEdges,
  PageState,
  pageStateNames,
  PageStates
} from "../../engine/pageStates.js"

const { Absent, Rw, PagingOut, Paged, PagingIn } = PageState
const all: ReadonlyArray<PageState> = [Absent, Rw, PagingOut, Paged, PagingIn]

/** XEN.md §5 and invariant 14, transcribed independently of pageStates.ts. */
const pagingEdges: ReadonlyArray<readonly [PageState, PageState]> = [
  [Rw, PagingOut], // nominate
  [PagingOut, Paged], // evict
  [Paged, PagingIn], // populate on access
  [PagingIn, Rw], // prep/load + resume
  [PagingOut, PagingIn] // touched while paging out
]
/** The balloon: populate_physmap, decrease_reservation, and the drop of a paged gfn the guest frees. */
const balloonEdges: ReadonlyArray<readonly [PageState, PageState]> = [
  [Absent, Rw],
  [Rw, Absent],
  [Paged, Absent]
]
const legal = new Set([...pagingEdges, ...balloonEdges].map(([a, b]) => `${a}>${b}`))

/** A machine with gfn 0 in `state`, reached by legal edges only (so the setup itself is checked). */
const withGfn0In = (state: PageState): PageStates => {
  const pages = new PageStates(8, state === Absent ? 0 : 4, 16)
  const path: Record<PageState, ReadonlyArray<PageState>> = {
    [Absent]: [],
    [Rw]: [],
    [PagingOut]: [PagingOut],
    [Paged]: [PagingOut, Paged],
    [PagingIn]: [PagingOut, Paged, PagingIn]
  }
  let at: PageState = state === Absent ? Absent : Rw
  for (const next of path[state]) {
    pages.transition(0, at, next)
    at = next
  }
  expect(pages.state(0)).toBe(state)
  return pages
}

describe("the legal-edge table", () => {
  it("is exactly XEN.md's paging edges plus the balloon's, each said once", () => {
    expect(pageEdges.map((e) => `${e.from}>${e.to}`).sort()).toEqual([...legal].sort())
    expect(pageEdges.filter((e) => e.kind === "paging").map((e) => [e.from, e.to])).toEqual(
      expect.arrayContaining(pagingEdges.map((e) => [...e]))
    )
    expect(pageEdges.filter((e) => e.kind === "paging")).toHaveLength(5)
    expect(pageEdges.filter((e) => e.kind === "balloon")).toHaveLength(3)
  })

  it("has five states with names", () => {
    expect(all).toHaveLength(PAGE_STATE_COUNT)
    expect(all.map((s) => pageStateNames[s])).toEqual(["absent", "rw", "paging-out", "paged", "paging-in"])
  })
})

describe.each(all.map((from) => [pageStateNames[from], from] as const))("from %s", (_name, from) => {
  it.each(all.map((to) => [pageStateNames[to], to] as const))("to %s", (_toName, to) => {
    expect(isLegalPageEdge(from, to)).toBe(legal.has(`${from}>${to}`))
    const pages = withGfn0In(from)
    const counts = all.map((s) => pages.count(s))
    if (legal.has(`${from}>${to}`)) {
      pages.transition(0, from, to)
      expect(pages.state(0)).toBe(to)
      const expected = [...counts]
      expected[from]!--
      expected[to]!++
      expect(all.map((s) => pages.count(s))).toEqual(expected)
    } else {
      expect(() => pages.transition(0, from, to)).toThrow(IllegalPageTransition)
      expect(pages.state(0)).toBe(from)
      expect(all.map((s) => pages.count(s))).toEqual(counts)
    }
  })
})

describe("the machine's other checks", () => {
  it("a transition from a state the page is not in throws, even along a legal edge", () => {
    const pages = new PageStates(4, 4, 16)
    expect(() => pages.transition(1, PagingOut, Paged)).toThrow("gfn 1: rw → paged is not a legal page-state change")
    expect(pages.state(1)).toBe(Rw)
  })

  it("a gfn outside static max is refused", () => {
    const pages = new PageStates(4, 4, 16)
    expect(() => pages.state(4)).toThrow(GfnOutOfRange)
    expect(() => pages.state(-1)).toThrow(GfnOutOfRange)
    expect(() => pages.state(1.5)).toThrow(GfnOutOfRange)
  })

  it("the guest's gfns are [0, guestPages): the balloon takes the highest and adds the next", () => {
    const pages = new PageStates(8, 4, 16)
    expect(pages.checkCounts()).toBeUndefined()
    expect(pages.growGuest()).toBe(4)
    expect(pages.guestPages).toBe(5)
    pages.transition(4, Rw, PagingOut)
    expect(pages.shrinkGuest()).toBeUndefined() // paging out: the balloon waits for the pager
    pages.transition(4, PagingOut, Paged)
    expect(pages.shrinkGuest()).toBe(Paged) // dropped from the paging file
    expect(pages.shrinkGuest()).toBe(Rw)
    expect(pages.guestPages).toBe(3)
    expect([pages.count(Absent), pages.count(Rw), pages.count(Paged)]).toEqual([5, 3, 0])
    expect(pages.checkCounts()).toBeUndefined()
  })

  it("the MRU window is the last `mruPages` page-ins: they are not evictable, older ones are", () => {
    const pages = new PageStates(8, 8, 2)
    for (const gfn of [0, 1, 2]) {
      pages.transition(gfn, Rw, PagingOut)
      pages.transition(gfn, PagingOut, Paged)
    }
    for (const gfn of [0, 1, 2]) {
      pages.transition(gfn, Paged, PagingIn)
      pages.transition(gfn, PagingIn, Rw)
    }
    expect([0, 1, 2, 3].map((gfn) => pages.isEvictable(gfn))).toEqual([true, false, false, true])
    expect(pages.isRecentlyPagedIn(2)).toBe(true)
    const none = new PageStates(4, 4, 0)
    none.transition(0, Rw, PagingOut)
    none.transition(0, PagingOut, PagingIn)
    none.transition(0, PagingIn, Rw)
    expect(none.isEvictable(0)).toBe(true)
  })
})
