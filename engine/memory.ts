/**
 * The engine's memory model: xenpaging (paging.ts), the balloon drivers and XAPI's squeezer
 * (balloon.ts), behind one object the simulation owns (`Simulation.memory`). It hears every event
 * after it is folded (`afterEvent`) and acts only through decide, so a replay of its events gives the
 * same state.
 *
 * The API:
 * - `access(vm, gfns)`, `accessRange(vm, firstGfn, count)`, `accessRandom(vm, count)`: guest accesses
 *   now; accesses to paged pages fault and are served a page-in latency later (VmPageFaultsServed);
 * - `admit(command, operation, then)`: a start, resume or migration start with the squeezer behind it
 *   (the simulation routes those commands here);
 * - `pagedView(vm)`: which pages travel as markers if the VM migrates now; `view(vm)`: counters;
 * - paging targets and memory targets are commands (`SetPagingTarget`, `SetMemoryTarget`) submitted as
 *   any other: the pager and the balloon follow their events;
 * - `followRecords(vm)`: a trace replays the VM's pager and balloon steps as recorded commands (PageOut,
 *   InflateBalloon, ...): from then on the engine's pager and balloon leave that VM alone.
 */
import type { PoolEvent } from "../domain/events.js"
import type { VmId } from "../domain/ids.js"
import { getVm } from "../domain/state.js"
import { type Admission, type AdmitCommand, Balloons, Squeezer, type SqueezerRest } from "./balloon.js"
import { type AdmissionThen, memoryConfig, type MemoryConfig, type MemoryEnv, type MemoryStep } from "./memoryConfig.js"
import { type AccessOutcome, Pager, type PagerView, type VmPagerRest } from "./paging.js"
import type { PageStatesFactory } from "./pageStates.js"
import { Prng, type PrngState } from "./prng.js"
import type { PagedPages } from "./transfer.js"

/** Events after which a host may have more free frames: stalled page-ins and balloons look again. */
const freesMemory: ReadonlySet<PoolEvent["_tag"]> = new Set([
  "VmPagesPagedOut",
  "VmBalloonInflated",
  "VmShutdown",
  "VmSuspended",
  "VmMigrationCommitted",
  "VmMigrationAborted"
])

/** Accesses in one call, at most (every loop is bounded; a trace splits larger bursts). */
export const ACCESSES_PER_CALL_MAX = 1 << 24

/**
 * The memory model's state at rest (`MemoryManager.rest`): plain data. Its steps due are on the agenda,
 * as data too (`MemoryStep`).
 */
export interface MemoryRest {
  /** Each VM's stream of random accesses, where one was drawn from. */
  readonly accessPrngs: ReadonlyArray<readonly [VmId, PrngState]>
  /** The VMs xenpaging or the balloon touched: their page states, the pager's cursors and work in flight. */
  readonly pagers: ReadonlyArray<VmPagerRest>
  /** Balloons that could not move at their last step, waiting for memory or for the pager. */
  readonly stalledBalloons: ReadonlyArray<VmId>
  /** Operations waiting for the squeezer, by host. */
  readonly squeezes: SqueezerRest
}

export class MemoryManager {
  readonly config: MemoryConfig
  readonly pager: Pager
  readonly balloons: Balloons
  readonly squeezer: Squeezer
  private readonly accessPrngs = new Map<VmId, Prng>()
  /** VMs whose paging and ballooning come from a trace's records, not from the engine. */
  private readonly recorded = new Set<VmId>()

  constructor(
    private readonly env: MemoryEnv,
    overrides: Partial<MemoryConfig> = {},
    /** Builds each VM's page states; the real ones by default (the properties' seam). */
    makePageStates?: PageStatesFactory
  ) {
    this.config = memoryConfig(overrides)
    this.pager = new Pager(env, this.config, (vm) => this.balloons.kick(vm), makePageStates)
    this.balloons = new Balloons(env, this.config, this.pager)
    this.squeezer = new Squeezer(env, this.config)
  }

  /**
   * What the memory model keeps between happenings, work in flight included (page-outs, page-ins,
   * faults waiting, stalled balloons, operations waiting for the squeezer); or why not: a trace drives
   * some VMs' paging (its records are the input, not the engine's state).
   */
  rest(): MemoryRest | string {
    if (this.recorded.size > 0) return "a trace drives some VMs' paging"
    return {
      accessPrngs: [...this.accessPrngs].map(([vm, prng]) => [vm, prng.state] as const),
      pagers: this.pager.rest(),
      stalledBalloons: this.balloons.rest(),
      squeezes: this.squeezer.rest()
    }
  }

