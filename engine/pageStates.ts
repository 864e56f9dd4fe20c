/**
 * The state of every gfn of one VM, for xenpaging and the balloon (XEN.md §5): a typed array with one
 * byte a page, per-state counts kept as it changes, and an assertion on every transition against the
 * one table of legal edges, `pageEdges`.
 *
 * Paging edges are Xen's p2m types `ram_rw 0 → ram_paging_out 9 → ram_paged 10 → ram_paging_in 11 →
 * ram_rw` (nominate, evict, populate, prep/load + resume), plus `paging_out → paging_in` when the
 * guest touches a page the pager is still evicting (`MEM_PAGING_EVICT_FAIL`). Balloon edges move a gfn
 * in and out of the guest: `populate_physmap` (absent → rw), `decrease_reservation` (rw → absent) and
 * the drop of a paged gfn the guest frees (paged → absent, `MEM_PAGING_DROP_PAGE`). Anything else is a
 * bug and throws.
 *
 * The guest's gfns are always `[0, guestPages)`: the balloon gives back the highest gfn and populates
 * the next one up, so the pre-copy machine's gfn space (`memoryPages = guestPages`) is the same as ours.
 *
 * Memory: 5 bytes a gfn of static max (the state byte and a Uint32 page-in stamp for the MRU rule),
 * ≈ 5 MiB for 4 GiB of 4 KiB pages, allocated only for VMs whose pages are paged or accessed.
 */

import type { VmId } from "../domain/ids.js"
import { runsOf } from "./runs.js"

export const PageState = {
  /** Not part of the guest's memory (ballooned out, or above its current size). */
  Absent: 0,
  /** `p2m_ram_rw`: resident, holds a frame. */
  Rw: 1,
  /** `p2m_ram_paging_out`: nominated, still holds its frame until evicted. */
  PagingOut: 2,
  /** `p2m_ram_paged`: in the paging file, no frame. */
  Paged: 3,
  /** `p2m_ram_paging_in`: a page-in is on its way (from a paged page, or an evict that failed). */
  PagingIn: 4
} as const
export type PageState = (typeof PageState)[keyof typeof PageState]

export const PAGE_STATE_COUNT = 5

export const pageStateNames: Readonly<Record<PageState, string>> = {
  [PageState.Absent]: "absent",
  [PageState.Rw]: "rw",
  [PageState.PagingOut]: "paging-out",
  [PageState.Paged]: "paged",
  [PageState.PagingIn]: "paging-in"
}

export interface PageEdge {
  readonly from: PageState
  readonly to: PageState
  readonly kind: "paging" | "balloon"
  /** What does it in Xen (xen/arch/x86/mm/mem_paging.c, p2m.c; xen/common/memory.c). */
  readonly xen: string
}

/** The one definition of which page-state changes are legal. */
export const pageEdges: ReadonlyArray<PageEdge> = [
  { from: PageState.Rw, to: PageState.PagingOut, kind: "paging", xen: "XENMEM_paging_op nominate" },
  { from: PageState.PagingOut, to: PageState.Paged, kind: "paging", xen: "XENMEM_paging_op evict (frees the mfn)" },
  { from: PageState.Paged, to: PageState.PagingIn, kind: "paging", xen: "p2m_mem_paging_populate (an access)" },
  {
    from: PageState.PagingOut,
    to: PageState.PagingIn,
    kind: "paging",
    xen: "p2m_mem_paging_populate on a page still paging out (MEM_PAGING_EVICT_FAIL)"
  },
  { from: PageState.PagingIn, to: PageState.Rw, kind: "paging", xen: "prep/load, then p2m_mem_paging_resume" },
  { from: PageState.Absent, to: PageState.Rw, kind: "balloon", xen: "populate_physmap (the balloon deflates)" },
  { from: PageState.Rw, to: PageState.Absent, kind: "balloon", xen: "decrease_reservation (the balloon inflates)" },
  {
    from: PageState.Paged,
    to: PageState.Absent,
    kind: "balloon",
    xen: "decrease_reservation of a paged gfn (MEM_PAGING_DROP_PAGE)"
  }
]

const edgeTable: Uint8Array = (() => {
  const table = new Uint8Array(PAGE_STATE_COUNT * PAGE_STATE_COUNT)
  for (const edge of pageEdges) table[edge.from * PAGE_STATE_COUNT + edge.to] = 1
  return table
})()

export const isLegalPageEdge = (from: PageState, to: PageState): boolean =>
  edgeTable[from * PAGE_STATE_COUNT + to] === 1

