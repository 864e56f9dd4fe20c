/**
 * xenpaging in the engine (XEN.md §5, tools/xenpaging/xenpaging.c): one pager per VM that has a paging
 * target, acting on the VM's page states (pageStates.ts) one step at a time and reporting per-step
 * aggregates through decide (PageOut, PageIn, ServePageFaults).
 *
 * - Eviction: while the VM's resident pages exceed its paging target, a step nominates up to
 *   `evictPagesPerStep` pages (rw → paging-out), round-robin over the guest's gfns (policy_default's
 *   victim cursor) and skipping the `mruPages` most recently paged-in; one step later the batch is
 *   written out and evicted (paging-out → paged), freeing its frames.
 * - A guest access to a paged gfn faults (paged → paging-in); the page is read back and the vCPU
 *   resumed `pageInLatencyUs` later (paging-in → rw). An access to a page still paging out makes its
 *   evict fail (paging-out → paging-in); it is resumed (→ rw) when its batch would have been evicted,
 *   and never lost its frame. An access to a page already paging in waits for that page-in.
 * - Raising the target above the resident pages pages back in up to `prefetchPagesPerStep` a step,
 *   through the same paged → paging-in → rw path (and the same latency).
 * - A page-in needs a free frame on the host (and, during a migration's live rounds, on the
 *   destination: the reservation grows). Without one, it waits until the host frees memory.
 *
 * During a migration the pager neither nominates nor prefetches: a batch in flight when the migration
 * starts is abandoned (its pages go back to rw through paging-in, like failed evicts), so the set of
 * paged pages only shrinks while the image is copied, by faults, each re-sent by the transfer. Page-ins
 * wait while the guest is paused for the final round.
 */
import type { PoolEvent } from "../domain/events.js"
import type { VmId } from "../domain/ids.js"
import { hostPhysicalFreePages } from "../domain/memory.js"
import { getHost, getMigration, getVm, type Vm } from "../domain/state.js"
import { type MemoryConfig, type MemoryEnv, Wake } from "./memoryConfig.js"
import {
  GfnOutOfRange,
  PageState,
  type PageStates,
  type PageStatesFactory,
  type PageStatesRest,
  pageStatesFactory
} from "./pageStates.js"
import { fillFromRuns, runsOf } from "./runs.js"
import type { PagedPages } from "./transfer.js"

/** What became of one batch of guest accesses. */
export interface AccessOutcome {
  readonly accesses: number
  /** Accesses to resident pages. */
  readonly hits: number
  /** Accesses to paging-state pages: each vCPU waits for its page. */
  readonly faults: number
  /** Accesses the guest could not make: it is not running, or the gfn is ballooned out. */
  readonly ignored: number
}

/** A counter snapshot of one VM's pager, for reports and tests. */
export interface PagerView {
  readonly guestPages: number
  readonly rwPages: number
  readonly pagingOutPages: number
  readonly pagedPages: number
  readonly pagingInPages: number
  /** Faults whose vCPU still waits. */
  readonly faultsWaiting: number
  /** Page-ins that wait for a free frame. */
  readonly stalled: boolean
}

interface Waiters {
  faults: number
  /** Σ of the waiting accesses' times, so the wait at service is faults × now − this. */
  accessSumUs: number
}

interface VmPager {
  readonly vm: VmId
  readonly pages: PageStates
  readonly wake: Wake
  victimCursor: number
  prefetchCursor: number
  /** Nominated gfns (paging-out, or paging-in if touched), evicted at `batchEvictUs`. */
  batch: number[]
  batchEvictUs: number
  /** Page-ins on their way (paged → paging-in), in the order their data arrives. */
  readonly readGfns: number[]
  readonly readReadyUs: number[]
  readsHead: number
  nextPrefetchUs: number
  readonly waiters: Map<number, Waiters>
  /** Pages in paging-in that kept their frame (touched while paging out). */
  heldPagingIn: number
  /** Page-ins due but without a frame: woken when the host frees memory. */
  stalled: boolean
  /** Faults served (and their wait) during the current run, reported once at its end. */
  servedFaults: number
  servedWaitUs: number
  /** Debug checks done, to space out the full recount on big VMs. */
  checks: number
}

/**
 * One VM's pager at rest, as data: its page states and cursors, and its work in flight: the batch
 * nominated, the page-ins on their way, the faults waiting for them. (Its next step, if one is due, is
 * on the agenda as data: `MemoryStep`.)
 */
