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
import { type DestinationCheck, PageTracker, type PageTrackerRest } from "./pageTracker.js"
import {
  type LoopOps,
  type LoopRest,
  type PolicyDefinition,
  type LoopStep,
  type PrecopyLoop,
  type PrecopyPolicy,
  type RoundRecord,
  type StopReason
} from "./policy.js"
import { policyByName, startLoop } from "./policies/index.js"
import { addProgress, invariant, isCount, type LinkProgress, MICROS_PER_S, transferUs } from "./exact.js"
import { checkPhases, type MigrationPhases, NO_PHASES, phasesFor, zeroPageBytes } from "./phases.js"
import { Prng } from "../prng.js"
import type { AfterRound, PagedPages, TransferContext, TransferFactory, TransferMachine } from "../transfer.js"
import {
  bytesPerSAsWrites,
  idleWriter,
  type PageWriter,
  RateDirtying,
  type RateDirtyingRest,
  type WriterRest
} from "./workload.js"
import { findWriter, knownWriterNames, type WriterDefinition } from "./writers.js"

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
  /** Setup and the stop-and-copy parts (phases.ts); default none, the pure model. */
  readonly phases?: MigrationPhases | undefined
  /**
   * Pages never written since boot. Under max-downtime (QEMU) the first round sends them as zero-page
   * markers; the xen families send them as full pages (phases.ts `zeroPageBytes`). Rate model only.
   */
  readonly untouchedPages?: number | undefined
  /** Go on from a machine's rest (`Precopy.rest`) instead of from the migration's start. */
  readonly from?: PrecopyRest | undefined
}

/** A timed part of a migration beside its rounds (phases.ts). */
type PartName = "setup" | "suspend" | "restore"

interface PartRecord {
  readonly name: PartName
  readonly startUs: number
  readonly durationUs: number
}

/** DESIGN.md §2's migration phases, from the transfer's point of view. */
type PrecopyPhase = "precopy" | "stop-and-copy" | "committed" | "aborted"

/** `transfer`: bytes still to deliver; `latency`: all delivered, waiting for the latency; `done`: ready to complete. */
type RoundPhase = "transfer" | "latency" | "done"

