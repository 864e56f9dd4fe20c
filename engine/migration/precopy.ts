/**
 * One live migration's pre-copy transfer as a machine an external link drives (DESIGN.md §5).
 *
 * The engine owns time and the link: it tells the machine how fast its bytes are moving and for how
 * long (`advance(toUs, rateBytesPerS)`, a fluid model whose rate may change at any call), asks when the
 * machine next needs it at a given rate (`nextEventUs`), and closes rounds (`completeRound`). The
 * machine owns the rest: the round's byte progress (exact integers with a carried remainder), the
 * dirtying model (page-level or aggregate), and the policy's loop, which it consults between rounds.
 * `runSingleMigration` (single.ts) drives this same machine on a link of constant bandwidth.
 *
 * A round is its bytes at the link's rate(s), then `latencyUs`; the guest keeps writing during the
 * latency and those writes count for the next round. Rounds follow one another without a gap, so the
 * durations of all rounds add up to the migration's total time. The final round runs with the guest
 * paused; its duration is the downtime.
 */
import { type DestinationCheck, PageTracker } from "./pageTracker.js"
import {
  type LoopOps,
  type LoopStep,
  policyByName,
  type PrecopyLoop,
  type PrecopyPolicy,
  type RoundRecord,
  startLoop,
  type StopReason
} from "./policy.js"
import { addProgress, invariant, isCount, type LinkProgress, MICROS_PER_S, transferUs } from "./exact.js"
import type { Prng } from "../prng.js"
import type { PagedPages, TransferContext, TransferFactory, TransferMachine } from "../transfer.js"
import {
  bytesPerSAsWrites,
  hotColdWriter,
  idleWriter,
  type PageWriter,
  RateDirtying,
  uniformWriter
} from "./workload.js"

export type DirtyModelSpec =
  /** Page-level: a bitmap, page versions and a writer of `(gfn, atUs)` writes. */
  | {
      readonly kind: "pages"
      readonly writer: PageWriter
      /** A seam for the properties' mutants: builds the dirty tracker (default: a plain `PageTracker`). */
      readonly tracker?: (memoryPages: number, writer: PageWriter) => PageTracker
    }
  /** Aggregate: pages dirtied = rate × time, capped at the working set; no page identities, no skips. */
  | { readonly kind: "rate"; readonly dirtyRateBytesPerS: number; readonly workingSetPages: number }

export interface PrecopyConfig {
  readonly memoryPages: number
  readonly pageSizeBytes: number
  readonly policy: PrecopyPolicy
  readonly model: DirtyModelSpec
  readonly latencyUs: number
  /** When the first round starts: the migration's first byte. */
  readonly startUs: number
  /** The VM's paged-out pages: they travel as markers, without data (pageTracker.ts `sendMarkers`). */
  readonly paged?: PagedPages | undefined
}

/** DESIGN.md §2's migration phases, from the transfer's point of view. */
export type MigrationPhase = "precopy" | "stop-and-copy" | "committed" | "aborted"

/** `transfer`: bytes still to deliver; `latency`: all delivered, waiting for the latency; `done`: ready to complete. */
export type RoundPhase = "transfer" | "latency" | "done"

export interface RoundView {
  readonly index: number
  readonly live: boolean
  readonly phase: RoundPhase
  readonly startUs: number
  readonly pagesSent: number
  readonly pagesSkipped: number
  /** Bytes delivered so far in this round. */
  readonly bytesSent: number
  /**
   * Bytes still to deliver. Exact, except under xen-legacy with the pages model, where pages after the
   * current peek batch may yet be skipped: it is then an upper bound.
   */
  readonly bytesRemaining: number
  /** When the last byte arrived, once it has. */
  readonly bytesDoneUs: number | undefined
}

export interface PrecopyOutcome {
  readonly result: "committed" | "aborted"
  readonly stopReason: StopReason
  /** Why it aborted: `policy-abort` or the reason given to `abort`. */
  readonly abortReason: string | undefined
  readonly startUs: number
  readonly endUs: number
  /** From the first byte to the commit (or the abort); equals the sum of the round durations when committed. */
  readonly totalUs: number
  /** How long the guest was paused: the final round's duration (up to the abort if aborted while paused). */
  readonly downtimeUs: number
  /** Completed rounds, the paused one included. */
  readonly rounds: number
  /** Every page and byte delivered, an aborted round's partial progress included. */
  readonly pagesSent: number
  readonly pagesSkipped: number
  readonly bytesSent: number
}

