/**
 * From a schema-valid record to what the replay does with it, with the checks a schema cannot make: ids
 * must be declared (a symbol table built while streaming, bounded by the pool's size, not the trace's),
 * sizes and rates must carry units, gfns must lie in the VM's memory, page writes need the pages model.
 * The same code runs in the validating pass and in the replaying pass, so they cannot disagree.
 */
import { findPolicy, knownPolicyNames } from "../../engine/migration/policies/index.js"
import type { PolicyDefinition } from "../../engine/migration/policy.js"
import { expectedOneOf } from "../extensions.js"
import { Either, Schema } from "effect"
import type { CreateVm, JoinHost, PoolCommand } from "../../domain/commands.js"
import { hostId, migrationId, vmId, type HostId, type VmId } from "../../domain/ids.js"
import { parseDurationUs, parseSizePages, type UnitError } from "../../domain/units.js"
import type { PolicyConfig, VmWorkload } from "../../engine/config.js"
import { QEMU_ZERO_PAGE_BYTES } from "../../engine/migration/phases.js"
import { checkPolicyParameters, compileScenario } from "../compile.js"
import { HostSpec, MAINTENANCE_DEFAULT, type PolicySpec, type Scenario, VmSpec } from "../scenario.js"
import type { CompiledHeader } from "./header.js"
import { pagingOps, type RecordOf, type TraceOp, type TraceRecord } from "./schema.js"

/** What a record asks of the replay. */
export type TraceAction =
  /**
   * A domain command, attempted now: a refusal is recorded, as in a scenario. `recordedVm`: the command
   * is a recorded pager or balloon step of that VM (the replay hands the VM's paging to the records).
   */
  | {
      readonly _tag: "Submit"
      readonly command: PoolCommand
      readonly operation: string
      readonly recordedVm?: VmId
      /**
       * A recorded migration step (`migration-started` … `migration-aborted`): it happened, so the pool
       * must accept it; a refusal is a bad trace at `line`, its field named by `field` (replay.ts).
       */
      readonly recorded?: { readonly line: number; readonly op: TraceOp }
    }
  /** Guest accesses now (engine/paging.ts): an access to a paged page faults. */
  | { readonly _tag: "Access"; readonly vm: VmId; readonly record: RecordOf<"access"> }
  | { readonly _tag: "CreateVm"; readonly command: CreateVm; readonly workload: VmWorkload }
  | { readonly _tag: "SetWorkload"; readonly vm: VmId; readonly workload: VmWorkload }
  | { readonly _tag: "Migrate"; readonly vm: VmId; readonly to: HostId; readonly policy: PolicyConfig | undefined }
  | { readonly _tag: "Write"; readonly vm: VmId; readonly record: RecordOf<"write"> }
  | { readonly _tag: "Evacuate"; readonly host: HostId }
  | { readonly _tag: "RollingMaintenance"; readonly hosts: ReadonlyArray<HostId>; readonly maintenanceUs: number }
  | { readonly _tag: "FailLink"; readonly host: HostId }
  /** A host fails: with HA on, noticed after the liveness timeout and followed by restarts (engine/ha.ts). */
  | { readonly _tag: "FailHost"; readonly host: HostId }
  /** HA on with ntol; the engine's liveness timeout when the record gives one. */
  | { readonly _tag: "EnableHa"; readonly hostFailuresToTolerate: number; readonly livenessTimeoutUs?: number }
  | { readonly _tag: "SetLinkPercent"; readonly host: HostId; readonly percent: number }

/** A record that is well-formed but wrong in context: the JSON path of the field and what was expected. */
export class TraceFailure {
  constructor(
    readonly path: string,
    readonly expected: string
  ) {}
}

interface VmSymbol {
  readonly declaredAt: string
  staticMaxPages: number
  targetPages: number
  pagesModel: boolean
  destroyed: boolean
}

const ENGINE_MIGRATION_ID = /^m[0-9]+$/

