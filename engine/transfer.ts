/**
 * The engine's view of one migration's memory transfer: a machine it drives through rounds on a link
 * whose rate it sets (engine/links.ts), and which it asks when the current round would end. The real
 * machine is the pre-copy model of engine/migration/; properties inject faulty ones through this seam.
 */
import type { PolicyConfig, VmWorkload } from "./config.js"
import type { PrecopyRest } from "./migration/precopy.js"
import type { Prng } from "./prng.js"
import type { VmId } from "../domain/ids.js"

/** One completed transfer round, live or the paused final one (the pre-copy loop's input too). */
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

export type AfterRound =
  | { readonly next: "live" }
  /** The policy stopped pre-copy: the guest is paused and the final round starts now. */
  | { readonly next: "paused"; readonly stopReason: string }
  /** The paused round is done: every page is on the destination; the commit follows one link latency later. */
  | { readonly next: "done" }
  /** The next step (the paused round after suspend, restore after the paused round) follows at once. */
  | { readonly next: "step" }
  /** Restore is done: the guest runs on the destination, the migration commits now. */
  | { readonly next: "commit" }
  | { readonly next: "abort"; readonly reason: string }

/** A timed part of a migration beside its rounds. */
interface PartRecord {
  readonly name: "setup" | "suspend" | "restore"
  readonly durationUs: number
}

export interface TransferMachine {
  /** Time passes in the current round up to `toUs` with the link delivering `rateBytesPerS` since the last call. */
  readonly advance: (toUs: number, rateBytesPerS: number) => void
  /** When the current round would end at this rate (µs, absolute); undefined if it never would (rate 0). */
  readonly roundEndUs: (rateBytesPerS: number) => number | undefined
  /** Closes the current round at `nowUs` (which must be its end) and plans what follows. */
  readonly completeRound: (nowUs: number) => { readonly record: RoundRecord; readonly after: AfterRound }
  /**
   * A timed part (setup, suspend, restore: engine/migration/phases.ts) is in flight rather than a round.
   * Machines without parts may leave these out.
   */
  readonly inPart?: () => boolean
  /** Closes the part in flight at `nowUs` (which must be its end) and plans what follows. */
  readonly completePart?: (nowUs: number) => { readonly part: PartRecord; readonly after: AfterRound }
  /** The round in flight with its progress so far, for an interrupted round's accounting. */
  readonly partialRound?: () => RoundRecord | undefined
  /** The destination's image is complete and current (the "no lost writes" check); a description of the first lost write otherwise. */
  readonly lostWrite: () => string | undefined
  /**
   * A page of the guest changed paging state during a live round (paged back in): it is dirty for the
   * next round, which sends its data. Machines without paging support may leave it out.
   */
  readonly pageTouched?: (gfn: number) => void
  /**
   * The machine between two calls, as data: a machine the factory makes with the same context and
   * `from` it goes on exactly as this one would. Undefined (or left out) when it cannot say, and an
   * engine with it in flight is then not at rest.
   */
  readonly rest?: () => MachineRest | undefined
}

/** A transfer machine's state as data: the pre-copy machine's (engine/migration/precopy.ts). */
export type MachineRest = PrecopyRest

/**
 * The VM's paged-out pages (xenpaging) as the transfer sees them: a to-send page that is paged when a
 * round's set is formed travels as a marker without data (Xen's XTAB) and stays paged on the destination.
 */
export interface PagedPages {
  readonly isPaged: (gfn: number) => boolean
  readonly pagedCount: () => number
}

export interface TransferContext {
  /** The migrating VM; the engine always names it (optional so that hand-built contexts need not). */
  readonly vm?: VmId
  readonly memoryPages: number
  readonly pageSizeBytes: number
  readonly latencyUs: number
  readonly startUs: number
  readonly policy: PolicyConfig
  readonly workload: VmWorkload
  /** This migration's own PRNG, forked from the root seed. */
  readonly prng: Prng
  /** The VM's paged-out pages, if it has any (engine/paging.ts). */
  readonly paged?: PagedPages | undefined
  /** Go on from a machine's rest (`TransferMachine.rest`), taken with this same context. */
  readonly from?: MachineRest | undefined
}

export type TransferFactory = (context: TransferContext) => TransferMachine