export interface StopAndCopy {
  readonly atUs: number
  readonly stopReason: StopReason
}

export interface Precopy {
  readonly memoryPages: number
  readonly pageSizeBytes: number
  readonly latencyUs: number
  readonly policy: PrecopyPolicy
  /** The time the machine has been advanced to. */
  nowUs(): number
  phase(): MigrationPhase
  /** The round in flight; undefined once committed or aborted. */
  currentRound(): RoundView | undefined
  /**
   * When the current round would end (its last byte plus the latency) if the link kept delivering
   * `rateBytesPerS` from now on: exact, ceil'd to the µs. Under xen-legacy with the pages model this
   * looks ahead at the writer (future peeks skip the pages it will have re-dirtied). The engine
   * schedules it and asks again whenever the rate changes. `nowUs()` when the round is done; undefined
   * when the round would never end at this rate (rate 0 with bytes to send) or after the migration.
   */
  nextEventUs(rateBytesPerS: number): number | undefined
  /** Time passes from `nowUs()` to `toUs` at `rateBytesPerS`; `toUs` never passes the round's end. */
  advance(toUs: number, rateBytesPerS: number): void
  /** The current round's bytes are all delivered and its latency has elapsed. */
  roundDone(): boolean
  /** Closes the current round at `nowUs` (= `nowUs()`, the round's end) and starts what follows. */
  completeRound(nowUs: number): RoundRecord
  /** Gives up at `nowUs()` (link failure, operator); the source keeps running. */
  abort(reason: string): void
  /** Set once the guest is paused for the final round. */
  stopAndCopy(): StopAndCopy | undefined
  outcome(): PrecopyOutcome | undefined
  rounds(): ReadonlyArray<RoundRecord>
  /** Pages model: every page's destination version equals its source version? undefined under `rate`. */
  checkDestination(): DestinationCheck | undefined
  /** A page of the guest was paged back in during a live round: it is re-sent, with its data, next round. */
  pageTouched(gfn: number): void
}

// --- dirtying models behind one interface -----------------------------------------------------------

interface ModelRun {
  readonly kind: DirtyModelSpec["kind"]
  sendAll(): number
  clean(): number
  dirtyCount(): number
  pause(): void
  /** false when the round has nothing to send. */
  beginRound(peekBatchPages: number): boolean
  roundPagesKnown(): number
  roundPagesSent(progress: LinkProgress): number
  roundPagesSkipped(): number
  /** When the round's last byte would arrive at this constant rate from `nowUs` (see PageTracker.roundDataDoneUs). */
  roundDataDoneUs(nowUs: number, rateBytesPerS: number, progress: LinkProgress): number
  /** See PageTracker.transfer: returns the µs the round's last byte arrived, or -1. */
  transfer(t0: number, t1: number, rateBytesPerS: number, progress: LinkProgress): number
  idle(t0: number, t1: number): void
  checkDestination(): DestinationCheck | undefined
  /** A page was paged back in during a live round: dirty for the next round. */
  touch(gfn: number): void
}

const pagesRun = (
  config: PrecopyConfig,
  writer: PageWriter,
  makeTracker: (memoryPages: number, writer: PageWriter) => PageTracker = (pages, w) => new PageTracker(pages, w)
): ModelRun => {
  const tracker = makeTracker(config.memoryPages, writer)
  if (config.paged) tracker.setPaged(config.paged)
  tracker.settleBefore(config.startUs)
  const pageSizeBytes = config.pageSizeBytes
  return {
    kind: "pages",
    sendAll: () => tracker.sendAll(),
    clean: () => tracker.clean(),
    dirtyCount: () => tracker.dirtyCount(),
    pause: () => tracker.pause(),
    beginRound: (peekBatchPages) => tracker.beginRound(peekBatchPages),
    roundPagesKnown: () => tracker.roundPagesKnown(),
    roundPagesSent: () => tracker.roundPagesSent(),
    roundPagesSkipped: () => tracker.roundPagesSkipped(),
    roundDataDoneUs: (nowUs, rate, progress) => tracker.roundDataDoneUs(nowUs, rate, pageSizeBytes, progress),
    transfer: (t0, t1, rate, progress) => tracker.transfer(t0, t1, rate, pageSizeBytes, progress),
    idle: (_t0, t1) => tracker.idle(t1),
    checkDestination: () => tracker.checkDestination(),
    touch: (gfn) => tracker.touch(gfn)
  }
}

