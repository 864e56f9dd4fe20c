/**
 * The discrete-event simulator of a pool: a virtual clock in µs, an agenda ordered by (time, sequence),
 * one root seed with a PRNG per subsystem, and a run loop in which every change goes through `decide`
 * then `evolve` and is handed to the sink with an id drawn from the seeded PRNG. Pure and synchronous:
 * the same seed and inputs give the same event log, byte for byte.
 *
 * On top of the domain it runs live migrations (transfer machines on max-min fair links), host
 * evacuation in batches of 10, rolling maintenance, and faults (host failure, link failure or slowdown).
 */
import { Either } from "effect"
import type { PoolCommand } from "../domain/commands.js"
import { decide, type Decision } from "../domain/decide.js"
import type { DomainError } from "../domain/errors.js"
import { xapiDefault, type Placement, type PlannedMove } from "../domain/placement/index.js"
import { planEvacuationWithHa } from "../domain/ha.js"
import type { PoolEvent } from "../domain/events.js"
import { evolveInPlace } from "../domain/evolve.js"
import {
  eventId,
  migrationId,
  type EventId,
  type HostId,
  type MigrationId,
  type PoolId,
  type VmId
} from "../domain/ids.js"
import { checkInvariants } from "../domain/invariants.js"
import {
  getHost,
  getMigration,
  getVm,
  initialState,
  vmsResidentOn,
  type PoolRead,
  type PoolState,
  type PoolView
} from "../domain/state.js"
import { LivePool } from "../domain/tables.js"
import { idleWorkload, type EngineLimits, type PolicyConfig, type VmWorkload } from "./config.js"
import { maxMinFairRates, type LinkCapacity } from "./links.js"
import { MemoryManager, type MemoryRest } from "./memory.js"
import type { AdmissionThen, MemoryConfig, MemoryStep } from "./memoryConfig.js"
import type { PageStatesFactory } from "./pageStates.js"
import { Prng, type PrngState } from "./prng.js"
import { EventQueue } from "./queue.js"
import { HaMonitor, type HaRest, type HaRestart, type HaTimer } from "./ha.js"
import type { AfterRound, MachineRest, TransferContext, TransferFactory, TransferMachine } from "./transfer.js"

export interface EmittedEvent {
  readonly id: EventId
  readonly event: PoolEvent
}

/** `decide`'s shape: the engine passes the run's placement with every command. */
export type DecideFn = (state: PoolRead, command: PoolCommand, placement: Placement) => Decision

export interface SimulationOptions {
  readonly seed: number
  readonly pool: PoolId
  readonly policy: PolicyConfig
  readonly workloads: ReadonlyMap<VmId, VmWorkload>
  readonly limits: EngineLimits
  readonly transferFactory: TransferFactory
  /** Assert every domain invariant after every event (on in tests). */
  readonly debug?: boolean
  /** Receives each command's events as one batch, in order. */
  readonly sink?: (batch: ReadonlyArray<EmittedEvent>) => void
  /** Called every `progressEveryEvents` events, for a progress display. */
  readonly onProgress?: (nowUs: number, events: number) => void
  readonly progressEveryEvents?: number
  /**
   * Called between two of the agenda's items, once the one before is done (rates planned again): where a
   * caller may take the engine's rest inside a long operation that has no input of its own to rest before.
   */
  readonly betweenItems?: () => void
  /** Where a VM without a named host goes, and an evacuation's plan; default `xapi-default`. */
  readonly placement?: Placement
  /** A seam for checks that wrap decide (properties' mutants); defaults to the domain's decide. */
  readonly decide?: DecideFn
  /** Paging and ballooning constants other than the defaults (engine/memoryConfig.ts). */
  readonly memory?: Partial<MemoryConfig>
  /** A seam for the properties: builds each VM's page states for the pager; defaults to the real ones. */
  readonly pageStates?: PageStatesFactory
  /** Go on from an engine at rest (`Simulation.rest`) and the pool as it then stood, instead of from nothing. */
  readonly from?: { readonly state: PoolState; readonly rest: EngineRest }
}

/**
 * The engine at rest, as plain data: what it needs beside the pool's state to go on exactly as it would
 * have. At rest, nothing waits that is not data: no caller's function waits on a migration, and every
 * transfer's page writer keeps a rest. Migrations may be in flight (each its transfer machine's state and
 * its planned round end or commit), and so may evacuations, rolling maintenances, HA's timers and restart
 * passes and the memory model's work, each as data with its steps on the agenda (`HappeningRest`). The
 * rest is counters, PRNG states, settings and that work. `Simulation.rest` gives it; `SimulationOptions.from` goes on from it
 * (simulations/resume.ts).
 */
export interface EngineRest {
  readonly nowUs: number
  readonly events: number
  /** When the agenda's stale happenings come: they decide nothing, but move the clock then. */
  readonly idleUs: ReadonlyArray<number>
  /** The event-id stream's state (a branch's own stream after its fork). */
  readonly ids: PrngState
  /** Migrations numbered so far (the next is `m${migrations + 1}`). */
  readonly migrations: number
  /** Links not at 100 % (failed or slowed), by host. */
  readonly linkPercent: ReadonlyArray<readonly [HostId, number]>
  /** Each VM's workload now (a load series may have changed them). */
  readonly workloads: ReadonlyArray<readonly [VmId, VmWorkload]>
  readonly memory: MemoryRest
  readonly ha: HaRest
  /** Migrations in flight, or done and waiting for their commit. */
  readonly transfers: ReadonlyArray<TransferRest>
  /** The round ends, commits and long operations' steps on the agenda, in the order they were planned. */
  readonly happenings: ReadonlyArray<HappeningRest>
  readonly evacuations: ReadonlyArray<EvacuationRest>
  readonly maintenances: ReadonlyArray<MaintenanceRest>
  /** Evacuations and rolling maintenances numbered so far. */
  readonly longOperations: number
}