/** The ids declared so far, with what later records need to know of them. */
export class SymbolTable {
  private readonly hosts = new Map<string, string>()
  private readonly vms = new Map<string, VmSymbol>()
  /** Recorded migrations by id, with the VM each moves (as declared when it started). */
  private readonly migrations = new Map<string, VmSymbol>()
  /** Where the first engine-level `migrate` and the first recorded id shaped like the engine's were. */
  engineMigrateLine: number | undefined
  engineStyleIdLine: number | undefined

  constructor(header: CompiledHeader) {
    for (const command of header.setup) {
      if (command._tag === "JoinHost") this.hosts.set(command.host, "in the header")
      if (command._tag === "CreateVm") this.declareVm(command, header.workloads.get(command.vm), "in the header")
    }
  }

  host(field: string, id: string): HostId {
    if (!this.hosts.has(id))
      throw new TraceFailure(field, `a host declared in the header or by an earlier join-host record (no host '${id}')`)
    return hostId(id)
  }

  vm(field: string, id: string): VmSymbol {
    const vm = this.vms.get(id)
    if (vm === undefined)
      throw new TraceFailure(field, `a VM declared in the header or by an earlier create-vm record (no VM '${id}')`)
    return vm
  }

  joinHost(id: string, line: number): void {
    const declared = this.hosts.get(id)
    if (declared !== undefined) throw new TraceFailure("host", `a new host id (host '${id}' joined ${declared})`)
    this.hosts.set(id, `at line ${line}`)
  }

  createVm(command: CreateVm, workload: VmWorkload, line: number): void {
    const declared = this.vms.get(command.vm)
    if (declared !== undefined && !declared.destroyed)
      throw new TraceFailure("vm", `a new VM id (VM '${command.vm}' is declared ${declared.declaredAt})`)
    this.declareVm(command, workload, `at line ${line}`)
  }

  private declareVm(command: CreateVm, workload: VmWorkload | undefined, declaredAt: string): void {
    this.vms.set(command.vm, {
      declaredAt,
      staticMaxPages: command.memoryStaticMaxPages,
      targetPages: command.memoryTargetPages,
      pagesModel: workload?.model === "pages",
      destroyed: false
    })
  }

  startMigration(id: string, line: number, vm: VmSymbol): void {
    if (ENGINE_MIGRATION_ID.test(id)) this.engineStyleIdLine ??= line
    if (this.engineMigrateLine !== undefined && ENGINE_MIGRATION_ID.test(id))
      throw new TraceFailure(
        "migration",
        `a migration id not of the form m<N>: the engine names the migrations of migrate records m1, m2, … (line ${this.engineMigrateLine} has one)`
      )
    this.migrations.set(id, vm)
  }

  /** The VM a recorded migration moves. */
  migration(id: string): VmSymbol {
    const vm = this.migrations.get(id)
    if (vm === undefined)
      throw new TraceFailure(
        "migration",
        `a migration started by an earlier migration-started record (no migration '${id}')`
      )
    return vm
  }

  engineMigrate(line: number): void {
    if (this.engineStyleIdLine !== undefined)
      throw new TraceFailure(
        "op",
        `no migrate record in a trace whose recorded migrations have engine-style ids m<N> (line ${this.engineStyleIdLine}): rename those migrations`
      )
    this.engineMigrateLine ??= line
  }
}

// --- units and the scenario compiler ---------------------------------------------------------------

const unit = <A>(path: string, result: Either.Either<A, UnitError>): A => {
  if (Either.isLeft(result)) throw new TraceFailure(path, `${result.left.expected} (got '${result.left.input}')`)
  return result.right
}

const pagesOf = (header: CompiledHeader, path: string, size: string): number =>
  unit(path, parseSizePages(size, header.pageSizeBytes))

const decodeHostSpec = Schema.decodeUnknownSync(HostSpec)
const decodeVmSpec = Schema.decodeUnknownSync(VmSpec)

