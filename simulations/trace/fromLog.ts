/**
 * A pool's event log as a trace (`xenpool export`): every event becomes a recorded-level record that,
 * replayed through `decide`, yields exactly that event. Nothing is assumed: each record is resolved the
 * way replay resolves it, its command decided against the state folded so far, and the events that come
 * out must equal the next events of the log (same type, same fields, same order), or the export fails
 * naming the revision. One record may stand for several events: a `fail-host` yields the host's failure,
 * the migrations it ends and the VMs it halts, as the log has them.
 *
 * Memory: the pool state and the few events of one decision, whatever the log's length; records are
 * handed to the writer as they are made.
 */
import { Either } from "effect"
import type { PoolCommand } from "../../domain/commands.js"
import { decide } from "../../domain/decide.js"
import { isHistoryMarker, type PoolEvent } from "../../domain/events.js"
import { evolve } from "../../domain/evolve.js"
import { initialState, type PoolState } from "../../domain/state.js"
import { compileHeader, EVENTS_MAX_DEFAULT, SIMULATED_TIME_DEFAULT, type CompiledHeader } from "./header.js"
import { resolveRecord, SymbolTable, TraceFailure } from "./resolve.js"
import { headerLine, recordLine, type TraceHeaderInput, type TraceRecordInput } from "./writer.js"
import { parseDurationUs } from "../../domain/units.js"
import type { PoolId } from "../../domain/ids.js"
import { transferFactory } from "../../engine/migration/precopy.js"
import { Simulation } from "../../engine/simulation.js"

/** The log cannot be written as a trace that replays into the same events. */
export class ExportFailure extends Error {
  constructor(
    readonly revision: number,
    readonly detail: string
  ) {
    super(`revision ${revision}: ${detail}`)
  }
}

export interface ExportOptions {
  /** Recorded in the header: replaying with this seed and the same pool id gives the same event ids. */
  readonly seed?: number
  readonly name?: string
  /** The log's length and last time, when known: the header's limits are raised to cover them. */
  readonly eventsCount?: number
  readonly lastAtUs?: number
}

const pages = (n: number): string => `${n}pages`