interface RoundView {
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

interface PrecopyOutcome {
  readonly result: "committed" | "aborted"
  readonly stopReason: StopReason
  /** Why it aborted: `policy-abort` or the reason given to `abort`. */
  readonly abortReason: string | undefined
  readonly startUs: number
  readonly endUs: number
  /** From the first byte to the commit (or the abort); equals the sum of the round durations when committed. */
  readonly totalUs: number
  /**
   * How long the guest was paused: suspend, the final round and restore (up to the abort if aborted while
   * paused); the final round alone without phases.
   */
  readonly downtimeUs: number
  /** Completed rounds, the paused one included. */
  readonly rounds: number
  /** Every page and byte delivered, an aborted round's partial progress included. */
  readonly pagesSent: number
  readonly pagesSkipped: number
  readonly bytesSent: number
}

interface StopAndCopy {
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
  phase(): PrecopyPhase
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
  /** The timed parts completed so far (setup, suspend, restore), in order. */
  parts(): ReadonlyArray<PartRecord>
  /** A timed part (setup, suspend, restore) is in flight rather than a round. */
  inPart(): boolean
  /** Closes the part in flight at `nowUs` (its end) and starts what follows. */
  completePart(nowUs: number): PartRecord
  /** The round in flight as a record of its progress so far (an interrupted round's accounting). */
  partialRound(): RoundRecord | undefined
  /** Pages model: every page's destination version equals its source version? undefined under `rate`. */
  checkDestination(): DestinationCheck | undefined
  /** A page of the guest was paged back in during a live round: it is re-sent, with its data, next round. */
  pageTouched(gfn: number): void
  /**
   * The machine's state as data (undefined under a pages model whose writer has none): a machine made
   * with the same configuration and `from` it goes on exactly as this one would (an engine at rest with
   * migrations in flight).
   */
  rest(): PrecopyRest | undefined
}

/** The aggregate model's counters as data. */
export interface RateModelRest extends RateDirtyingRest {
  readonly toSendPages: number
  readonly roundPages: number
  readonly toSendZeroPages: number
  readonly roundZeroPages: number
  readonly paused: boolean
  readonly touchedPages: number
}

/** The pages model as data: its page tracker (versions, bitmaps, round, writer). */
export interface PagesModelRest {
  readonly kind: "pages"
  readonly tracker: PageTrackerRest
}

type ModelRest = RateModelRest | PagesModelRest

/** A pre-copy machine between two calls, as data (`Precopy.rest`). */
export interface PrecopyRest {
  readonly nowUs: number
  /** The round in flight: its progress on the link, its state tail, when its bytes were done (-1: not yet). */
  readonly round?: Readonly<RoundState>
  /** The timed part in flight, if one is rather than a round. */
  readonly part?: PartState
  readonly rounds: ReadonlyArray<RoundRecord>
  readonly parts: ReadonlyArray<PartRecord>
  readonly totals: Totals
  /** Set once the guest was paused for the final round. */
  readonly paused?: StopAndCopy
  /** Set once the migration ended (committed, its commit still to come in the pool). */
  readonly ending?: {
    readonly result: "committed" | "aborted"
    readonly stopReason: StopReason
    readonly abortReason?: string
    readonly endUs: number
    readonly downtimeUs: number
  }
  /** The policy's loop, once started (after setup). */
  readonly loop?: LoopRest
  readonly model: ModelRest
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
  /** The round's bytes as known now (pages and zero-page markers). */
  roundBytesKnown(): number
  roundPagesSent(progress: LinkProgress): number
  /** Zero-page markers delivered (rate model under max-downtime; 0 otherwise). */
  roundZeroPagesSent(progress: LinkProgress): number
  roundPagesSkipped(): number
  /** When the round's last byte would arrive at this constant rate from `nowUs` (see PageTracker.roundDataDoneUs). */
  roundDataDoneUs(nowUs: number, rateBytesPerS: number, progress: LinkProgress): number
  /** See PageTracker.transfer: returns the µs the round's last byte arrived, or -1. */
  transfer(t0: number, t1: number, rateBytesPerS: number, progress: LinkProgress): number
  idle(t0: number, t1: number): void
  checkDestination(): DestinationCheck | undefined
  /** A page was paged back in during a live round: dirty for the next round. */
  touch(gfn: number): void
  /** The guest's writes up to `t` happened before log-dirty was on (setup): applied, not dirty. */
  settle(t: number): void
  /** The model's state as data; undefined for a pages model whose writer has no rest (one's own, a trace's). */
  rest(): ModelRest | undefined
  restore(rest: ModelRest): void
}

const pagesRun = (
  config: PrecopyConfig,
  writer: PageWriter,
  makeTracker: (memoryPages: number, writer: PageWriter) => PageTracker = (pages, w) => new PageTracker(pages, w)
): ModelRun => {
  const tracker = makeTracker(config.memoryPages, writer)
  if (config.paged) tracker.setPaged(config.paged)
  // going on from a rest, the writer is past the start already (its writes before it were settled then)
  if (config.from === undefined) tracker.settleBefore(config.startUs)
  const pageSizeBytes = config.pageSizeBytes
  return {
    kind: "pages",
    sendAll: () => tracker.sendAll(),
    clean: () => tracker.clean(),
    dirtyCount: () => tracker.dirtyCount(),
    pause: () => tracker.pause(),
    beginRound: (peekBatchPages) => tracker.beginRound(peekBatchPages),
    roundPagesKnown: () => tracker.roundPagesKnown(),
    roundBytesKnown: () => tracker.roundPagesKnown() * pageSizeBytes,
    roundPagesSent: () => tracker.roundPagesSent(),
    roundZeroPagesSent: () => 0,
    roundPagesSkipped: () => tracker.roundPagesSkipped(),
    roundDataDoneUs: (nowUs, rate, progress) => tracker.roundDataDoneUs(nowUs, rate, pageSizeBytes, progress),
    transfer: (t0, t1, rate, progress) => tracker.transfer(t0, t1, rate, pageSizeBytes, progress),
    idle: (_t0, t1) => tracker.idle(t1),
    checkDestination: () => tracker.checkDestination(),
    touch: (gfn) => tracker.touch(gfn),
    settle: (t) => tracker.settleBefore(t),
    rest: () => {
      const rest = tracker.rest()
      return rest === undefined ? undefined : { kind: "pages", tracker: rest }
    },
    restore: (rest) => {
      invariant("kind" in rest, "a pages-model machine goes on from a pages model's rest")
      tracker.restore(rest.tracker)
    }
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
  /** Never-written pages that go as zero-page markers, and what one costs (phases.ts). */
  private readonly zeroMarkerPages: number
  private readonly zeroPageBytes: number
  private toSendZeroPages = 0
  private roundZeroPages = 0
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
    const untouched = config.untouchedPages ?? 0
    const markerBytes = zeroPageBytes(config.policy)
    // a written page is touched: the working set lies outside the never-written pages
    invariant(
      workingSetPages + untouched <= memoryPages,
      "workingSetPages + untouchedPages must be at most memoryPages"
    )
    this.zeroMarkerPages = markerBytes === undefined ? 0 : untouched
    this.zeroPageBytes = markerBytes ?? 0
  }

  private run(elapsedUs: number): void {
    if (!this.paused) this.dirtying.run(elapsedUs)
  }

  // paged pages go as markers: no data, no link time
  sendAll(): number {
    const unpaged = this.memoryPages - Math.min(this.memoryPages, this.paged?.pagedCount() ?? 0)
    this.toSendZeroPages = Math.min(this.zeroMarkerPages, unpaged)
    return (this.toSendPages = unpaged - this.toSendZeroPages)
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
    this.roundZeroPages = this.toSendZeroPages
    this.toSendZeroPages = 0
    return this.roundPages + this.roundZeroPages > 0
  }
  roundPagesKnown(): number {
    return this.roundPages
  }
  roundBytesKnown(): number {
    return this.roundBytes()
  }
  // a round's full pages first, then its zero-page markers
  roundPagesSent(progress: LinkProgress): number {
    return Math.min(this.roundPages, Math.floor(progress.bytesDelivered / this.pageSizeBytes))
  }
  roundZeroPagesSent(progress: LinkProgress): number {
    const pagesBytes = this.roundPages * this.pageSizeBytes
    if (this.roundZeroPages === 0 || progress.bytesDelivered <= pagesBytes) return 0
    return Math.min(this.roundZeroPages, Math.floor((progress.bytesDelivered - pagesBytes) / this.zeroPageBytes))
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
  settle(): void {
    // the aggregate counts only from the first round on: nothing was dirtied before
  }
  rest(): RateModelRest {
    return {
      ...this.dirtying.rest(),
      toSendPages: this.toSendPages,
      roundPages: this.roundPages,
      toSendZeroPages: this.toSendZeroPages,
      roundZeroPages: this.roundZeroPages,
      paused: this.paused,
      touchedPages: this.touchedPages
    }
  }
  restore(rest: ModelRest): void {
    invariant(!("kind" in rest), "a rate-model machine goes on from a rate model's rest")
    this.dirtying.restore(rest)
    this.toSendPages = rest.toSendPages
    this.roundPages = rest.roundPages
    this.toSendZeroPages = rest.toSendZeroPages
    this.roundZeroPages = rest.roundZeroPages
    this.paused = rest.paused
    this.touchedPages = rest.touchedPages
  }

  private roundBytes(): number {
    return this.roundPages * this.pageSizeBytes + this.roundZeroPages * this.zeroPageBytes
  }
}

// --- the machine --------------------------------------------------------------------------------------

interface RoundState {
  readonly index: number
  readonly live: boolean
  readonly startUs: number
  readonly progress: LinkProgress
  /** State bytes sent after the model's bytes (the paused round with phases), and their progress. */
  readonly tailBytes: number
  readonly tail: LinkProgress
  /** When the model's last byte arrived; -1 while its bytes remain. */
  modelDoneUs: number
  /** When the round's last byte (state included) arrived; -1 while bytes remain. */
  bytesDoneUs: number
}

interface PartState {
  readonly name: PartName
  readonly startUs: number
  readonly endUs: number
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
  private readonly phases: MigrationPhases
  private readonly model: ModelRun
  /** Started when the first round is about to start (after setup): the bitmap is all ones then. */
  private loop: PrecopyLoop | undefined
  private readonly ops: LoopOps
  private now: number
  private round: RoundState | undefined
  private part: PartState | undefined
  private readonly records: RoundRecord[] = []
  private readonly partRecords: PartRecord[] = []
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
    this.phases = config.phases ?? NO_PHASES
    this.now = config.startUs
    const model = config.model
    invariant(
      model.kind === "rate" || (config.untouchedPages ?? 0) === 0 || zeroPageBytes(config.policy) === undefined,
      "never-written pages as zero-page markers need the rate model"
    )
    this.model =
      model.kind === "pages"
        ? pagesRun(config, model.writer, model.tracker)
        : new RateRun(config, model.dirtyRateBytesPerS, model.workingSetPages)
    this.ops = { clean: () => this.model.clean() }
    if (config.from !== undefined) this.restore(config.from)
    else if (this.phases.setupUs > 0) this.startPart("setup", this.phases.setupUs)
    else this.beginPrecopy()
  }

  rest(): PrecopyRest | undefined {
    const model = this.model.rest()
    if (model === undefined) return undefined
    const round = this.round
    const ending = this.ending
    return {
      nowUs: this.now,
      ...(round === undefined ? {} : { round: { ...round, progress: { ...round.progress }, tail: { ...round.tail } } }),
      ...(this.part === undefined ? {} : { part: { ...this.part } }),
      rounds: [...this.records],
      parts: [...this.partRecords],
      totals: { ...this.totals },
      ...(this.paused === undefined ? {} : { paused: this.paused }),
      ...(ending === undefined
        ? {}
        : {
            ending: {
              result: ending.result,
              stopReason: ending.stopReason,
              ...(ending.abortReason === undefined ? {} : { abortReason: ending.abortReason }),
              endUs: ending.endUs,
              downtimeUs: ending.downtimeUs
            }
          }),
      ...(this.loop === undefined ? {} : { loop: this.loop.rest() }),
      model
    }
  }

  /** Goes on from `rest`, taken of a machine of the same configuration. */
  private restore(rest: PrecopyRest): void {
    this.now = rest.nowUs
    this.round =
      rest.round === undefined
        ? undefined
        : { ...rest.round, progress: { ...rest.round.progress }, tail: { ...rest.round.tail } }
    this.part = rest.part === undefined ? undefined : { ...rest.part }
    this.records.push(...rest.rounds)
    this.partRecords.push(...rest.parts)
    this.totals.pagesSent = rest.totals.pagesSent
    this.totals.pagesSkipped = rest.totals.pagesSkipped
    this.totals.bytesSent = rest.totals.bytesSent
    this.paused = rest.paused
    const ending = rest.ending
    this.ending =
      ending === undefined
        ? undefined
        : {
            result: ending.result,
            stopReason: ending.stopReason,
            abortReason: ending.abortReason,
            startUs: this.startUs,
            endUs: ending.endUs,
            totalUs: ending.endUs - this.startUs,
            downtimeUs: ending.downtimeUs,
            rounds: this.records.length,
            pagesSent: this.totals.pagesSent,
            pagesSkipped: this.totals.pagesSkipped,
            bytesSent: this.totals.bytesSent
          }
    if (rest.loop !== undefined)
      this.loop = startLoop(
        this.policy,
        { memoryPages: this.memoryPages, pageSizeBytes: this.pageSizeBytes },
        rest.loop
      )
    this.model.restore(rest.model)
  }

  /** Log-dirty on, every page to send (those paged out go as markers now): the loop begins. */
  private beginPrecopy(): void {
    const firstRoundPages = this.model.sendAll()
    const loop = startLoop(this.policy, {
      memoryPages: this.memoryPages,
      pageSizeBytes: this.pageSizeBytes,
      firstRoundPages
    })
    this.loop = loop
    this.follow(loop.begin(this.ops))
  }

  nowUs(): number {
    return this.now
  }

  phase(): PrecopyPhase {
    if (this.ending !== undefined) return this.ending.result === "committed" ? "committed" : "aborted"
    return this.paused === undefined ? "precopy" : "stop-and-copy"
  }

  currentRound(): RoundView | undefined {
    const round = this.round
    if (round === undefined) return undefined
    return {
      index: round.index,
      live: round.live,
      phase: this.roundPhase(round),
      startUs: round.startUs,
      pagesSent: this.model.roundPagesSent(round.progress),
      pagesSkipped: this.model.roundPagesSkipped(),
      bytesSent: round.progress.bytesDelivered + round.tail.bytesDelivered,
      bytesRemaining: round.bytesDoneUs >= 0 ? 0 : this.bytesRemaining(round),
      bytesDoneUs: round.bytesDoneUs >= 0 ? round.bytesDoneUs : undefined
    }
  }

  nextEventUs(rateBytesPerS: number): number | undefined {
    if (this.part !== undefined) return this.part.endUs
    const round = this.round
    if (round === undefined) return undefined
    if (round.bytesDoneUs >= 0) return round.bytesDoneUs + this.latencyUs
    checkRate(rateBytesPerS)
    if (rateBytesPerS === 0) return undefined
    if (round.modelDoneUs >= 0) return this.tailDoneUs(round, this.now, rateBytesPerS) + this.latencyUs
    const modelDoneUs = this.model.roundDataDoneUs(this.now, rateBytesPerS, round.progress)
    return (round.tailBytes > 0 ? this.tailDoneUs(round, modelDoneUs, rateBytesPerS) : modelDoneUs) + this.latencyUs
  }

  advance(toUs: number, rateBytesPerS: number): void {
    checkRate(rateBytesPerS)
    invariant(Number.isSafeInteger(toUs) && toUs >= this.now, () => `advance to ${toUs} before now ${this.now}`)
    const part = this.part
    if (part !== undefined) {
      invariant(toUs <= part.endUs, () => `advance to ${toUs} passes the ${part.name} part's end at ${part.endUs}`)
      // during setup the guest writes with log-dirty still off (settled when the first round starts);
      // suspend and restore find the guest paused
      if (part.name !== "setup") this.model.idle(this.now, toUs)
      this.now = toUs
      return
    }
    const round = this.round
    invariant(round !== undefined, "advance after the migration ended")
    if (toUs === this.now) return
    if (round.bytesDoneUs >= 0) this.model.idle(this.now, toUs)
    else if (round.modelDoneUs >= 0) {
      this.model.idle(this.now, toUs)
      this.advanceTail(round, this.now, toUs, rateBytesPerS)
    } else {
      const doneUs = this.model.transfer(this.now, toUs, rateBytesPerS, round.progress)
      if (doneUs >= 0 && round.tailBytes === 0) round.bytesDoneUs = doneUs
      else if (doneUs >= 0) {
        round.modelDoneUs = doneUs
        this.advanceTail(round, doneUs, toUs, rateBytesPerS)
      }
    }
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
    const record = this.recordOf(round, this.model.dirtyCount())
    invariant(
      record.bytesSent === this.pageBytes(record) + record.stateBytes,
      "a round's bytes are whole pages, zero-page markers and the state"
    )
    this.records.push(record)
    this.totals.pagesSent += record.pagesSent
    this.totals.pagesSkipped += record.pagesSkipped
    this.totals.bytesSent += record.bytesSent
    this.round = undefined
    if (round.live) this.follow(this.loop!.afterLiveRound(record, this.ops))
    else if (this.phases.restoreUs > 0) this.startPart("restore", this.phases.restoreUs)
    else this.finish("committed", undefined)
    return record
  }

  inPart(): boolean {
    return this.part !== undefined
  }

  completePart(nowUs: number): PartRecord {
    const part = this.part
    invariant(part !== undefined, "completePart without a part in flight")
    invariant(
      nowUs === this.now && nowUs === part.endUs,
      () => `the ${part.name} part ends at ${part.endUs}, not ${nowUs}`
    )
    const record: PartRecord = { name: part.name, startUs: part.startUs, durationUs: part.endUs - part.startUs }
    this.partRecords.push(record)
    this.part = undefined
    switch (part.name) {
      case "setup":
        this.model.settle(nowUs)
        this.beginPrecopy()
        break
      case "suspend":
        this.startRound(false)
        break
      case "restore":
        this.finish("committed", undefined)
        break
    }
    return record
  }

  parts(): ReadonlyArray<PartRecord> {
    return this.partRecords
  }

  partialRound(): RoundRecord | undefined {
    const round = this.round
    return round === undefined ? undefined : this.recordOf(round, this.model.dirtyCount())
  }

  abort(reason: string): void {
    invariant(this.ending === undefined, "abort after the migration ended")
    const round = this.round
    if (round !== undefined) {
      const partial = this.recordOf(round, 0)
      this.totals.pagesSent += partial.pagesSent
      this.totals.pagesSkipped += partial.pagesSkipped
      this.totals.bytesSent += partial.bytesSent
      this.round = undefined
    }
    this.part = undefined
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
    // during setup the first round's set is not formed yet: it will send the page, with its data
    if (this.ending === undefined && this.part?.name !== "setup") this.model.touch(gfn)
  }

  /** The round as it stands now: its pages, zero-page markers and state so far. */
  private recordOf(round: RoundState, dirtyPagesAfter: number): RoundRecord {
    return {
      index: round.index,
      live: round.live,
      pagesSent: this.model.roundPagesSent(round.progress),
      pagesSkipped: this.model.roundPagesSkipped(),
      zeroPages: this.model.roundZeroPagesSent(round.progress),
      stateBytes: round.tail.bytesDelivered,
      bytesSent: round.progress.bytesDelivered + round.tail.bytesDelivered,
      durationUs: this.now - round.startUs,
      dirtyPagesAfter
    }
  }

  /** The bytes of a round's pages and zero-page markers: all it sends but the state. */
  private pageBytes(record: RoundRecord): number {
    return record.pagesSent * this.pageSizeBytes + record.zeroPages * (zeroPageBytes(this.policy) ?? 0)
  }

  private bytesRemaining(round: RoundState): number {
    const modelRemaining = round.modelDoneUs >= 0 ? 0 : this.model.roundBytesKnown() - round.progress.bytesDelivered
    return modelRemaining + round.tailBytes - round.tail.bytesDelivered
  }

  /** When the state bytes still to send would all have arrived, starting at `fromUs` at this rate. */
  private tailDoneUs(round: RoundState, fromUs: number, rateBytesPerS: number): number {
    return fromUs + transferUs(round.tailBytes - round.tail.bytesDelivered, round.tail.microRemainder, rateBytesPerS)
  }

  private advanceTail(round: RoundState, fromUs: number, toUs: number, rateBytesPerS: number): void {
    if (rateBytesPerS === 0) return
    const doneUs = this.tailDoneUs(round, fromUs, rateBytesPerS)
    if (doneUs <= toUs) {
      round.tail.bytesDelivered = round.tailBytes
      round.tail.microRemainder = 0
      round.bytesDoneUs = doneUs
    } else addProgress(round.tail, rateBytesPerS, toUs - fromUs)
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
        if (this.phases.suspendUs > 0) this.startPart("suspend", this.phases.suspendUs)
        else this.startRound(false)
        return
      case "Abort":
        this.finish("aborted", step.reason)
        return
    }
  }