/** Compiles hosts or VMs written in a record exactly as a scenario would (defaults, units, workloads). */
const compileParts = (header: CompiledHeader, parts: Pick<Scenario, "hosts" | "vms">) => {
  const compiled = compileScenario(
    "trace",
    {
      format: "xenpool-scenario",
      version: 1,
      name: header.name,
      seed: header.seed,
      pool: { id: header.poolId, pageSize: header.pageSizeText, linkLatency: "0us" },
      policy: "xen",
      schedule: [],
      limits: { simulatedTime: "1us", events: 1 },
      ...parts
    },
    { vmsMustFit: "none", extensions: header.extensions }
  )
  // `hosts[0].memory` in the scenario is `memory` in the record.
  if (Either.isLeft(compiled))
    throw new TraceFailure(compiled.left.path.replace(/^(hosts|vms)\[0\]\./, ""), compiled.left.expected)
  return compiled.right
}

const compileVm = (header: CompiledHeader, spec: unknown): { command: CreateVm; workload: VmWorkload } => {
  const vm = decodeVmSpec(spec)
  const compiled = compileParts(header, { hosts: [], vms: [vm] })
  const command = compiled.setup.find((c): c is CreateVm => c._tag === "CreateVm")!
  return { command, workload: compiled.workloads.get(command.vm)! }
}

const policyOf = (
  spec: typeof PolicySpec.Type | undefined,
  extra: ReadonlyArray<PolicyDefinition>
): PolicyConfig | undefined => {
  if (spec === undefined) return undefined
  const name = typeof spec === "string" ? spec : spec.name
  if (findPolicy(name, extra) === undefined)
    throw new TraceFailure(
      typeof spec === "string" ? "policy" : "policy.name",
      expectedOneOf("policy", knownPolicyNames(extra), name)
    )
  const ignored = checkPolicyParameters(spec, extra)
  if (ignored !== undefined) throw new TraceFailure(ignored.path, ignored.expected)
  if (typeof spec === "string") return { name: spec }
  return {
    name: spec.name,
    ...(spec.maxDowntime === undefined
      ? {}
      : { maxDowntimeUs: unit("policy.maxDowntime", parseDurationUs(spec.maxDowntime)) }),
    ...(spec.roundsMax === undefined ? {} : { roundsMax: spec.roundsMax }),
    ...(spec.phases === undefined ? {} : { phases: spec.phases })
  }
}

// --- records -----------------------------------------------------------------------------------------

/** Checks a write's gfns against the VM's memory (static max: the address space the guest can touch). */
const checkPages = (record: RecordOf<"write"> | RecordOf<"access">, vm: VmSymbol): void => {
  const limit = vm.staticMaxPages
  const beyond = (gfn: number) => `a gfn below ${limit} (VM '${record.vm}' has ${limit} pages of memory), got ${gfn}`
  if (record.gfns !== undefined) {
    const gfns = record.gfns
    for (let i = 0; i < gfns.length; i++) if (gfns[i]! >= limit) throw new TraceFailure(`gfns[${i}]`, beyond(gfns[i]!))
  } else {
    const ranges = record.ranges!
    for (let i = 0; i < ranges.length; i++)
      if (ranges[i]![1] >= limit) throw new TraceFailure(`ranges[${i}][1]`, beyond(ranges[i]![1]))
  }
}

/** A write's or an access's gfns, in record order (ranges are inclusive). */
export function* recordGfns(record: RecordOf<"write"> | RecordOf<"access">): Generator<number> {
  if (record.gfns !== undefined) yield* record.gfns
  // Bounded: each range is checked against the VM's memory by `checkPages`.
  else for (const [first, last] of record.ranges!) for (let gfn = first; gfn <= last; gfn++) yield gfn
}

const write = (table: SymbolTable, record: RecordOf<"write">): TraceAction => {
  const vm = table.vm("vm", record.vm)
  if (!vm.pagesModel)
    throw new TraceFailure(
      "vm",
      `a VM whose workload is the pages model (VM '${record.vm}' has the rate model: give it a workload {"model":"pages","dirtyRate":"0B/s"})`
    )
  checkPages(record, vm)
  return { _tag: "Write", vm: vmId(record.vm), record }
}