/** The candidate records for an event, most specific first; none for an event only a decision makes. */
const recordsFor = (event: PoolEvent): ReadonlyArray<TraceRecordInput> => {
  const at = { atUs: event.atUs }
  switch (event._tag) {
    case "HostJoined":
      return [
        {
          ...at,
          op: "join-host",
          host: event.host,
          memory: pages(event.memoryTotalPages),
          overhead: pages(event.memoryOverheadPages),
          nic: `${event.nicBandwidthBytesPerS}B/s`,
          cpus: event.cpus
        }
      ]
    case "HostEnabled":
      return [{ ...at, op: "enable-host", host: event.host }]
    case "HostDisabled":
      return [{ ...at, op: "disable-host", host: event.host }]
    case "HostFailed":
      // engine level first (as before HA); with HA on the exporter refuses it for the recorded form
      return [
        { ...at, op: "fail-host", host: event.host },
        { ...at, op: "fail-host", host: event.host, declared: true }
      ]
    case "HostRecovered":
      return [{ ...at, op: "recover-host", host: event.host }]
    case "VmCreated":
      return [
        {
          ...at,
          op: "create-vm",
          vm: event.vm,
          vcpus: event.vcpus,
          memory: {
            staticMin: pages(event.memoryStaticMinPages),
            dynamicMin: pages(event.memoryDynamicMinPages),
            target: pages(event.memoryTargetPages),
            dynamicMax: pages(event.memoryDynamicMaxPages),
            staticMax: pages(event.memoryStaticMaxPages)
          },
          overhead: pages(event.memoryOverheadPages),
          ...(event.blockedOperations.length > 0 ? { blockedOperations: [...event.blockedOperations] } : {})
        }
      ]
    case "VmStarted": {
      const paused = event.paused ? { paused: true } : {}
      return [
        { ...at, op: "start-vm", vm: event.vm, host: event.host, ...paused },
        { ...at, op: "start-vm", vm: event.vm, ...paused }
      ]
    }
    case "VmResumed":
      return [
        { ...at, op: "resume-vm", vm: event.vm, host: event.host },
        { ...at, op: "resume-vm", vm: event.vm }
      ]
    case "VmPaused":
      return [{ ...at, op: "pause-vm", vm: event.vm }]
    case "VmUnpaused":
      return [{ ...at, op: "unpause-vm", vm: event.vm }]
    case "VmSuspended":
      return [{ ...at, op: "suspend-vm", vm: event.vm }]
    case "VmDestroyed":
      return [{ ...at, op: "destroy-vm", vm: event.vm }]
    case "VmShutdown":
      return event.mode === "host-failed"
        ? []
        : [{ ...at, op: "shutdown-vm", vm: event.vm, hard: event.mode === "hard" }]
    case "VmMemoryTargetSet":
      return [{ ...at, op: "set-memory-target", vm: event.vm, target: pages(event.targetPages) }]
    case "VmMigrationStarted":
      return [
        {
          ...at,
          op: "migration-started",
          migration: event.migration,
          vm: event.vm,
          to: event.destination,
          policy: event.policy
        }
      ]
    case "VmMigrationRoundCompleted":
      return [
        {
          ...at,
          op: "migration-round-completed",
          migration: event.migration,
          round: event.round,
          live: event.live,
          pagesSent: event.pagesSent,
          pagesSkipped: event.pagesSkipped,
          bytesSent: event.bytesSent,
          pagesDirtied: event.pagesDirtied,
          durationUs: event.durationUs,
          ...(event.zeroPages > 0 ? { zeroPages: event.zeroPages } : {}),
          ...(event.stateBytes > 0 ? { stateBytes: event.stateBytes } : {})
        }
      ]
    case "VmMigrationPhaseCompleted":
      return [
        {
          ...at,
          op: "migration-phase-completed",
          migration: event.migration,
          phase: event.phase,
          durationUs: event.durationUs
        }
      ]
    case "VmMigrationRoundInterrupted":
      return [
        {
          ...at,
          op: "migration-round-interrupted",
          migration: event.migration,
          round: event.round,
          live: event.live,
          pagesSent: event.pagesSent,
          pagesSkipped: event.pagesSkipped,
          bytesSent: event.bytesSent,
          durationUs: event.durationUs,
          ...(event.zeroPages > 0 ? { zeroPages: event.zeroPages } : {}),
          ...(event.stateBytes > 0 ? { stateBytes: event.stateBytes } : {})
        }
      ]
    case "VmMigrationStopAndCopyStarted":
      return [{ ...at, op: "migration-stop-and-copy", migration: event.migration, reason: event.reason }]
    case "VmMigrationCommitted":
      return [{ ...at, op: "migration-committed", migration: event.migration }]
    case "VmMigrationAborted":
      return [{ ...at, op: "migration-aborted", migration: event.migration, reason: event.reason }]
    case "VmPagesPagedOut":
      return [{ ...at, op: "pages-paged-out", vm: event.vm, pages: event.pages }]
    case "VmPagesPagedIn":
      return [{ ...at, op: "pages-paged-in", vm: event.vm, pages: event.pages }]
    case "VmPageFaultsServed":
      return [{ ...at, op: "page-faults-served", vm: event.vm, faults: event.faults, vcpuWaitUs: event.vcpuWaitUs }]
    case "VmPagingTargetSet":
      return [{ ...at, op: "set-paging-target", vm: event.vm, target: pages(event.targetPages) }]
    case "VmBalloonInflated":
      return [
        {
          ...at,
          op: "balloon-inflated",
          vm: event.vm,
          releasedPages: event.releasedPages,
          droppedPages: event.droppedPages
        }
      ]
    case "VmBalloonDeflated":
      return [{ ...at, op: "balloon-deflated", vm: event.vm, pages: event.pages }]
    case "PoolCreated":
      // The header says what the pool is: no record.
      return []
    case "PoolHaEnabled":
      return [{ ...at, op: "enable-ha", hostFailuresToTolerate: event.hostFailuresToTolerate }]
    case "PoolHaDisabled":
      return [{ ...at, op: "disable-ha" }]
    case "PoolHaFailuresToTolerateSet":
      return [{ ...at, op: "set-ha-failures-to-tolerate", hostFailuresToTolerate: event.hostFailuresToTolerate }]
    case "VmHaSettingsSet":
      return [
        {
          ...at,
          op: "set-vm-ha",
          vm: event.vm,
          restartPriority: event.restartPriority,
          order: event.order,
          alwaysRun: event.alwaysRun
        }
      ]
    case "VmHaRestartFailed":
      return [
        {
          ...at,
          op: "ha-restart-failed",
          vm: event.vm,
          reason: event.reason,
          ...(event.retryAtUs === null ? {} : { retryAtUs: event.retryAtUs })
        }
      ]
    case "PoolHaPlanChanged":
    case "PoolMasterElected":
      // made by decide after the command that changed the plan, or with a host failure: no record
      return []
    case "PoolForked":
    case "OperationsRequested":
      // Where a branch left its parent, what a continuation asked: no decision, so no record
      // (TraceExporter.push skips them).
      return []
  }
}

