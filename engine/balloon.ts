/**
 * Ballooning and XAPI's squeezer in the engine (XEN.md §5, DESIGN.md §2).
 *
 * Balloons: each running guest's balloon driver follows its memory target (xenstore `memory/target`)
 * at `balloonPagesPerStep` a step. Going down, the guest gives back its highest gfns (a resident one
 * frees a frame, a paged one is dropped from the paging file; one still paging out or in makes it wait
 * for the pager). Going up, it populates the next gfns, each taking a free frame of the host: with none
 * left it waits until the host frees memory (Xen's allocator has nothing to give). A paused guest's
 * driver does not run, and a migrating VM's size stays as it was until the migration ends.
 *
 * Squeezer: a start, resume or migration that passes the placement rule but finds the host's physical
 * memory short lowers the targets of the host's balloonable VMs (domain/squeezer.ts), then looks again
 * every `squeezeCheckUs`: once the host has the frames the operation is retried through decide. It
 * fails with HostNotEnoughFreeMemory at once when even every VM at dynamic_min would not free enough,
 * or later when the host's free memory has not grown for `squeezeStuckUs`, or after `squeezeWaitMaxUs`.
 * Operations waiting on one host are served in arrival order, each planned with those ahead of it.
 */
import { Either } from "effect"
import type { PoolCommand, ResumeVm, StartMigration, StartVm } from "../domain/commands.js"
import { chooseHost } from "../domain/placement/index.js"
import { HostNotEnoughFreeMemory, type DomainError } from "../domain/errors.js"
import type { PoolEvent } from "../domain/events.js"
import type { HostId, VmId } from "../domain/ids.js"
import { checkPhysicalRoom, checkPlacement, hostPhysicalFreePages, vmPhysicalPages } from "../domain/memory.js"
import { planSqueeze } from "../domain/squeezer.js"
import { getHost, getVm, type Host } from "../domain/state.js"
import { type AdmissionThen, type MemoryConfig, type MemoryEnv, Wake } from "./memoryConfig.js"
import { PageState } from "./pageStates.js"
import type { Pager } from "./paging.js"

export class Balloons {
  private readonly wakes = new Map<VmId, Wake>()
  /** Balloons that could not move at their last step: woken when memory is freed or pages settle. */
  private readonly stalled = new Set<VmId>()

  constructor(
    private readonly env: MemoryEnv,
    private readonly config: MemoryConfig,
    private readonly pager: Pager
  ) {}

  /** The balloons waiting for memory or for the pager, as data (their steps due are on the agenda). */
  rest(): ReadonlyArray<VmId> {
    return [...this.stalled].sort()
  }

  /** Goes on from `rest` (balloon drivers that have done nothing yet). */
  restore(stalled: ReadonlyArray<VmId>): void {
    for (const vm of stalled) this.stalled.add(vm)
  }

  /** The VM's balloon step came (a `BalloonStep` on the agenda). */
  stepDue(vm: VmId): void {
    const wake = this.wakes.get(vm)
    if (wake === undefined) return this.env.defect(`a balloon step of ${vm}, which has no balloon driver`)
    wake.came()
    this.step(vm)
  }

  /** Puts back the VM's balloon step that a rest had on the agenda. */
  planAgain(vm: VmId, atUs: number): void {
    this.wakeOf(vm).at(atUs)
  }

  afterEvent(event: PoolEvent): void {
    switch (event._tag) {
      case "VmMemoryTargetSet":
      case "VmUnpaused":
      case "VmStarted":
      case "VmResumed":
      case "VmMigrationCommitted":
      case "VmMigrationAborted":
        this.kick(event.vm)
        return
      case "VmShutdown":
      case "VmSuspended":
      case "VmDestroyed":
        this.forget(event.vm)
        return
      default:
        return
    }
  }

  /** Forgets the VM's balloon: no step is pending any more. */
  forget(vm: VmId): void {
    this.wakes.get(vm)?.cancel()
    this.wakes.delete(vm)
    this.stalled.delete(vm)
  }

  /** The VM's balloon looks at its target now, if it has somewhere to go. */
  kick(vm: VmId): void {
    const v = getVm(this.env.state(), vm)
    if (!v || v.residentOn === undefined || v.guestPages === v.memory.targetPages) return
    this.wakeOf(vm).at(this.env.nowUs())
  }

  private wakeOf(vm: VmId): Wake {
    let wake = this.wakes.get(vm)
    if (!wake) {
      wake = new Wake(this.env, { _tag: "BalloonStep", vm })
      this.wakes.set(vm, wake)
    }
    return wake
  }

  wakeStalled(): void {
    if (this.stalled.size === 0) return
    for (const vm of [...this.stalled].sort()) this.kick(vm)
  }