const submit = (command: PoolCommand, operation: string): TraceAction => ({ _tag: "Submit", command, operation })

const joinHost = (header: CompiledHeader, table: SymbolTable, r: RecordOf<"join-host">, line: number): TraceAction => {
  const spec = decodeHostSpec({
    id: r.host,
    memory: r.memory,
    ...(r.overhead === undefined ? {} : { overhead: r.overhead }),
    ...(r.nic === undefined ? {} : { nic: r.nic }),
    ...(r.cpus === undefined ? {} : { cpus: r.cpus })
  })
  // Who before what: a host that joins twice is that, whatever else is wrong with the record.
  table.joinHost(r.host, line)
  const compiled = compileParts(header, { hosts: [spec], vms: [] })
  const command = compiled.setup.find((c): c is JoinHost => c._tag === "JoinHost")!
  return submit({ ...command, atUs: r.atUs }, `join ${r.host}`)
}

const createVm = (header: CompiledHeader, table: SymbolTable, r: RecordOf<"create-vm">, line: number): TraceAction => {
  const { command, workload } = compileVm(header, {
    id: r.vm,
    memory: r.memory,
    start: false,
    ...(r.vcpus === undefined ? {} : { vcpus: r.vcpus }),
    ...(r.workload === undefined ? {} : { workload: r.workload })
  })
  const created: CreateVm = {
    ...command,
    atUs: r.atUs,
    ...(r.overhead === undefined ? {} : { memoryOverheadPages: pagesOf(header, "overhead", r.overhead) }),
    ...(r.blockedOperations === undefined ? {} : { blockedOperations: r.blockedOperations })
  }
  table.createVm(created, workload, line)
  return { _tag: "CreateVm", command: created, workload }
}

const setWorkload = (header: CompiledHeader, table: SymbolTable, r: RecordOf<"set-workload">): TraceAction => {
  const vm = table.vm("vm", r.vm)
  const { workload } = compileVm(header, {
    id: r.vm,
    memory: `${vm.targetPages}pages`,
    start: false,
    workload: r.workload
  })
  vm.pagesModel = workload.model === "pages"
  return { _tag: "SetWorkload", vm: vmId(r.vm), workload }
}

const setMemoryTarget = (header: CompiledHeader, table: SymbolTable, r: RecordOf<"set-memory-target">): TraceAction => {
  const vm = table.vm("vm", r.vm)
  const targetPages = pagesOf(header, "target", r.target)
  vm.targetPages = targetPages
  return submit({ _tag: "SetMemoryTarget", atUs: r.atUs, vm: vmId(r.vm), targetPages }, `set memory target of ${r.vm}`)
}

const hostTags = {
  "enable-host": "EnableHost",
  "disable-host": "DisableHost",
  "recover-host": "RecoverHost"
} as const

const vmTags = {
  "pause-vm": "PauseVm",
  "unpause-vm": "UnpauseVm",
  "suspend-vm": "SuspendVm",
  "destroy-vm": "DestroyVm"
} as const

/**
 * A recorded round's numbers, where the record alone shows them impossible: the engine sends whole pages,
 * zero-page markers and the state (`bytesSent` is `pagesSent` × the page size + `zeroPages` × 9 +
 * `stateBytes`, an invariant of engine/migration/precopy.ts), and a round sends and skips at most the VM's
 * pages.
 */