/**
 * The aggregate model: pages dirtied = rate × time, capped at the working set. A class rather than a
 * record of closures: one object per migration instead of fifteen functions and their context.
 */
class RateRun implements ModelRun {
  readonly kind = "rate"
  private readonly memoryPages: number
  private readonly pageSizeBytes: number
  private readonly paged: PagedPages | undefined
  private readonly dirtying: RateDirtying
  private toSendPages = 0
  private roundPages = 0
  private paused = false
  /** Pages paged back in since the last CLEAN: dirty for the next round, on top of the rate's. */
  private touchedPages = 0

  constructor(config: PrecopyConfig, dirtyRateBytesPerS: number, workingSetPages: number) {
    const { memoryPages, pageSizeBytes } = config
    invariant(isCount(workingSetPages) && workingSetPages <= memoryPages, "workingSetPages must be in [0, memoryPages]")
    this.memoryPages = memoryPages
    this.pageSizeBytes = pageSizeBytes
    this.paged = config.paged
    this.dirtying = new RateDirtying({ dirtyRateBytesPerS, workingSetPages, pageSizeBytes })
  }

  private run(elapsedUs: number): void {
    if (!this.paused) this.dirtying.run(elapsedUs)
  }

  // paged pages go as markers: no data, no link time
  sendAll(): number {
    return (this.toSendPages = this.memoryPages - Math.min(this.memoryPages, this.paged?.pagedCount() ?? 0))
  }
  clean(): number {
    this.toSendPages = Math.min(this.memoryPages, this.dirtying.clean() + this.touchedPages)
    this.touchedPages = 0
    return this.toSendPages
  }
  dirtyCount(): number {
    return Math.min(this.memoryPages, this.dirtying.dirtyCount() + this.touchedPages)
  }
  pause(): void {
    this.paused = true
  }
  beginRound(): boolean {
    this.roundPages = this.toSendPages
    this.toSendPages = 0
    return this.roundPages > 0
  }
  roundPagesKnown(): number {
    return this.roundPages
  }
  roundPagesSent(progress: LinkProgress): number {
    return Math.floor(progress.bytesDelivered / this.pageSizeBytes)
  }
  roundPagesSkipped(): number {
    return 0
  }
  roundDataDoneUs(nowUs: number, rateBytesPerS: number, progress: LinkProgress): number {
    return nowUs + transferUs(this.roundBytes() - progress.bytesDelivered, progress.microRemainder, rateBytesPerS)
  }
  transfer(t0: number, t1: number, rateBytesPerS: number, progress: LinkProgress): number {
    this.run(t1 - t0)
    if (rateBytesPerS === 0) return -1
    const doneUs = this.roundDataDoneUs(t0, rateBytesPerS, progress)
    if (doneUs <= t1) {
      progress.bytesDelivered = this.roundBytes()
      progress.microRemainder = 0
      return doneUs
    }
    addProgress(progress, rateBytesPerS, t1 - t0)
    return -1
  }
  idle(t0: number, t1: number): void {
    this.run(t1 - t0)
  }
  checkDestination(): undefined {
    return undefined
  }
  touch(): void {
    if (!this.paused) this.touchedPages++
  }

  private roundBytes(): number {
    return this.roundPages * this.pageSizeBytes
  }
}

// --- the machine --------------------------------------------------------------------------------------

interface RoundState {
  readonly index: number
  readonly live: boolean
  readonly startUs: number
  readonly progress: LinkProgress
  /** -1 while bytes remain. */
  bytesDoneUs: number
}

interface Totals {
  pagesSent: number
  pagesSkipped: number
  bytesSent: number
}

class PrecopyMachine implements Precopy {
  readonly memoryPages: number
  readonly pageSizeBytes: number
  readonly latencyUs: number
  readonly policy: PrecopyPolicy
  private readonly startUs: number
  private readonly model: ModelRun
  private readonly loop: PrecopyLoop
  private readonly ops: LoopOps
  private now: number
  private round: RoundState | undefined
  private readonly records: RoundRecord[] = []
  private readonly totals: Totals = { pagesSent: 0, pagesSkipped: 0, bytesSent: 0 }
  private paused: StopAndCopy | undefined
  private ending: PrecopyOutcome | undefined