/** A migration's transfer in flight, as data: what its machine was made with, its share of the links, its machine. */
export interface TransferRest extends Omit<TransferContext, "vm" | "prng" | "paged" | "from"> {
  readonly migration: MigrationId
  readonly source: HostId
  readonly destination: HostId
  readonly vm: VmId
  /** Whether the machine was given the VM's paged-out pages (it had a pager then). */
  readonly paged: boolean
  readonly rateBytesPerS: number
  /** Its last round is done; its commit is on the agenda. */
  readonly finished: boolean
  readonly machine: MachineRest
  /** The evacuation whose batch it is, if one is. */
  readonly evacuation?: number
  /** The listener that hears how it ends (`Simulation.listen`), if one does. */
  readonly listener?: string
}

/**
 * One of the engine's own happenings on the agenda that is data: a round's end, a migration's commit, an
 * evacuation's next batch, the end of a host's maintenance, one of HA's timers, a memory-model step.
 */
export type HappeningRest =
  | { readonly _tag: "RoundEnd"; readonly migration: MigrationId; readonly atUs: number }
  | { readonly _tag: "Commit"; readonly migration: MigrationId; readonly atUs: number }
  | Step

/** A step on the agenda that is data, at its time: a long operation's, HA's or the memory model's. */
type Step = (OperationStep | HaTimer | MemoryStep) & { readonly atUs: number }

/** What follows a migration admitted after the squeezer made room: its transfer starts (`migrate`). */
export interface StartTransferThen {
  readonly _tag: "StartTransfer"
  readonly migration: MigrationId
  readonly vm: VmId
  readonly policy: PolicyConfig
  /** Who hears how it ends, when that is data (a caller's function waits in `waiters` meanwhile). */
  readonly waiter?: WaiterRest
}

/** A step of a long operation on the agenda: an evacuation's next batch, or a host's maintenance over. */
interface OperationStep {
  readonly _tag: "EvacuationBatch" | "MaintenanceOver"
  /** The evacuation's or the rolling maintenance's number (`EvacuationRest.id`, `MaintenanceRest.id`). */
  readonly operation: number
}

/** An evacuation under way (`Simulation.evacuate`), as data. */
export interface EvacuationRest {
  readonly id: number
  readonly host: HostId
  /** Plans made so far (at most `EVACUATION_PASSES_MAX`). */
  readonly pass: number
  /** The plan, and the place of its next batch. */
  readonly moves: ReadonlyArray<PlannedMove>
  readonly next: number
  /** The batch's migrations still running. */
  readonly pending: number
  /** The rolling maintenance it is a step of. */
  readonly maintenance?: number
}

type Evacuation = { -readonly [K in keyof EvacuationRest]: EvacuationRest[K] }

/** A rolling maintenance under way (`Simulation.rollingMaintenance`), as data. */
export interface MaintenanceRest {
  readonly id: number
  readonly hosts: ReadonlyArray<HostId>
  readonly maintenanceUs: number
  /** The place of the host in hand. */
  readonly step: number
}

type Maintenance = { -readonly [K in keyof MaintenanceRest]: MaintenanceRest[K] }

export interface Refusal {
  readonly atUs: number
  readonly operation: string
  readonly error: DomainError
}

export interface OperationOutcome {
  readonly atUs: number
  readonly operation: string
  readonly ok: boolean
  readonly detail: string
}

type RunStopReason = "quiescent" | "time-limit" | "events-limit"

export interface RunResult {
  readonly state: PoolState
  readonly events: number
  readonly simulatedUs: number
  readonly stopReason: RunStopReason
  readonly refusals: ReadonlyArray<Refusal>
  readonly operations: ReadonlyArray<OperationOutcome>
  /** HA's restart attempts after host failures (engine/ha.ts), in order; empty without HA. */
  readonly haRestarts: ReadonlyArray<HaRestart>
}

/** A bug, not an input error: an invariant broke or the engine reached an impossible state. */
export class SimulationDefect extends Error {
  override readonly name = "SimulationDefect"
}

interface Transfer {
  readonly migration: MigrationId
  readonly source: HostId
  readonly destination: HostId
  readonly machine: TransferMachine
  /** What the machine was made with (for its rest). */
  readonly context: TransferContext
  rateBytesPerS: number
  /**
   * Its live round end's place on the agenda (its `seq`, a key of `planned`), -1 if none: a round end
   * that comes with another seq was planned again since, and is stale.
   */
  roundEndSeq: number
  finished: boolean
}

type MigrationEnd = (outcome: "committed" | "aborted", reason: string) => void
/** Who hears how a migration ended, as data: an evacuation, or a listener named with `Simulation.listen`. */
type WaiterRest = { readonly evacuation: number } | { readonly listener: string }
/** Who hears how a migration ended: a caller's function, or one of the engine's own as data. */
type MigrationWaiter = MigrationEnd | WaiterRest

const INPUT_RANK = 0
const HAPPENING_RANK = 1

const EVACUATION_BATCH = 10
const EVACUATION_PASSES_MAX = 3