const checkRound = (
  header: CompiledHeader,
  vm: VmSymbol,
  r: RecordOf<"migration-round-completed"> | RecordOf<"migration-round-interrupted">
): void => {
  const zeroPages = r.zeroPages ?? 0
  const stateBytes = r.stateBytes ?? 0
  const bytes = r.pagesSent * header.pageSizeBytes + zeroPages * QEMU_ZERO_PAGE_BYTES + stateBytes
  const terms =
    zeroPages === 0 && stateBytes === 0
      ? `pagesSent × the page size (${r.pagesSent} × ${header.pageSizeBytes} = ${bytes} bytes)`
      : `pagesSent × the page size + zeroPages × ${QEMU_ZERO_PAGE_BYTES} + stateBytes (${bytes} bytes)`
  // an interrupted round may have sent part of its last page: at most one page more than its whole ones
  const partial = r.op === "migration-round-interrupted"
  if (partial ? r.bytesSent < bytes || r.bytesSent >= bytes + header.pageSizeBytes : r.bytesSent !== bytes)
    throw new TraceFailure("bytesSent", `${partial ? "at least " : ""}${terms}, got ${r.bytesSent}`)
  if (r.pagesSent + r.pagesSkipped > vm.staticMaxPages)
    throw new TraceFailure(
      "pagesSent",
      `at most the VM's ${vm.staticMaxPages} pages (static max) sent and skipped in a round, got ${r.pagesSent + r.pagesSkipped}`
    )
}

/**
 * Recorded migration steps: the migration must have been started by a record; the command is the record,
 * which the pool must accept when it comes (replay.ts).
 */
const recordedMigrationStep = (
  header: CompiledHeader,
  table: SymbolTable,
  r: TraceRecord & { readonly migration: string },
  line: number
): TraceAction => {
  const vm = table.migration(r.migration)
  const migration = migrationId(r.migration)
  const asRecorded = (command: PoolCommand, operation: string): TraceAction => ({
    _tag: "Submit",
    command,
    operation,
    recorded: { line, op: r.op }
  })
  switch (r.op) {
    case "migration-round-completed":
      checkRound(header, vm, r)
      return asRecorded(
        {
          _tag: "CompleteMigrationRound",
          atUs: r.atUs,
          migration,
          round: r.round,
          live: r.live,
          pagesSent: r.pagesSent,
          pagesSkipped: r.pagesSkipped,
          bytesSent: r.bytesSent,
          pagesDirtied: r.pagesDirtied,
          durationUs: r.durationUs,
          zeroPages: r.zeroPages ?? 0,
          stateBytes: r.stateBytes ?? 0
        },
        `${r.op} ${r.migration} round ${r.round}`
      )
    case "migration-phase-completed":
      return asRecorded(
        { _tag: "CompleteMigrationPhase", atUs: r.atUs, migration, phase: r.phase, durationUs: r.durationUs },
        `${r.op} ${r.migration} ${r.phase}`
      )
    case "migration-round-interrupted":
      checkRound(header, vm, r)
      return asRecorded(
        {
          _tag: "InterruptMigrationRound",
          atUs: r.atUs,
          migration,
          round: r.round,
          live: r.live,
          pagesSent: r.pagesSent,
          pagesSkipped: r.pagesSkipped,
          zeroPages: r.zeroPages ?? 0,
          stateBytes: r.stateBytes ?? 0,
          bytesSent: r.bytesSent,
          durationUs: r.durationUs
        },
        `${r.op} ${r.migration} round ${r.round}`
      )
    case "migration-stop-and-copy":
      return asRecorded(
        { _tag: "BeginStopAndCopy", atUs: r.atUs, migration, reason: r.reason },
        `${r.op} ${r.migration}`
      )
    case "migration-committed":
      return asRecorded({ _tag: "CommitMigration", atUs: r.atUs, migration }, `${r.op} ${r.migration}`)
    case "migration-aborted":
      return asRecorded({ _tag: "AbortMigration", atUs: r.atUs, migration, reason: r.reason }, `${r.op} ${r.migration}`)
    default:
      throw new TraceFailure("op", `a migration step (got '${r.op}')`)
  }
}

/** A recorded pager or balloon step: the command whose event it is (docs/paging.md). */
const recordedStep = (
  table: SymbolTable,
  r: TraceRecord & { readonly vm: string },
  command: PoolCommand
): TraceAction => {
  table.vm("vm", r.vm)
  return { _tag: "Submit", command, operation: `${r.op} ${r.vm}`, recordedVm: vmId(r.vm) }
}

