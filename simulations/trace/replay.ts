/**
 * Replays a trace on the engine, in bounded memory: records are read lazily, a bounded stretch ahead of
 * the clock. A read-ahead queues page writes for their VMs as it meets them and stops after the first
 * time slice (all records of one µs) that holds other records, which it keeps; a happening at that time
 * performs them, reads ahead again and schedules itself at the next such slice. Page writes alone need
 * no happening: the machines take them from the queues as time passes (feed.ts). A stretch of writes
 * alone ends after READ_AHEAD_RECORDS_MAX records, and the next read-ahead then runs 1 µs before the
 * first unread record. So the engine holds at most READ_AHEAD_RECORDS_MAX records of the trace, and when
 * it reaches any time t, every write before the first unread record (later than t) is known.
 *
 * One pass validates and runs: every line goes through the reader's checks as it is read, and once the
 * run is over (quiescent or at a limit) the rest of the file is read and checked too. A run is only
 * `done` when every line of the trace is known to be good; the first bad line ends it as `invalid`,
 * whatever the engine did before, so a caller that keeps the events until `done` appends nothing of a
 * bad trace (cli/commands/replay.ts).
 */
import { Either } from "effect"
import type { PoolId, VmId } from "../../domain/ids.js"
import { invariant } from "../../engine/migration/exact.js"
import { makeTransferFactory } from "../../engine/migration/precopy.js"
import { NO_MORE_WRITES_US, type PageWriter } from "../../engine/migration/workload.js"
import { Simulation, type EmittedEvent, type RunResult } from "../../engine/simulation.js"
import type { TransferContext } from "../../engine/transfer.js"
import type { PoolCommand } from "../../domain/commands.js"
import type { DomainError } from "../../domain/errors.js"
import { inputError, type InputError } from "../scenario.js"
import { TraceFedWriter, WriteQueue, type Horizon } from "./feed.js"
import type { Extensions } from "../extensions.js"
import type { CompiledHeader } from "./header.js"
import type { TraceInput } from "./lines.js"
import { TraceInputError, TraceReader, type ReadRecord, type TraceReaderOptions } from "./reader.js"
import { recordGfns, type TraceAction } from "./resolve.js"
import type { TraceOp } from "./schema.js"

/** At most this many records are read ahead of the clock; a longer slice of one µs is read in parts. */
const READ_AHEAD_RECORDS_MAX_DEFAULT = 65_536

export interface TraceSummary {
  readonly header: CompiledHeader
  readonly records: number
  readonly lines: number
}

/** The validating pass: reads every line; the first bad one is the error. */
export const validateTrace = (
  input: TraceInput,
  options: TraceReaderOptions = {}
): Either.Either<TraceSummary, InputError> => {
  try {
    const reader = new TraceReader(input, options)
    // Bounded: one record per pass over a finite input.
    while (reader.next() !== undefined) {
      /* validating only */
    }
    return Either.right({ header: reader.header, records: reader.records, lines: reader.lineNumber })
  } catch (error) {
    if (error instanceof TraceInputError) return Either.left(error.error)
    throw error
  }
}

/** The header alone (for choosing the new pool's id before anything runs). */
export const readTraceHeader = (
  input: TraceInput,
  extensions?: Extensions
): Either.Either<CompiledHeader, InputError> => {
  try {
    return Either.right(new TraceReader(input, extensions === undefined ? {} : { extensions }).header)
  } catch (error) {
    if (error instanceof TraceInputError) return Either.left(error.error)
    throw error
  }
}

export interface ReplayOptions {
  /** The pool to write (the new pool's id). */
  readonly pool: PoolId
  /** Overrides the header's seed. */
  readonly seed?: number
  /** Assert every invariant after every event. */
  readonly debug?: boolean
  readonly sink?: (batch: ReadonlyArray<EmittedEvent>) => void
  readonly onProgress?: (nowUs: number, events: number) => void
  readonly readAheadRecordsMax?: number
  readonly reader?: TraceReaderOptions
}