export interface VmPagerRest {
  readonly vm: VmId
  readonly pages: PageStatesRest
  readonly victimCursor: number
  readonly prefetchCursor: number
  readonly nextPrefetchUs: number
  readonly checks: number
  /** Nominated gfns, evicted at `batchEvictUs` (-1 when none are). */
  readonly batch: ReadonlyArray<number>
  readonly batchEvictUs: number
  /** Page-ins on their way, in the order their data arrives; when it does, as runs `[µs, page-ins, …]`. */
  readonly reads: ReadonlyArray<number>
  readonly readsReadyUs: ReadonlyArray<number>
  /** The faults waiting, by page: `[gfn, faults, Σ of their access times in µs, …]`, in the order they came. */
  readonly waiters: ReadonlyArray<number>
  readonly heldPagingIn: number
  readonly stalled: boolean
}

/** VMs up to this size get the full recount of their page array at every debug check. */
const FULL_RECOUNT_PAGES_MAX = 1 << 17

export class Pager {
  private readonly pagers = new Map<VmId, VmPager>()

  constructor(
    private readonly env: MemoryEnv,
    private readonly config: MemoryConfig,
    /** Called when a VM's page states settled somewhat (a batch evicted, page-ins done): the balloon may go on. */
    private readonly onSettled: (vm: VmId) => void,
    /** Builds each VM's page states (a seam for the properties; the real ones by default). */
    private readonly makePageStates: PageStatesFactory = pageStatesFactory
  ) {}

  /** Each VM's pager as data (`VmPagerRest`, in VM order). */
  rest(): ReadonlyArray<VmPagerRest> {
    return this.vms().map((vm) => {
      const p = this.pagers.get(vm)!
      // served faults are reported at the end of the run that served them: none between happenings
      if (p.servedFaults > 0) this.env.defect(`${vm}'s pager served faults it did not report`)
      const { victimCursor, prefetchCursor, nextPrefetchUs, checks, batchEvictUs, heldPagingIn, stalled } = p
      const reads = p.readGfns.slice(p.readsHead)
      const readsReadyUs = runsOf(p.readReadyUs, p.readsHead)
      const waiters: number[] = []
      for (const [gfn, w] of p.waiters) waiters.push(gfn, w.faults, w.accessSumUs)
      return {
        vm,
        pages: p.pages.rest(),
        victimCursor,
        prefetchCursor,
        nextPrefetchUs,
        checks,
        batch: [...p.batch],
        batchEvictUs,
        reads,
        readsReadyUs,
        waiters,
        heldPagingIn,
        stalled
      }
    })
  }

  /** Goes on from `rests` (a pager that has done nothing yet, on the pool's state at the rest). */
  restore(rests: ReadonlyArray<VmPagerRest>): void {
    for (const rest of rests) {
      const p = this.ensure(rest.vm, rest.pages.guestPages)
      if (p === undefined) return this.env.defect(`a pager at rest for ${rest.vm}, which is on no host`)
      p.pages.restore(rest.pages)
      p.victimCursor = rest.victimCursor
      p.prefetchCursor = rest.prefetchCursor
      p.nextPrefetchUs = rest.nextPrefetchUs
      p.checks = rest.checks
      p.batch = [...rest.batch]
      p.batchEvictUs = rest.batchEvictUs
      // a pager just made has none on their way: one arrival time per page-in (no spread: there may be millions)
      for (const gfn of rest.reads) p.readGfns.push(gfn)
      p.readReadyUs.length = rest.reads.length
      fillFromRuns(p.readReadyUs, rest.readsReadyUs)
      for (let i = 0; i + 2 < rest.waiters.length; i += 3)
        p.waiters.set(rest.waiters[i]!, { faults: rest.waiters[i + 1]!, accessSumUs: rest.waiters[i + 2]! })
      p.heldPagingIn = rest.heldPagingIn
      p.stalled = rest.stalled
    }
  }

  /** The VM's pager step came (a `PagerStep` on the agenda). */
  stepDue(vm: VmId): void {
    const p = this.pagers.get(vm)
    if (p === undefined) return this.env.defect(`a pager step of ${vm}, which has no pager`)
    p.wake.came()
    this.run(p)
  }

  /** Puts back the VM's pager step that a rest had on the agenda. */
  planAgain(vm: VmId, atUs: number): void {
    const p = this.pagers.get(vm)
    if (p === undefined) return this.env.defect(`a pager step at rest for ${vm}, which has no pager`)
    p.wake.at(atUs)
  }

