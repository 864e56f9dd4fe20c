/**
 * Guest write workloads for the migration model (DESIGN.md §5, "Dirtying models").
 *
 * `pages` model: a `PageWriter` is a time-ordered stream of page writes `(gfn, atUs)`. Generators draw
 * gfns from a seeded PRNG and space writes evenly at an exact rational rate (no drift: write i lands at
 * `startUs + ceil(i × perUs / writes)`, strictly after `startUs`); a trace writer replays explicit writes.
 *
 * Working-set layout: a working set of N pages in a VM of M pages is either `spread` (the default: page
 * j of the set is gfn floor(j × M / N), evenly over the whole address space, so writes land both ahead
 * of and behind a round's send cursor) or `front` (gfns 0 … N−1, handy for hand-computed cases).
 *
 * `rate` model: no page identities. Pages dirtied in an interval = dirty rate × elapsed time, with the
 * fraction of a page carried exactly to the next interval, and the count since the last CLEAN capped at
 * the working set (a page dirtied twice is one dirty page).
 */
import type { Prng, PrngState } from "../prng.js"
import { invariant, isCount, MICROS_PER_S, mulDivMod } from "./exact.js"

/** `atUs` of a writer that has no more writes. */
export const NO_MORE_WRITES_US = Number.MAX_SAFE_INTEGER

/**
 * A time-ordered stream of page writes. `atUs`/`gfn` describe the pending write; `next()` moves on.
 * Writes come in non-decreasing `atUs`; ties keep the stream's order.
 */
export interface PageWriter {
  readonly atUs: number
  readonly gfn: number
  next(): void
  /**
   * The writer's place as data, for a migration's machine at rest (precopy.ts): the built-ins give it;
   * a writer of one's own may leave it out (its migration in flight then keeps the engine from resting).
   */
  rest?(): WriterRest | undefined
}

/**
 * An evenly spaced writer's place: its next write, its position in the rate's spacing, its generator, and
 * what its `pickIndex` holds beside the generator (`own`, for a writer of one's own that says).
 */
export type WriterRest =
  | { readonly kind: "idle" }
  | {
      readonly kind: "spaced"
      readonly atUs: number
      readonly gfn: number
      readonly offsetUs: number
      readonly remainder: number
      readonly written: number
      readonly prng: PrngState
      readonly own?: WriterState
    }

/** A writer's own state at rest: plain JSON data. */
export type WriterState =
  null | boolean | number | string | ReadonlyArray<WriterState> | { readonly [key: string]: WriterState }

/** A rational rate: `writes` writes every `perUs` µs (e.g. W pages/s = `{ writes: W, perUs: 1e6 }`). */
export interface WriteRate {
  readonly writes: number
  readonly perUs: number
}

export const pagesPerS = (pages: number): WriteRate => ({ writes: pages, perUs: MICROS_PER_S })

/** A dirty rate in bytes/s as page writes: `bytesPerS / pageSizeBytes` pages per second, exactly. */
export const bytesPerSAsWrites = (bytesPerS: number, pageSizeBytes: number): WriteRate => ({
  writes: bytesPerS,
  perUs: MICROS_PER_S * pageSizeBytes
})

export type WorkingSetLayout = "spread" | "front"

export interface WorkingSet {
  readonly memoryPages: number
  readonly workingSetPages: number
  readonly layout?: WorkingSetLayout
}

/** gfn of the working set's j-th page. */
export const workingSetGfn = (set: WorkingSet, j: number): number =>
  (set.layout ?? "spread") === "front" ? j : Math.floor((j * set.memoryPages) / set.workingSetPages)

/** `workingSetGfn` for one set, with the layout decided once (writers call it per write). */
const gfnMapping = (set: WorkingSet): ((j: number) => number) => {
  if ((set.layout ?? "spread") === "front") return (j) => j
  const { memoryPages, workingSetPages } = set
  return (j) => Math.floor((j * memoryPages) / workingSetPages)
}