export type ReplayStep =
  /** The budget of events is spent; call again. */
  | { readonly _tag: "Running" }
  /** The run is over (quiescent, or a limit of the header reached) and every line of the trace is good. */
  | { readonly _tag: "Done"; readonly result: RunResult; readonly records: number }
  /** A bad line: the run stops there. */
  | { readonly _tag: "Invalid"; readonly error: InputError }

export class TraceReplay {
  readonly sim: Simulation
  readonly header: CompiledHeader
  private readonly reader: TraceReader
  /** The trace's name, for errors. */
  private readonly source: string
  private readonly horizon: Horizon = { us: 0 }
  private readonly queues = new Map<VmId, WriteQueue>()
  /** VMs whose running migration looks ahead at writes (xen-legacy, pages model). */
  private readonly lookingAhead = new Set<VmId>()
  private readonly readAheadRecordsMax: number
  private kept: TraceAction[] = []
  private lookahead: ReadRecord | undefined

  /** Reads the header and the first slice; a bad header (or first record) is the error. */
  static open(input: TraceInput, options: ReplayOptions): Either.Either<TraceReplay, InputError> {
    try {
      return Either.right(new TraceReplay(input, options))
    } catch (error) {
      if (error instanceof TraceInputError) return Either.left(error.error)
      throw error
    }
  }

  private constructor(input: TraceInput, options: ReplayOptions) {
    this.source = input.name
    this.reader = new TraceReader(input, options.reader)
    this.header = this.reader.header
    this.readAheadRecordsMax = options.readAheadRecordsMax ?? READ_AHEAD_RECORDS_MAX_DEFAULT
    invariant(this.readAheadRecordsMax >= 1, "readAheadRecordsMax must be >= 1")
    const sink = options.sink
    this.sim = new Simulation({
      seed: options.seed ?? this.header.seed,
      pool: options.pool,
      policy: this.header.policy,
      placement: this.header.placement,
      workloads: this.header.workloads,
      limits: { eventsMax: this.header.eventsMax, simulatedUsMax: this.header.simulatedUsMax },
      transferFactory: makeTransferFactory({
        wrapWriter: (writer, context) => this.writerFor(writer, context),
        ...(this.header.extensions.policies === undefined ? {} : { policies: this.header.extensions.policies }),
        ...(this.header.extensions.writers === undefined ? {} : { writers: this.header.extensions.writers })
      }),
      debug: options.debug ?? false,
      sink: (batch) => {
        this.observe(batch)
        sink?.(batch)
      },
      ...(options.onProgress ? { onProgress: options.onProgress } : {})
    })
    this.schedule()
  }

  /** The line of the trace last read. */
  get lineNumber(): number {
    return this.reader.lineNumber
  }

  /** The engine's simulated time now. */
  get nowUs(): number {
    return this.sim.nowUs
  }

  /** Bytes of the trace read so far (of `input.sizeBytes`). */
  get bytesConsumed(): number {
    return this.reader.bytesConsumed
  }

  /** Records read so far (the whole trace once the run is done). */
  get records(): number {
    return this.reader.records
  }

  /**
   * Runs until at least `eventsBudget` more events were emitted, or to the end of the run; at the end,
   * reads and checks the rest of the trace. A bad line anywhere makes the step `Invalid`.
   */
  runFor(eventsBudget: number): ReplayStep {
    invariant(eventsBudget >= 1, "eventsBudget must be >= 1")
    try {
      const eventsMax = Math.min(this.header.eventsMax, this.sim.events + eventsBudget)
      const result = this.sim.run({ eventsMax, simulatedUsMax: this.header.simulatedUsMax })
      if (result.stopReason === "events-limit" && this.sim.events < this.header.eventsMax) return { _tag: "Running" }
      this.validateRest()
      return { _tag: "Done", result, records: this.reader.records }
    } catch (error) {
      if (error instanceof TraceInputError) return { _tag: "Invalid", error: error.error }
      throw error
    }
  }

