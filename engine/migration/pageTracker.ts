/**
 * The `pages` dirtying model of one VM during a migration (DESIGN.md §5): typed arrays over the VM's
 * pages and a send cursor that interleaves with the guest's writes in simulated time.
 *
 * - `dirty`: Xen's log-dirty bitmap, pages written since the last CLEAN. A write to gfn g bumps g's
 *   source version and sets g's dirty bit: g is dirty for the NEXT round.
 * - `toSend`: the current round's pending set. CLEAN makes the dirty bitmap the new to-send set and
 *   clears it (the two bitmaps swap: the previous to-send set is empty once its round is done).
 * - `sourceVersion` / `destinationVersion`: per page; sending a page copies the source's current version
 *   to the destination. `NEVER_SENT` marks a page the destination has not received.
 *
 * A round sends its to-send pages in gfn order, the k-th sent page arriving when the link has delivered
 * k × pageSizeBytes bytes of the round. Order within one µs: the sender first (deliveries, and the
 * xen-legacy `to_skip` peek that follows a batch's last delivery), then the guest's writes. So a write
 * that lands exactly when its page arrives makes that page dirty again and it is re-sent next round.
 *
 * xen-legacy peeks the dirty bitmap before each batch (`peekBatchPages` selected pages): a to-send page
 * dirty at the peek is skipped (no link time; counted as skipped) and stays dirty for the next round;
 * one written after its batch's peek is sent with its new version and is also re-sent next round.
 *
 * Memory: two Uint32Array version arrays and two bitmaps, 8.25 bytes a page (≈ 33 MiB for 16 GiB of
 * 4 KiB pages).
 */
import { fillFromRuns, runsOf } from "../runs.js"
import { addProgress, invariant, isCount, type LinkProgress, MICROS_PER_S, transferUs } from "./exact.js"
import type { PagedPages } from "../transfer.js"
import { idleWriter, NO_MORE_WRITES_US, type PageWriter, type WriterRest } from "./workload.js"

/** Destination version of a page it never received. */
export const NEVER_SENT = 0xffff_ffff
const VERSION_MAX = 0xffff_fffe

/** No delivery pending: later than any time. */
const NEVER_US = Number.MAX_SAFE_INTEGER

export type DestinationCheck =
  | { readonly ok: true }
  | { readonly ok: false; readonly gfn: number; readonly sourceVersion: number; readonly destinationVersion: number }

const wordsFor = (pages: number): number => (pages + 31) >>> 5

/** Index of the lowest set bit of a non-zero 32-bit word. */
const lowestBit = (word: number): number => 31 - Math.clz32(word & -word)

/**
 * The writer behind a queue, so that the exact end of a xen-legacy round can be computed ahead of time:
 * the writes up to it are pulled into the queue and looked at, not applied, and later consumed in the
 * same order. The pending write is the queue's head, or the inner writer's when the queue is empty.
 * It is read through, never cached: a trace replay's writer learns of writes after it last had none
 * (simulations/trace/feed.ts), and they must show here.
 */
class LookaheadWriter implements PageWriter {
  private times = new Float64Array(64)
  private gfns = new Int32Array(64)
  private head = 0
  private tail = 0

  constructor(private readonly inner: PageWriter) {}

  get atUs(): number {
    return this.head < this.tail ? this.times[this.head]! : this.inner.atUs
  }

  get gfn(): number {
    return this.head < this.tail ? this.gfns[this.head]! : this.inner.gfn
  }

  next(): void {
    if (this.head < this.tail) {
      this.head++
      if (this.head === this.tail) this.head = this.tail = 0
    } else this.inner.next()
  }

  /** Queues every write with atUs < untilUs: afterwards they are exactly the queue's entries. */
  fillBefore(untilUs: number): void {
    // Bounded: each pass queues one write of the inner writer, which moves forward in time.
    while (this.inner.atUs < untilUs) {
      if (this.tail === this.times.length) this.grow()
      this.times[this.tail] = this.inner.atUs
      this.gfns[this.tail] = this.inner.gfn
      this.tail++
      this.inner.next()
    }
  }