const checkWorkingSet = (set: WorkingSet): void => {
  invariant(isCount(set.memoryPages) && set.memoryPages >= 1, "memoryPages must be >= 1")
  invariant(
    isCount(set.workingSetPages) && set.workingSetPages >= 1 && set.workingSetPages <= set.memoryPages,
    () => `workingSetPages must be in [1, ${set.memoryPages}], got ${set.workingSetPages}`
  )
}

/** Evenly spaced write times with an exact rational spacing; `pickGfn` chooses each write's page. */
class EvenlySpacedWriter implements PageWriter {
  atUs = NO_MORE_WRITES_US
  gfn = -1
  private readonly stepUs: number
  private readonly stepRemainder: number
  /** floor(i × perUs / writes) and (i × perUs) mod writes for the pending write i. */
  private offsetUs = 0
  private remainder = 0
  private written = 0

  constructor(
    private readonly startUs: number,
    private readonly rate: WriteRate,
    private readonly writesMax: number,
    private readonly pickGfn: () => number,
    /**
     * The generator `pickGfn` draws on, when it and `own` are all it holds (the built-ins', or a writer of
     * one's own that gives `own`): the writer then has a rest.
     */
    private readonly prng?: Prng,
    from?: WriterRest,
    /** What else `pickGfn` holds, as data, for a writer of one's own. */
    private readonly own?: () => WriterState
  ) {
    invariant(isCount(startUs), "startUs must be a non-negative integer")
    invariant(
      isCount(rate.writes) && isCount(rate.perUs) && rate.perUs >= 1,
      "a write rate is two integers, perUs >= 1"
    )
    this.stepUs = rate.writes === 0 ? 0 : Math.floor(rate.perUs / rate.writes)
    this.stepRemainder = rate.writes === 0 ? 0 : rate.perUs - this.stepUs * rate.writes
    if (from !== undefined) {
      invariant(from.kind === "spaced", "a spaced writer goes on from a spaced writer's rest")
      this.atUs = from.atUs
      this.gfn = from.gfn
      this.offsetUs = from.offsetUs
      this.remainder = from.remainder
      this.written = from.written
    } else if (rate.writes > 0) this.next()
  }

  rest(): WriterRest | undefined {
    if (this.prng === undefined) return undefined
    return {
      kind: "spaced",
      atUs: this.atUs,
      gfn: this.gfn,
      offsetUs: this.offsetUs,
      remainder: this.remainder,
      written: this.written,
      prng: this.prng.state,
      ...(this.own === undefined ? {} : { own: this.own() })
    }
  }

  next(): void {
    if (this.written >= this.writesMax) {
      this.atUs = NO_MORE_WRITES_US
      this.gfn = -1
      return
    }
    this.written++
    this.offsetUs += this.stepUs
    this.remainder += this.stepRemainder
    if (this.remainder >= this.rate.writes) {
      this.remainder -= this.rate.writes
      this.offsetUs += 1
    }
    this.atUs = this.startUs + this.offsetUs + (this.remainder > 0 ? 1 : 0)
    this.gfn = this.pickGfn()
  }
}

/** Writes, at most this many per writer (every loop is bounded); far beyond any run's needs. */
const WRITES_MAX_DEFAULT = 2 ** 40

/** What a page writer is made from: the VM's memory and working set, the write rate, its own PRNG. */
export interface WriterConfig extends WorkingSet {
  /** The writer's own generator, forked from the migration's: draw from it and nothing else. */
  readonly prng: Prng
  readonly rate: WriteRate
  readonly startUs: number
  readonly writesMax?: number
  /**
   * Go on from a writer's rest (`PageWriter.rest`): `prng` is then the generator of its rest
   * (`Prng.fromState`), and the writer takes its place instead of drawing its first write. A writer of
   * one's own finds what its `own` gave in `from.own`.
   */
  readonly from?: WriterRest
}

/**
 * Evenly spaced writes to working-set page `pickIndex()`, trusted to be in range (the built-ins').
 * `restable`: `pickIndex` draws on `config.prng` and `own` alone, so the writer's rest is its place and
 * their state.
 */