  private startPart(name: PartName, durationUs: number): void {
    this.part = { name, startUs: this.now, endUs: this.now + durationUs }
  }

  private startRound(live: boolean): void {
    const peekBatchPages = live ? this.peekBatchPages() : 0
    const sending = this.model.beginRound(peekBatchPages)
    const tailBytes = live ? 0 : this.phases.stateBytes
    this.round = {
      index: this.records.length + 1,
      live,
      startUs: this.now,
      progress: { bytesDelivered: 0, microRemainder: 0 },
      tailBytes,
      tail: { bytesDelivered: 0, microRemainder: 0 },
      modelDoneUs: sending ? -1 : this.now,
      bytesDoneUs: sending || tailBytes > 0 ? -1 : this.now
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
  if (config.phases !== undefined) checkPhases(config.phases)
  invariant(isCount(config.untouchedPages ?? 0), "untouchedPages must be a non-negative integer")
}

export const createPrecopy = (config: PrecopyConfig): Precopy => new PrecopyMachine(config)

// --- building a machine from a workload description --------------------------------------------------

export interface WorkloadSpec {
  readonly model: "rate" | "pages"
  /** pages model: how gfns are drawn (working set spread over memory, workload.ts). */
  readonly writer: string
  /** Writers of the run's own, besides the built-ins (engine/migration/writers.ts). */
  readonly writers?: ReadonlyArray<WriterDefinition>
  readonly dirtyRateBytesPerS: number
  readonly workingSetPages: number
  readonly memoryPages: number
  readonly pageSizeBytes: number
  /** The writer's own generator (pages model). */
  readonly prng: Prng
  readonly startUs: number
  /** Go on from the writer's rest (pages model, a built-in writer): `prng` is then its generator's. */
  readonly from?: WriterRest | undefined
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
    startUs: spec.startUs,
    ...(spec.from === undefined ? {} : { from: spec.from })
  }
  const writer = findWriter(spec.writer, spec.writers)
  invariant(
    writer !== undefined,
    () => `unknown page writer ${spec.writer}: expected one of ${knownWriterNames(spec.writers).join(", ")}`
  )
  return { kind: "pages", writer: writer.make(config) }
}

// --- the pool engine's seam (engine/transfer.ts) ------------------------------------------------------

const describeLostWrite = (precopy: Precopy): string | undefined => {
  const check = precopy.checkDestination()
  if (check === undefined || check.ok) return undefined
  const destination = check.destinationVersion === 0xffff_ffff ? "never sent" : `version ${check.destinationVersion}`
  return `gfn ${check.gfn}: source version ${check.sourceVersion}, destination ${destination}`
}

/** What follows a step, for the engine; `wasPaused`: the guest was already paused before the step. */
const afterStep = (precopy: Precopy, wasPaused: boolean, byPart: boolean): AfterRound => {
  switch (precopy.phase()) {
    case "precopy":
      return { next: "live" }
    case "stop-and-copy":
      return wasPaused ? { next: "step" } : { next: "paused", stopReason: precopy.stopAndCopy()!.stopReason }
    case "committed":
      return byPart ? { next: "commit" } : { next: "done" }
    case "aborted":
      return { next: "abort", reason: precopy.outcome()!.abortReason ?? "aborted" }
  }
}

/** Adapts the machine to the engine's `TransferMachine`. */
export const transferMachine = (precopy: Precopy): TransferMachine => ({
  advance: (toUs, rateBytesPerS) => precopy.advance(toUs, rateBytesPerS),
  roundEndUs: (rateBytesPerS) => precopy.nextEventUs(rateBytesPerS),
  completeRound: (nowUs) => {
    const wasPaused = precopy.stopAndCopy() !== undefined
    const record = precopy.completeRound(nowUs)
    return { record, after: afterStep(precopy, wasPaused, false) }
  },
  inPart: () => precopy.inPart(),
  completePart: (nowUs) => {
    const wasPaused = precopy.stopAndCopy() !== undefined
    const { name, durationUs } = precopy.completePart(nowUs)
    return { part: { name, durationUs }, after: afterStep(precopy, wasPaused, true) }
  },
  partialRound: () => precopy.partialRound(),
  lostWrite: () => describeLostWrite(precopy),
  pageTouched: (gfn) => precopy.pageTouched(gfn),
  rest: () => precopy.rest()
})

/** Wraps a pages-model migration's writer: how a trace replay adds the trace's page writes to it. */
type WriterWrapper = (writer: PageWriter, context: TransferContext) => PageWriter

/**
 * The engine's factory: one machine per migration, its writer seeded from the migration's PRNG;
 * `wrapWriter`, when given, wraps each pages-model writer (simulations/trace/feed.ts).
 */
export interface TransferFactoryOptions {
  /** Wraps each pages-model writer (a trace replay's page writes). */
  readonly wrapWriter?: WriterWrapper
  /** Policies of the run's own, besides the built-ins. */
  readonly policies?: ReadonlyArray<PolicyDefinition>
  /** Page writers of the run's own, besides the built-ins. */
  readonly writers?: ReadonlyArray<WriterDefinition>
}

export const makeTransferFactory =
  (options: TransferFactoryOptions = {}): TransferFactory =>
  (context) => {
    const { wrapWriter } = options
    // Fields copied one by one, not spread: this runs once per migration, and spreading objects of
    // many shapes is a slow generic copy in V8.
    const { workload } = context
    // going on from a rest, a built-in writer takes its place and its generator's state from it
    const model = context.from?.model
    const writerFrom = model !== undefined && "kind" in model ? model.tracker.lookahead.writer : undefined
    const writerPrng =
      writerFrom?.kind === "spaced"
        ? Prng.fromState(writerFrom.prng)
        : workload.model === "pages"
          ? context.prng.fork("writer")
          : context.prng
    const generated = dirtyModelFor({
      model: workload.model,
      writer: workload.writer,
      dirtyRateBytesPerS: workload.dirtyRateBytesPerS,
      workingSetPages: workload.workingSetPages,
      memoryPages: context.memoryPages,
      pageSizeBytes: context.pageSizeBytes,
      // only a pages-model writer draws; the rate model leaves its fork undone (forking draws nothing)
      prng: writerPrng,
      startUs: context.startUs,
      from: writerFrom,
      ...(options.writers === undefined ? {} : { writers: options.writers })
    })
    const dirtyModel: DirtyModelSpec =
      wrapWriter !== undefined && generated.kind === "pages"
        ? { kind: "pages", writer: wrapWriter(generated.writer, context) }
        : generated
    const policy = policyByName(context.policy.name, context.policy, options.policies)
    return transferMachine(
      createPrecopy({
        memoryPages: context.memoryPages,
        pageSizeBytes: context.pageSizeBytes,
        policy,
        model: dirtyModel,
        latencyUs: context.latencyUs,
        startUs: context.startUs,
        paged: context.paged,
        phases: phasesFor(policy, context.policy.phases ?? "default", workload.stateBytes),
        // the guest's memory may have shrunk since the workload was described (a balloon): a written page
        // is touched, so the never-written pages are at most what the working set leaves
        untouchedPages: Math.min(
          workload.untouchedPages ?? 0,
          context.memoryPages - Math.min(workload.workingSetPages, context.memoryPages)
        ),
        from: context.from
      })
    )
  }

/** The engine's factory, as scenarios run it. */
export const transferFactory: TransferFactory = makeTransferFactory()