  queued(): number {
    return this.tail - this.head
  }

  /** The writes pulled ahead, and the inner writer's place; undefined when the inner writer has no rest. */
  queueRest(): LookaheadRest | undefined {
    const writer = this.inner.rest?.()
    if (writer === undefined) return undefined
    return {
      times: Array.from(this.times.subarray(this.head, this.tail)),
      gfns: Array.from(this.gfns.subarray(this.head, this.tail)),
      writer
    }
  }

  /** Takes back the writes pulled ahead (the inner writer went on from its own rest). */
  restoreQueue(rest: LookaheadRest): void {
    invariant(rest.times.length === rest.gfns.length, "a lookahead queue's times and gfns pair up")
    for (let i = 0; i < rest.times.length; i++) {
      if (this.tail === this.times.length) this.grow()
      this.times[this.tail] = rest.times[i]!
      this.gfns[this.tail] = rest.gfns[i]!
      this.tail++
    }
  }

  queuedAtUs(i: number): number {
    return this.times[this.head + i]!
  }

  queuedGfn(i: number): number {
    return this.gfns[this.head + i]!
  }

  private grow(): void {
    const live = this.tail - this.head
    const capacity = live * 2 > this.times.length ? this.times.length * 2 : this.times.length
    const times = new Float64Array(capacity)
    const gfns = new Int32Array(capacity)
    times.set(this.times.subarray(this.head, this.tail))
    gfns.set(this.gfns.subarray(this.head, this.tail))
    this.times = times
    this.gfns = gfns
    this.head = 0
    this.tail = live
  }
}

/** Writes pulled ahead of a xen-legacy round's end, in order, and the writer behind them. */
interface LookaheadRest {
  readonly times: ReadonlyArray<number>
  readonly gfns: ReadonlyArray<number>
  readonly writer: WriterRest
}

/** A page tracker between two calls, as data (`PageTracker.rest`): its versions, bitmaps, round and writer. */
export interface PageTrackerRest {
  readonly sourceVersion: ReadonlyArray<number>
  readonly destinationVersion: ReadonlyArray<number>
  readonly dirtyBits: ReadonlyArray<number>
  readonly toSendBits: ReadonlyArray<number>
  readonly dirtyPages: number
  readonly toSendPages: number
  readonly paused: boolean
  readonly cursorGfn: number
  readonly peekBatchPages: number
  readonly batchPendingPages: number
  readonly batchEndGfn: number
  readonly roundSent: number
  readonly roundSkipped: number
  readonly writesApplied: number
  readonly markerPages: number
  readonly lookahead: LookaheadRest
}

export class PageTracker {
  readonly sourceVersion: Uint32Array
  readonly destinationVersion: Uint32Array
  private dirtyBits: Uint32Array
  private toSendBits: Uint32Array
  private readonly words: number
  private dirtyPages = 0
  /** Pages of the to-send set neither sent nor skipped yet. */
  private toSendPages = 0
  private paused = false

  // The round in flight.
  private cursorGfn = 0
  /** 0: no peek (xen, every final round); else xen-legacy's batch size. */
  private peekBatchPages = 0
  /** Pages selected by the current batch's peek (or the whole set without peeks) not yet delivered. */
  private batchPendingPages = 0
  /** One past the current batch's last selected gfn (peeks only). */
  private batchEndGfn = 0
  private roundSent = 0
  private roundSkipped = 0
  private writesApplied = 0

  /** xenpaging: pages paged out when a to-send set is formed go as markers (no data, no link time). */
  private paged: PagedPages | undefined
  private markerPages = 0

  private readonly writer: LookaheadWriter
  /** Scratch bitmap for the legacy look-ahead: pages written between now and a future peek. */
  private scratchBits: Uint32Array | undefined