const spacedWriter = (
  config: WriterConfig,
  pickIndex: () => number,
  restable = false,
  own?: () => WriterState
): PageWriter => {
  checkWorkingSet(config)
  const gfnOf = gfnMapping(config)
  return new EvenlySpacedWriter(
    config.startUs,
    config.rate,
    config.writesMax ?? WRITES_MAX_DEFAULT,
    () => gfnOf(pickIndex()),
    restable ? config.prng : undefined,
    config.from,
    own
  )
}

/**
 * Writes evenly spaced at `config.rate` (exact, no drift), each to the working-set page `pickIndex()`
 * returns (an index in [0, workingSetPages), mapped to a gfn by the set's layout, checked on every
 * write). The way to write a page writer of one's own: the built-ins are the same spacing with a
 * uniform or a hot/cold draw, whose indices are in range by construction and so go unchecked.
 *
 * `own`, when given, says what `pickIndex` holds beside `config.prng`, as JSON data: the writer then
 * has a rest (`PageWriter.rest`), and the engine may rest while its migration is in flight; made again
 * from that rest, the writer finds the data in `config.from.own`. Without it the writer has no rest.
 */
export const evenlySpacedWriter = (
  config: WriterConfig,
  pickIndex: () => number,
  own?: () => WriterState
): PageWriter => {
  const { workingSetPages } = config
  return spacedWriter(
    config,
    () => {
      const j = pickIndex()
      invariant(
        Number.isSafeInteger(j) && j >= 0 && j < workingSetPages,
        () => `a page writer picked working-set page ${j}, outside [0, ${workingSetPages})`
      )
      return j
    },
    own !== undefined,
    own
  )
}

/** Writes at `rate`, each to a page drawn uniformly from the working set. */
export const uniformWriter = (config: WriterConfig): PageWriter =>
  spacedWriter(config, () => config.prng.nextInt(config.workingSetPages), true)

export interface HotColdWriterConfig extends WriterConfig {
  /** The hot subset: the working set's first `hotPages` pages (in layout order). Default: a tenth. */
  readonly hotPages?: number
  /** Share of writes that go to the hot subset, a ratio of integers. Default 9/10. */
  readonly hotShare?: { readonly numerator: number; readonly denominator: number }
}

/** Writes at `rate`: a `hotShare` of them uniform over the hot pages, the rest uniform over the others. */
export const hotColdWriter = (config: HotColdWriterConfig): PageWriter => {
  checkWorkingSet(config)
  const { prng, workingSetPages } = config
  const hotPages = config.hotPages ?? Math.max(1, Math.floor(workingSetPages / 10))
  const share = config.hotShare ?? { numerator: 9, denominator: 10 }
  invariant(isCount(hotPages) && hotPages >= 1 && hotPages <= workingSetPages, "hotPages must be in [1, workingSet]")
  invariant(isCount(share.numerator) && share.numerator <= share.denominator, "hotShare must be a ratio in [0, 1]")
  const coldPages = workingSetPages - hotPages
  return spacedWriter(
    config,
    () => {
      const hot = coldPages === 0 || prng.chance(share.numerator, share.denominator)
      return hot ? prng.nextInt(hotPages) : hotPages + prng.nextInt(coldPages)
    },
    true
  )
}

export interface TraceWrite {
  readonly gfn: number
  readonly atUs: number
}

/** Replays explicit writes, which must be ordered by `atUs` (ties keep their order). */
export const traceWriter = (writes: ReadonlyArray<TraceWrite>): PageWriter => {
  for (let i = 0; i < writes.length; i++) {
    const w = writes[i]!
    invariant(isCount(w.gfn) && isCount(w.atUs), () => `trace write ${i}: gfn and atUs must be integers >= 0`)
    invariant(i === 0 || writes[i - 1]!.atUs <= w.atUs, () => `trace write ${i}: atUs ${w.atUs} goes back in time`)
  }
  let index = -1
  const writer = {
    atUs: NO_MORE_WRITES_US,
    gfn: -1,
    next(): void {
      index++
      const w = writes[index]
      writer.atUs = w === undefined ? NO_MORE_WRITES_US : w.atUs
      writer.gfn = w === undefined ? -1 : w.gfn
    }
  }
  writer.next()
  return writer
}

