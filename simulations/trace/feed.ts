/**
 * A trace's page writes on their way to the migration machines (the `pages` model).
 *
 * The replay reads the trace one time slice ahead of the clock (replay.ts): every write with
 * `atUs < horizonUs` has been read. Each VM's writes wait in a queue of `(atUs, first gfn, last gfn)`
 * entries. A migration of a VM gets a writer that merges its workload's generated writes with that queue,
 * in time order (generated first on a tie), and shows only what is certain: a trace write it has, or a
 * generated write before the horizon (a trace write not yet read could come before a later one). The
 * engine never advances a machine past the next slice of the trace, so nothing is applied out of order,
 * and the machine's look-ahead (xen-legacy) sees exactly the writes known so far; the replay re-plans
 * round ends whenever the horizon moves.
 *
 * Memory: a queue holds the writes of the slices read but not yet reached, plus, while its VM's guest is
 * paused for the final round, the writes it does not make. A VM without a migration keeps none.
 */
import { invariant } from "../../engine/migration/exact.js"
import { NO_MORE_WRITES_US, type PageWriter } from "../../engine/migration/workload.js"

/** How far the trace has been read: every write before `us` is known. */
export interface Horizon {
  us: number
}

/** One VM's trace writes not yet consumed, oldest first. */
export class WriteQueue {
  private times = new Float64Array(16)
  private firsts = new Float64Array(16)
  private lasts = new Float64Array(16)
  private head = 0
  private tail = 0
  /** The next gfn of the head entry. */
  private cursor = 0
  /** Pages of the machine consuming the queue; 0 when no migration is attached. */
  private limitPages = 0

  get attached(): boolean {
    return this.limitPages > 0
  }

  /** The pending write's time, or NO_MORE_WRITES_US. */
  get atUs(): number {
    return this.head < this.tail ? this.times[this.head]! : NO_MORE_WRITES_US
  }

  get gfn(): number {
    return this.head < this.tail ? this.cursor : -1
  }

  /** Entries held (for tests and memory checks). */
  get size(): number {
    return this.tail - this.head
  }

  /** Adds writes of gfns first … last at `atUs`; a queue no machine consumes first drops what is past. */
  push(atUs: number, first: number, last: number, nowUs: number): void {
    if (!this.attached) this.dropBefore(nowUs)
    if (this.tail === this.times.length) this.grow()
    this.times[this.tail] = atUs
    this.firsts[this.tail] = first
    this.lasts[this.tail] = last
    this.tail++
    if (this.tail - this.head === 1) this.settle()
  }

  next(): void {
    invariant(this.head < this.tail, "next() on an empty write queue")
    this.cursor++
    this.settle()
  }

  /** A machine of `memoryPages` pages consumes the queue from now on; writes beyond its memory are dropped. */
  attach(memoryPages: number): void {
    invariant(memoryPages >= 1, "a machine has at least one page")
    this.limitPages = memoryPages
    this.settle()
  }

  /** The machine is gone: writes before `nowUs` are dropped, later ones (already read) stay. */
  detach(nowUs: number): void {
    this.limitPages = 0
    this.dropBefore(nowUs)
  }

  /** Moves the cursor to the next gfn within the attached machine's memory, dropping spent entries. */
  private settle(): void {
    const limit = this.limitPages > 0 ? this.limitPages : Number.MAX_SAFE_INTEGER
    // Bounded: each pass drops one entry.
    while (this.head < this.tail) {
      if (this.cursor < this.firsts[this.head]!) this.cursor = this.firsts[this.head]!
      if (this.cursor <= this.lasts[this.head]! && this.cursor < limit) return
      this.head++
      this.cursor = this.head < this.tail ? this.firsts[this.head]! : 0
    }
    this.head = this.tail = 0
  }

  private dropBefore(nowUs: number): void {
    while (this.head < this.tail && this.times[this.head]! < nowUs) this.head++
    if (this.head === this.tail) this.head = this.tail = 0
    this.cursor = this.head < this.tail ? this.firsts[this.head]! : 0
  }

  private grow(): void {
    const live = this.tail - this.head
    const capacity = live * 2 > this.times.length ? this.times.length * 2 : this.times.length
    const copy = (from: Float64Array) => {
      const to = new Float64Array(capacity)
      to.set(from.subarray(this.head, this.tail))
      return to
    }
    this.times = copy(this.times)
    this.firsts = copy(this.firsts)
    this.lasts = copy(this.lasts)
    this.head = 0
    this.tail = live
  }
}

/**
 * The writer a migration machine sees: `generated` and the VM's trace writes merged in time order,
 * showing only writes certain to come next (see the module comment). Read through, never cached.
 */
export class TraceFedWriter implements PageWriter {
  constructor(
    private readonly generated: PageWriter,
    private readonly queue: WriteQueue,
    private readonly horizon: Horizon
  ) {}

  get atUs(): number {
    const fromTrace = this.queue.atUs
    const fromGenerated = this.generated.atUs
    if (fromTrace < fromGenerated) return fromTrace
    return fromGenerated < this.horizon.us ? fromGenerated : NO_MORE_WRITES_US
  }

  get gfn(): number {
    const fromTrace = this.queue.atUs
    const fromGenerated = this.generated.atUs
    if (fromTrace < fromGenerated) return this.queue.gfn
    return fromGenerated < this.horizon.us ? this.generated.gfn : -1
  }

  next(): void {
    const fromTrace = this.queue.atUs
    const fromGenerated = this.generated.atUs
    if (fromTrace < fromGenerated) this.queue.next()
    else if (fromGenerated < this.horizon.us) this.generated.next()
    else invariant(false, "next() on a writer with no write to show")
  }
}