  /** The VM's page states, if paging ever touched it since its domain was built. */
  pagesOf(vm: VmId): PageStates | undefined {
    return this.pagers.get(vm)?.pages
  }

  view(vm: VmId): PagerView | undefined {
    const p = this.pagers.get(vm)
    if (!p) return undefined
    let faultsWaiting = 0
    for (const w of p.waiters.values()) faultsWaiting += w.faults
    return {
      guestPages: p.pages.guestPages,
      rwPages: p.pages.count(PageState.Rw),
      pagingOutPages: p.pages.count(PageState.PagingOut),
      pagedPages: p.pages.count(PageState.Paged),
      pagingInPages: p.pages.count(PageState.PagingIn),
      faultsWaiting,
      stalled: p.stalled
    }
  }

  /**
   * Which pages of the migrating VM travel as markers: those whose data is in the paging file (paged,
   * or paging in from there; a migration abandons the pager's batch, so no page-in holds a frame).
   */
  pagedView(vm: VmId): PagedPages | undefined {
    const p = this.pagers.get(vm)
    if (!p) return undefined
    const pages = p.pages
    return {
      isPaged: (gfn) => {
        const s = pages.state(gfn)
        return s === PageState.Paged || s === PageState.PagingIn
      },
      pagedCount: () => pages.count(PageState.Paged) + pages.count(PageState.PagingIn) - p.heldPagingIn
    }
  }

  /** Something outside the pager changed the VM's pages (a balloon step): look again now. */
  nudge(vm: VmId): void {
    this.pagers.get(vm)?.wake.at(this.env.nowUs())
  }

  /** Bookkeeping that follows from an event, whoever caused it. */
  afterEvent(event: PoolEvent): void {
    switch (event._tag) {
      case "VmPagingTargetSet": {
        const p = this.ensure(event.vm)
        if (p) p.wake.at(this.env.nowUs())
        return
      }
      case "VmMigrationStarted":
        this.abandonBatch(event.vm)
        return
      case "VmMigrationCommitted":
      case "VmMigrationAborted":
        this.pagers.get(event.vm)?.wake.at(this.env.nowUs())
        return
      case "VmShutdown":
      case "VmSuspended":
      case "VmDestroyed":
        this.drop(event.vm)
        return
      default:
        return
    }
  }

  /** Wakes every VM whose page-ins wait for frames (memory was freed somewhere). */
  wakeStalled(): void {
    for (const p of this.pagers.values()) if (p.stalled) p.wake.at(this.env.nowUs())
  }

  /**
   * The guest touches `gfns` now. Each gfn must be within the VM's static max (GfnOutOfRange otherwise);
   * one the balloon took out of the guest is ignored, as are all while the guest is not running (or
   * no longer exists).
   */
  access(vm: VmId, gfns: Iterable<number>): AccessOutcome {
    const state = this.env.state()
    const vmState = getVm(state, vm)
    const list = Array.isArray(gfns) ? (gfns as number[]) : [...gfns]
    // a VM destroyed since the accesses were planned makes none
    if (!vmState) return { accesses: list.length, hits: 0, faults: 0, ignored: list.length }
    for (const gfn of list) {
      if (!(Number.isInteger(gfn) && gfn >= 0 && gfn < vmState.memory.staticMaxPages))
        throw new GfnOutOfRange(gfn, vmState.memory.staticMaxPages)
    }
    if (!this.guestRuns(vmState)) return { accesses: list.length, hits: 0, faults: 0, ignored: list.length }
    const p = this.pagers.get(vm)
    if (!p) {
      const ignored = list.filter((gfn) => gfn >= vmState.guestPages).length
      return { accesses: list.length, hits: list.length - ignored, faults: 0, ignored }
    }
    const nowUs = this.env.nowUs()
    let hits = 0
    let faults = 0
    let ignored = 0
    for (const gfn of list) {
      const s = p.pages.state(gfn)
      if (s === PageState.Absent) ignored++
      else if (s === PageState.Rw) hits++
      else {
        faults++
        this.fault(p, gfn, s, nowUs)
      }
    }
    if (faults > 0) this.schedule(p)
    return { accesses: list.length, hits, faults, ignored }
  }

  // --- per-VM state ---------------------------------------------------------------------------------