  /** One balloon step of `vm`: toward its target by at most `balloonPagesPerStep`. */
  private step(id: VmId): void {
    const vm = getVm(this.env.state(), id)
    if (!vm || vm.residentOn === undefined) return
    // woken again by VmUnpaused / the migration's end
    if (vm.powerState !== "Running" || vm.migration !== undefined) return
    const pendingPages = vm.guestPages - vm.memory.targetPages
    if (pendingPages === 0) return
    const moved = pendingPages > 0 ? this.inflate(id, pendingPages) : this.deflate(id, -pendingPages, vm.residentOn)
    if (!moved) {
      this.stalled.add(id)
      return
    }
    this.stalled.delete(id)
    this.pager.check(id)
    this.pager.nudge(id)
    const after = getVm(this.env.state(), id)
    if (after && after.guestPages !== after.memory.targetPages)
      this.wakes.get(id)?.at(this.env.nowUs() + this.config.stepUs)
  }

  private inflate(vm: VmId, pendingPages: number): boolean {
    const want = Math.min(pendingPages, this.config.balloonPagesPerStep)
    const pages = this.pager.pagesOf(vm)
    let releasedPages = 0
    let droppedPages = 0
    if (!pages) releasedPages = want
    else {
      // Bounded: `want` pages at most; stops at a page the pager is moving.
      for (let i = 0; i < want; i++) {
        const was = pages.shrinkGuest()
        if (was === undefined) break
        if (was === PageState.Rw) releasedPages++
        else droppedPages++
      }
    }
    if (releasedPages + droppedPages === 0) return false
    this.env.mustSubmit({ _tag: "InflateBalloon", atUs: this.env.nowUs(), vm, releasedPages, droppedPages })
    return true
  }

  private deflate(vm: VmId, pendingPages: number, host: HostId): boolean {
    const h = getHost(this.env.state(), host)
    const free = h ? hostPhysicalFreePages(h) : 0
    const n = Math.min(pendingPages, this.config.balloonPagesPerStep, free)
    if (n <= 0) return false
    const pages = this.pager.pagesOf(vm)
    if (pages) for (let i = 0; i < n; i++) pages.growGuest()
    this.env.mustSubmit({ _tag: "DeflateBalloon", atUs: this.env.nowUs(), vm, pages: n })
    return true
  }
}

// --- the squeezer ----------------------------------------------------------------------------------

export type AdmitCommand = StartVm | ResumeVm | StartMigration

/** How an admission went: done now, waiting for the squeezer (the outcome comes later), or refused. */
export type Admission = "admitted" | "waiting" | "refused"

/** An operation waiting for the squeezer to make room on a host, as data. */
export interface SqueezeWaiter {
  readonly operation: string
  /** The command retried once the host has the frames (naming the host squeezed). */
  readonly command: AdmitCommand
  readonly vm: VmId
  readonly sinceUs: number
  readonly lastFreePages: number
  readonly lastProgressUs: number
  /** What follows its admission or refusal (`MemoryEnv.admitted`); none: only its outcome is recorded. */
  readonly then?: AdmissionThen
}

type Waiter = { -readonly [K in keyof SqueezeWaiter]: SqueezeWaiter[K] }

/** The squeezer at rest: the operations waiting on each host, in arrival order (its checks due are on the agenda). */
export type SqueezerRest = ReadonlyArray<readonly [HostId, ReadonlyArray<SqueezeWaiter>]>

export class Squeezer {
  private readonly queues = new Map<HostId, Waiter[]>()
  private readonly wakes = new Map<HostId, Wake>()

  constructor(
    private readonly env: MemoryEnv,
    private readonly config: MemoryConfig
  ) {}

  /**
   * Runs the command; if decide refuses it for lack of physical memory on the host XAPI's placement
   * picks, squeezes that host and retries later. `then` follows the later outcome (not when the answer
   * is immediate). A refusal, now or later, is recorded with the operation's name.
   */
  admit(command: AdmitCommand, operation: string, then?: AdmissionThen): Admission {
    const result = this.env.submit(command)
    if (Either.isRight(result)) return "admitted"
    const host = this.squeezeHost(command, result.left)
    if (!host) {
      this.env.refuse(operation, result.left)
      return "refused"
    }
    const queue = this.queues.get(host.id) ?? []
    const aheadPages = queue.reduce((sum, w) => sum + this.requiredPages(w.vm), 0)
    const plan = planSqueeze(this.env.state(), host, command.vm, aheadPages + this.requiredPages(command.vm))
    if (Either.isLeft(plan)) {
      this.env.refuse(operation, plan.left)
      return "refused"
    }
    for (const target of plan.right) {
      this.env.mustSubmit({
        _tag: "SetMemoryTarget",
        atUs: this.env.nowUs(),
        vm: target.vm,
        targetPages: target.targetPages
      })
    }
    const nowUs = this.env.nowUs()
    const named: AdmitCommand = command._tag === "StartMigration" ? command : { ...command, host: host.id }
    queue.push({
      operation,
      command: named,
      vm: command.vm,
      sinceUs: nowUs,
      lastFreePages: hostPhysicalFreePages(host),
      lastProgressUs: nowUs,
      ...(then === undefined ? {} : { then })
    })
    this.queues.set(host.id, queue)
    this.wakeFor(host.id).at(nowUs + this.config.squeezeCheckUs)
    return "waiting"
  }