/** A guest that writes nothing. */
export const idleWriter = (): PageWriter => ({
  atUs: NO_MORE_WRITES_US,
  gfn: -1,
  next: () => undefined,
  rest: () => ({ kind: "idle" })
})

/** Merges two writers in time order; at equal times `first`'s writes come first. */
export const mergeWriters = (first: PageWriter, second: PageWriter): PageWriter => {
  const merged = {
    atUs: NO_MORE_WRITES_US,
    gfn: -1,
    next(): void {
      // Called once per consumed write: advance the side that supplied the current one.
      if (merged.fromFirst) first.next()
      else second.next()
      merged.pick()
    },
    fromFirst: true,
    pick(): void {
      merged.fromFirst = first.atUs <= second.atUs
      const source = merged.fromFirst ? first : second
      merged.atUs = source.atUs
      merged.gfn = source.gfn
    }
  }
  merged.pick()
  return merged
}

// --- rate model -------------------------------------------------------------------------------------

export interface RateDirtyingConfig {
  readonly dirtyRateBytesPerS: number
  readonly workingSetPages: number
  readonly pageSizeBytes: number
}

/**
 * The aggregate dirtying state of one VM: pages dirtied since the last CLEAN, capped at the working set,
 * plus the exact fraction of a page carried forward (in micro-bytes, < pageSizeBytes × 10^6).
 */
export class RateDirtying {
  private dirtyPages = 0
  private carryMicroBytes = 0
  private readonly pageMicroBytes: number

  constructor(readonly config: RateDirtyingConfig) {
    invariant(isCount(config.dirtyRateBytesPerS), "dirtyRateBytesPerS must be a non-negative integer")
    invariant(isCount(config.workingSetPages), "workingSetPages must be a non-negative integer")
    invariant(isCount(config.pageSizeBytes) && config.pageSizeBytes >= 1, "pageSizeBytes must be >= 1")
    this.pageMicroBytes = config.pageSizeBytes * MICROS_PER_S
    invariant(Number.isSafeInteger(this.pageMicroBytes * 2), "pageSizeBytes × 10^6 must stay below 2^52")
  }

  /** The guest runs for `elapsedUs`. */
  run(elapsedUs: number): void {
    if (elapsedUs === 0 || this.config.dirtyRateBytesPerS === 0) return
    const { quotient, remainder } = mulDivMod(this.config.dirtyRateBytesPerS, elapsedUs, this.pageMicroBytes)
    let pages = quotient
    this.carryMicroBytes += remainder
    if (this.carryMicroBytes >= this.pageMicroBytes) {
      this.carryMicroBytes -= this.pageMicroBytes
      pages += 1
    }
    this.dirtyPages = Math.min(this.config.workingSetPages, this.dirtyPages + pages)
  }

  dirtyCount(): number {
    return this.dirtyPages
  }

  /** CLEAN: returns the pages dirtied since the last one and starts counting afresh. */
  clean(): number {
    const pages = this.dirtyPages
    this.dirtyPages = 0
    return pages
  }

  /** The count and its carried remainder, as data (a migration's machine at rest, precopy.ts). */
  rest(): RateDirtyingRest {
    return { dirtyPages: this.dirtyPages, carryMicroBytes: this.carryMicroBytes }
  }

  restore(rest: RateDirtyingRest): void {
    invariant(isCount(rest.dirtyPages) && rest.dirtyPages <= this.config.workingSetPages, "dirtyPages out of range")
    invariant(isCount(rest.carryMicroBytes) && rest.carryMicroBytes < this.pageMicroBytes, "carry out of range")
    this.dirtyPages = rest.dirtyPages
    this.carryMicroBytes = rest.carryMicroBytes
  }
}

export interface RateDirtyingRest {
  readonly dirtyPages: number
  readonly carryMicroBytes: number
}