  /** Runs to the end. */
  runToEnd(): Either.Either<{ readonly result: RunResult; readonly records: number }, InputError> {
    // Bounded: each pass emits events towards the header's events limit, or ends the run.
    for (;;) {
      const step = this.runFor(1 << 20)
      if (step._tag === "Done") return Either.right(step)
      if (step._tag === "Invalid") return Either.left(step.error)
    }
  }

  /** The run stopped (quiescent, or at a limit): the records it did not reach must be good too. */
  private validateRest(): void {
    this.kept = []
    // Bounded: one record per pass over a finite input.
    while (this.reader.next() !== undefined) {
      /* checking only */
    }
  }

  /**
   * The header's pool at time 0, then the first slice. `PoolCreated` names the header's pool id, as
   * `simulate` names the scenario's: the new pool's id (`--pool`, or the id with a -N suffix) is the
   * stream's and seeds the event ids.
   */
  private schedule(): void {
    if (this.header.haLivenessTimeoutUs !== undefined) this.sim.ha.livenessTimeoutUs = this.header.haLivenessTimeoutUs
    this.sim.input(0, () => {
      for (const command of this.header.setup) this.sim.attempt(command, command._tag)
    })
    this.lookahead = this.reader.next()
    const first = this.readAhead()
    if (first !== undefined) this.sim.input(first, this.step)
  }

  /** Performs the kept records of this time, reads ahead, comes back when there is more to do. */
  private readonly step = (): void => {
    const actions = this.kept
    this.kept = []
    for (const action of actions) this.perform(action)
    const next = this.readAhead()
    if (this.lookingAhead.size > 0) this.sim.replanTransfers()
    if (next !== undefined) this.sim.input(next, this.step)
  }

  /**
   * Reads from the look-ahead record on: writes into their VMs' queues, other records kept, up to the
   * end of the first slice with kept records, or READ_AHEAD_RECORDS_MAX records. Returns when the next
   * step must run: that slice's time, or (after writes alone) 1 µs before the first unread record.
   */
  private readAhead(): number | undefined {
    let record = this.lookahead
    let keptAtUs: number | undefined
    // Bounded by readAheadRecordsMax.
    for (let n = 0; record !== undefined && n < this.readAheadRecordsMax; n++) {
      if (keptAtUs !== undefined && record.atUs !== keptAtUs) break
      if (record.action._tag === "Write") this.queueWrites(record.action)
      else {
        keptAtUs ??= record.atUs
        // A recorded pager or balloon step: the VM's paging comes from the records from now on, a step
        // before the engine could act on its own at that time (docs/paging.md).
        if (record.action._tag === "Submit" && record.action.recordedVm !== undefined)
          this.sim.memory.followRecords(record.action.recordedVm)
        this.kept.push(record.action)
      }
      record = this.reader.next()
    }
    this.lookahead = record
    this.horizon.us = record === undefined ? NO_MORE_WRITES_US : record.atUs
    if (keptAtUs !== undefined) return keptAtUs
    return record === undefined ? undefined : Math.max(this.sim.nowUs, record.atUs - 1)
  }

  private queueWrites(action: Extract<TraceAction, { _tag: "Write" }>): void {
    const queue = this.queueOf(action.vm)
    const { atUs, gfns, ranges } = action.record
    const nowUs = this.sim.nowUs
    if (gfns !== undefined) for (const gfn of gfns) queue.push(atUs, gfn, gfn, nowUs)
    else for (const [first, last] of ranges!) queue.push(atUs, first, last, nowUs)
  }

  private queueOf(vm: VmId): WriteQueue {
    let queue = this.queues.get(vm)
    if (queue === undefined) {
      queue = new WriteQueue()
      this.queues.set(vm, queue)
    }
    return queue
  }