const sameValue = (a: unknown, b: unknown): boolean => {
  if (a === b) return true
  if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false
  return a.every((x, i) => sameValue(x, b[i]))
}

/** Same type, same fields (the events are flat: scalars and arrays of strings). */
const sameEvent = (a: PoolEvent, b: PoolEvent): boolean => {
  if (a._tag !== b._tag) return false
  const fieldsA = Object.keys(a) as Array<keyof PoolEvent>
  if (fieldsA.length !== Object.keys(b).length) return false
  return fieldsA.every((key) => sameValue(a[key], b[key]))
}

const describe = (event: PoolEvent): string => JSON.stringify(event)

export class TraceExporter {
  private state: PoolState = initialState
  private header: CompiledHeader | undefined
  private table: SymbolTable | undefined
  /** Events read and not yet written, and the revision of the first. */
  private pending: PoolEvent[] = []
  private revision = 0
  private lines = 0

  constructor(
    private readonly emit: (line: string) => void,
    private readonly options: ExportOptions = {}
  ) {}

  /** Feeds the next events of the log, in revision order. */
  push(events: ReadonlyArray<PoolEvent>): void {
    // A branch's fork event and a continuation's input are not decisions: the trace replays into the
    // decisions without them.
    for (const event of events) if (!isHistoryMarker(event)) this.pending.push(event)
    this.drain(false)
  }

  /** The log is over: everything left must become records. */
  end(): void {
    this.drain(true)
    if (this.header === undefined) throw new ExportFailure(0, "the pool has no events")
  }

  private drain(atEnd: boolean): void {
    // Bounded: each pass writes a record for at least one pending event, or stops.
    while (this.pending.length > 0) {
      if (this.header === undefined) this.writeHeader(this.pending.shift()!)
      else if (!this.writeRecord(atEnd)) return
    }
  }

  private writeHeader(first: PoolEvent): void {
    if (first._tag !== "PoolCreated") throw new ExportFailure(0, `the log starts with ${first._tag}, not PoolCreated`)
    const minimum = parseDurationUs(SIMULATED_TIME_DEFAULT).pipe(Either.getOrElse(() => 0))
    const limits = {
      ...((this.options.eventsCount ?? 0) > EVENTS_MAX_DEFAULT ? { events: this.options.eventsCount } : {}),
      ...((this.options.lastAtUs ?? 0) > minimum ? { simulatedTime: `${this.options.lastAtUs}us` } : {})
    }
    const header: TraceHeaderInput = {
      name: this.options.name ?? `export of pool ${first.pool}`,
      ...(this.options.seed === undefined ? {} : { seed: this.options.seed }),
      pool: { id: first.pool, pageSize: `${first.pageSizeBytes}B`, linkLatency: `${first.linkLatencyUs}us` },
      ...(Object.keys(limits).length > 0 ? { limits } : {})
    }
    const line = headerLine(header)
    const compiled = compileHeader("export", JSON.parse(line), 1, "export")
    if (Either.isLeft(compiled)) throw new ExportFailure(0, `${compiled.left.path}: ${compiled.left.expected}`)
    this.header = compiled.right
    this.table = new SymbolTable(compiled.right)
    this.state = evolve(this.state, first)
    this.emit(line)
    this.lines = 1
    this.revision = 1
  }

