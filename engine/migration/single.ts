/**
 * `xenpool migrate-model`: one migration on a link of constant bandwidth (DESIGN.md §7), driven through
 * the same machine the pool engine drives (precopy.ts): ask when the round ends at the bandwidth,
 * advance to it, complete the round, until the migration commits.
 */
import { DEFAULT_PAGE_SIZE_BYTES } from "../../domain/units.js"
import { Prng } from "../prng.js"
import { invariant, isCount } from "./exact.js"
import { createPrecopy, dirtyModelFor, type Precopy } from "./precopy.js"
import { phasesFor, type PhasesChoice } from "./phases.js"
import type { PolicyDefinition, StopReason } from "./policy.js"
import { policyByName } from "./policies/index.js"

export interface SingleMigrationConfig {
  /** Policies of the caller's own that `policy` may name, besides the built-ins. */
  readonly extraPolicies?: ReadonlyArray<PolicyDefinition>
  readonly memoryBytes: number
  readonly bandwidthBytesPerS: number
  /** 0 (the default) is an idle guest. */
  readonly dirtyRateBytesPerS?: number
  /** Default: all of memory. Rounded up to whole pages. */
  readonly workingSetBytes?: number
  /** Default `xen`. */
  readonly policy?: string
  /** max-downtime only; default 30 ms. */
  readonly maxDowntimeUs?: number
  /** Default `rate`. */
  readonly model?: "rate" | "pages"
  /** pages model only; default `uniform`. */
  readonly writer?: string
  /** Default 4096; memoryBytes must be a multiple of it. */
  readonly pageSizeBytes?: number
  /** Root seed (pages model's writer); default 1. */
  readonly seed?: number
  /** Added to every round; default 0. */
  readonly latencyUs?: number
  /** max-downtime's round cap and xen's pass bound; default 10,000. */
  readonly roundsMax?: number
  /** Setup and the stop-and-copy parts: `default` (phases.ts) or `none`, the pure model. Default `default`. */
  readonly phases?: PhasesChoice
  /** The VM's vCPU and device-model state; default the policy family's. Ignored with phases `none`. */
  readonly stateBytes?: number
  /** Pages never written since boot (rate model): zero-page markers under max-downtime. Default 0. */
  readonly untouchedBytes?: number
}

interface SingleMigrationRound {
  readonly index: number
  readonly live: boolean
  readonly pagesSent: number
  readonly bytesSent: number
  readonly durationUs: number
  readonly dirtyPagesAfter: number
  /** Only when some were sent: pages sent as zero-page markers. */
  readonly zeroPages?: number
  /** Only in a paused round with phases: the vCPU and device-model state sent after the last pages. */
  readonly stateBytes?: number
}

/** The timed parts of a run with phases, as they took place. */
interface SingleMigrationPhases {
  readonly setupUs: number
  readonly suspendUs: number
  readonly stateBytes: number
  readonly restoreUs: number
}

/** DESIGN.md §7's `migrate-model --json` object. */
export interface SingleMigrationReport {
  readonly policy: string
  readonly model: "rate" | "pages"
  readonly memoryBytes: number
  readonly pageSizeBytes: number
  readonly rounds: ReadonlyArray<SingleMigrationRound>
  readonly totalUs: number
  readonly downtimeUs: number
  readonly bytesSent: number
  readonly pagesSent: number
  readonly stopReason: StopReason
  /** Only with phases: setup, suspend, state and restore (downtime = suspend + paused round + restore). */
  readonly phases?: SingleMigrationPhases
}

/** Setup, suspend and restore: the timed parts a migration may have beside its rounds. */
const PARTS_MAX = 3

/** Drives a machine at a constant rate until it commits or aborts; one step per round or part. */
export const driveAtConstantRate = (precopy: Precopy, rateBytesPerS: number, roundsMax: number): void => {
  invariant(rateBytesPerS > 0, "a constant-rate drive needs a positive rate")
  // Bounded: each pass completes one round or part; a migration has at most roundsMax + 1 rounds.
  for (let pass = 0; precopy.outcome() === undefined; pass++) {
    invariant(pass <= roundsMax + 1 + PARTS_MAX, () => `more than ${roundsMax + 1} rounds`)
    const endUs = precopy.nextEventUs(rateBytesPerS)
    invariant(endUs !== undefined, "a round with bytes to send never ends at a positive rate")
    precopy.advance(endUs, rateBytesPerS)
    if (precopy.inPart()) {
      precopy.completePart(endUs)
      continue
    }
    invariant(precopy.roundDone(), () => `round not done at its predicted end ${endUs}`)
    precopy.completeRound(endUs)
  }
}