export class Simulation {
  /**
   * The pool now, on native maps changed in place (the engine is their only owner): the rules read it
   * as a `PoolView`, and a persistent `PoolState` is made of it only when someone asks (`state`).
   */
  private readonly live: LivePool
  private nowUsValue = 0
  private eventCount = 0
  private readonly queue = new EventQueue<() => void>()
  private readonly root: Prng
  private ids: Prng
  private readonly transfers = new Map<MigrationId, Transfer>()
  /** Who waits on each migration that someone waits on. */
  private readonly waiters = new Map<MigrationId, MigrationWaiter>()
  /** How many of them are callers' functions: while one is, the engine is not at rest. */
  private functionWaiters = 0
  /** The listeners by name (`listen`). */
  private readonly listeners = new Map<string, MigrationEnd>()
  private readonly evacuations = new Map<number, Evacuation>()
  private readonly maintenances = new Map<number, Maintenance>()
  private longOperations = 0
  private readonly linkPercent = new Map<HostId, number>()
  private readonly refusalList: Refusal[] = []
  private readonly operations: OperationOutcome[] = []
  private migrationCounter = 0
  /**
   * Happenings on the agenda that will do nothing when they come but move the clock (a round end or a
   * memory-model step planned again since, a round end whose migration is over): how many at each time,
   * and in all (see `unplan`).
   */
  private readonly staleAtUs = new Map<number, number>()
  private staleHappenings = 0
  /**
   * The engine's own happenings on the agenda, by their `seq`: what an engine at rest keeps of its
   * agenda as data. A Map keeps them in the order they were planned (seqs only grow).
   */
  private readonly planned = new Map<number, HappeningRest>()
  private ratesDirty = false
  private readonly decideFn: DecideFn
  private readonly placement: Placement
  /** Each VM's workload now; changes take effect for migrations started afterwards. */
  private readonly workloads: Map<VmId, VmWorkload>
  /** Paging (xenpaging), the balloon drivers and XAPI's squeezer (engine/memory.ts). */
  readonly memory: MemoryManager
  /** XAPI's HA on host failures: the liveness timeout, restarts by plan (engine/ha.ts). */
  readonly ha: HaMonitor

  constructor(private readonly options: SimulationOptions) {
    const from = options.from
    this.live = new LivePool(from?.state ?? initialState)
    this.root = Prng.fromSeed(options.seed)
    this.ids = from ? Prng.fromState(from.rest.ids) : this.root.fork(`ids:${options.pool}`)
    this.placement = options.placement ?? xapiDefault
    this.decideFn = options.decide ?? decide
    this.workloads = new Map(from?.rest.workloads ?? options.workloads)
    if (from) {
      this.nowUsValue = from.rest.nowUs
      this.eventCount = from.rest.events
      this.migrationCounter = from.rest.migrations
      for (const [host, percent] of from.rest.linkPercent) this.linkPercent.set(host, percent)
    }
    this.memory = new MemoryManager(
      {
        state: () => this.live,
        nowUs: () => this.nowUsValue,
        plan: (step, atUs) => this.planStep({ ...step, atUs }),
        unplan: (seq) => this.unplan(seq),
        admitted: (then, ok) => this.admissionDone(then, ok),
        submit: (command) => this.submit(command),
        mustSubmit: (command) => this.mustSubmit(command),
        refuse: (operation, error) => this.refusalList.push({ atUs: this.nowUsValue, operation, error }),
        outcome: (operation, ok, detail) => this.operations.push({ atUs: this.nowUsValue, operation, ok, detail }),
        pageTouched: (vm, gfn) => this.pageTouched(vm, gfn),
        prng: (label) => this.root.fork(label),
        defect: (message) => {
          throw new SimulationDefect(message)
        },
        debug: options.debug ?? false,
        placement: this.placement
      },
      options.memory,
      options.pageStates
    )
    this.ha = new HaMonitor({
      view: () => this.live,
      nowUs: () => this.nowUsValue,
      plan: (timer, atUs) => this.planStep({ ...timer, atUs }),
      submit: (command) => this.submit(command),
      start: (vm, host, operation, then) => {
        const command: PoolCommand = { _tag: "StartVm", atUs: this.nowUsValue, vm, ...(host ? { host } : {}) }
        const admission = this.memory.admit(command, operation, then)
        if (admission !== "waiting") this.ha.restartDone(then, admission === "admitted")
      },
      lastRefusal: () => this.refusalList[this.refusalList.length - 1]?.error.message ?? "refused",
      linkDown: (host) => this.failLink(host),
      linkUp: (host) => this.setLinkPercent(host, 100),
      attempt: (command, operation) => this.attempt(command, operation)
    })
    if (from) {
      this.memory.restore(from.rest.memory)
      this.ha.restore(from.rest.ha)
      for (const atUs of from.rest.idleUs) this.idleAt(atUs)
      this.longOperations = from.rest.longOperations
      for (const e of from.rest.evacuations) this.evacuations.set(e.id, { ...e })
      for (const m of from.rest.maintenances) this.maintenances.set(m.id, { ...m })
      for (const transfer of from.rest.transfers) this.restoreTransfer(transfer)
      // in the order they were planned: at one µs, they come in that order again
      for (const happening of from.rest.happenings) {
        switch (happening._tag) {
          case "Commit":
            this.planCommit(happening.migration, happening.atUs)
            break
          case "RoundEnd":
            this.planRoundEnd(this.transfers.get(happening.migration)!, happening.atUs)
            break
          case "PagerStep":
          case "BalloonStep":
          case "SqueezeCheck":
            // through their subsystem, which keeps the step's place
            this.memory.planAgain(happening, happening.atUs)
            break
          default:
            this.planStep(happening)
        }
      }
    }
  }

  /**
   * The engine at rest as data (`EngineRest`), or why it is not at rest now: something on the agenda or
   * waiting that is not data (a caller's function, a transfer whose page writer keeps no rest, a trace
   * driving some VM's paging). An engine built `from` it, on the pool's state now, decides from here what this one would.
   * `inputsQueued`: how many of the agenda's happenings are the caller's inputs, which it puts on the
   * agenda again when it goes on from the rest (a scenario's schedule items still to come, simulations/run.ts).
   */
  rest(inputsQueued = 0): EngineRest | string {
    if (!this.quiet(inputsQueued)) {
      if (this.functionWaiters > 0) return "a migration an operation waits on is in flight"
      if (this.ratesDirty) return "a migration started outside a run has no round end planned yet"
      return `${this.queue.size - inputsQueued - this.staleHappenings - this.planned.size} happening(s) on the agenda`
    }
    const transfers: TransferRest[] = []
    for (const t of this.transfers.values()) {
      const machine = t.machine.rest?.()
      if (machine === undefined)
        return `migration ${t.migration}'s transfer keeps no rest (its page writer has none: one of its own, or a trace's)`
      const { vm, prng: _prng, paged, from: _from, ...made } = t.context
      // only data waits on it here: `quiet` found no function
      const waiter = this.waiters.get(t.migration)
      transfers.push({
        ...made,
        migration: t.migration,
        source: t.source,
        destination: t.destination,
        vm: vm!,
        paged: paged !== undefined,
        rateBytesPerS: t.rateBytesPerS,
        finished: t.finished,
        machine,
        ...(typeof waiter === "object" ? waiter : {})
      })
    }
    const ha = this.ha.rest()
    const memory = this.memory.rest()
    if (typeof memory === "string") return memory
    const idleUs: number[] = []
    for (const [atUs, count] of this.staleAtUs) for (let i = 0; i < count; i++) idleUs.push(atUs)
    return {
      nowUs: this.nowUsValue,
      events: this.eventCount,
      idleUs: idleUs.sort((a, b) => a - b),
      ids: this.ids.state,
      migrations: this.migrationCounter,
      linkPercent: [...this.linkPercent].filter(([, percent]) => percent !== 100),
      workloads: [...this.workloads],
      memory,
      ha,
      transfers,
      happenings: [...this.planned.values()],
      evacuations: [...this.evacuations.values()].map((e) => ({ ...e })),
      maintenances: [...this.maintenances.values()].map((m) => ({ ...m })),
      longOperations: this.longOperations
    }
  }