/** A page-state change that `pageEdges` does not allow: a bug in the pager, the balloon or a caller. */
export class IllegalPageTransition extends Error {
  override readonly name = "IllegalPageTransition"
  constructor(
    readonly gfn: number,
    readonly from: PageState,
    readonly to: PageState
  ) {
    super(`gfn ${gfn}: ${pageStateNames[from]} → ${pageStateNames[to]} is not a legal page-state change`)
  }
}

/** A gfn outside the VM's static max (or not an integer): a caller's bug or bad input, never a page. */
export class GfnOutOfRange extends RangeError {
  override readonly name = "GfnOutOfRange"
  constructor(
    readonly gfn: number,
    readonly staticMaxPages: number
  ) {
    super(`gfn ${gfn} is outside the VM's memory [0, ${staticMaxPages})`)
  }
}

/**
 * A VM's page states at rest, as data: each gfn's state (pages paging out or in included: the pager
 * keeps the work in flight beside them, engine/paging.ts). `runs` is the state array run-length encoded (`[state, gfns, state, gfns, …]`); `recent` the gfns
 * still inside the most-recently-paged-in window with their stamps (`[gfn, stamp, …]`): older stamps
 * decide nothing.
 */
export interface PageStatesRest {
  readonly guestPages: number
  readonly runs: ReadonlyArray<number>
  readonly pageInSequence: number
  readonly recent: ReadonlyArray<number>
}

/** The per-gfn state of one VM, with counts per state and xenpaging's most-recently-paged-in window. */
export class PageStates {
  private readonly states: Uint8Array
  private readonly counts: Int32Array = new Int32Array(PAGE_STATE_COUNT)
  /** Sequence number of each gfn's last page-in (0: never); the MRU window is the last `mruPages` of them. */
  private readonly pagedInStamp: Uint32Array
  private pageInSequence = 0
  private guest: number

  constructor(
    readonly staticMaxPages: number,
    guestPages: number,
    /** xenpaging's `DEFAULT_MRU_SIZE`: this many most recent page-ins are never evicted. */
    readonly mruPages: number
  ) {
    if (!(Number.isSafeInteger(staticMaxPages) && staticMaxPages >= 1 && staticMaxPages <= 2 ** 31))
      throw new RangeError(`staticMaxPages must be in [1, 2^31], got ${staticMaxPages}`)
    if (!(Number.isSafeInteger(guestPages) && guestPages >= 0 && guestPages <= staticMaxPages))
      throw new RangeError(`guestPages must be in [0, ${staticMaxPages}], got ${guestPages}`)
    if (!(Number.isSafeInteger(mruPages) && mruPages >= 0)) throw new RangeError(`mruPages must be a count`)
    this.states = new Uint8Array(staticMaxPages)
    this.states.fill(PageState.Rw, 0, guestPages)
    this.pagedInStamp = new Uint32Array(staticMaxPages)
    this.counts[PageState.Rw] = guestPages
    this.counts[PageState.Absent] = staticMaxPages - guestPages
    this.guest = guestPages
  }

  /** The guest's gfns are `[0, guestPages)`. */
  get guestPages(): number {
    return this.guest
  }

  state(gfn: number): PageState {
    if (!(gfn >= 0 && gfn < this.staticMaxPages && Number.isInteger(gfn)))
      throw new GfnOutOfRange(gfn, this.staticMaxPages)
    return this.states[gfn] as PageState
  }

  count(state: PageState): number {
    return this.counts[state]!
  }

  /** Moves gfn from `from` to `to`; throws if gfn is not in `from` or the edge is not in `pageEdges`. */
  transition(gfn: number, from: PageState, to: PageState): void {
    const current = this.state(gfn)
    if (current !== from || !isLegalPageEdge(from, to)) throw new IllegalPageTransition(gfn, current, to)
    this.states[gfn] = to
    this.counts[from]--
    this.counts[to]++
    if (to === PageState.Rw && from === PageState.PagingIn) this.pagedInStamp[gfn] = ++this.pageInSequence
  }

  /** Among the `mruPages` most recent page-ins (xenpaging's policy_default never evicts those). */
  isRecentlyPagedIn(gfn: number): boolean {
    const stamp = this.pagedInStamp[gfn]!
    return stamp !== 0 && this.pageInSequence - stamp < this.mruPages
  }