/**
 * Paging and ballooning (docs/paging.md). `set-paging-target`, `set-balloon-target` (the memory target the
 * balloon follows, as `set-memory-target`) and `access` are engine-level: the engine's pager and balloon
 * driver act on them. The step records (`pages-paged-out` … `balloon-deflated`) are recorded-level, as an
 * export writes them: each is the command whose event it is, and the first one read for a VM hands that
 * VM's paging and ballooning to the records (`MemoryManager.followRecords`).
 */
const pagingRecord = (header: CompiledHeader, table: SymbolTable, r: TraceRecord): TraceAction => {
  const at = { atUs: r.atUs }
  switch (r.op) {
    case "set-paging-target":
      table.vm("vm", r.vm)
      return submit(
        { _tag: "SetPagingTarget", ...at, vm: vmId(r.vm), targetPages: pagesOf(header, "target", r.target) },
        `${r.op} ${r.vm}`
      )
    case "set-balloon-target": {
      const vm = table.vm("vm", r.vm)
      const targetPages = pagesOf(header, "target", r.target)
      vm.targetPages = targetPages
      return submit({ _tag: "SetMemoryTarget", ...at, vm: vmId(r.vm), targetPages }, `${r.op} ${r.vm}`)
    }
    case "access": {
      const vm = table.vm("vm", r.vm)
      // `random` draws below the guest's pages when it happens; listed gfns are checked now.
      if (r.random === undefined) checkPages(r, vm)
      return { _tag: "Access", vm: vmId(r.vm), record: r }
    }
    case "pages-paged-out":
      return recordedStep(table, r, { _tag: "PageOut", ...at, vm: vmId(r.vm), pages: r.pages })
    case "pages-paged-in":
      return recordedStep(table, r, { _tag: "PageIn", ...at, vm: vmId(r.vm), pages: r.pages })
    case "page-faults-served":
      return recordedStep(table, r, {
        _tag: "ServePageFaults",
        ...at,
        vm: vmId(r.vm),
        faults: r.faults,
        vcpuWaitUs: r.vcpuWaitUs
      })
    case "balloon-inflated":
      return recordedStep(table, r, {
        _tag: "InflateBalloon",
        ...at,
        vm: vmId(r.vm),
        releasedPages: r.releasedPages,
        droppedPages: r.droppedPages
      })
    case "balloon-deflated":
      return recordedStep(table, r, { _tag: "DeflateBalloon", ...at, vm: vmId(r.vm), pages: r.pages })
    default:
      throw new TraceFailure("op", `a known record (got '${r.op}')`)
  }
}