  constructor(
    readonly memoryPages: number,
    writer: PageWriter = idleWriter()
  ) {
    invariant(isCount(memoryPages) && memoryPages >= 1 && memoryPages <= 2 ** 31, "memoryPages must be in [1, 2^31]")
    this.writer = new LookaheadWriter(writer)
    this.words = wordsFor(memoryPages)
    this.sourceVersion = new Uint32Array(memoryPages)
    this.destinationVersion = new Uint32Array(memoryPages).fill(NEVER_SENT)
    this.dirtyBits = new Uint32Array(this.words)
    this.toSendBits = new Uint32Array(this.words)
  }

  /**
   * The tracker as data, run-length encoded; undefined when its writer has no rest (a writer of one's
   * own, a trace's). A tracker made with the same memory and a writer gone on from this one's writer
   * rest, then `restore`d, goes on as this one would.
   */
  rest(): PageTrackerRest | undefined {
    const lookahead = this.writer.queueRest()
    if (lookahead === undefined) return undefined
    return {
      sourceVersion: runsOf(this.sourceVersion),
      destinationVersion: runsOf(this.destinationVersion),
      dirtyBits: runsOf(this.dirtyBits),
      toSendBits: runsOf(this.toSendBits),
      dirtyPages: this.dirtyPages,
      toSendPages: this.toSendPages,
      paused: this.paused,
      cursorGfn: this.cursorGfn,
      peekBatchPages: this.peekBatchPages,
      batchPendingPages: this.batchPendingPages,
      batchEndGfn: this.batchEndGfn,
      roundSent: this.roundSent,
      roundSkipped: this.roundSkipped,
      writesApplied: this.writesApplied,
      markerPages: this.markerPages,
      lookahead
    }
  }

  restore(rest: PageTrackerRest): void {
    fillFromRuns(this.sourceVersion, rest.sourceVersion)
    fillFromRuns(this.destinationVersion, rest.destinationVersion)
    fillFromRuns(this.dirtyBits, rest.dirtyBits)
    fillFromRuns(this.toSendBits, rest.toSendBits)
    this.dirtyPages = rest.dirtyPages
    this.toSendPages = rest.toSendPages
    this.paused = rest.paused
    this.cursorGfn = rest.cursorGfn
    this.peekBatchPages = rest.peekBatchPages
    this.batchPendingPages = rest.batchPendingPages
    this.batchEndGfn = rest.batchEndGfn
    this.roundSent = rest.roundSent
    this.roundSkipped = rest.roundSkipped
    this.writesApplied = rest.writesApplied
    this.markerPages = rest.markerPages
    this.writer.restoreQueue(rest.lookahead)
  }

  // --- bitmaps and versions ------------------------------------------------------------------------

  /** The to-send set becomes every page (the migration's start: the bitmap is all ones). */
  sendAll(): number {
    invariant(this.toSendPages === 0, "sendAll: a round is still pending")
    this.toSendBits.fill(0xffff_ffff)
    const tail = this.memoryPages & 31
    if (tail !== 0) this.toSendBits[this.words - 1] = (1 << tail) - 1
    this.toSendPages = this.memoryPages
    this.sendMarkers()
    return this.toSendPages
  }

  /** CLEAN: the dirty bitmap becomes the to-send set and is cleared; returns the pages it held. */
  clean(): number {
    invariant(this.toSendPages === 0, "CLEAN while the previous round still has pages to send")
    const sent = this.toSendBits
    this.toSendBits = this.dirtyBits
    this.dirtyBits = sent // all zero: every bit of a finished round was sent or skipped
    this.toSendPages = this.dirtyPages
    this.dirtyPages = 0
    this.sendMarkers()
    return this.toSendPages
  }

  /** The VM's paged pages: from now on, every to-send set sends those that are paged as markers. */
  setPaged(paged: PagedPages): void {
    this.paged = paged
  }