  constructor(config: PrecopyConfig) {
    checkConfig(config)
    this.memoryPages = config.memoryPages
    this.pageSizeBytes = config.pageSizeBytes
    this.latencyUs = config.latencyUs
    this.policy = config.policy
    this.startUs = config.startUs
    this.now = config.startUs
    const model = config.model
    this.model =
      model.kind === "pages"
        ? pagesRun(config, model.writer, model.tracker)
        : new RateRun(config, model.dirtyRateBytesPerS, model.workingSetPages)
    this.ops = { clean: () => this.model.clean() }
    // the first round's set: every page but those paged out, which go as markers
    const firstRoundPages = this.model.sendAll()
    this.loop = startLoop(config.policy, {
      memoryPages: config.memoryPages,
      pageSizeBytes: config.pageSizeBytes,
      firstRoundPages
    })
    this.follow(this.loop.begin(this.ops))
  }

  nowUs(): number {
    return this.now
  }

  phase(): MigrationPhase {
    if (this.ending !== undefined) return this.ending.result === "committed" ? "committed" : "aborted"
    return this.paused === undefined ? "precopy" : "stop-and-copy"
  }

  currentRound(): RoundView | undefined {
    const round = this.round
    if (round === undefined) return undefined
    const pagesKnown = this.model.roundPagesKnown()
    return {
      index: round.index,
      live: round.live,
      phase: this.roundPhase(round),
      startUs: round.startUs,
      pagesSent: this.model.roundPagesSent(round.progress),
      pagesSkipped: this.model.roundPagesSkipped(),
      bytesSent: round.progress.bytesDelivered,
      bytesRemaining: round.bytesDoneUs >= 0 ? 0 : pagesKnown * this.pageSizeBytes - round.progress.bytesDelivered,
      bytesDoneUs: round.bytesDoneUs >= 0 ? round.bytesDoneUs : undefined
    }
  }

  nextEventUs(rateBytesPerS: number): number | undefined {
    const round = this.round
    if (round === undefined) return undefined
    if (round.bytesDoneUs >= 0) return round.bytesDoneUs + this.latencyUs
    checkRate(rateBytesPerS)
    if (rateBytesPerS === 0) return undefined
    return this.model.roundDataDoneUs(this.now, rateBytesPerS, round.progress) + this.latencyUs
  }

  advance(toUs: number, rateBytesPerS: number): void {
    const round = this.round
    invariant(round !== undefined, "advance after the migration ended")
    checkRate(rateBytesPerS)
    invariant(Number.isSafeInteger(toUs) && toUs >= this.now, () => `advance to ${toUs} before now ${this.now}`)
    if (toUs === this.now) return
    if (round.bytesDoneUs < 0) {
      const doneUs = this.model.transfer(this.now, toUs, rateBytesPerS, round.progress)
      if (doneUs >= 0) round.bytesDoneUs = doneUs
    } else this.model.idle(this.now, toUs)
    invariant(
      round.bytesDoneUs < 0 || toUs <= round.bytesDoneUs + this.latencyUs,
      () => `advance to ${toUs} passes round ${round.index}'s end at ${round.bytesDoneUs + this.latencyUs}`
    )
    this.now = toUs
  }

  roundDone(): boolean {
    const round = this.round
    return round !== undefined && this.roundPhase(round) === "done"
  }

  completeRound(nowUs: number): RoundRecord {
    const round = this.round
    invariant(round !== undefined, "completeRound after the migration ended")
    invariant(nowUs === this.now, () => `completeRound at ${nowUs} but the machine is at ${this.now}`)
    invariant(this.roundPhase(round) === "done", () => `round ${round.index} is not done at ${nowUs}`)
    const pagesSent = this.model.roundPagesSent(round.progress)
    const record: RoundRecord = {
      index: round.index,
      live: round.live,
      pagesSent,
      pagesSkipped: this.model.roundPagesSkipped(),
      bytesSent: round.progress.bytesDelivered,
      durationUs: nowUs - round.startUs,
      dirtyPagesAfter: this.model.dirtyCount()
    }
    invariant(record.bytesSent === pagesSent * this.pageSizeBytes, "a round's bytes are whole pages")
    this.records.push(record)
    this.totals.pagesSent += record.pagesSent
    this.totals.pagesSkipped += record.pagesSkipped
    this.totals.bytesSent += record.bytesSent
    this.round = undefined
    if (round.live) this.follow(this.loop.afterLiveRound(record, this.ops))
    else this.finish("committed", undefined)
    return record
  }

