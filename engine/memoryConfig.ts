/**
 * Constants of the paging and ballooning model (docs/paging.md says where each comes from), and the
 * narrow view of the simulation that the pager, the balloon drivers and the squeezer act through.
 */
import type { Placement } from "../domain/placement/index.js"
import type { Either } from "effect"
import type { PoolCommand } from "../domain/commands.js"
import type { DomainError } from "../domain/errors.js"
import type { PoolEvent } from "../domain/events.js"
import type { HostId, VmId } from "../domain/ids.js"
import type { PoolView } from "../domain/state.js"
import type { HaRestartThen } from "./ha.js"
import type { Prng } from "./prng.js"
import type { StartTransferThen } from "./simulation.js"

export interface MemoryConfig {
  /** The pager's and the balloon driver's step: work is done, and events emitted, at most once a step. */
  readonly stepUs: number
  /** Pages the pager nominates a step; they are evicted at the next step (written to the paging file). */
  readonly evictPagesPerStep: number
  /** Pages the pager reads back a step when its target rises above the resident pages. */
  readonly prefetchPagesPerStep: number
  /** A page-in: the fault's ring request, the pager's 4 KiB read of the paging file, prep/load and resume. */
  readonly pageInLatencyUs: number
  /** xenpaging's `DEFAULT_MRU_SIZE` (tools/xenpaging/policy_default.c): recent page-ins never evicted. */
  readonly mruPages: number
  /** Pages the guest's balloon driver gives back or populates a step. */
  readonly balloonPagesPerStep: number
  /** squeezed's loop: it sets targets, then looks again this long after (squeeze.ml `io.wait 1.`). */
  readonly squeezeCheckUs: number
  /** squeezed gives up on balloons that made no progress for this long (`assume_balloon_driver_stuck_after`). */
  readonly squeezeStuckUs: number
  /** Our bound on one operation's wait for the squeezer, progress or not. */
  readonly squeezeWaitMaxUs: number
}

const DEFAULT_MRU_SIZE = 16_384

export const defaultMemoryConfig: MemoryConfig = {
  stepUs: 10_000,
  evictPagesPerStep: 256,
  prefetchPagesPerStep: 256,
  pageInLatencyUs: 200,
  mruPages: DEFAULT_MRU_SIZE,
  balloonPagesPerStep: 640,
  squeezeCheckUs: 1_000_000,
  squeezeStuckUs: 5_000_000,
  squeezeWaitMaxUs: 60_000_000
}

export const memoryConfig = (overrides: Partial<MemoryConfig> = {}): MemoryConfig => {
  const config = { ...defaultMemoryConfig, ...overrides }
  for (const [name, value] of Object.entries(config)) {
    const min = name === "mruPages" ? 0 : 1
    if (!Number.isSafeInteger(value) || value < min)
      throw new RangeError(`memory config ${name} must be an integer >= ${min}, got ${value}`)
  }
  if (config.squeezeStuckUs > config.squeezeWaitMaxUs)
    throw new RangeError("squeezeStuckUs must not exceed squeezeWaitMaxUs")
  return config
}

/**
 * A step of the memory model on the agenda, as data (so that the engine may rest while it waits): a
 * VM's pager or balloon driver looks again, or the squeezer looks at a host's waiting operations.
 */
export type MemoryStep =
  | { readonly _tag: "PagerStep"; readonly vm: VmId }
  | { readonly _tag: "BalloonStep"; readonly vm: VmId }
  | { readonly _tag: "SqueezeCheck"; readonly host: HostId }

/**
 * What follows an operation admitted after the squeezer made room, as data (the simulation does it,
 * `MemoryEnv.admitted`): a migration's transfer starts, or an HA restart is counted. None for an
 * operation that only records its outcome.
 */
export type AdmissionThen = StartTransferThen | HaRestartThen

/** What the memory model needs of the simulation; every change still goes through decide and evolve. */
export interface MemoryEnv {
  state(): PoolView
  nowUs(): number
  /** Puts the step on the agenda at `atUs`; returns its place there (for `unplan`). */
  plan(step: MemoryStep, atUs: number): number
  /** The step at that place will do nothing when it comes (planned again, or its subsystem forgot it). */
  unplan(seq: number): void
  /** An operation that waited for the squeezer was admitted (`ok`) or refused: what follows it. */
  admitted(then: AdmissionThen, ok: boolean): void
  /** decide + evolve + sink, as `Simulation.submit`. */
  submit(command: PoolCommand): Either.Either<ReadonlyArray<PoolEvent>, DomainError>
  /** A refusal here is a bug of the memory model: throws a SimulationDefect. */
  mustSubmit(command: PoolCommand): void
  /** Records an operation refused (as `Simulation.attempt` does). */
  refuse(operation: string, error: DomainError): void
  /** Records how a long-running operation ended. */
  outcome(operation: string, ok: boolean, detail: string): void
  /** A page of a migrating VM changed paging state during a live round: the transfer re-sends it. */
  pageTouched(vm: VmId, gfn: number): void
  /** A generator forked from the root seed. */
  prng(label: string): Prng
  /** Throws a SimulationDefect. */
  defect(message: string): never
  readonly debug: boolean
  /** Where a VM without a named host goes (the squeezer makes room on that host). */
  readonly placement: Placement
}

/**
 * One pending wake-up of a subsystem for one VM or host, a `MemoryStep` on the agenda: scheduling again
 * earlier supersedes the pending one (which goes stale), so it never has more than one live entry in the
 * agenda however often it is woken. Its owner calls `came` when its step runs.
 */
export class Wake {
  /** The pending step's place on the agenda, -1 if none. */
  private seq = -1
  private atUsValue = -1

  constructor(
    private readonly env: MemoryEnv,
    private readonly step: MemoryStep
  ) {}

  /** Runs at `atUs` unless something earlier is already pending. */
  at(atUs: number): void {
    if (this.seq >= 0 && this.atUsValue <= atUs) return
    if (this.seq >= 0) this.env.unplan(this.seq)
    this.atUsValue = atUs
    this.seq = this.env.plan(this.step, atUs)
  }

  /** Its step came: nothing is pending any more. */
  came(): void {
    this.seq = -1
    this.atUsValue = -1
  }

  /** Forgets the pending run (the VM left its host). */
  cancel(): void {
    if (this.seq >= 0) this.env.unplan(this.seq)
    this.came()
  }

  get pending(): boolean {
    return this.seq >= 0
  }
}