  /**
   * Goes on from `rest` (a memory model that has done nothing yet, on the pool's state at the rest);
   * its steps due come back with the agenda's (`planAgain`), after this.
   */
  restore(rest: MemoryRest): void {
    for (const [vm, state] of rest.accessPrngs) this.accessPrngs.set(vm, Prng.fromState(state))
    this.pager.restore(rest.pagers)
    this.balloons.restore(rest.stalledBalloons)
    this.squeezer.restore(rest.squeezes)
  }

  /** One of the memory model's steps came. */
  stepDue(step: MemoryStep): void {
    switch (step._tag) {
      case "PagerStep":
        return this.pager.stepDue(step.vm)
      case "BalloonStep":
        return this.balloons.stepDue(step.vm)
      case "SqueezeCheck":
        return this.squeezer.checkDue(step.host)
    }
  }

  /** Puts back a step that a rest had on the agenda at `atUs`. */
  planAgain(step: MemoryStep, atUs: number): void {
    switch (step._tag) {
      case "PagerStep":
        return this.pager.planAgain(step.vm, atUs)
      case "BalloonStep":
        return this.balloons.planAgain(step.vm, atUs)
      case "SqueezeCheck":
        return this.squeezer.planAgain(step.host, atUs)
    }
  }

  afterEvent(event: PoolEvent): void {
    const recorded = this.recorded.size > 0 && "vm" in event && this.recorded.has(event.vm)
    if (!recorded) {
      this.pager.afterEvent(event)
      this.balloons.afterEvent(event)
    }
    if (freesMemory.has(event._tag)) {
      this.pager.wakeStalled()
      this.balloons.wakeStalled()
    }
  }

  admit(command: AdmitCommand, operation: string, then?: AdmissionThen): Admission {
    return this.squeezer.admit(command, operation, then)
  }

  access(vm: VmId, gfns: Iterable<number>): AccessOutcome {
    if (this.recorded.has(vm)) {
      const accesses = [...gfns].length
      return { accesses, hits: 0, faults: 0, ignored: accesses }
    }
    return this.pager.access(vm, gfns)
  }

  /**
   * The VM's pager and balloon steps come from records from now on (a replay calls this when it reads
   * the first such record, before the engine could act on its own): the engine's pager and balloon
   * driver forget the VM, and accesses to it are ignored. Nominations in flight are dropped with them;
   * they had emitted no event.
   */
  followRecords(vm: VmId): void {
    if (this.recorded.has(vm)) return
    this.recorded.add(vm)
    this.pager.drop(vm)
    this.balloons.forget(vm)
  }

  /** Whether `followRecords(vm)` was called. */
  followsRecords(vm: VmId): boolean {
    return this.recorded.has(vm)
  }

  /** `count` accesses to `firstGfn`, `firstGfn + 1`, ... */
  accessRange(vm: VmId, firstGfn: number, count: number): AccessOutcome {
    checkCount(count)
    return this.access(
      vm,
      Array.from({ length: count }, (_, i) => firstGfn + i)
    )
  }

  /** `count` accesses to gfns drawn uniformly from the guest's memory, from the VM's own PRNG stream. */
  accessRandom(vm: VmId, count: number): AccessOutcome {
    checkCount(count)
    const guestPages = getVm(this.env.state(), vm)?.guestPages ?? 0
    if (guestPages === 0) return this.access(vm, [])
    let prng = this.accessPrngs.get(vm)
    if (!prng) this.accessPrngs.set(vm, (prng = this.env.prng(`access:${vm}`)))
    const draw = prng
    return this.access(
      vm,
      Array.from({ length: count }, () => draw.nextInt(guestPages))
    )
  }

  pagedView(vm: VmId): PagedPages | undefined {
    return this.pager.pagedView(vm)
  }

  view(vm: VmId): PagerView | undefined {
    return this.pager.view(vm)
  }
}

const checkCount = (count: number): void => {
  if (!(Number.isSafeInteger(count) && count >= 0 && count <= ACCESSES_PER_CALL_MAX))
    throw new RangeError(`an access burst is 0 to ${ACCESSES_PER_CALL_MAX} pages, got ${count}`)
}