  abort(reason: string): void {
    invariant(this.ending === undefined, "abort after the migration ended")
    const round = this.round
    if (round !== undefined) {
      this.totals.pagesSent += this.model.roundPagesSent(round.progress)
      this.totals.pagesSkipped += this.model.roundPagesSkipped()
      this.totals.bytesSent += round.progress.bytesDelivered
      this.round = undefined
    }
    this.finish("aborted", reason)
  }

  stopAndCopy(): StopAndCopy | undefined {
    return this.paused
  }

  outcome(): PrecopyOutcome | undefined {
    return this.ending
  }

  rounds(): ReadonlyArray<RoundRecord> {
    return this.records
  }

  checkDestination(): DestinationCheck | undefined {
    return this.model.checkDestination()
  }

  pageTouched(gfn: number): void {
    if (this.ending === undefined) this.model.touch(gfn)
  }

  private roundPhase(round: RoundState): RoundPhase {
    if (round.bytesDoneUs < 0) return "transfer"
    return this.now >= round.bytesDoneUs + this.latencyUs ? "done" : "latency"
  }

  private peekBatchPages(): number {
    return this.policy.kind === "xen-legacy" && this.model.kind === "pages" ? this.policy.peekBatchPages : 0
  }

  private follow(step: LoopStep): void {
    switch (step._tag) {
      case "SendLive":
        this.startRound(true)
        return
      case "StopAndCopy":
        this.model.pause()
        this.paused = { atUs: this.now, stopReason: step.stopReason }
        this.model.clean()
        this.startRound(false)
        return
      case "Abort":
        this.finish("aborted", step.reason)
        return
    }
  }

  private startRound(live: boolean): void {
    const peekBatchPages = live ? this.peekBatchPages() : 0
    const sending = this.model.beginRound(peekBatchPages)
    this.round = {
      index: this.records.length + 1,
      live,
      startUs: this.now,
      progress: { bytesDelivered: 0, microRemainder: 0 },
      bytesDoneUs: sending ? -1 : this.now
    }
  }

  private finish(result: "committed" | "aborted", abortReason: string | undefined): void {
    const downtimeUs = this.paused === undefined ? 0 : this.now - this.paused.atUs
    this.ending = {
      result,
      stopReason: result === "aborted" ? "aborted" : this.paused!.stopReason,
      abortReason,
      startUs: this.startUs,
      endUs: this.now,
      totalUs: this.now - this.startUs,
      downtimeUs,
      rounds: this.records.length,
      pagesSent: this.totals.pagesSent,
      pagesSkipped: this.totals.pagesSkipped,
      bytesSent: this.totals.bytesSent
    }
  }
}

const checkRate = (rateBytesPerS: number): void =>
  invariant(isCount(rateBytesPerS), () => `rateBytesPerS must be a non-negative integer, got ${rateBytesPerS}`)

const checkConfig = (config: PrecopyConfig): void => {
  invariant(isCount(config.memoryPages) && config.memoryPages >= 1, "memoryPages must be >= 1")
  invariant(isCount(config.pageSizeBytes) && config.pageSizeBytes >= 1, "pageSizeBytes must be >= 1")
  invariant(
    Number.isSafeInteger(config.pageSizeBytes * MICROS_PER_S * 2),
    "pageSizeBytes × 10^6 must stay well below 2^53"
  )
  invariant(Number.isSafeInteger(config.memoryPages * config.pageSizeBytes), "memory in bytes must be a safe integer")
  invariant(isCount(config.latencyUs), "latencyUs must be a non-negative integer")
  invariant(isCount(config.startUs), "startUs must be a non-negative integer")
}

export const createPrecopy = (config: PrecopyConfig): Precopy => new PrecopyMachine(config)

// --- building a machine from a workload description --------------------------------------------------

export interface WorkloadSpec {
  readonly model: "rate" | "pages"
  /** pages model: how gfns are drawn (working set spread over memory, workload.ts). */
  readonly writer: "uniform" | "hot-cold"
  readonly dirtyRateBytesPerS: number
  readonly workingSetPages: number
  readonly memoryPages: number
  readonly pageSizeBytes: number
  /** The writer's own generator (pages model). */
  readonly prng: Prng
  readonly startUs: number
}

