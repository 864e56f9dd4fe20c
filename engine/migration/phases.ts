/**
 * What a migration costs around its pre-copy rounds (docs/migration.md, "Phases"): the setup before the
 * first round, the parts of stop-and-copy (suspend, the last pages with the vCPU and device-model state,
 * restore and unpause), and what a page never written since boot costs each policy family.
 *
 * `none` turns every cost off: the pure model of the published simulators, whose numbers xenpool gave
 * before phases existed (`migrate-model --phases none`). `default` takes the figures below, each with
 * where it comes from; docs/migration.md restates them with their sources.
 */
import { invariant, isCount } from "./exact.js"
import type { PrecopyPolicy } from "./policy.js"

/** The fixed costs of one migration, beside its rounds. */
export interface MigrationPhases {
  /** Before the first round: connection and handshake, log-dirty on, the destination domain built. */
  readonly setupUs: number
  /** From the pause decision until the guest is suspended (PV: its xenstore acknowledgement). */
  readonly suspendUs: number
  /** vCPU context and device-model state, sent in the paused round after the last pages. */
  readonly stateBytes: number
  /** The destination restores the state, is cleared to go, and unpauses the guest. */
  readonly restoreUs: number
}

/** `--phases` / a policy's `phases`: the sourced costs, or none (the pure model). */
export const phasesChoices = ["default", "none"] as const
export type PhasesChoice = (typeof phasesChoices)[number]

/** The pure model: no setup, and stop-and-copy is the paused round alone. */
export const NO_PHASES: MigrationPhases = { setupUs: 0, suspendUs: 0, stateBytes: 0, restoreUs: 0 }

/**
 * QEMU's `setup` time of the idle 8209 MiB guest of `rickylss-idle-xbzrle` (simulations/data/calibration/
 * migration-measurements.csv): 172 ms. The table holds no Xen setup figure; xl's steps (banner, config,
 * the receiver's `create_domain`, `enable_logdirty`) are the same in kind, so Xen takes it too.
 */
export const SETUP_US_DEFAULT = 172_000

/**
 * The paused parts that do not depend on the dirty pages, from two idle QEMU guests whose last round
 * sends almost nothing: 73 ms at 268.91 Mbit/s (`rickylss-idle-xbzrle`) and 29 ms at 10 Gbit/s
 * (`opnfv-idle-baseline`). Solving `fixed + state / bandwidth` for both gives 1,519,873 bytes of state
 * and 27,784 µs of fixed time (docs/migration.md shows the sums). The split of the fixed time between
 * suspend and restore is not measured: half each.
 */
export const STATE_BYTES_DEFAULT = 1_519_873
export const SUSPEND_US_DEFAULT = 13_892
export const RESTORE_US_DEFAULT = 13_892

/** The sourced costs of a policy's family (xen and xen-legacy: libxl/libxenguest; max-downtime: QEMU). */
const defaultPhases = (policy: Pick<PrecopyPolicy, "kind">): MigrationPhases => {
  switch (policy.kind) {
    case "xen":
    case "xen-legacy":
    case "max-downtime":
      return {
        setupUs: SETUP_US_DEFAULT,
        suspendUs: SUSPEND_US_DEFAULT,
        stateBytes: STATE_BYTES_DEFAULT,
        restoreUs: RESTORE_US_DEFAULT
      }
  }
}

/** The phases a choice gives, with the VM's own state size if it has one. */
export const phasesFor = (
  policy: Pick<PrecopyPolicy, "kind">,
  choice: PhasesChoice,
  stateBytes?: number
): MigrationPhases => {
  if (choice === "none") return NO_PHASES
  const phases = defaultPhases(policy)
  return stateBytes === undefined ? phases : { ...phases, stateBytes }
}

export const checkPhases = (phases: MigrationPhases): void => {
  for (const [name, value] of Object.entries(phases))
    invariant(isCount(value), () => `phases.${name} must be a non-negative integer, got ${value}`)
}

/**
 * QEMU's zero page: `save_zero_page_to_file` (qemu `migration/ram.c`) writes the page header (an 8-byte
 * offset with `RAM_SAVE_FLAG_ZERO`) and one byte, 9 bytes in all, instead of the page.
 */
export const QEMU_ZERO_PAGE_BYTES = 9

/**
 * What a page never written since boot costs in the stream, by policy family: a QEMU zero page
 * (max-downtime), or undefined where it is sent as a full page. libxenguest's `write_batch`
 * (`tools/libs/guest/xg_sr_save.c`) sends the data of every page whose type has stream data; only
 * XTAB, BROKEN and XALLOC pages go without, and a populated page that happens to be zero is none of these.
 */
export const zeroPageBytes = (policy: Pick<PrecopyPolicy, "kind">): number | undefined => {
  switch (policy.kind) {
    case "xen":
    case "xen-legacy":
      return undefined
    case "max-downtime":
      return QEMU_ZERO_PAGE_BYTES
  }
}