  /** Pages sent as markers so far (Xen's XTAB entries of paged gfns): no data, no link time. */
  markersSent(): number {
    return this.markerPages
  }

  /**
   * Paged pages of the to-send set go now, as markers: the destination holds them paged (its pager takes
   * over the paging file), so its copy is current without data crossing the link.
   */
  private sendMarkers(): void {
    const paged = this.paged
    if (paged === undefined || this.toSendPages === 0 || paged.pagedCount() === 0) return
    // Bounded: one pass over the to-send set.
    for (let gfn = this.nextPending(0); gfn < this.memoryPages; gfn = this.nextPending(gfn + 1)) {
      if (!paged.isPaged(gfn)) continue
      this.destinationVersion[gfn] = this.sourceVersion[gfn]!
      this.clearPending(gfn)
      this.markerPages++
    }
  }

  /**
   * gfn changed paging state in a live round (it was paged back in): dirty for the next round, which
   * sends its data; its version is unchanged. Nothing while the guest is paused (no page-ins then).
   */
  touch(gfn: number): void {
    if (this.paused) return
    invariant(gfn >= 0 && gfn < this.memoryPages && Number.isInteger(gfn), () => `touch of gfn ${gfn} out of range`)
    const w = gfn >>> 5
    const bit = 1 << (gfn & 31)
    const word = this.dirtyBits[w]!
    if ((word & bit) === 0) {
      this.dirtyBits[w] = word | bit
      this.dirtyPages++
    }
  }

  dirtyCount(): number {
    return this.dirtyPages
  }

  pendingCount(): number {
    return this.toSendPages
  }

  isDirty(gfn: number): boolean {
    return (this.dirtyBits[gfn >>> 5]! & (1 << (gfn & 31))) !== 0
  }

  isPending(gfn: number): boolean {
    return (this.toSendBits[gfn >>> 5]! & (1 << (gfn & 31))) !== 0
  }

  /** The guest writes gfn: a new version, dirty for the next round. */
  write(gfn: number): void {
    // Hot path: plain checks, the message is built only on failure.
    if (this.paused) invariant(false, "a paused guest does not write")
    if (!(gfn >= 0 && gfn < this.memoryPages && Number.isInteger(gfn)))
      invariant(false, `write to gfn ${gfn} out of range`)
    const version = this.sourceVersion[gfn]!
    if (version >= VERSION_MAX) invariant(false, `gfn ${gfn}: version counter exhausted`)
    this.sourceVersion[gfn] = version + 1
    const w = gfn >>> 5
    const bit = 1 << (gfn & 31)
    const word = this.dirtyBits[w]!
    if ((word & bit) === 0) {
      this.dirtyBits[w] = word | bit
      this.dirtyPages++
    }
    this.writesApplied++
  }

  /** The guest is paused for the final round: writes stop reaching the source. */
  pause(): void {
    this.paused = true
  }

  writesCount(): number {
    return this.writesApplied
  }

  /** First page whose destination version differs from the source's (the "no lost writes" check). */
  checkDestination(): DestinationCheck {
    const source = this.sourceVersion
    const destination = this.destinationVersion
    for (let gfn = 0; gfn < this.memoryPages; gfn++) {
      if (source[gfn] !== destination[gfn]) {
        return { ok: false, gfn, sourceVersion: source[gfn]!, destinationVersion: destination[gfn]! }
      }
    }
    return { ok: true }
  }

  /** Next to-send gfn at or after `from`, or memoryPages. */
  private nextPending(from: number): number {
    const bits = this.toSendBits
    let w = from >>> 5
    if (w >= this.words) return this.memoryPages
    let word = bits[w]! & (-1 << (from & 31))
    while (word === 0) {
      w++
      if (w >= this.words) return this.memoryPages
      word = bits[w]!
    }
    return (w << 5) + lowestBit(word)
  }

