/**
 * The pre-copy policy's vocabulary and its extension point (DESIGN.md §5, XEN.md §1 and §3).
 *
 * A policy value says which loop runs (`kind`) and with which constants; `startLoop` (policies/index.ts)
 * builds that loop's state machine for one migration. The loop never touches time or pages itself: after each live round the
 * machine (precopy.ts) hands it the round's record and a `clean()` operation (Xen's log-dirty CLEAN), and
 * the loop answers with the next step: send the to-send set live, stop and copy, or abort.
 *
 * The policies are a registry (policies/index.ts): each built-in (`xen`, `xen-legacy`, `max-downtime`)
 * is a `PolicyDefinition` in its own file, written as a user writes theirs; the CLI's `--policy`
 * choices, the scenario and trace checks, the property arbitraries and the docs derive from that list.
 */
import type { RoundRecord } from "../transfer.js"
import type { MaxDowntimeLoopRest, MaxDowntimePolicy } from "./policies/maxDowntime.js"
import type { XenLoopRest, XenPolicy } from "./policies/xen.js"
import type { XenLegacyLoopRest, XenLegacyPolicy } from "./policies/xenLegacy.js"

// --- shared vocabulary -----------------------------------------------------------------------------

/** `XGS_POLICY_CONTINUE_PRECOPY`, `XGS_POLICY_STOP_AND_COPY`, `XGS_POLICY_ABORT`. */
export const PRECOPY_DECISIONS = ["continue", "stop", "abort"] as const
export type PrecopyDecision = (typeof PRECOPY_DECISIONS)[number]

/** libxenguest's `struct precopy_stats`. */
export interface PrecopyStats {
  readonly iteration: number
  readonly totalWrittenPages: number
  /** Pages found dirty by the last CLEAN; -1 when unknown (between a send and the next CLEAN). */
  readonly dirtyCount: number
}

/** One completed transfer round, live or the paused final one: the engine's own record (engine/transfer.ts). */
export type { RoundRecord } from "../transfer.js"
/** Why pre-copy stopped: one name per policy test, the simulator's round cap, or an abort. */
export const STOP_REASONS = [
  "dirty-below-threshold",
  "iteration-cap",
  "policy-stop",
  "sent-below-threshold",
  "max-factor",
  "downtime-within-limit",
  "round-cap",
  "aborted"
] as const
export type StopReason = (typeof STOP_REASONS)[number]

/** The simulator's own bound on rounds (max-downtime) and on passes of the xen loop. */
export const ROUNDS_MAX_DEFAULT = 10_000

// --- the loop's interface -------------------------------------------------------------------------

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

/** The step "send the to-send set live". */
export const SEND_LIVE: LoopStep = { _tag: "SendLive" }
/** The step "pause the guest and copy the rest", with why. */
export const stopAndCopy = (stopReason: StopReason): LoopStep => ({ _tag: "StopAndCopy", stopReason })

export interface PrecopyLoop {
  /** The first step, at the migration's start: the to-send set is every page (the bitmap is all ones). */
  readonly begin: (ops: LoopOps) => LoopStep
  /** The step after a live round. */
  readonly afterLiveRound: (round: RoundRecord, ops: LoopOps) => LoopStep
  /**
   * The loop's state between two steps, as data: a loop started `from` it (`startLoop`) takes the same
   * steps from there on (an engine at rest with migrations in flight, engine/simulation.ts).
   */
  readonly rest: () => LoopRest
}

/** A loop's state as data, one shape per loop kind (the kind of the policy it runs). */
export type LoopRest = XenLoopRest | XenLegacyLoopRest | MaxDowntimeLoopRest

export interface LoopContext {
  readonly memoryPages: number
  readonly pageSizeBytes: number
  /** Pages the first round sends: all of memory but the paged-out pages (markers, no data). Default all. */
  readonly firstRoundPages?: number
}

// --- the extension point ---------------------------------------------------------------------------

/**
 * A policy as the engine runs it: one of the three loops of Xen and QEMU (`kind`), with its constants.
 * A user's own policy is usually a `precopy_policy` callback in libxenguest's loop (`xenPolicy`), as
 * libxenguest itself lets a toolstack give one.
 */
export type PrecopyPolicy = XenPolicy | XenLegacyPolicy | MaxDowntimePolicy

/** The options a policy spec may carry (scenario `policy`, a trace's `policy`, `migrate-model`'s flags). */
export type PolicyParameter = "maxDowntime" | "roundsMax"

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

/**
 * A policy in the registry: the name scenarios, traces and `--policy` give, one line for `--help` and
 * the docs, the options it reads (any other is refused rather than ignored: docs/decisions.md,
 * "Inputs"), and how to make its value from those options.
 */
export interface PolicyDefinition {
  readonly name: string
  readonly summary: string
  readonly parameters: ReadonlyArray<PolicyParameter>
  readonly make: (options: PolicyOptions) => PrecopyPolicy
}
