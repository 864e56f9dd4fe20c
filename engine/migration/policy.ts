/**
 * Pre-copy policies as plain values, and the loops they belong to (DESIGN.md §5, XEN.md §1 and §3).
 *
 * A policy value says which loop runs and with which constants; `startLoop` turns it into the loop's
 * state machine. The loop never touches time or pages itself: after each live round the machine
 * (precopy.ts) hands it the round's record and a `clean()` operation (Xen's log-dirty CLEAN), and the
 * loop answers with the next step: send the to-send set live, stop and copy, or abort.
 */
import { invariant, mulDivCeil, productAtMost } from "./exact.js"

// --- shared vocabulary -----------------------------------------------------------------------------

/** `XGS_POLICY_CONTINUE_PRECOPY`, `XGS_POLICY_STOP_AND_COPY`, `XGS_POLICY_ABORT`. */
export type PrecopyDecision = "continue" | "stop" | "abort"

/** libxenguest's `struct precopy_stats`. */
export interface PrecopyStats {
  readonly iteration: number
  readonly totalWrittenPages: number
  /** Pages found dirty by the last CLEAN; -1 when unknown (between a send and the next CLEAN). */
  readonly dirtyCount: number
}

/** One completed transfer round, live or the paused final one. */
export interface RoundRecord {
  /** 1-based. */
  readonly index: number
  readonly live: boolean
  readonly pagesSent: number
  /** Pages of the round's to-send set skipped because they were re-dirtied (xen-legacy's `to_skip`). */
  readonly pagesSkipped: number
  /** Pages never written since boot sent as a zero-page marker, not as data (max-downtime only; phases.ts). */
  readonly zeroPages: number
  /** vCPU and device-model state sent after the last pages (the paused round only; phases.ts). */
  readonly stateBytes: number
  /** Every byte of the round: its pages, zero-page markers and state. */
  readonly bytesSent: number
  /** From the round's first byte to its last byte plus the link latency. */
  readonly durationUs: number
  /** Pages dirtied since the last CLEAN, counted when the round ends (0 after the paused round). */
  readonly dirtyPagesAfter: number
}

export type StopReason =
  | "dirty-below-threshold"
  | "iteration-cap"
  | "policy-stop"
  | "sent-below-threshold"
  | "max-factor"
  | "downtime-within-limit"
  | "round-cap"
  | "aborted"

/** The simulator's own bound on rounds (max-downtime) and on passes of the xen loop. */
export const ROUNDS_MAX_DEFAULT = 10_000

// --- xen (libxenguest send_memory_live) ------------------------------------------------------------

/** `SPP_MAX_ITERATIONS` and `SPP_TARGET_DIRTY_COUNT` of `simple_precopy_policy`. */
export const SPP_MAX_ITERATIONS = 5
export const SPP_TARGET_DIRTY_COUNT = 50

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

// --- xen-legacy (xc_domain_save, Xen <= 4.5) --------------------------------------------------------

/** `DEF_MAX_ITERS`, `DEF_MAX_FACTOR`, the `< 50` of the last-iteration test, `MAX_BATCH_SIZE`. */
export const LEGACY_MAX_ITERS = 29
export const LEGACY_MAX_FACTOR = 3
export const LEGACY_SENT_THRESHOLD_PAGES = 50
export const MAX_BATCH_SIZE_PAGES = 1024

export interface XenLegacyPolicy {
  readonly kind: "xen-legacy"
  readonly name: string
  readonly maxIterations: number
  readonly maxFactor: number
  readonly sentThresholdPages: number
  /**
   * Pages per batch: `to_skip` is PEEKed before each batch (XEN.md §3), so a page re-dirtied after its
   * batch's peek is still sent. 1 peeks before every page.
   */
  readonly peekBatchPages: number
}

export interface XenLegacyOptions {
  readonly maxIterations?: number
  readonly maxFactor?: number
  readonly peekBatchPages?: number
}