  private perform(action: TraceAction): void {
    const sim = this.sim
    switch (action._tag) {
      case "Submit":
        if (action.recorded !== undefined) this.performRecorded(action.command, action.recorded)
        else sim.attempt(action.command, action.operation)
        return
      case "CreateVm":
        sim.attempt(action.command, `create-vm ${action.command.vm}`)
        sim.setWorkload(action.command.vm, action.workload)
        return
      case "SetWorkload":
        sim.setWorkload(action.vm, action.workload)
        return
      case "Migrate":
        sim.migrate(action.vm, action.to, undefined, action.policy ?? this.header.policy)
        return
      case "Evacuate":
        sim.evacuate(action.host)
        return
      case "RollingMaintenance":
        sim.rollingMaintenance(action.hosts, action.maintenanceUs)
        return
      case "FailLink":
        sim.failLink(action.host)
        return
      case "FailHost":
        sim.failHost(action.host)
        return
      case "EnableHa":
        sim.enableHa(action.hostFailuresToTolerate, action.livenessTimeoutUs)
        return
      case "SetLinkPercent":
        sim.setLinkPercent(action.host, action.percent)
        return
      case "Access":
        if (action.record.random !== undefined) sim.memory.accessRandom(action.vm, action.record.random)
        else sim.memory.access(action.vm, recordGfns(action.record))
        return
      case "Write":
        invariant(false, "writes are queued when read, never kept")
    }
  }

  /**
   * A recorded migration step happened: unlike an operation the pool may refuse as part of the story, a
   * step the pool refuses means the recording contradicts itself (a round renumbered, a paused round
   * deleted, a commit before it). The replay stops there as a bad trace, naming the record's line.
   */
  private performRecorded(command: PoolCommand, recorded: { readonly line: number; readonly op: TraceOp }): void {
    const result = this.sim.submit(command)
    if (Either.isRight(result)) return
    const error = result.left
    throw new TraceInputError(
      inputError(
        this.source,
        recordedField(recorded.op, error),
        `a recorded step the pool accepts at this point (a recorded migration step happened; the pool refuses this one: ${error.message})`,
        recorded.line
      )
    )
  }

  /** The engine's hook: a pages-model migration of a VM starts; it consumes the VM's trace writes. */
  private writerFor(generated: PageWriter, context: TransferContext): PageWriter {
    const vm = context.vm
    invariant(vm !== undefined, "the engine names the migrating VM")
    const queue = this.queueOf(vm)
    queue.attach(context.memoryPages)
    if (context.policy.name === "xen-legacy") this.lookingAhead.add(vm)
    return new TraceFedWriter(generated, queue, this.horizon)
  }

  /** A migration that ends releases its VM's queue. */
  private observe(batch: ReadonlyArray<EmittedEvent>): void {
    for (const { event } of batch) {
      if (event._tag !== "VmMigrationCommitted" && event._tag !== "VmMigrationAborted") continue
      this.queues.get(event.vm)?.detach(this.sim.nowUs)
      this.lookingAhead.delete(event.vm)
    }
  }
}

/** The field of a recorded migration step that the pool's refusal is about. */
const recordedField = (op: TraceOp, error: DomainError): string => {
  if (error._tag === "MigrationUnknown") return "migration"
  switch (op) {
    case "migration-started":
      if (error._tag === "MigrationFailed" && error.reason.startsWith("migration id")) return "migration"
      return error._tag.startsWith("Vm") || error._tag === "OtherOperationInProgress" ? "vm" : "to"
    case "migration-round-completed":
      return error._tag === "MigrationBadPhase" && error.step.startsWith("round") ? "round" : "live"
    default:
      return "op"
  }
}

/** Replays to the end in one pass (validating as it reads): for tests and tools that keep the events. */
export const replayTrace = (
  input: TraceInput,
  options: ReplayOptions
): Either.Either<{ readonly result: RunResult; readonly records: number }, InputError> =>
  Either.flatMap(TraceReplay.open(input, options), (replay) => replay.runToEnd())