  private guestRuns(vm: Vm): boolean {
    if (vm.powerState !== "Running" || vm.residentOn === undefined) return false
    const migration = vm.migration ? getMigration(this.env.state(), vm.migration) : undefined
    // the guest is paused for the final round (stop-and-copy) until the commit
    return !migration || migration.phase === "reserved" || migration.phase === "precopy"
  }

  /** The VM's pager, made if need be; `restoring`: for page states at rest, of that many guest pages. */
  private ensure(vm: VmId, restoring?: number): VmPager | undefined {
    const existing = this.pagers.get(vm)
    if (existing) return existing
    const vmState = getVm(this.env.state(), vm)
    if (!vmState || vmState.residentOn === undefined) return undefined
    if (vmState.pagedOutPages !== 0 && restoring === undefined)
      this.env.defect(`VM ${vm} has paged-out pages but no pager`)
    const spec = {
      vm,
      staticMaxPages: vmState.memory.staticMaxPages,
      guestPages: restoring ?? vmState.guestPages,
      mruPages: this.config.mruPages
    }
    const pages = this.makePageStates(spec)
    if (pages.staticMaxPages !== spec.staticMaxPages || pages.guestPages !== spec.guestPages)
      this.env.defect(
        `VM ${vm}'s page states: built for ${pages.guestPages} of ${pages.staticMaxPages} pages, the domain has ${spec.guestPages} of ${spec.staticMaxPages}`
      )
    const p: VmPager = {
      vm,
      pages,
      wake: new Wake(this.env, { _tag: "PagerStep", vm }),
      victimCursor: 0,
      prefetchCursor: 0,
      batch: [],
      batchEvictUs: -1,
      readGfns: [],
      readReadyUs: [],
      readsHead: 0,
      nextPrefetchUs: 0,
      waiters: new Map(),
      heldPagingIn: 0,
      stalled: false,
      servedFaults: 0,
      servedWaitUs: 0,
      checks: 0
    }
    this.pagers.set(vm, p)
    return p
  }

  /** Creates the VM's page states if need be (a trace may touch pages before any paging target). */
  pagesFor(vm: VmId): PageStates | undefined {
    return this.ensure(vm)?.pages
  }

  /** Forgets the VM's pager (its page states, pending work and wake-up). */
  drop(vm: VmId): void {
    const p = this.pagers.get(vm)
    if (!p) return
    p.wake.cancel()
    this.pagers.delete(vm)
  }

  private fault(p: VmPager, gfn: number, s: PageState, nowUs: number): void {
    if (s === PageState.PagingOut) {
      p.pages.transition(gfn, PageState.PagingOut, PageState.PagingIn)
      p.heldPagingIn++
    } else if (s === PageState.Paged) {
      p.pages.transition(gfn, PageState.Paged, PageState.PagingIn)
      p.readGfns.push(gfn)
      p.readReadyUs.push(nowUs + this.config.pageInLatencyUs)
    }
    const w = p.waiters.get(gfn)
    if (w) {
      w.faults++
      w.accessSumUs += nowUs
    } else p.waiters.set(gfn, { faults: 1, accessSumUs: nowUs })
  }

  private serve(p: VmPager, gfn: number, nowUs: number): void {
    const w = p.waiters.get(gfn)
    if (!w) return
    p.servedFaults += w.faults
    p.servedWaitUs += w.faults * nowUs - w.accessSumUs
    p.waiters.delete(gfn)
  }

  // --- one run: what is due, then what to do next -----------------------------------------------------

  private run(p: VmPager): void {
    const vm = getVm(this.env.state(), p.vm)
    if (!vm || vm.residentOn === undefined) return this.drop(p.vm)
    const nowUs = this.env.nowUs()
    const settled = this.evictDue(p, nowUs) + this.completeReads(p, nowUs) > 0
    this.plan(p, nowUs)
    this.reportFaults(p)
    this.schedule(p)
    if (this.env.debug) this.checkAgainstDomain(p)
    if (settled) this.onSettled(p.vm)
  }

  /** Evicts the batch if its time has come; returns the pages that left paging-out. */
  private evictDue(p: VmPager, nowUs: number): number {
    if (p.batch.length === 0 || nowUs < p.batchEvictUs) return 0
    let evicted = 0
    for (const gfn of p.batch) {
      if (p.pages.state(gfn) === PageState.PagingOut) {
        p.pages.transition(gfn, PageState.PagingOut, PageState.Paged)
        evicted++
      } else this.resumeHeld(p, gfn, nowUs)
    }
    const settled = p.batch.length
    p.batch = []
    p.batchEvictUs = -1
    if (evicted > 0) this.env.mustSubmit({ _tag: "PageOut", atUs: nowUs, vm: p.vm, pages: evicted })
    return settled
  }

