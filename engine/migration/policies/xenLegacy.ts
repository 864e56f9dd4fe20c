/** `xen-legacy`: `xc_domain_save`'s loop of Xen ≤ 4.5 (XEN.md §3), with its constants. */
import { invariant } from "../exact.js"
import { SEND_LIVE, stopAndCopy, type LoopContext, type PolicyDefinition, type PrecopyLoop } from "../policy.js"

/** `DEF_MAX_ITERS`, `DEF_MAX_FACTOR`, the `< 50` of the last-iteration test, `MAX_BATCH_SIZE`. */
const LEGACY_MAX_ITERS = 29
const LEGACY_MAX_FACTOR = 3
const LEGACY_SENT_THRESHOLD_PAGES = 50
const MAX_BATCH_SIZE_PAGES = 1024

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

/**
 * `xc_domain_save`'s loop (XEN.md §3): after each live round, the last round starts when
 * `iter >= max_iters`, `sent_this_iter + skip_this_iter < 50` or `total_sent > p2m_size * max_factor`
 * (tested in that order); otherwise CLEAN into `to_send` and repeat.
 */
export const xenLegacyLoop = (policy: XenLegacyPolicy, context: LoopContext, from?: XenLegacyLoopRest): PrecopyLoop => {
  let iter = from?.iterations ?? 0
  let totalSentPages = from?.totalSentPages ?? 0
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
    },
    rest: () => ({ kind: "xen-legacy", iterations: iter, totalSentPages })
  }
}

/** The xen-legacy loop between two steps: its iterations and the pages sent so far. */
export interface XenLegacyLoopRest {
  readonly kind: "xen-legacy"
  readonly iterations: number
  readonly totalSentPages: number
}

/** The built-in `xen-legacy`. */
export const xenLegacy: PolicyDefinition = {
  name: "xen-legacy",
  summary:
    "xc_domain_save's loop (Xen ≤ 4.5): stop after 29 iterations, under 50 pages sent, or past 3× memory sent; to_skip peeked per batch",
  parameters: [],
  make: (options) => xenLegacyPolicy(options)
}