/** The dirtying model of a workload: `rate` as is; `pages` with a writer of dirtyRate / pageSize pages/s. */
export const dirtyModelFor = (spec: WorkloadSpec): DirtyModelSpec => {
  const workingSetPages = Math.min(spec.workingSetPages, spec.memoryPages)
  if (spec.model === "rate") return { kind: "rate", dirtyRateBytesPerS: spec.dirtyRateBytesPerS, workingSetPages }
  if (spec.dirtyRateBytesPerS === 0 || workingSetPages === 0) return { kind: "pages", writer: idleWriter() }
  const config = {
    prng: spec.prng,
    rate: bytesPerSAsWrites(spec.dirtyRateBytesPerS, spec.pageSizeBytes),
    memoryPages: spec.memoryPages,
    workingSetPages,
    startUs: spec.startUs
  }
  return { kind: "pages", writer: spec.writer === "hot-cold" ? hotColdWriter(config) : uniformWriter(config) }
}

// --- the pool engine's seam (engine/transfer.ts) ------------------------------------------------------

const describeLostWrite = (precopy: Precopy): string | undefined => {
  const check = precopy.checkDestination()
  if (check === undefined || check.ok) return undefined
  const destination = check.destinationVersion === 0xffff_ffff ? "never sent" : `version ${check.destinationVersion}`
  return `gfn ${check.gfn}: source version ${check.sourceVersion}, destination ${destination}`
}

/** Adapts the machine to the engine's `TransferMachine`. */
export const transferMachine = (precopy: Precopy): TransferMachine => ({
  advance: (toUs, rateBytesPerS) => precopy.advance(toUs, rateBytesPerS),
  roundEndUs: (rateBytesPerS) => precopy.nextEventUs(rateBytesPerS),
  completeRound: (nowUs) => {
    const record = precopy.completeRound(nowUs)
    switch (precopy.phase()) {
      case "precopy":
        return { record, after: { next: "live" } }
      case "stop-and-copy":
        return { record, after: { next: "paused", stopReason: precopy.stopAndCopy()!.stopReason } }
      case "committed":
        return { record, after: { next: "done" } }
      case "aborted":
        return { record, after: { next: "abort", reason: precopy.outcome()!.abortReason ?? "aborted" } }
    }
  },
  lostWrite: () => describeLostWrite(precopy),
  pageTouched: (gfn) => precopy.pageTouched(gfn)
})

/** Wraps a pages-model migration's writer: how a trace replay adds the trace's page writes to it. */
export type WriterWrapper = (writer: PageWriter, context: TransferContext) => PageWriter

/**
 * The engine's factory: one machine per migration, its writer seeded from the migration's PRNG;
 * `wrapWriter`, when given, wraps each pages-model writer (simulations/trace/feed.ts).
 */
export const makeTransferFactory =
  (wrapWriter?: WriterWrapper): TransferFactory =>
  (context) => {
    // Fields copied one by one, not spread: this runs once per migration, and spreading objects of
    // many shapes is a slow generic copy in V8.
    const { workload } = context
    const generated = dirtyModelFor({
      model: workload.model,
      writer: workload.writer,
      dirtyRateBytesPerS: workload.dirtyRateBytesPerS,
      workingSetPages: workload.workingSetPages,
      memoryPages: context.memoryPages,
      pageSizeBytes: context.pageSizeBytes,
      // only a pages-model writer draws; the rate model leaves its fork undone (forking draws nothing)
      prng: workload.model === "pages" ? context.prng.fork("writer") : context.prng,
      startUs: context.startUs
    })
    const model: DirtyModelSpec =
      wrapWriter !== undefined && generated.kind === "pages"
        ? { kind: "pages", writer: wrapWriter(generated.writer, context) }
        : generated
    return transferMachine(
      createPrecopy({
        memoryPages: context.memoryPages,
        pageSizeBytes: context.pageSizeBytes,
        policy: policyByName(context.policy.name, context.policy),
        model,
        latencyUs: context.latencyUs,
        startUs: context.startUs,
        paged: context.paged
      })
    )
  }

/** The engine's factory, as scenarios run it. */
export const transferFactory: TransferFactory = makeTransferFactory()