  private clearPending(gfn: number): void {
    this.toSendBits[gfn >>> 5]! &= ~(1 << (gfn & 31))
    this.toSendPages--
  }

  // --- rounds ---------------------------------------------------------------------------------------

  /**
   * Starts a round over the to-send set; `peekBatchPages` 0 sends it all, n > 0 peeks `to_skip` before
   * each batch of n pages. Returns false when the round has nothing to send.
   */
  beginRound(peekBatchPages: number): boolean {
    invariant(isCount(peekBatchPages), "peekBatchPages must be a count")
    this.cursorGfn = 0
    this.peekBatchPages = peekBatchPages
    this.roundSent = 0
    this.roundSkipped = 0
    this.batchPendingPages = 0
    return this.nextBatch()
  }

  roundPagesSent(): number {
    return this.roundSent
  }

  roundPagesSkipped(): number {
    return this.roundSkipped
  }

  /** Pages of this round known to be sent: those sent so far plus the current batch. */
  roundPagesKnown(): number {
    return this.roundSent + this.batchPendingPages
  }

  /** Whether the pages known now are all this round sends (no peek left that could skip more). */
  roundPagesFinal(): boolean {
    return this.peekBatchPages === 0 || this.toSendPages === this.batchPendingPages
  }

  /**
   * Selects the next batch (the peek happens now: dirty to-send pages are skipped). Returns false when
   * the round has nothing left to send.
   */
  private nextBatch(): boolean {
    if (this.peekBatchPages === 0) {
      this.batchPendingPages = this.toSendPages
      return this.toSendPages > 0
    }
    let selected = 0
    let gfn = this.nextPending(this.cursorGfn)
    // Bounded: each step moves gfn forward; at most memoryPages steps.
    while (gfn < this.memoryPages && selected < this.peekBatchPages) {
      if (this.isDirty(gfn)) {
        this.clearPending(gfn)
        this.roundSkipped++
      } else {
        selected++
        this.batchEndGfn = gfn + 1
      }
      gfn = this.nextPending(gfn + 1)
    }
    this.batchPendingPages = selected
    return selected > 0
  }

  /**
   * The µs at which this round's last page would arrive if the link delivered `rateBytesPerS` from
   * `nowUs` on, exactly, changing nothing. Under peeks it looks ahead: each future peek sees the pages
   * dirty now plus those the writer will write before it (the writes are queued, not applied).
   */
  roundDataDoneUs(nowUs: number, rateBytesPerS: number, pageSizeBytes: number, progress: LinkProgress): number {
    invariant(rateBytesPerS > 0 && this.batchPendingPages > 0, "roundDataDoneUs needs a rate and pages to send")
    let knownPages = this.roundSent + this.batchPendingPages
    const arrivalUs = (pages: number): number =>
      nowUs + transferUs(pages * pageSizeBytes - progress.bytesDelivered, progress.microRemainder, rateBytesPerS)
    let peekUs = arrivalUs(knownPages)
    if (this.roundPagesFinal()) return peekUs
    const scratch = (this.scratchBits ??= new Uint32Array(this.words))
    const writer = this.writer
    let seen = 0
    let gfn = this.batchEndGfn
    // Bounded: each pass selects at least one page of the finite to-send set, or returns.
    for (;;) {
      writer.fillBefore(peekUs)
      for (; seen < writer.queued() && writer.queuedAtUs(seen) < peekUs; seen++) {
        const g = writer.queuedGfn(seen)
        scratch[g >>> 5]! |= 1 << (g & 31)
      }
      let selected = 0
      gfn = this.nextPending(gfn)
      while (gfn < this.memoryPages && selected < this.peekBatchPages) {
        if (!this.isDirty(gfn) && (scratch[gfn >>> 5]! & (1 << (gfn & 31))) === 0) selected++
        gfn = this.nextPending(gfn + 1)
      }
      if (selected === 0) break
      knownPages += selected
      peekUs = arrivalUs(knownPages)
      if (gfn >= this.memoryPages) break
    }
    for (let i = 0; i < seen; i++) scratch[writer.queuedGfn(i) >>> 5] = 0
    return peekUs
  }