  rest(): SqueezerRest {
    return [...this.queues].map(([host, queue]) => [host, queue.map((w) => ({ ...w }))] as const)
  }

  /** Goes on from `rest` (a squeezer that has done nothing yet). */
  restore(rest: SqueezerRest): void {
    for (const [host, queue] of rest)
      this.queues.set(
        host,
        queue.map((w) => ({ ...w }))
      )
  }

  /** The squeezer's check of the host came (a `SqueezeCheck` on the agenda). */
  checkDue(host: HostId): void {
    const wake = this.wakes.get(host)
    if (wake === undefined) return this.env.defect(`a squeeze check of ${host}, which has no squeeze`)
    wake.came()
    this.check(host)
  }

  /** Puts back the host's check that a rest had on the agenda. */
  planAgain(host: HostId, atUs: number): void {
    this.wakeFor(host).at(atUs)
  }

  /** Operations waiting on a host, for reports and tests. */
  waiting(host: HostId): number {
    return this.queues.get(host)?.length ?? 0
  }

  private requiredPages(vm: VmId): number {
    const v = getVm(this.env.state(), vm)
    return v ? vmPhysicalPages(v) : 0
  }

  /** The host to squeeze: the one XAPI places the VM on, if it passes placement but lacks frames. */
  private squeezeHost(command: AdmitCommand, error: DomainError): Host | undefined {
    if (error._tag !== "HostNotEnoughFreeMemory" && error._tag !== "NoHostsAvailable") return undefined
    const state = this.env.state()
    const vm = getVm(state, command.vm)
    if (!vm) return undefined
    const named = command._tag === "StartMigration" ? command.destination : command.host
    const host =
      named !== undefined
        ? getHost(state, named)
        : Either.getOrUndefined(chooseHost(state, vm, this.env.placement, "placement"))
    if (!host || Either.isLeft(checkPlacement(host, vm)) || Either.isRight(checkPhysicalRoom(host, vm)))
      return undefined
    return host
  }

  private wakeFor(host: HostId): Wake {
    let wake = this.wakes.get(host)
    if (!wake) {
      wake = new Wake(this.env, { _tag: "SqueezeCheck", host })
      this.wakes.set(host, wake)
    }
    return wake
  }

  /** squeezed's loop: serve the waiting operations that fit now, give up on those that waited too long. */
  private check(hostId: HostId): void {
    const queue = this.queues.get(hostId) ?? []
    const nowUs = this.env.nowUs()
    // Bounded: each pass removes the queue's head or breaks.
    while (queue.length > 0) {
      const w = queue[0]!
      const host = getHost(this.env.state(), hostId)
      const freePages = host ? hostPhysicalFreePages(host) : 0
      const requiredPages = this.requiredPages(w.vm)
      if (freePages >= requiredPages) {
        queue.shift()
        this.retry(w, hostId, nowUs)
        continue
      }
      if (freePages > w.lastFreePages) w.lastProgressUs = nowUs
      w.lastFreePages = freePages
      const stuck = nowUs - w.lastProgressUs >= this.config.squeezeStuckUs
      if (!stuck && nowUs - w.sinceUs < this.config.squeezeWaitMaxUs) break
      queue.shift()
      const error = new HostNotEnoughFreeMemory({ host: hostId, vm: w.vm, requiredPages, availablePages: freePages })
      this.env.refuse(w.operation, error)
      this.env.outcome(
        w.operation,
        false,
        `squeezing ${hostId} for ${nowUs - w.sinceUs} µs left ${freePages} of ${requiredPages} pages free (${stuck ? "balloons stuck" : "wait bound"})`
      )
      if (w.then !== undefined) this.env.admitted(w.then, false)
    }
    if (queue.length > 0) this.wakeFor(hostId).at(nowUs + this.config.squeezeCheckUs)
    else this.queues.delete(hostId)
  }

  private retry(w: Waiter, host: HostId, nowUs: number): void {
    const result = this.env.submit({ ...w.command, atUs: nowUs } as PoolCommand)
    if (Either.isRight(result)) {
      this.env.outcome(w.operation, true, `after squeezing ${host} for ${nowUs - w.sinceUs} µs`)
      if (w.then !== undefined) this.env.admitted(w.then, true)
    } else {
      this.env.refuse(w.operation, result.left)
      this.env.outcome(w.operation, false, result.left.message)
      if (w.then !== undefined) this.env.admitted(w.then, false)
    }
  }
}