  /** Writes the record for the first pending event; false when it needs events not read yet. */
  private writeRecord(atEnd: boolean): boolean {
    const event = this.pending[0]!
    const candidates = recordsFor(event)
    if (candidates.length === 0)
      throw new ExportFailure(this.revision, `no trace record yields ${event._tag} by itself: ${describe(event)}`)
    let mismatch = ""
    for (const record of candidates) {
      const outcome = this.tryRecord(record)
      if (outcome._tag === "Refused") {
        mismatch = outcome.reason
        continue
      }
      if (outcome.events.length > this.pending.length && !atEnd) return false
      const matches =
        outcome.events.length > 0 &&
        outcome.events.every((e, i) => i < this.pending.length && sameEvent(e, this.pending[i]!))
      if (matches) {
        this.accept(record, outcome.events)
        return true
      }
      mismatch = `it yields ${outcome.events.map(describe).join(", ")}`
    }
    throw new ExportFailure(this.revision, `the record for ${describe(event)} does not replay into it: ${mismatch}`)
  }

  private tryRecord(
    record: TraceRecordInput
  ):
    | { readonly _tag: "Refused"; readonly reason: string }
    | { readonly _tag: "Yields"; readonly events: ReadonlyArray<PoolEvent> } {
    let command: PoolCommand
    try {
      const action = resolveRecord(this.header!, this.table!, record as never, this.lines + 1)
      const atUs = record.atUs
      // the engine-level forms of a host failure and of HA on are, as recorded, the domain's commands;
      // with HA on, the engine-level failure would wait for the liveness timeout: the recorded form is used
      if (action._tag === "FailHost" && this.state.pool?.ha?.enabled === true)
        return { _tag: "Refused", reason: "with HA on, an engine-level fail-host is noticed later" }
      if (action._tag === "FailHost") command = { _tag: "FailHost", atUs, host: action.host }
      else if (action._tag === "EnableHa")
        command = { _tag: "EnableHa", atUs, hostFailuresToTolerate: action.hostFailuresToTolerate }
      else if (action._tag !== "Submit" && action._tag !== "CreateVm")
        return { _tag: "Refused", reason: `${record.op} is not a command` }
      else command = action.command
    } catch (error) {
      if (error instanceof TraceFailure) return { _tag: "Refused", reason: `${error.path}: ${error.expected}` }
      throw error
    }
    const decision = decide(this.state, command)
    return Either.isLeft(decision)
      ? { _tag: "Refused", reason: `decide refuses it: ${decision.left.message}` }
      : { _tag: "Yields", events: decision.right }
  }

  private accept(record: TraceRecordInput, events: ReadonlyArray<PoolEvent>): void {
    this.emit(recordLine(record))
    this.lines++
    for (const event of events) this.state = evolve(this.state, event)
    this.pending.splice(0, events.length)
    this.revision += events.length
  }
}

/**
 * The id the engine gives the first event of pool `pool` run with `seed`: how `export --seed` checks
 * that the seed it writes into the header is the one the pool ran with. Asked of the engine itself, so
 * that it follows however the engine draws ids.
 */
export const engineFirstEventId = (seed: number, pool: PoolId): string | undefined => {
  let id: string | undefined
  const sim = new Simulation({
    seed,
    pool,
    policy: { name: "xen" },
    workloads: new Map(),
    limits: { eventsMax: 1, simulatedUsMax: 0 },
    transferFactory,
    sink: (batch) => (id ??= batch[0]?.id)
  })
  sim.submit({ _tag: "CreatePool", atUs: 0, pool, pageSizeBytes: 4096, linkLatencyUs: 0 })
  return id
}