  /**
   * Whether the agenda holds nothing but `inputsQueued` of the caller's inputs, stale happenings (a stale
   * one, planned again or its migration over, does nothing when it comes) and happenings that are data
   * (round ends, commits, long operations' steps, HA's timers, memory-model steps), no caller waits on a migration with a
   * function, and no rates wait to be planned: `rest`'s first test, O(1), for callers that try often.
   */
  quiet(inputsQueued = 0): boolean {
    return (
      this.queue.size - inputsQueued - this.staleHappenings - this.planned.size <= 0 &&
      this.functionWaiters === 0 &&
      !this.ratesDirty
    )
  }

  /**
   * A host fails. Without HA, declared dead at once (XAPI's `host.declare_dead`); with HA, noticed after
   * the liveness timeout and followed by HA's restarts (engine/ha.ts).
   */
  failHost(host: HostId): void {
    this.ha.hostFailed(host)
  }

  /** `pool.enable_ha` with ntol; the liveness timeout is the engine's (default 60 s, engine/ha.ts). */
  enableHa(hostFailuresToTolerate: number, livenessTimeoutUs?: number): boolean {
    if (livenessTimeoutUs !== undefined) this.ha.livenessTimeoutUs = livenessTimeoutUs
    return this.attempt(
      { _tag: "EnableHa", atUs: this.nowUsValue, hostFailuresToTolerate },
      `enable HA (ntol ${hostFailuresToTolerate})`
    )
  }

  /**
   * From now on, event ids come from pool `pool`'s stream of the root seed: a branch rebuilt from its
   * parent's input (simulations/resume.ts) numbers its own events apart from the parent's.
   */
  idsOf(pool: PoolId): void {
    this.ids = this.root.fork(`ids:${pool}`)
  }

  setWorkload(vm: VmId, workload: VmWorkload): void {
    this.workloads.set(vm, workload)
  }

  workloadOf(vm: VmId): VmWorkload | undefined {
    return this.workloads.get(vm)
  }

  /** The pool now as a persistent state (what changed since the last call is copied into it). */
  get state(): PoolState {
    return this.live.toPoolState()
  }
  /** The pool now, for reads that keep nothing: no copy. */
  get view(): PoolView {
    return this.live
  }
  get nowUs(): number {
    return this.nowUsValue
  }
  get events(): number {
    return this.eventCount
  }
  /** The outcomes of long operations (evacuations, maintenance, waits for memory) so far, in order. */
  get outcomes(): ReadonlyArray<OperationOutcome> {
    return this.operations
  }
  /** What was refused so far, in order. */
  get refusals(): ReadonlyArray<Refusal> {
    return this.refusalList
  }

  /**
   * The command as of now. Most callers stamp it with the time already, and only the others are copied:
   * a spread of commands of so many shapes is a slow generic copy in V8 (it was a sixth of the engine's
   * time per event).
   */
  private now<C extends PoolCommand>(command: C): C {
    return command.atUs === this.nowUsValue ? command : { ...command, atUs: this.nowUsValue }
  }

  /** Runs a command now: decide, evolve each event, hand the batch to the sink. */
  submit(command: PoolCommand): Either.Either<ReadonlyArray<PoolEvent>, DomainError> {
    this.interruptRoundsBefore(this.now(command))
    const decision = this.decideFn(this.live, this.now(command), this.placement)
    if (Either.isLeft(decision)) return decision
    const events = decision.right
    // sized once: most batches hold one event, and a grown array starts with room for seventeen
    const batch = new Array<EmittedEvent>(events.length)
    for (let i = 0; i < events.length; i++) {
      const event = events[i]!
      evolveInPlace(this.live, event)
      this.eventCount++
      if (this.options.debug) this.assertInvariants(event)
      batch[i] = { id: eventId(this.ids.orderedUuid(this.eventCount - 1)), event }
      if (this.options.onProgress && this.eventCount % (this.options.progressEveryEvents ?? 10_000) === 0)
        this.options.onProgress(this.nowUsValue, this.eventCount)
    }
    if (batch.length > 0) this.options.sink?.(batch)
    for (const event of events) this.afterEvent(event)
    return decision
  }

  /**
   * Runs a command and records a refusal instead of failing. A start or resume that only lacks physical
   * memory where XAPI would place it waits for the squeezer (engine/balloon.ts): false now, and the
   * outcome is recorded when it comes.
   */
  attempt(command: PoolCommand, operation: string): boolean {
    if (command._tag === "StartVm" || command._tag === "ResumeVm") {
      return this.memory.admit(this.now(command), operation) === "admitted"
    }
    const result = this.submit(command)
    if (Either.isLeft(result)) this.refusalList.push({ atUs: this.nowUsValue, operation, error: result.left })
    return Either.isRight(result)
  }