export const xenLegacyPolicy = (options: XenLegacyOptions = {}): XenLegacyPolicy => {
  const policy: XenLegacyPolicy = {
    kind: "xen-legacy",
    name: "xen-legacy",
    maxIterations: options.maxIterations ?? LEGACY_MAX_ITERS,
    maxFactor: options.maxFactor ?? LEGACY_MAX_FACTOR,
    sentThresholdPages: LEGACY_SENT_THRESHOLD_PAGES,
    peekBatchPages: options.peekBatchPages ?? MAX_BATCH_SIZE_PAGES
  }
  invariant(Number.isSafeInteger(policy.maxIterations) && policy.maxIterations >= 1, "maxIterations must be >= 1")
  invariant(Number.isSafeInteger(policy.maxFactor) && policy.maxFactor >= 1, "maxFactor must be >= 1")
  invariant(Number.isSafeInteger(policy.peekBatchPages) && policy.peekBatchPages >= 1, "peekBatchPages must be >= 1")
  return policy
}

// --- max-downtime (QEMU, SimGrid) ----------------------------------------------------------------

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
export const fitsWithinDowntime = (
  dirtyBytes: number,
  roundBytes: number,
  roundDurationUs: number,
  maxDowntimeUs: number
): boolean => productAtMost(dirtyBytes, roundDurationUs, maxDowntimeUs, roundBytes)

// --- by name ---------------------------------------------------------------------------------------

export type PrecopyPolicy = XenPolicy | XenLegacyPolicy | MaxDowntimePolicy

export const policyNames = ["xen", "xen-legacy", "max-downtime"] as const
export type PolicyName = (typeof policyNames)[number]

export const isPolicyName = (name: string): name is PolicyName => (policyNames as ReadonlyArray<string>).includes(name)

/** The options a policy spec may carry (scenario `policy`, a trace's `policy`, `migrate-model`'s flags). */
export type PolicyParameter = "maxDowntime" | "roundsMax"

/**
 * The options each policy reads; it ignores any other, so an input that gives one is refused rather than
 * run as if it mattered (docs/decisions.md, "Inputs"). xen-legacy stops at DEF_MAX_ITERS, not a round cap.
 */
export const policyParameters: Readonly<Record<PolicyName, ReadonlyArray<PolicyParameter>>> = {
  xen: ["roundsMax"],
  "xen-legacy": [],
  "max-downtime": ["maxDowntime", "roundsMax"]
}

/** The policies that read `parameter`, in `policyNames` order. */
export const policiesUsing = (parameter: PolicyParameter): ReadonlyArray<PolicyName> =>
  policyNames.filter((name) => policyParameters[name].includes(parameter))

/**
 * Why `policy` cannot take `parameter`, naming both as the input spells them (`maxDowntime` and `policy`
 * in a scenario, `--max-downtime` and `--policy` on the command line); undefined when the policy reads it.
 */
export const ignoredParameter = (
  policy: PolicyName,
  parameter: PolicyParameter,
  spelling: { readonly parameter: string; readonly policy: string } = { parameter, policy: "policy" }
): string | undefined => {
  if (policyParameters[policy].includes(parameter)) return undefined
  const users = policiesUsing(parameter)
  const list = users.length === 1 ? users[0]! : `${users.slice(0, -1).join(", ")} and ${users[users.length - 1]!}`
  return `no ${spelling.parameter} with ${spelling.policy} ${policy}: only ${list} ${users.length === 1 ? "uses" : "use"} it`
}

export interface PolicyOptions {
  /** max-downtime only. */
  readonly maxDowntimeUs?: number
  /** max-downtime: the round cap; xen: the bound on passes. xen-legacy stops at `maxIterations`. */
  readonly roundsMax?: number
  /** xen-legacy only (DEF_MAX_ITERS override). */
  readonly maxIterations?: number
  /** xen-legacy only. */
  readonly peekBatchPages?: number
}

export const policyByName = (name: PolicyName, options: PolicyOptions = {}): PrecopyPolicy => {
  switch (name) {
    case "xen":
      return xenDefaultPolicy(options.roundsMax)
    case "xen-legacy":
      return xenLegacyPolicy(options)
    case "max-downtime":
      return maxDowntimePolicy(options)
  }
}

// --- the loops -------------------------------------------------------------------------------------

/** What a loop may do to the dirtying model between rounds. */
export interface LoopOps {
  /** Log-dirty CLEAN: the pages dirtied since the last CLEAN become the to-send set; returns how many. */
  readonly clean: () => number
}

export type LoopStep =
  /** Send the current to-send set live. */
  | { readonly _tag: "SendLive" }
  /** Pause the guest, CLEAN, send the result as the final round. */
  | { readonly _tag: "StopAndCopy"; readonly stopReason: StopReason }
  | { readonly _tag: "Abort"; readonly reason: string }

