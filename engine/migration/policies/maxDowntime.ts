/** `max-downtime`: QEMU's (and SimGrid's) loop: stop when the rest fits the downtime target. */
import { invariant, mulDivCeil, productAtMost } from "../exact.js"
import {
  ROUNDS_MAX_DEFAULT,
  SEND_LIVE,
  stopAndCopy,
  type LoopContext,
  type PolicyDefinition,
  type PrecopyLoop
} from "../policy.js"

export const MAX_DOWNTIME_US_DEFAULT = 30_000

export interface MaxDowntimePolicy {
  readonly kind: "max-downtime"
  readonly name: string
  readonly maxDowntimeUs: number
  readonly roundsMax: number
}

export interface MaxDowntimeOptions {
  readonly maxDowntimeUs?: number
  readonly roundsMax?: number
}

export const maxDowntimePolicy = (options: MaxDowntimeOptions = {}): MaxDowntimePolicy => {
  const policy: MaxDowntimePolicy = {
    kind: "max-downtime",
    name: "max-downtime",
    maxDowntimeUs: options.maxDowntimeUs ?? MAX_DOWNTIME_US_DEFAULT,
    roundsMax: options.roundsMax ?? ROUNDS_MAX_DEFAULT
  }
  invariant(Number.isSafeInteger(policy.maxDowntimeUs) && policy.maxDowntimeUs >= 0, "maxDowntimeUs must be >= 0")
  invariant(Number.isSafeInteger(policy.roundsMax) && policy.roundsMax >= 1, "roundsMax must be >= 1")
  return policy
}

/**
 * µs to send `dirtyBytes` at the bandwidth measured over a round (its bytes / its duration), rounded
 * up; QEMU's "expected downtime". A round that sent nothing measured no bandwidth: any dirty byte then
 * takes forever (MAX_SAFE_INTEGER).
 */
export const estimatedDowntimeUs = (dirtyBytes: number, roundBytes: number, roundDurationUs: number): number => {
  if (dirtyBytes === 0) return 0
  if (roundBytes === 0) return Number.MAX_SAFE_INTEGER
  return mulDivCeil(dirtyBytes, roundDurationUs, roundBytes)
}

/** dirtyBytes / (roundBytes / roundDurationUs) ≤ maxDowntimeUs, compared exactly as products. */
const fitsWithinDowntime = (
  dirtyBytes: number,
  roundBytes: number,
  roundDurationUs: number,
  maxDowntimeUs: number
): boolean => productAtMost(dirtyBytes, roundDurationUs, maxDowntimeUs, roundBytes)

/**
 * QEMU's and SimGrid's loop: the first round sends all memory; after each live round, if the bytes
 * dirtied during it fit in `maxDowntimeUs` at the round's measured bandwidth, stop and copy; else send
 * them live; after `roundsMax` live rounds, stop and copy anyway.
 */
export const maxDowntimeLoop = (
  policy: MaxDowntimePolicy,
  context: LoopContext,
  from?: MaxDowntimeLoopRest
): PrecopyLoop => {
  let round = from?.round ?? 0
  return {
    begin: () => {
      round = 1
      return SEND_LIVE
    },
    afterLiveRound: (record, ops) => {
      const dirtyBytes = record.dirtyPagesAfter * context.pageSizeBytes
      if (fitsWithinDowntime(dirtyBytes, record.bytesSent, record.durationUs, policy.maxDowntimeUs)) {
        return stopAndCopy("downtime-within-limit")
      }
      if (round >= policy.roundsMax) return stopAndCopy("round-cap")
      ops.clean()
      round++
      return SEND_LIVE
    },
    rest: () => ({ kind: "max-downtime", round })
  }
}

/** The max-downtime loop between two steps: the round it is in. */
export interface MaxDowntimeLoopRest {
  readonly kind: "max-downtime"
  readonly round: number
}

/** The built-in `max-downtime`. */
export const maxDowntime: PolicyDefinition = {
  name: "max-downtime",
  summary: "QEMU's loop: stop when the dirty pages fit the downtime target (default 30ms) at the last round's rate",
  parameters: ["maxDowntime", "roundsMax"],
  make: (options) => maxDowntimePolicy(options)
}