  /** Schedules one of the engine's own happenings (a round's end, a wake-up, a controller's tick); returns its `seq`. */
  at(atUs: number, run: () => void): number {
    return this.queue.push(Math.max(atUs, this.nowUsValue), run, HAPPENING_RANK)
  }

  /**
   * Schedules an outside input: a scenario's operation, a trace's record, a load change. At the same µs
   * inputs run before the engine's own happenings, whenever either was scheduled, so a trace replayed
   * record by record and a scenario scheduled all at once interleave with the engine the same way.
   */
  input(atUs: number, run: () => void): void {
    this.queue.push(Math.max(atUs, this.nowUsValue), run, INPUT_RANK)
  }

  /** Runs until nothing is left to do or a limit is reached. */
  run(limits: EngineLimits = this.options.limits): RunResult {
    let stopReason: RunStopReason = "quiescent"
    // A migration started between runs (outside any happening) has no round end planned yet.
    if (this.ratesDirty) this.recomputeRates()
    for (;;) {
      const next = this.queue.peek()
      if (!next) break
      if (next.atUs > limits.simulatedUsMax) {
        stopReason = "time-limit"
        break
      }
      if (this.eventCount >= limits.eventsMax) {
        stopReason = "events-limit"
        break
      }
      this.queue.pop()
      this.advanceTransfersTo(next.atUs)
      this.nowUsValue = next.atUs
      next.item()
      if (this.ratesDirty) this.recomputeRates()
      this.options.betweenItems?.()
    }
    return {
      state: this.state,
      events: this.eventCount,
      simulatedUs: this.nowUsValue,
      stopReason,
      refusals: this.refusalList,
      operations: this.operations,
      haRestarts: this.ha.restarts
    }
  }

  // --- migrations -------------------------------------------------------------------------------

  /**
   * Starts a live migration now; `onEnd` hears how it ended. Returns false (and records why) if refused.
   * When only the destination's physical memory is short, the squeezer makes room first: false now, and
   * the migration starts (or is refused) when the balloons are done (engine/balloon.ts).
   */
  migrate(vm: VmId, destination: HostId, onEnd?: MigrationWaiter, policy: PolicyConfig = this.options.policy): boolean {
    const id = migrationId(`m${++this.migrationCounter}`)
    // a caller's function waits from now on (the engine is not at rest while it does); data travels with `then`
    const waiter = typeof onEnd === "function" ? undefined : onEnd
    if (typeof onEnd === "function") this.waitOn(id, onEnd)
    const then: StartTransferThen = { _tag: "StartTransfer", migration: id, vm, policy, ...(waiter ? { waiter } : {}) }
    const admission = this.memory.admit(
      { _tag: "StartMigration", atUs: this.nowUsValue, migration: id, vm, destination, policy: policy.name },
      `migrate ${vm} to ${destination}`,
      then
    )
    if (admission !== "waiting") this.admissionDone(then, admission === "admitted")
    return admission === "admitted"
  }

  /** An operation that went through the squeezer is done: what follows it. */
  private admissionDone(then: AdmissionThen, ok: boolean): void {
    if (then._tag === "HaRestart") return this.ha.restartDone(then, ok)
    if (ok) return this.startTransfer(then.migration, then.vm, then.policy, then.waiter)
    this.tell(then.waiter ?? this.unwait(then.migration), "aborted", "refused")
  }

  /**
   * Names a listener that migrations started with `{ listener: name }` tell how they ended: unlike a
   * function given to `migrate`, such a migration in flight is data (`TransferRest.listener`), and the
   * engine may rest. Whoever goes on from a rest names its listeners again before running.
   */
  listen(name: string, listener: MigrationEnd): void {
    this.listeners.set(name, listener)
  }

  /** Who waits on the migration, from now on. */
  private waitOn(migration: MigrationId, waiter: MigrationWaiter | undefined): void {
    if (waiter === undefined) return
    this.waiters.set(migration, waiter)
    if (typeof waiter === "function") this.functionWaiters++
  }

  /** No one waits on the migration any more: who did, if anyone. */
  private unwait(migration: MigrationId): MigrationWaiter | undefined {
    const waiter = this.waiters.get(migration)
    if (waiter === undefined) return undefined
    this.waiters.delete(migration)
    if (typeof waiter === "function") this.functionWaiters--
    return waiter
  }

  /** Tells the migration's waiter how it ended. */
  private tell(waiter: MigrationWaiter | undefined, outcome: "committed" | "aborted", reason: string): void {
    if (waiter === undefined) return
    if (typeof waiter === "function") waiter(outcome, reason)
    else if ("evacuation" in waiter) this.evacuationMoveDone(waiter.evacuation)
    else this.listenerNamed(waiter.listener)(outcome, reason)
  }

  private listenerNamed(name: string): MigrationEnd {
    const listener = this.listeners.get(name)
    if (listener === undefined) throw new SimulationDefect(`no listener named ${name} hears of its migrations`)
    return listener
  }

  /** The migration is started in the state: its transfer machine takes the link. */
  private startTransfer(id: MigrationId, vm: VmId, policy: PolicyConfig, onEnd: MigrationWaiter | undefined): void {
    const vmState = getVm(this.live, vm)!
    const migration = getMigration(this.live, id)!
    const pool = this.live.pool!
    // the guest's gfns [0, guestPages); those paged out travel as markers (engine/paging.ts)
    const paged = this.memory.pagedView(vm)
    const context: TransferContext = {
      vm,
      memoryPages: vmState.guestPages,
      pageSizeBytes: pool.pageSizeBytes,
      latencyUs: pool.linkLatencyUs,
      startUs: this.nowUsValue,
      policy,
      workload: this.workloads.get(vm) ?? idleWorkload(vmState.guestPages),
      prng: this.root.fork(`migration:${id}`),
      paged
    }
    this.transfers.set(id, {
      migration: id,
      source: migration.source,
      destination: migration.destination,
      machine: this.options.transferFactory(context),
      context,
      rateBytesPerS: 0,
      roundEndSeq: -1,
      finished: false
    })
    this.waitOn(id, onEnd)
    this.ratesDirty = true
    // xl cannot open its stream over a link that is down: the migration fails before its first byte
    // (otherwise it would wait forever at rate 0, a stalled run reported as quiescent).
    const down = [migration.source, migration.destination].find((host) => this.capacityBytesPerS(host) === 0)
    if (down !== undefined) {
      this.mustSubmit({
        _tag: "AbortMigration",
        atUs: this.nowUsValue,
        migration: id,
        reason: `link of ${down} is down`
      })
    }
  }

