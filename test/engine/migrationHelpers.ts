/**
 * Shared fixtures for the migration model's tests. The hand-computed cases use 4 KiB pages on a link of
 * 4,096,000 B/s: exactly one page per millisecond, so page k of a round arrives (k + 1) × 1000 µs after
 * the round starts.
 */
import {
  createPrecopy,
  type DirtyModelSpec,
  driveAtConstantRate,
  type PrecopyPolicy,
  type Precopy,
  traceWriter,
  type TraceWrite
} from "../../engine/migration/index.js"

export const PAGE = 4096
/** One page per ms. */
export const PAGE_PER_MS = 4_096_000

export interface MachineCase {
  readonly memoryPages: number
  readonly policy: PrecopyPolicy
  readonly model: DirtyModelSpec
  readonly rateBytesPerS?: number
  readonly latencyUs?: number
  readonly startUs?: number
}

export const machine = (c: MachineCase): Precopy =>
  createPrecopy({
    memoryPages: c.memoryPages,
    pageSizeBytes: PAGE,
    policy: c.policy,
    model: c.model,
    latencyUs: c.latencyUs ?? 0,
    startUs: c.startUs ?? 0
  })

/** Runs a case to its end at a constant rate (one page per ms unless told). */
export const run = (c: MachineCase): Precopy => {
  const precopy = machine(c)
  driveAtConstantRate(precopy, c.rateBytesPerS ?? PAGE_PER_MS, 100_000)
  return precopy
}

export const rateModel = (dirtyRateBytesPerS: number, workingSetPages: number): DirtyModelSpec => ({
  kind: "rate",
  dirtyRateBytesPerS,
  workingSetPages
})

export const traceModel = (writes: ReadonlyArray<TraceWrite>): DirtyModelSpec => ({
  kind: "pages",
  writer: traceWriter(writes)
})

/** Round records as compact tuples: [live, pagesSent, pagesSkipped, durationUs, dirtyPagesAfter]. */
export const roundTuples = (precopy: Precopy): ReadonlyArray<readonly [boolean, number, number, number, number]> =>
  precopy.rounds().map((r) => [r.live, r.pagesSent, r.pagesSkipped, r.durationUs, r.dirtyPagesAfter] as const)