  /** A page touched while paging out: its evict failed, the pager resumes it; it never lost its frame. */
  private resumeHeld(p: VmPager, gfn: number, nowUs: number): void {
    p.pages.transition(gfn, PageState.PagingIn, PageState.Rw)
    p.heldPagingIn--
    this.serve(p, gfn, nowUs)
  }

  /** The migration starts: the pager stops, and the batch it was writing goes back to rw. */
  private abandonBatch(vm: VmId): void {
    const p = this.pagers.get(vm)
    if (!p || p.batch.length === 0) return
    const nowUs = this.env.nowUs()
    for (const gfn of p.batch) {
      if (p.pages.state(gfn) === PageState.PagingOut) {
        p.pages.transition(gfn, PageState.PagingOut, PageState.PagingIn)
        p.heldPagingIn++
      }
      this.resumeHeld(p, gfn, nowUs)
    }
    p.batch = []
    p.batchEvictUs = -1
    this.reportFaults(p)
  }

  /** Frames a page-in may take now: the host's free memory, and the destination's during live rounds. */
  private framesFor(vm: Vm): number {
    const state = this.env.state()
    const host = vm.residentOn ? getHost(state, vm.residentOn) : undefined
    if (!host) return 0
    const free = hostPhysicalFreePages(host)
    const migration = vm.migration ? getMigration(state, vm.migration) : undefined
    if (!migration) return free
    if (migration.phase !== "reserved" && migration.phase !== "precopy") return 0
    const destination = getHost(state, migration.destination)
    return destination ? Math.min(free, hostPhysicalFreePages(destination)) : 0
  }

  /** Page-ins whose data has arrived get a frame and become rw, as far as frames allow. */
  private completeReads(p: VmPager, nowUs: number): number {
    let due = 0
    while (p.readsHead + due < p.readGfns.length && p.readReadyUs[p.readsHead + due]! <= nowUs) due++
    if (due === 0) {
      p.stalled = false
      return 0
    }
    const vm = getVm(this.env.state(), p.vm)!
    const done = Math.min(due, this.framesFor(vm))
    p.stalled = done < due
    if (done === 0) return 0
    this.env.mustSubmit({ _tag: "PageIn", atUs: nowUs, vm: p.vm, pages: done })
    const touched = vm.migration !== undefined
    for (let i = 0; i < done; i++) {
      const gfn = p.readGfns[p.readsHead + i]!
      p.pages.transition(gfn, PageState.PagingIn, PageState.Rw)
      this.serve(p, gfn, nowUs)
      if (touched) this.env.pageTouched(p.vm, gfn)
    }
    p.readsHead += done
    if (p.readsHead === p.readGfns.length) {
      p.readGfns.length = 0
      p.readReadyUs.length = 0
      p.readsHead = 0
    }
    return done
  }

  private reportFaults(p: VmPager): void {
    if (p.servedFaults === 0) return
    this.env.mustSubmit({
      _tag: "ServePageFaults",
      atUs: this.env.nowUs(),
      vm: p.vm,
      faults: p.servedFaults,
      vcpuWaitUs: p.servedWaitUs
    })
    p.servedFaults = 0
    p.servedWaitUs = 0
  }

  /** Nominates toward the target, or reads back toward it, unless a migration holds the pager still. */
  private plan(p: VmPager, nowUs: number): void {
    const vm = getVm(this.env.state(), p.vm)!
    const target = vm.pagingTargetPages
    if (target === undefined || vm.migration !== undefined) return
    if (p.batch.length === 0 && vm.populatedPages > target) {
      const chosen = this.nominate(p, Math.min(vm.populatedPages - target, this.config.evictPagesPerStep))
      if (chosen.length > 0) {
        p.batch = chosen
        p.batchEvictUs = nowUs + this.config.stepUs
      }
      return
    }
    const reading = p.readGfns.length - p.readsHead
    const wanted = target - vm.populatedPages - reading
    if (wanted > 0 && p.pages.count(PageState.Paged) > 0 && nowUs >= p.nextPrefetchUs) {
      const n = this.prefetch(p, Math.min(wanted, this.config.prefetchPagesPerStep), nowUs)
      if (n > 0) p.nextPrefetchUs = nowUs + this.config.stepUs
    }
  }