  /** A migration in flight as a rest had it: its machine made again `from` its state (its round end comes after). */
  private restoreTransfer(rest: TransferRest): void {
    const context: TransferContext = {
      vm: rest.vm,
      memoryPages: rest.memoryPages,
      pageSizeBytes: rest.pageSizeBytes,
      latencyUs: rest.latencyUs,
      startUs: rest.startUs,
      policy: rest.policy,
      workload: rest.workload,
      prng: this.root.fork(`migration:${rest.migration}`),
      paged: rest.paged ? this.memory.pagedView(rest.vm) : undefined
    }
    this.transfers.set(rest.migration, {
      migration: rest.migration,
      source: rest.source,
      destination: rest.destination,
      machine: this.options.transferFactory({ ...context, from: rest.machine }),
      context,
      rateBytesPerS: rest.rateBytesPerS,
      roundEndSeq: -1,
      finished: rest.finished
    })
    if (rest.evacuation !== undefined) this.waitOn(rest.migration, { evacuation: rest.evacuation })
    if (rest.listener !== undefined) this.waitOn(rest.migration, { listener: rest.listener })
  }

  /** A page of a migrating VM was paged back in during a live round: its transfer re-sends it. */
  private pageTouched(vm: VmId, gfn: number): void {
    const id = getVm(this.live, vm)?.migration
    const t = id === undefined ? undefined : this.transfers.get(id)
    if (!t || t.finished) return
    t.machine.pageTouched?.(gfn)
    this.ratesDirty = true
  }

  /**
   * A transfer's inputs changed from outside the engine (a trace replay revealed more page writes):
   * re-plan every round end after the current happening, as a rate change does.
   */
  replanTransfers(): void {
    this.ratesDirty = true
  }

  private advanceTransfersTo(toUs: number): void {
    for (const t of this.transfers.values()) if (!t.finished) t.machine.advance(toUs, t.rateBytesPerS)
  }

  /** The hosts' NICs as the link model sees them. */
  private readonly links: LinkCapacity = { capacityBytesPerS: (host) => this.capacityBytesPerS(host as HostId) }

  private capacityBytesPerS(host: HostId): number {
    const h = getHost(this.live, host)
    if (!h || !h.live) return 0
    const percent = this.linkPercent.get(host) ?? 100
    return Math.floor((h.nicBandwidthBytesPerS * percent) / 100)
  }

  private recomputeRates(): void {
    this.ratesDirty = false
    const active: Transfer[] = []
    for (const t of this.transfers.values()) if (!t.finished) active.push(t)
    const rates = maxMinFairRates(active, this.links)
    for (let i = 0; i < active.length; i++) {
      const t = active[i]!
      t.rateBytesPerS = rates[i]!
      this.scheduleRoundEnd(t)
    }
  }

  private scheduleRoundEnd(t: Transfer): void {
    // the round end planned before (if still on the agenda) is stale from now on
    this.unplanRoundEnd(t)
    const endUs = t.machine.roundEndUs(t.rateBytesPerS)
    if (endUs !== undefined) this.planRoundEnd(t, endUs)
  }

  /** Puts the transfer's round end on the agenda at `endUs`. */
  private planRoundEnd(t: Transfer, endUs: number): void {
    const atUs = Math.max(endUs, this.nowUsValue)
    // planned again since, or its migration over: `unplanRoundEnd` took it off `planned`, and it is stale
    const seq = this.at(atUs, () => {
      if (!this.planned.delete(seq)) return this.staleCame()
      t.roundEndSeq = -1
      this.endRound(t)
    })
    t.roundEndSeq = seq
    this.planned.set(seq, { _tag: "RoundEnd", migration: t.migration, atUs })
  }

  /** The transfer's round end on the agenda, if one is, will do nothing when it comes: stale from now on. */
  private unplanRoundEnd(t: Transfer): void {
    this.unplan(t.roundEndSeq)
    t.roundEndSeq = -1
  }

  /** The happening planned at `seq`, if still on the agenda, will do nothing when it comes: stale from now on. */
  private unplan(seq: number): void {
    const planned = this.planned.get(seq)
    if (planned === undefined) return
    this.goneStale(planned.atUs)
    this.planned.delete(seq)
  }

  /** The migration's commit, one step after its last round (or restore), on the agenda at `atUs`. */
  private planCommit(migration: MigrationId, atUs: number): void {
    const seq = this.at(atUs, () => {
      this.planned.delete(seq)
      if (getMigration(this.live, migration)?.phase === "committing") {
        this.mustSubmit({ _tag: "CommitMigration", atUs: this.nowUsValue, migration })
      }
    })
    this.planned.set(seq, { _tag: "Commit", migration, atUs: Math.max(atUs, this.nowUsValue) })
  }

  /** A happening on the agenda at `atUs` will do nothing when it comes. */
  private goneStale(atUs: number): void {
    this.staleAtUs.set(atUs, (this.staleAtUs.get(atUs) ?? 0) + 1)
    this.staleHappenings++
  }

  /** A stale happening came (now): it only moved the clock. */
  private staleCame(): void {
    const left = this.staleAtUs.get(this.nowUsValue)! - 1
    if (left === 0) this.staleAtUs.delete(this.nowUsValue)
    else this.staleAtUs.set(this.nowUsValue, left)
    this.staleHappenings--
  }

  /**
   * Puts back what an engine at rest had on its agenda that does nothing: stale happenings, which only
   * move the clock (and can stop a run at its time limit) when they come.
   */
  private idleAt(atUs: number): void {
    this.goneStale(Math.max(atUs, this.nowUsValue))
    this.at(atUs, () => this.staleCame())
  }