/** The finished machine of one constant-bandwidth migration (rounds, outcome, destination check). */
const simulateSingleMigration = (config: SingleMigrationConfig): Precopy => {
  const pageSizeBytes = config.pageSizeBytes ?? DEFAULT_PAGE_SIZE_BYTES
  invariant(isCount(pageSizeBytes) && pageSizeBytes >= 1, "pageSizeBytes must be >= 1")
  invariant(
    isCount(config.memoryBytes) && config.memoryBytes >= pageSizeBytes && config.memoryBytes % pageSizeBytes === 0,
    () => `memoryBytes must be a positive multiple of the page size ${pageSizeBytes}, got ${config.memoryBytes}`
  )
  invariant(isCount(config.bandwidthBytesPerS) && config.bandwidthBytesPerS >= 1, "bandwidthBytesPerS must be >= 1")
  const memoryPages = config.memoryBytes / pageSizeBytes
  const untouchedBytes = config.untouchedBytes ?? 0
  const workingSetBytes = config.workingSetBytes ?? config.memoryBytes - untouchedBytes
  invariant(
    isCount(workingSetBytes) && isCount(untouchedBytes) && workingSetBytes + untouchedBytes <= config.memoryBytes,
    "workingSetBytes + untouchedBytes must be in [0, memory]"
  )
  const policy = policyByName(
    config.policy ?? "xen",
    {
      ...(config.maxDowntimeUs === undefined ? {} : { maxDowntimeUs: config.maxDowntimeUs }),
      ...(config.roundsMax === undefined ? {} : { roundsMax: config.roundsMax })
    },
    config.extraPolicies
  )
  const precopy = createPrecopy({
    memoryPages,
    pageSizeBytes,
    policy,
    model: dirtyModelFor({
      model: config.model ?? "rate",
      writer: config.writer ?? "uniform",
      dirtyRateBytesPerS: config.dirtyRateBytesPerS ?? 0,
      workingSetPages: Math.ceil(workingSetBytes / pageSizeBytes),
      memoryPages,
      pageSizeBytes,
      prng: Prng.fromSeed(config.seed ?? 1).fork("migrate-model.writer"),
      startUs: 0
    }),
    latencyUs: config.latencyUs ?? 0,
    startUs: 0,
    phases: phasesFor(policy, config.phases ?? "default", config.stateBytes),
    untouchedPages: Math.floor(untouchedBytes / pageSizeBytes)
  })
  const roundsMax = policy.kind === "xen-legacy" ? policy.maxIterations : policy.roundsMax
  driveAtConstantRate(precopy, config.bandwidthBytesPerS, roundsMax)
  return precopy
}

export const runSingleMigration = (config: SingleMigrationConfig): SingleMigrationReport => {
  const precopy = simulateSingleMigration(config)
  const outcome = precopy.outcome()!
  return {
    policy: precopy.policy.name,
    model: config.model ?? "rate",
    memoryBytes: config.memoryBytes,
    pageSizeBytes: precopy.pageSizeBytes,
    rounds: precopy.rounds().map((r) => ({
      index: r.index,
      live: r.live,
      pagesSent: r.pagesSent,
      bytesSent: r.bytesSent,
      durationUs: r.durationUs,
      dirtyPagesAfter: r.dirtyPagesAfter,
      ...(r.zeroPages > 0 ? { zeroPages: r.zeroPages } : {}),
      ...(r.stateBytes > 0 ? { stateBytes: r.stateBytes } : {})
    })),
    totalUs: outcome.totalUs,
    downtimeUs: outcome.downtimeUs,
    bytesSent: outcome.bytesSent,
    pagesSent: outcome.pagesSent,
    stopReason: outcome.stopReason,
    ...((config.phases ?? "default") === "none" ? {} : { phases: phasesOf(precopy) })
  }
}

/** The parts a run went through, by name (0 for one it did not reach). */
const phasesOf = (precopy: Precopy): SingleMigrationPhases => {
  const partUs = (name: string) => precopy.parts().find((p) => p.name === name)?.durationUs ?? 0
  return {
    setupUs: partUs("setup"),
    suspendUs: partUs("suspend"),
    stateBytes: precopy.rounds().reduce((sum, r) => sum + r.stateBytes, 0),
    restoreUs: partUs("restore")
  }
}
