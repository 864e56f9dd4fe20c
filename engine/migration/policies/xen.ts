/**
 * `xen`: libxenguest's `send_memory_live` loop with its default decision, `simple_precopy_policy`
 * (XEN.md §1). `xenPolicy(decide, name)` puts a decision of your own in the same loop, as a toolstack
 * gives libxenguest a `precopy_policy` callback: the way to write a policy of your own.
 */
import { invariant } from "../exact.js"
import {
  ROUNDS_MAX_DEFAULT,
  SEND_LIVE,
  stopAndCopy,
  type LoopContext,
  type LoopOps,
  type LoopStep,
  type PolicyDefinition,
  type PrecopyDecision,
  type PrecopyLoop,
  type PrecopyStats,
  type RoundRecord,
  type StopReason
} from "../policy.js"

/** `SPP_MAX_ITERATIONS` and `SPP_TARGET_DIRTY_COUNT` of `simple_precopy_policy`. */
const SPP_MAX_ITERATIONS = 5
const SPP_TARGET_DIRTY_COUNT = 50

/** libxenguest's default decision, `simple_precopy_policy`. */
export const simplePrecopyPolicy = (stats: PrecopyStats): PrecopyDecision =>
  (stats.dirtyCount >= 0 && stats.dirtyCount < SPP_TARGET_DIRTY_COUNT) || stats.iteration >= SPP_MAX_ITERATIONS
    ? "stop"
    : "continue"

/** Which clause of `simple_precopy_policy` stopped the loop (tested in the C expression's order). */
const simplePrecopyStopReason = (stats: PrecopyStats): StopReason => {
  if (stats.dirtyCount >= 0 && stats.dirtyCount < SPP_TARGET_DIRTY_COUNT) return "dirty-below-threshold"
  if (stats.iteration >= SPP_MAX_ITERATIONS) return "iteration-cap"
  return "policy-stop"
}

/** A `precopy_policy` callback; it also sees the last completed round (undefined before the first). */
export type XenDecide = (stats: PrecopyStats, lastRound: RoundRecord | undefined) => PrecopyDecision

export interface XenPolicy {
  readonly kind: "xen"
  readonly name: string
  readonly decide: XenDecide
  /** Names the stop reason from the stats the stopping decision saw. */
  readonly stopReason: (stats: PrecopyStats) => StopReason
  /** Bound on passes of the loop (a pass that finds nothing dirty takes no time). */
  readonly roundsMax: number
}

/** A user-supplied decision function in libxenguest's loop; its stops are reported as `policy-stop`. */
export const xenPolicy = (decide: XenDecide, name: string, roundsMax: number = ROUNDS_MAX_DEFAULT): XenPolicy => {
  invariant(Number.isSafeInteger(roundsMax) && roundsMax >= 1, () => `roundsMax must be >= 1, got ${roundsMax}`)
  return { kind: "xen", name, decide, stopReason: () => "policy-stop", roundsMax }
}

/** The default: libxenguest's loop with `simple_precopy_policy`. */
export const xenDefaultPolicy = (roundsMax: number = ROUNDS_MAX_DEFAULT): XenPolicy => ({
  ...xenPolicy((stats) => simplePrecopyPolicy(stats), "xen", roundsMax),
  stopReason: simplePrecopyStopReason
})

/**
 * `send_memory_live`, step for step (XEN.md §1). Each pass: decision = policy(stats); x++; send the
 * dirty pages if dirty_count > 0 and the decision is not abort (even on stop); break unless continue;
 * iteration = x, total_written += dirty_count, dirty_count = -1, ask again, break unless continue; CLEAN.
 * A pass with nothing dirty sends nothing and takes no time, so it runs inside one call here.
 */
export const xenLoop = (policy: XenPolicy, context: LoopContext, from?: XenLoopRest): PrecopyLoop => {
  let x = from?.passes ?? 0
  let stats: PrecopyStats = from?.stats ?? {
    iteration: 0,
    totalWrittenPages: 0,
    dirtyCount: context.firstRoundPages ?? context.memoryPages
  }
  let lastRound: RoundRecord | undefined = from?.lastRound
  // The pre-send decision of the pass whose round is on the wire, and the stats it saw.
  let inFlight: XenLoopRest["inFlight"] = from?.inFlight

  const breakOut = (decision: PrecopyDecision, seen: PrecopyStats): LoopStep =>
    decision === "abort" ? { _tag: "Abort", reason: "policy-abort" } : stopAndCopy(policy.stopReason(seen))

  /** Steps 4–5 of a pass: undefined when the loop goes on to the next pass. */
  const afterSend = (ops: LoopOps): LoopStep | undefined => {
    stats = { iteration: x, totalWrittenPages: stats.totalWrittenPages + stats.dirtyCount, dirtyCount: -1 }
    const decision = policy.decide(stats, lastRound)
    if (decision !== "continue") return breakOut(decision, stats)
    // The simulator's own bound (libxenguest has none): checked before the CLEAN, so that the pages
    // dirtied so far stay in the to-send set the paused round sends (a cap after the CLEAN lost them).
    if (x >= policy.roundsMax) return stopAndCopy("round-cap")
    stats = { ...stats, dirtyCount: ops.clean() }
    return undefined
  }

  /** Steps 1–3 of passes until one sends pages or the loop breaks; bounded by `roundsMax` passes. */
  const passes = (ops: LoopOps): LoopStep => {
    for (;;) {
      if (x >= policy.roundsMax) return stopAndCopy("round-cap")
      const decision = policy.decide(stats, lastRound)
      x++
      if (stats.dirtyCount > 0 && decision !== "abort") {
        inFlight = { decision, stats }
        return SEND_LIVE
      }
      if (decision !== "continue") return breakOut(decision, stats)
      const step = afterSend(ops)
      if (step !== undefined) return step
    }
  }

  return {
    begin: (ops) => passes(ops),
    afterLiveRound: (round, ops) => {
      invariant(inFlight !== undefined, "xen loop: a round completed that no pass sent")
      invariant(round.pagesSent === stats.dirtyCount, "xen loop: a round sends exactly the pages CLEAN found")
      const { decision, stats: seen } = inFlight
      inFlight = undefined
      lastRound = round
      if (decision !== "continue") return breakOut(decision, seen)
      return afterSend(ops) ?? passes(ops)
    },
    rest: () => ({
      kind: "xen",
      passes: x,
      stats,
      ...(lastRound === undefined ? {} : { lastRound }),
      ...(inFlight === undefined ? {} : { inFlight })
    })
  }
}

/** The xen loop between two steps: its passes (`x`), the stats, the last round and the pass on the wire. */
export interface XenLoopRest {
  readonly kind: "xen"
  readonly passes: number
  readonly stats: PrecopyStats
  readonly lastRound?: RoundRecord
  readonly inFlight?: { readonly decision: PrecopyDecision; readonly stats: PrecopyStats }
}

/** The built-in `xen`. */
export const xen: PolicyDefinition = {
  name: "xen",
  summary: "libxenguest's loop (Xen ≥ 4.6) with simple_precopy_policy: stop below 50 dirty pages or after 5 iterations",
  parameters: ["roundsMax"],
  make: (options) => xenDefaultPolicy(options.roundsMax)
}