  private endRound(t: Transfer): void {
    if (t.machine.inPart?.() === true) return this.endPart(t)
    const { record, after } = t.machine.completeRound(this.nowUsValue)
    const completed = this.submit({
      _tag: "CompleteMigrationRound",
      atUs: this.nowUsValue,
      migration: t.migration,
      round: record.index,
      live: record.live,
      pagesSent: record.pagesSent,
      pagesSkipped: record.pagesSkipped,
      zeroPages: record.zeroPages ?? 0,
      stateBytes: record.stateBytes ?? 0,
      bytesSent: record.bytesSent,
      pagesDirtied: record.dirtyPagesAfter,
      durationUs: record.durationUs
    })
    if (Either.isLeft(completed)) throw new SimulationDefect(`migration ${t.migration}: ${completed.left.message}`)
    this.afterStep(t, after)
  }

  /** A timed part (setup, suspend, restore) ended: recorded, then what follows. */
  private endPart(t: Transfer): void {
    const { part, after } = t.machine.completePart!(this.nowUsValue)
    this.mustSubmit({
      _tag: "CompleteMigrationPhase",
      atUs: this.nowUsValue,
      migration: t.migration,
      phase: part.name,
      durationUs: part.durationUs
    })
    this.afterStep(t, after)
  }

  private afterStep(t: Transfer, after: AfterRound): void {
    switch (after.next) {
      case "live":
      case "step":
        this.scheduleRoundEnd(t)
        return
      case "paused":
        this.mustSubmit({
          _tag: "BeginStopAndCopy",
          atUs: this.nowUsValue,
          migration: t.migration,
          reason: after.stopReason
        })
        this.scheduleRoundEnd(t)
        return
      case "abort":
        this.mustSubmit({ _tag: "AbortMigration", atUs: this.nowUsValue, migration: t.migration, reason: after.reason })
        return
      case "done":
      case "commit": {
        t.finished = true
        this.ratesDirty = true
        const lost = t.machine.lostWrite()
        if (lost !== undefined) throw new SimulationDefect(`migration ${t.migration} lost a write: ${lost}`)
        // Without phases, the receiver's "ready" / sender's "go" / receiver's report: one link latency to
        // the commit. With them, restore (which holds that exchange) has just ended: the commit is now.
        const latencyUs = after.next === "done" ? (this.live.pool?.linkLatencyUs ?? 0) : 0
        this.planCommit(t.migration, this.nowUsValue + latencyUs)
      }
    }
  }

  /**
   * Before a command that aborts migrations (an abort, a host failure, a shutdown), the rounds they
   * have in flight are recorded as interrupted with what they sent so far: a migration's bytes are the
   * sum of its rounds', aborted or not. The command is decided once dry (decide is pure) to learn which
   * migrations it aborts.
   */
  private interruptRoundsBefore(command: PoolCommand): void {
    if (this.transfers.size === 0) return
    if (command._tag !== "AbortMigration" && command._tag !== "FailHost" && command._tag !== "ShutdownVm") return
    const dry = this.decideFn(this.live, command, this.placement)
    if (Either.isLeft(dry)) return
    for (const event of dry.right) {
      if (event._tag !== "VmMigrationAborted") continue
      const t = this.transfers.get(event.migration)
      const partial = t === undefined || t.finished ? undefined : t.machine.partialRound?.()
      if (partial === undefined || (partial.durationUs === 0 && partial.bytesSent === 0)) continue
      this.mustSubmit({
        _tag: "InterruptMigrationRound",
        atUs: this.nowUsValue,
        migration: event.migration,
        round: partial.index,
        live: partial.live,
        pagesSent: partial.pagesSent,
        pagesSkipped: partial.pagesSkipped,
        zeroPages: partial.zeroPages ?? 0,
        stateBytes: partial.stateBytes ?? 0,
        bytesSent: partial.bytesSent,
        durationUs: partial.durationUs
      })
    }
  }

  private mustSubmit(command: PoolCommand): void {
    const result = this.submit(command)
    if (Either.isLeft(result)) throw new SimulationDefect(`${command._tag}: ${result.left.message}`)
  }

  /** Engine bookkeeping that follows from events, whoever caused them (a fault, a shutdown, the transfer). */
  private afterEvent(event: PoolEvent): void {
    this.memory.afterEvent(event)
    if (event._tag === "HostRecovered") this.ha.hostRecovered(event.host)
    if (event._tag !== "VmMigrationCommitted" && event._tag !== "VmMigrationAborted") return
    const ended = this.transfers.get(event.migration)
    if (ended !== undefined) {
      this.transfers.delete(event.migration)
      this.ratesDirty = true
      // its round end, if still on the agenda, is stale from now on
      this.unplanRoundEnd(ended)
    }
    const waiter = this.unwait(event.migration)
    if (waiter !== undefined) {
      this.tell(
        waiter,
        event._tag === "VmMigrationCommitted" ? "committed" : "aborted",
        event._tag === "VmMigrationAborted" ? event.reason : ""
      )
    }
  }

  private assertInvariants(event: PoolEvent): void {
    const violations = checkInvariants(this.state)
    if (violations.length > 0) {
      const v = violations[0]!
      throw new SimulationDefect(
        `after event ${this.eventCount} (${event._tag} at ${event.atUs} µs): ${v.invariant}: ${v.detail}`
      )
    }
  }

  // --- links ------------------------------------------------------------------------------------

  /** A host's NIC fails: every migration through it that has not passed the point of no return aborts. */
  failLink(host: HostId): void {
    this.linkPercent.set(host, 0)
    for (const t of [...this.transfers.values()]) {
      if (t.source !== host && t.destination !== host) continue
      if (getMigration(this.live, t.migration)?.phase === "committing") continue
      this.mustSubmit({
        _tag: "AbortMigration",
        atUs: this.nowUsValue,
        migration: t.migration,
        reason: `link of ${host} failed`
      })
    }
    this.ratesDirty = true
  }