  /** Round-robin over the guest's gfns from the cursor: rw pages not among the recent page-ins. */
  private nominate(p: VmPager, want: number): number[] {
    const pages = p.pages
    const guest = pages.guestPages
    const chosen: number[] = []
    let gfn = p.victimCursor
    // Bounded: at most one pass over the guest's gfns.
    for (let scanned = 0; scanned < guest && chosen.length < want; scanned++, gfn++) {
      if (gfn >= guest) gfn = 0
      if (pages.isEvictable(gfn)) {
        pages.transition(gfn, PageState.Rw, PageState.PagingOut)
        chosen.push(gfn)
      }
    }
    p.victimCursor = gfn >= guest ? 0 : gfn
    return chosen
  }

  private prefetch(p: VmPager, want: number, nowUs: number): number {
    const pages = p.pages
    const guest = pages.guestPages
    let issued = 0
    let gfn = p.prefetchCursor
    // Bounded: at most one pass over the guest's gfns.
    for (let scanned = 0; scanned < guest && issued < want; scanned++, gfn++) {
      if (gfn >= guest) gfn = 0
      if (pages.state(gfn) === PageState.Paged) {
        pages.transition(gfn, PageState.Paged, PageState.PagingIn)
        p.readGfns.push(gfn)
        p.readReadyUs.push(nowUs + this.config.pageInLatencyUs)
        issued++
      }
    }
    p.prefetchCursor = gfn >= guest ? 0 : gfn
    return issued
  }

  /** The next time something is due: the batch's evict, the next page-in, the next prefetch step. */
  private schedule(p: VmPager): void {
    let nextUs = Number.MAX_SAFE_INTEGER
    if (p.batch.length > 0) nextUs = Math.min(nextUs, p.batchEvictUs)
    if (!p.stalled && p.readsHead < p.readGfns.length) nextUs = Math.min(nextUs, p.readReadyUs[p.readsHead]!)
    const vm = getVm(this.env.state(), p.vm)
    const target = vm?.pagingTargetPages
    if (vm && target !== undefined && vm.migration === undefined) {
      const reading = p.readGfns.length - p.readsHead
      const wantsMore = target - vm.populatedPages - reading > 0 && p.pages.count(PageState.Paged) > 0
      const wantsOut = vm.populatedPages > target && p.batch.length === 0
      if (wantsMore) nextUs = Math.min(nextUs, Math.max(p.nextPrefetchUs, this.env.nowUs()))
      // nothing was evictable this run: wait for page-ins (or a new target) to change that
      if (wantsOut && p.readsHead < p.readGfns.length) nextUs = Math.min(nextUs, p.readReadyUs[p.readsHead]!)
    }
    if (nextUs !== Number.MAX_SAFE_INTEGER) p.wake.at(nextUs)
  }

  /** Debug runs: the page states agree with the domain's counts for the VM. */
  private checkAgainstDomain(p: VmPager): void {
    const vm = getVm(this.env.state(), p.vm)
    if (!vm) return
    const pages = p.pages
    const populated = pages.count(PageState.Rw) + pages.count(PageState.PagingOut) + p.heldPagingIn
    const paged = pages.count(PageState.Paged) + pages.count(PageState.PagingIn) - p.heldPagingIn
    const mismatch =
      pages.guestPages !== vm.guestPages
        ? `guest ${pages.guestPages} pages, the domain says ${vm.guestPages}`
        : populated !== vm.populatedPages
          ? `${populated} pages hold frames, the domain says ${vm.populatedPages} populated`
          : paged !== vm.pagedOutPages
            ? `${paged} pages in the paging file, the domain says ${vm.pagedOutPages} paged out`
            : // the array's own recount is O(static max): on every check for small VMs, every 64th for big ones
              pages.staticMaxPages <= FULL_RECOUNT_PAGES_MAX || p.checks++ % 64 === 0
              ? pages.checkCounts()
              : undefined
    if (mismatch) this.env.defect(`VM ${p.vm}'s page states: ${mismatch}`)
  }

  /** Debug check from outside (after a balloon step). */
  check(vm: VmId): void {
    const p = this.pagers.get(vm)
    if (p && this.env.debug) this.checkAgainstDomain(p)
  }

  /** VMs with a pager, for reports. */
  vms(): ReadonlyArray<VmId> {
    return [...this.pagers.keys()].sort()
  }
}