  /** May the pager nominate gfn: resident and not among the most recent page-ins. */
  isEvictable(gfn: number): boolean {
    return this.states[gfn] === PageState.Rw && !this.isRecentlyPagedIn(gfn)
  }

  /** The balloon populates the next gfn up (absent → rw). */
  growGuest(): number {
    const gfn = this.guest
    this.transition(gfn, PageState.Absent, PageState.Rw)
    this.guest++
    return gfn
  }

  /**
   * The balloon gives back the highest gfn: rw → absent (a frame freed) or paged → absent (dropped from
   * the paging file). Returns the state it had, or undefined (nothing changed) if it is paging out or in.
   */
  shrinkGuest(): PageState | undefined {
    const gfn = this.guest - 1
    const state = this.state(gfn)
    if (state !== PageState.Rw && state !== PageState.Paged) return undefined
    this.transition(gfn, state, PageState.Absent)
    this.guest--
    return state
  }

  /** The states as data (`PageStatesRest`). */
  rest(): PageStatesRest {
    const runs = runsOf(this.states)
    const recent: number[] = []
    for (let gfn = 0; gfn < this.staticMaxPages; gfn++)
      if (this.isRecentlyPagedIn(gfn)) recent.push(gfn, this.pagedInStamp[gfn]!)
    return { guestPages: this.guest, runs, pageInSequence: this.pageInSequence, recent }
  }

  /**
   * Takes the states of `rest` (on states just built, for the same VM): each gfn's state, the counts, the
   * guest's size and the page-in window. Throws on data that does not fit this VM.
   */
  restore(rest: PageStatesRest): void {
    const fail = (why: string) => {
      throw new RangeError(`page states at rest do not fit a VM of ${this.staticMaxPages} pages: ${why}`)
    }
    let gfn = 0
    this.counts.fill(0)
    for (let i = 0; i + 1 < rest.runs.length; i += 2) {
      const [state, length] = [rest.runs[i]!, rest.runs[i + 1]!]
      if (!(Number.isInteger(state) && state >= 0 && state < PAGE_STATE_COUNT)) fail(`state ${state} at gfn ${gfn}`)
      if (!(Number.isSafeInteger(length) && length >= 1 && gfn + length <= this.staticMaxPages))
        fail(`a run of ${length} at gfn ${gfn}`)
      this.states.fill(state, gfn, gfn + length)
      this.counts[state]! += length
      gfn += length
    }
    if (gfn !== this.staticMaxPages || rest.runs.length % 2 !== 0) fail(`runs cover ${gfn} gfns`)
    this.guest = rest.guestPages
    this.pageInSequence = rest.pageInSequence
    this.pagedInStamp.fill(0)
    for (let i = 0; i + 1 < rest.recent.length; i += 2) this.pagedInStamp[rest.recent[i]!] = rest.recent[i + 1]!
    const mismatch = this.checkCounts()
    if (mismatch !== undefined) fail(mismatch)
  }

  /** Recounts the array and compares with the kept counts; a description of the first mismatch. */
  checkCounts(): string | undefined {
    const recount = new Int32Array(PAGE_STATE_COUNT)
    let highestPresent = -1
    for (let gfn = 0; gfn < this.staticMaxPages; gfn++) {
      const s = this.states[gfn]!
      recount[s]!++
      if (s !== PageState.Absent) highestPresent = gfn
    }
    for (let s = 0; s < PAGE_STATE_COUNT; s++) {
      if (recount[s] !== this.counts[s])
        return `${pageStateNames[s as PageState]}: ${recount[s]} pages, counted ${this.counts[s]}`
    }
    if (highestPresent + 1 !== this.guest || recount[PageState.Absent] !== this.staticMaxPages - this.guest)
      return `the guest's gfns are not [0, ${this.guest}): highest present gfn ${highestPresent}`
    return undefined
  }
}

/** What one VM's page states are built from. */
export interface PageStatesSpec {
  readonly vm: VmId
  readonly staticMaxPages: number
  readonly guestPages: number
  readonly mruPages: number
}

/**
 * Builds a VM's page states: the pager's seam (engine/paging.ts), as the dirty tracker's is the pre-copy
 * machine's. The properties observe every page-state move through it and their mutants substitute a
 * faulty subclass; the engine uses `pageStatesFactory`.
 */
export type PageStatesFactory = (spec: PageStatesSpec) => PageStates

export const pageStatesFactory: PageStatesFactory = (spec) =>
  new PageStates(spec.staticMaxPages, spec.guestPages, spec.mruPages)