  setLinkPercent(host: HostId, percent: number): void {
    this.linkPercent.set(host, percent)
    this.ratesDirty = true
  }

  // --- host operations --------------------------------------------------------------------------

  /**
   * `host.evacuate`: plan every resident VM onto the other enabled hosts (NoHostsAvailable before anything
   * moves if they don't fit; with HA on, HostEvacuateVmNotHaProtected for an unprotected VM), then migrate
   * them in batches of 10; re-plan what is left after a batch whose migrations aborted, a bounded number
   * of times. Its outcome is recorded when the host is empty or it gives up. Held as data
   * (`EvacuationRest`): the plan, the next batch's place, the batch's moves still running.
   */
  evacuate(host: HostId): void {
    this.startEvacuation(host, undefined)
  }

  private startEvacuation(host: HostId, maintenance: number | undefined): void {
    const evacuation: Evacuation = { id: ++this.longOperations, host, pass: 0, moves: [], next: 0, pending: 0 }
    if (maintenance !== undefined) evacuation.maintenance = maintenance
    this.evacuations.set(evacuation.id, evacuation)
    this.planEvacuation(evacuation)
  }

  private planEvacuation(e: Evacuation): void {
    if (vmsResidentOn(this.live, e.host).length === 0) return this.evacuationDone(e, true, "host is empty")
    if (e.pass++ >= EVACUATION_PASSES_MAX)
      return this.evacuationDone(e, false, `VMs still resident after ${EVACUATION_PASSES_MAX} passes`)
    const plan = planEvacuationWithHa(this.live, e.host, this.placement)
    if (Either.isLeft(plan)) {
      this.refusalList.push({ atUs: this.nowUsValue, operation: `evacuate ${e.host}`, error: plan.left })
      return this.evacuationDone(e, false, plan.left.message)
    }
    e.moves = plan.right
    e.next = 0
    this.runEvacuationBatch(e)
  }

  private runEvacuationBatch(e: Evacuation): void {
    // a cursor, not a splice: taking a batch off the front of the list would copy the rest each time
    const batch = e.moves.slice(e.next, e.next + EVACUATION_BATCH)
    e.next += batch.length
    if (batch.length === 0) return this.planEvacuation(e)
    e.pending = batch.length
    for (const move of batch) this.migrate(move.vm, move.destination, { evacuation: e.id })
  }

  /** One migration of the evacuation's batch ended (or was refused); the next batch follows the last. */
  private evacuationMoveDone(id: number): void {
    const e = this.evacuations.get(id)!
    if (--e.pending === 0) this.planStep({ _tag: "EvacuationBatch", operation: id, atUs: this.nowUsValue })
  }

  private evacuationDone(e: Evacuation, ok: boolean, detail: string): void {
    this.evacuations.delete(e.id)
    this.operations.push({ atUs: this.nowUsValue, operation: `evacuate ${e.host}`, ok, detail })
    if (e.maintenance !== undefined) this.maintenanceEvacuated(e.maintenance, ok)
  }

  /**
   * Disable, evacuate, wait, re-enable each host in turn; stops at the first host that cannot be emptied.
   * Held as data (`MaintenanceRest`): the hosts and the one in hand.
   */
  rollingMaintenance(hosts: ReadonlyArray<HostId>, maintenanceUs: number): void {
    const maintenance: Maintenance = { id: ++this.longOperations, hosts, maintenanceUs, step: 0 }
    this.maintenances.set(maintenance.id, maintenance)
    this.maintenanceStep(maintenance, 0)
  }

  private maintenanceStep(m: Maintenance, first: number): void {
    for (let i = first; i < m.hosts.length; i++) {
      const host = m.hosts[i]!
      if (!this.attempt({ _tag: "DisableHost", atUs: this.nowUsValue, host }, `disable ${host}`)) continue
      m.step = i
      return this.startEvacuation(host, m.id)
    }
    this.maintenanceDone(m, true, `${m.hosts.length} hosts`)
  }

  private maintenanceEvacuated(id: number, ok: boolean): void {
    const m = this.maintenances.get(id)!
    if (ok) this.planStep({ _tag: "MaintenanceOver", operation: id, atUs: this.nowUsValue + m.maintenanceUs })
    else this.maintenanceDone(m, false, `stopped at ${m.hosts[m.step]!}`)
  }

  private maintenanceDone(m: Maintenance, ok: boolean, detail: string): void {
    this.maintenances.delete(m.id)
    this.operations.push({ atUs: this.nowUsValue, operation: "rolling maintenance", ok, detail })
  }

  /** The host in hand is maintained: enabled again, and the next one's turn. */
  private maintenanceOver(id: number): void {
    const m = this.maintenances.get(id)!
    const host = m.hosts[m.step]!
    this.attempt({ _tag: "EnableHost", atUs: this.nowUsValue, host }, `enable ${host}`)
    this.maintenanceStep(m, m.step + 1)
  }

  /**
   * Puts a step of an evacuation or a rolling maintenance, one of HA's timers or a memory-model step on
   * the agenda, as data; returns its place there. One unplanned since does nothing when it comes.
   */
  private planStep(step: Step): number {
    const seq = this.at(step.atUs, () => {
      if (!this.planned.delete(seq)) return this.staleCame()
      switch (step._tag) {
        case "EvacuationBatch":
          return this.runEvacuationBatch(this.evacuations.get(step.operation)!)
        case "MaintenanceOver":
          return this.maintenanceOver(step.operation)
        case "HaNotice":
          return this.ha.noticeDue()
        case "HaRetry":
          return this.ha.retryDue()
        case "HaGroup":
          return this.ha.groupDue(step.pass)
        case "PagerStep":
        case "BalloonStep":
        case "SqueezeCheck":
          return this.memory.stepDue(step)
      }
    })
    this.planned.set(seq, { ...step, atUs: Math.max(step.atUs, this.nowUsValue) })
    return seq
  }
}