/** What `record` (schema-valid, at `line`) asks of the replay; throws TraceFailure when it is wrong in context. */
export const resolveRecord = (
  header: CompiledHeader,
  table: SymbolTable,
  r: TraceRecord,
  line: number
): TraceAction => {
  if (pagingOps.has(r.op)) return pagingRecord(header, table, r)
  switch (r.op) {
    case "write":
      return write(table, r)
    case "join-host":
      return joinHost(header, table, r, line)
    case "fail-host":
      return r.declared === true
        ? submit({ _tag: "FailHost", atUs: r.atUs, host: table.host("host", r.host) }, `${r.op} ${r.host}`)
        : { _tag: "FailHost", host: table.host("host", r.host) }
    case "ha-restart-failed":
      table.vm("vm", r.vm)
      return submit(
        {
          _tag: "RecordHaRestartFailure",
          atUs: r.atUs,
          vm: vmId(r.vm),
          reason: r.reason,
          ...(r.retryAtUs === undefined ? {} : { retryAtUs: r.retryAtUs })
        },
        `${r.op} ${r.vm}`
      )
    case "enable-ha":
      return {
        _tag: "EnableHa",
        hostFailuresToTolerate: r.hostFailuresToTolerate,
        ...(r.livenessTimeout === undefined
          ? {}
          : { livenessTimeoutUs: unit("livenessTimeout", parseDurationUs(r.livenessTimeout)) })
      }
    case "disable-ha":
      return submit({ _tag: "DisableHa", atUs: r.atUs }, r.op)
    case "set-ha-failures-to-tolerate":
      return submit(
        { _tag: "SetHaFailuresToTolerate", atUs: r.atUs, hostFailuresToTolerate: r.hostFailuresToTolerate },
        `${r.op} ${r.hostFailuresToTolerate}`
      )
    case "set-vm-ha":
      table.vm("vm", r.vm)
      return submit(
        {
          _tag: "SetVmHa",
          atUs: r.atUs,
          vm: vmId(r.vm),
          restartPriority: r.restartPriority,
          order: r.order ?? 0,
          alwaysRun: r.alwaysRun ?? r.restartPriority === "restart"
        },
        `${r.op} ${r.vm}`
      )
    case "enable-host":
    case "disable-host":
    case "recover-host":
      return submit({ _tag: hostTags[r.op], atUs: r.atUs, host: table.host("host", r.host) }, `${r.op} ${r.host}`)
    case "evacuate":
      return { _tag: "Evacuate", host: table.host("host", r.host) }
    case "rolling-maintenance":
      return {
        _tag: "RollingMaintenance",
        hosts: r.hosts.map((host, k) => table.host(`hosts[${k}]`, host)),
        maintenanceUs: unit("maintenance", parseDurationUs(r.maintenance ?? MAINTENANCE_DEFAULT))
      }
    case "create-vm":
      return createVm(header, table, r, line)
    case "start-vm":
    case "resume-vm": {
      table.vm("vm", r.vm)
      const host = r.host === undefined ? {} : { host: table.host("host", r.host) }
      const paused = r.op === "start-vm" && r.paused !== undefined ? { paused: r.paused } : {}
      const tag = r.op === "start-vm" ? "StartVm" : "ResumeVm"
      return submit({ _tag: tag, atUs: r.atUs, vm: vmId(r.vm), ...host, ...paused }, `${r.op} ${r.vm}`)
    }
    case "pause-vm":
    case "unpause-vm":
    case "suspend-vm":
    case "destroy-vm": {
      const vm = table.vm("vm", r.vm)
      if (r.op === "destroy-vm") vm.destroyed = true
      return submit({ _tag: vmTags[r.op], atUs: r.atUs, vm: vmId(r.vm) }, `${r.op} ${r.vm}`)
    }
    case "shutdown-vm":
      table.vm("vm", r.vm)
      return submit(
        { _tag: "ShutdownVm", atUs: r.atUs, vm: vmId(r.vm), mode: r.hard === true ? "hard" : "clean" },
        `${r.op} ${r.vm}`
      )
    case "set-memory-target":
      return setMemoryTarget(header, table, r)
    case "set-workload":
      return setWorkload(header, table, r)
    case "migrate":
      table.vm("vm", r.vm)
      table.engineMigrate(line)
      return {
        _tag: "Migrate",
        vm: vmId(r.vm),
        to: table.host("to", r.to),
        policy: policyOf(r.policy, header.extensions.policies ?? [])
      }
    case "migration-started": {
      const vm = table.vm("vm", r.vm)
      const destination = table.host("to", r.to)
      table.startMigration(r.migration, line, vm)
      return {
        _tag: "Submit",
        command: {
          _tag: "StartMigration",
          atUs: r.atUs,
          migration: migrationId(r.migration),
          vm: vmId(r.vm),
          destination,
          policy: r.policy
        },
        operation: `${r.op} ${r.migration}`,
        recorded: { line, op: r.op }
      }
    }
    case "migration-round-completed":
    case "migration-phase-completed":
    case "migration-round-interrupted":
    case "migration-stop-and-copy":
    case "migration-committed":
    case "migration-aborted":
      return recordedMigrationStep(header, table, r, line)
    case "fail-link":
      return { _tag: "FailLink", host: table.host("host", r.host) }
    case "restore-link":
      return { _tag: "SetLinkPercent", host: table.host("host", r.host), percent: 100 }
    case "slow-link":
      return { _tag: "SetLinkPercent", host: table.host("host", r.host), percent: r.percent }
    default:
      return pagingRecord(header, table, r)
  }
}