const SEND_LIVE: LoopStep = { _tag: "SendLive" }
const stopAndCopy = (stopReason: StopReason): LoopStep => ({ _tag: "StopAndCopy", stopReason })

export interface PrecopyLoop {
  /** The first step, at the migration's start: the to-send set is every page (the bitmap is all ones). */
  readonly begin: (ops: LoopOps) => LoopStep
  /** The step after a live round. */
  readonly afterLiveRound: (round: RoundRecord, ops: LoopOps) => LoopStep
}

export interface LoopContext {
  readonly memoryPages: number
  readonly pageSizeBytes: number
  /** Pages the first round sends: all of memory but the paged-out pages (markers, no data). Default all. */
  readonly firstRoundPages?: number
}

export const startLoop = (policy: PrecopyPolicy, context: LoopContext): PrecopyLoop => {
  switch (policy.kind) {
    case "xen":
      return xenLoop(policy, context)
    case "xen-legacy":
      return xenLegacyLoop(policy, context)
    case "max-downtime":
      return maxDowntimeLoop(policy, context)
  }
}

/**
 * `send_memory_live`, step for step (XEN.md §1). Each pass: decision = policy(stats); x++; send the
 * dirty pages if dirty_count > 0 and the decision is not abort (even on stop); break unless continue;
 * iteration = x, total_written += dirty_count, dirty_count = -1, ask again, break unless continue; CLEAN.
 * A pass with nothing dirty sends nothing and takes no time, so it runs inside one call here.
 */
const xenLoop = (policy: XenPolicy, context: LoopContext): PrecopyLoop => {
  let x = 0
  let stats: PrecopyStats = {
    iteration: 0,
    totalWrittenPages: 0,
    dirtyCount: context.firstRoundPages ?? context.memoryPages
  }
  let lastRound: RoundRecord | undefined
  // The pre-send decision of the pass whose round is on the wire, and the stats it saw.
  let inFlight: { readonly decision: PrecopyDecision; readonly stats: PrecopyStats } | undefined

  const breakOut = (decision: PrecopyDecision, seen: PrecopyStats): LoopStep =>
    decision === "abort" ? { _tag: "Abort", reason: "policy-abort" } : stopAndCopy(policy.stopReason(seen))

  /** Steps 4–5 of a pass: undefined when the loop goes on to the next pass. */
  const afterSend = (ops: LoopOps): LoopStep | undefined => {
    stats = { iteration: x, totalWrittenPages: stats.totalWrittenPages + stats.dirtyCount, dirtyCount: -1 }
    const decision = policy.decide(stats, lastRound)
    if (decision !== "continue") return breakOut(decision, stats)
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
    }
  }
}

/**
 * `xc_domain_save`'s loop (XEN.md §3): after each live round, the last round starts when
 * `iter >= max_iters`, `sent_this_iter + skip_this_iter < 50` or `total_sent > p2m_size * max_factor`
 * (tested in that order); otherwise CLEAN into `to_send` and repeat.
 */
const xenLegacyLoop = (policy: XenLegacyPolicy, context: LoopContext): PrecopyLoop => {
  let iter = 0
  let totalSentPages = 0
  return {
    begin: () => {
      iter = 1
      return SEND_LIVE
    },
    afterLiveRound: (round, ops) => {
      totalSentPages += round.pagesSent
      if (iter >= policy.maxIterations) return stopAndCopy("iteration-cap")
      if (round.pagesSent + round.pagesSkipped < policy.sentThresholdPages) return stopAndCopy("sent-below-threshold")
      if (totalSentPages > context.memoryPages * policy.maxFactor) return stopAndCopy("max-factor")
      ops.clean()
      iter++
      return SEND_LIVE
    }
  }
}

/**
 * QEMU's and SimGrid's loop: the first round sends all memory; after each live round, if the bytes
 * dirtied during it fit in `maxDowntimeUs` at the round's measured bandwidth, stop and copy; else send
 * them live; after `roundsMax` live rounds, stop and copy anyway.
 */
const maxDowntimeLoop = (policy: MaxDowntimePolicy, context: LoopContext): PrecopyLoop => {
  let round = 0
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
    }
  }
}