  /**
   * Time passes from `t0` to `t1` (exclusive of t0, inclusive of t1) with the link delivering this
   * round's bytes at `rateBytesPerS`: pages arrive in gfn order as their last byte does, and the
   * writer's writes in (t0, t1] are applied in time order, each after the deliveries up to its time.
   * Updates `progress`; returns the µs the round's last page arrived if that happened in the interval
   * (the round's transfer is then over), else -1.
   */
  transfer(t0: number, t1: number, rateBytesPerS: number, pageSizeBytes: number, progress: LinkProgress): number {
    const pageMicroBytes = pageSizeBytes * MICROS_PER_S
    const rate = rateBytesPerS
    const writer = this.writer
    let arrivalUs = NEVER_US
    let slack = 0 // (arrivalUs − t0) × rate − micro-bytes needed from t0 to complete the next page: in [0, rate)
    if (rate > 0 && this.batchPendingPages > 0) {
      const neededBytes = (this.roundSent + 1) * pageSizeBytes - progress.bytesDelivered
      invariant(neededBytes > 0 && neededBytes <= pageSizeBytes, "link progress out of step with pages sent")
      const needed = neededBytes * MICROS_PER_S - progress.microRemainder
      const dt = Math.floor((needed + rate - 1) / rate)
      arrivalUs = t0 + dt
      slack = dt * rate - needed
    }
    let doneUs = -1
    // Bounded: each pass applies one write or ends; each inner step delivers one page.
    for (;;) {
      const writeUs = this.paused ? NO_MORE_WRITES_US : writer.atUs
      const horizonUs = writeUs < t1 ? writeUs : t1
      while (arrivalUs <= horizonUs) {
        const gfn = this.nextPending(this.cursorGfn)
        this.destinationVersion[gfn] = this.sourceVersion[gfn]!
        this.clearPending(gfn)
        this.cursorGfn = gfn + 1
        this.roundSent++
        this.batchPendingPages--
        if (this.batchPendingPages === 0 && !this.nextBatch()) {
          doneUs = arrivalUs
          arrivalUs = NEVER_US
          break
        }
        const needed = pageMicroBytes - slack
        if (needed <= 0) slack = -needed
        else {
          const dt = Math.floor((needed + rate - 1) / rate)
          arrivalUs += dt
          slack = dt * rate - needed
        }
      }
      if (writeUs > t1) break
      this.write(writer.gfn)
      writer.next()
    }
    if (doneUs >= 0) {
      progress.bytesDelivered = this.roundSent * pageSizeBytes
      progress.microRemainder = 0
    } else if (rate > 0) {
      addProgress(progress, rate, t1 - t0)
    }
    return doneUs
  }

  /**
   * Writes up to the migration's start (`atUs <= startUs`) happen before log-dirty is on: they change
   * the source's versions but mark nothing dirty (the first round sends every page anyway).
   */
  settleBefore(startUs: number): void {
    const writer = this.writer
    // Bounded: one write per pass.
    while (writer.atUs <= startUs) {
      const gfn = writer.gfn
      invariant(gfn >= 0 && gfn < this.memoryPages && Number.isInteger(gfn), () => `write to gfn ${gfn} out of range`)
      this.sourceVersion[gfn] = this.sourceVersion[gfn]! + 1
      this.writesApplied++
      writer.next()
    }
  }

  /** Time passes up to `t1` with nothing on the link (latency): the guest's writes only. */
  idle(t1: number): void {
    if (this.paused) return
    const writer = this.writer
    // Bounded: one write per pass.
    while (writer.atUs <= t1) {
      this.write(writer.gfn)
      writer.next()
    }
  }
}
