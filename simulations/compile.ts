/**
 * Turns a parsed scenario into what the engine runs: setup commands in pages, per-VM workloads in
 * bytes/s and pages, and a schedule in µs. Every unit error is reported with the JSON path it came from.
 */
import { defaultConsolidationController, type ConsolidationController } from "../engine/consolidation/index.js"
import { allControllers, expectedOneOf, type Extensions } from "./extensions.js"
import { Either } from "effect"
import type { CreateVm, JoinHost, PoolCommand } from "../domain/commands.js"
import {
  hostId,
  idExpected,
  isId,
  poolId,
  quoteId,
  vmId,
  type HostId,
  type IdKind,
  type PoolId,
  type VmId
} from "../domain/ids.js"
import { defaultVmOverheadPages, fitsEmptyHost, hostOverheadProblem } from "../domain/memory.js"
import {
  parseDurationUs,
  parsePercent,
  parseRateBytesPerS,
  parseSizeBytes,
  parseSizePages,
  type UnitError
} from "../domain/units.js"
import type { PolicyConfig, VmWorkload } from "../engine/config.js"
import type { PolicyDefinition, PolicyParameter } from "../engine/migration/policy.js"
import { findPolicy, ignoredParameter, knownPolicyNames } from "../engine/migration/policies/index.js"
import { DEFAULT_WRITER, findWriter, knownWriterNames, type WriterDefinition } from "../engine/migration/writers.js"
import { DEFAULT_PLACEMENT, findPlacement, knownPlacementNames, type Placement } from "../domain/placement/index.js"
import {
  inputError,
  type InputError,
  type Scenario,
  type ScheduleItem,
  type VmHaSpec,
  type VmSpec,
  type Workload
} from "./scenario.js"
import { compileLoad, consolidationParams, initialWorkload, type CompiledLoad } from "./load.js"
import { checkMemoryItem, isMemoryItem, staticMaxByVm } from "./memoryOps.js"

export interface TimedItem {
  readonly atUs: number
  readonly index: number
  readonly item: ScheduleItem
}

export interface CompiledScenario {
  readonly name: string
  readonly seed: number
  readonly pool: PoolId
  readonly pageSizeBytes: number
  readonly setup: ReadonlyArray<PoolCommand>
  readonly workloads: ReadonlyMap<VmId, VmWorkload>
  readonly policy: PolicyConfig
  /** Where VMs started without a host go and where evacuations send them. */
  readonly placement: Placement
  readonly schedule: ReadonlyArray<TimedItem>
  readonly simulatedUsMax: number
  readonly eventsMax: number
  readonly hostIds: ReadonlyArray<HostId>
  /** VMs with a load series (simulations/load.ts); absent or empty when none has one. */
  readonly loads?: ReadonlyMap<VmId, CompiledLoad>
  /** Policies of the run's own (extensions) its `policy` may name, besides the built-ins. */
  readonly policies?: ReadonlyArray<PolicyDefinition>
  /** The controller of each `consolidate` operation, by its index in the scenario's schedule. */
  readonly controllers?: ReadonlyMap<number, ConsolidationController>
  /** Page writers of the run's own (extensions) its workloads may name, besides the built-ins. */
  readonly writers?: ReadonlyArray<WriterDefinition>
  /** HA's liveness timeout when the scenario sets one (engine/ha.ts has the default). */
  readonly haLivenessTimeoutUs?: number
}

class CompileFailure {
  constructor(readonly error: InputError) {}
}

/** Unwraps a unit parse or throws a CompileFailure naming the path; caught once in `compileScenario`. */
const unit = <A>(source: string, path: string, result: Either.Either<A, UnitError>): A => {
  if (Either.isLeft(result))
    throw new CompileFailure(inputError(source, path, `${result.left.expected} (got '${result.left.input}')`))
  return result.right
}

/**
 * Each spec's ids (`count` expands a prefix: `h` → `h1` … `hN`), checked against the id grammar (a prefix
 * that is valid can still make an id too long) and against each other: one id, one host or VM.
 */
const expand = <T extends { readonly id: string; readonly count?: number | undefined }>(
  source: string,
  list: "hosts" | "vms",
  specs: ReadonlyArray<T>
): ReadonlyArray<{ readonly spec: T; readonly index: number; readonly id: string }> => {
  const kind: IdKind = list === "hosts" ? "host" : "VM"
  const declaredBy = new Map<string, number>()
  return specs.flatMap((spec, index) => {
    const ids =
      spec.count === undefined ? [spec.id] : Array.from({ length: spec.count }, (_, k) => `${spec.id}${k + 1}`)
    const path = `${list}[${index}].id`
    const last = ids[ids.length - 1]!
    if (!isId(last))
      throw new CompileFailure(
        inputError(
          source,
          path,
          `${idExpected(kind)}; with count ${spec.count} the last id, ${quoteId(last)}, is ${last.length} characters`
        )
      )
    for (const id of ids) {
      const before = declaredBy.get(id)
      if (before !== undefined)
        throw new CompileFailure(
          inputError(source, path, `a ${kind} id not used by another ${kind} (${list}[${before}] declares '${id}')`)
        )
      declaredBy.set(id, index)
    }
    return ids.map((id) => ({ spec, index, id }))
  })
}

/** A size that must hold at least one page (a host's or a VM's memory). */
const pagesAtLeastOne = (source: string, path: string, text: string, pageSizeBytes: number): number => {
  const pages = unit(source, path, parseSizePages(text, pageSizeBytes))
  if (pages < 1) throw new CompileFailure(inputError(source, path, `at least one page (got '${text}')`))
  return pages
}

const vmMemoryPages = (source: string, path: string, spec: VmSpec, pageSizeBytes: number) => {
  const pages = (field: string, text: string) => pagesAtLeastOne(source, `${path}.${field}`, text, pageSizeBytes)
  if (typeof spec.memory === "string") {
    const all = pages("memory", spec.memory)
    return { staticMin: all, dynamicMin: all, target: all, dynamicMax: all, staticMax: all }
  }
  const m = spec.memory
  const target = pages("memory.target", m.target)
  const dynamicMax = m.dynamicMax ? pages("memory.dynamicMax", m.dynamicMax) : target
  const staticMax = m.staticMax ? pages("memory.staticMax", m.staticMax) : dynamicMax
  const dynamicMin = m.dynamicMin ? pages("memory.dynamicMin", m.dynamicMin) : target
  const staticMin = m.staticMin ? pages("memory.staticMin", m.staticMin) : Math.min(dynamicMin, target)
  return { staticMin, dynamicMin, target, dynamicMax, staticMax }
}

const workloadOf = (
  source: string,
  path: string,
  workload: Workload | undefined,
  memoryPages: number,
  pageSizeBytes: number,
  writers: ReadonlyArray<WriterDefinition>
): VmWorkload => {
  if (!workload) return { model: "rate", writer: DEFAULT_WRITER, dirtyRateBytesPerS: 0, workingSetPages: memoryPages }
  if (workload.model === "pages" && findWriter(workload.writer, writers) === undefined)
    throw new CompileFailure(
      inputError(source, `${path}.writer`, expectedOneOf("page writer", knownWriterNames(writers), workload.writer))
    )
  const dirtyRateBytesPerS = unit(source, `${path}.dirtyRate`, parseRateBytesPerS(workload.dirtyRate, pageSizeBytes))
  const shareOrSize = (field: string, text: string) =>
    text.trim().endsWith("%")
      ? Math.floor((memoryPages * unit(source, `${path}.${field}`, parsePercent(text))) / 100)
      : unit(source, `${path}.${field}`, parseSizePages(text, pageSizeBytes))
  const untouchedPages = workload.untouched === undefined ? 0 : shareOrSize("untouched", workload.untouched)
  if (untouchedPages > memoryPages) {
    throw new CompileFailure(inputError(source, `${path}.untouched`, `at most the VM's memory (${memoryPages} pages)`))
  }
  if (untouchedPages > 0 && workload.model === "pages") {
    throw new CompileFailure(
      inputError(
        source,
        `${path}.untouched`,
        "no untouched share with the pages model: zero pages are modelled by the rate model only"
      )
    )
  }
  const ws = workload.workingSet
  const workingSetPages = ws === undefined ? memoryPages - untouchedPages : shareOrSize("workingSet", ws)
  if (workingSetPages > memoryPages - untouchedPages) {
    throw new CompileFailure(
      inputError(
        source,
        `${path}.workingSet`,
        untouchedPages === 0
          ? `at most the VM's memory (${memoryPages} pages)`
          : `at most the VM's memory less its untouched pages (${memoryPages} - ${untouchedPages} pages): a written page is touched`
      )
    )
  }
  const stateBytes =
    workload.state === undefined
      ? undefined
      : unit(source, `${path}.state`, parseSizeBytes(workload.state, pageSizeBytes))
  return {
    model: workload.model,
    writer: workload.model === "pages" ? workload.writer : DEFAULT_WRITER,
    dirtyRateBytesPerS,
    workingSetPages,
    ...(untouchedPages > 0 ? { untouchedPages } : {}),
    ...(stateBytes === undefined ? {} : { stateBytes })
  }
}

/** A policy spec's options: each one the policy reads (engine/migration/policy.ts), with its unit. */
export const checkPolicyParameters = (
  spec: Scenario["policy"],
  extra: ReadonlyArray<PolicyDefinition> = []
): { readonly path: string; readonly expected: string } | undefined => {
  if (typeof spec === "string") return undefined
  for (const parameter of ["maxDowntime", "roundsMax"] as const satisfies ReadonlyArray<PolicyParameter>) {
    if (spec[parameter] === undefined) continue
    const problem = ignoredParameter(spec.name, parameter, undefined, extra)
    if (problem !== undefined) return { path: `policy.${parameter}`, expected: problem }
  }
  return undefined
}

const placementOf = (source: string, name: string | undefined, extensions: Extensions = {}): Placement => {
  const extra = extensions.placements ?? []
  const wanted = name ?? DEFAULT_PLACEMENT
  const placement = findPlacement(wanted, extra)
  if (placement === undefined)
    throw new CompileFailure(
      inputError(source, "placement", expectedOneOf("placement", knownPlacementNames(extra), wanted))
    )
  return placement
}

const policyOf = (source: string, spec: Scenario["policy"], extensions: Extensions = {}): PolicyConfig => {
  const name = typeof spec === "string" ? spec : spec.name
  const extra = extensions.policies ?? []
  if (findPolicy(name, extra) === undefined)
    throw new CompileFailure(
      inputError(
        source,
        typeof spec === "string" ? "policy" : "policy.name",
        expectedOneOf("policy", knownPolicyNames(extra), name)
      )
    )
  const ignored = checkPolicyParameters(spec, extra)
  if (ignored !== undefined) throw new CompileFailure(inputError(source, ignored.path, ignored.expected))
  if (typeof spec === "string") return { name: spec }
  const maxDowntimeUs = spec.maxDowntime
    ? unit(source, "policy.maxDowntime", parseDurationUs(spec.maxDowntime))
    : undefined
  return {
    name: spec.name,
    ...(maxDowntimeUs === undefined ? {} : { maxDowntimeUs }),
    ...(spec.roundsMax === undefined ? {} : { roundsMax: spec.roundsMax }),
    ...(spec.phases === undefined ? {} : { phases: spec.phases })
  }
}

/** Every id a schedule item names must be declared; sizes in it must parse. */
const checkReferences = (
  source: string,
  index: number,
  item: ScheduleItem,
  vms: ReadonlySet<string>,
  hosts: ReadonlySet<string>,
  pageSizeBytes: number
): void => {
  const path = `schedule[${index}]`
  const need = (field: string, id: string | undefined, known: ReadonlySet<string>, what: string) => {
    if (id !== undefined && !known.has(id)) {
      throw new CompileFailure(
        inputError(source, `${path}.${field}`, `a ${what} of this scenario (no ${what} '${id}')`)
      )
    }
  }
  if ("vm" in item) need("vm", item.vm, vms, "VM")
  if ("host" in item) need("host", item.host, hosts, "host")
  if ("to" in item) need("to", item.to, hosts, "host")
  if (item.op === "rolling-maintenance") item.hosts?.forEach((h, k) => need(`hosts[${k}]`, h, hosts, "host"))
  if (item.op === "set-memory-target") unit(source, `${path}.target`, parseSizePages(item.target, pageSizeBytes))
  if (item.op === "enable-ha" && item.livenessTimeout !== undefined)
    unit(source, `${path}.livenessTimeout`, parseDurationUs(item.livenessTimeout))
}

/** A VM's HA settings as the command that sets them (`alwaysRun` defaults to "priority is restart"). */
export const setVmHa = (atUs: number, vm: VmId, spec: VmHaSpec): PoolCommand => ({
  _tag: "SetVmHa",
  atUs,
  vm,
  restartPriority: spec.restartPriority,
  order: spec.order ?? 0,
  alwaysRun: spec.alwaysRun ?? spec.restartPriority === "restart"
})

/** Which VMs must fit some host of the pool when it is empty (compileScenario's `vmsMustFit`). */
type VmsMustFit = "all" | "started" | "none"

const compileHost = (
  source: string,
  index: number,
  id: string,
  spec: Scenario["hosts"][number],
  pageSizeBytes: number
): JoinHost => {
  const path = `hosts[${index}]`
  const memoryTotalPages = pagesAtLeastOne(source, `${path}.memory`, spec.memory, pageSizeBytes)
  const memoryOverheadPages = unit(source, `${path}.overhead`, parseSizePages(spec.overhead, pageSizeBytes))
  const overhead = hostOverheadProblem(memoryTotalPages, memoryOverheadPages)
  if (overhead !== undefined)
    throw new CompileFailure(inputError(source, `${path}.overhead`, `${overhead} (got ${memoryOverheadPages} pages)`))
  const nicBandwidthBytesPerS = unit(source, `${path}.nic`, parseRateBytesPerS(spec.nic, pageSizeBytes))
  if (nicBandwidthBytesPerS < 1)
    throw new CompileFailure(inputError(source, `${path}.nic`, `a positive rate (got '${spec.nic}')`))
  return {
    _tag: "JoinHost",
    atUs: 0,
    host: hostId(id),
    memoryTotalPages,
    memoryOverheadPages,
    nicBandwidthBytesPerS,
    cpus: spec.cpus
  }
}

const compileVm = (source: string, index: number, id: string, spec: VmSpec, pageSizeBytes: number): CreateVm => {
  const m = vmMemoryPages(source, `vms[${index}]`, spec, pageSizeBytes)
  return {
    _tag: "CreateVm",
    atUs: 0,
    vm: vmId(id),
    vcpus: spec.vcpus,
    memoryStaticMinPages: m.staticMin,
    memoryDynamicMinPages: m.dynamicMin,
    memoryTargetPages: m.target,
    memoryDynamicMaxPages: m.dynamicMax,
    memoryStaticMaxPages: m.staticMax,
    memoryOverheadPages: defaultVmOverheadPages(spec.vcpus, m.staticMax)
  }
}

/**
 * A VM that fits no host even when the pool is empty can never run: its every start is refused. Where
 * the hosts are all known (a scenario), that is a mistake in the input, not a story: refused here.
 */
const checkFits = (source: string, index: number, create: CreateVm, hosts: ReadonlyArray<JoinHost>): void => {
  const vm = { dynamicMinPages: create.memoryDynamicMinPages, overheadPages: create.memoryOverheadPages ?? 0 }
  if (hosts.some((host) => fitsEmptyHost(host, vm))) return
  const needs = vm.dynamicMinPages + vm.overheadPages
  const room = Math.max(0, ...hosts.map((h) => h.memoryTotalPages - h.memoryOverheadPages))
  const hostsSay = hosts.length === 0 ? "the pool has no hosts" : `the roomiest host has ${room} pages free when empty`
  throw new CompileFailure(
    inputError(
      source,
      `vms[${index}].memory`,
      `a VM that fits on some host of the pool when it is empty: it needs ${needs} pages (dynamic min + overhead), ${hostsSay}`
    )
  )
}

const compileUnsafe = (source: string, scenario: Scenario, options: CompileOptions): CompiledScenario => {
  const pageSizeBytes = unit(source, "pool.pageSize", parseSizeBytes(scenario.pool.pageSize))
  if (pageSizeBytes < 1)
    throw new CompileFailure(inputError(source, "pool.pageSize", `a positive size (got '${scenario.pool.pageSize}')`))
  const pool = poolId(options.pool ?? scenario.pool.id)
  const setup: PoolCommand[] = [
    {
      _tag: "CreatePool",
      atUs: 0,
      pool,
      pageSizeBytes,
      linkLatencyUs: unit(source, "pool.linkLatency", parseDurationUs(scenario.pool.linkLatency))
    }
  ]
  const joins = expand(source, "hosts", scenario.hosts).map(({ spec, index, id }) =>
    compileHost(source, index, id, spec, pageSizeBytes)
  )
  setup.push(...joins)
  const hostIds: HostId[] = joins.map((join) => join.host)
  const workloads = new Map<VmId, VmWorkload>()
  const loads = new Map<VmId, CompiledLoad>()
  const starts: PoolCommand[] = []
  const haSettings: PoolCommand[] = []
  const mustFit = options.vmsMustFit ?? "all"
  const writers = options.extensions?.writers ?? []
  for (const { spec, index, id } of expand(source, "vms", scenario.vms)) {
    const path = `vms[${index}]`
    const create = compileVm(source, index, id, spec, pageSizeBytes)
    const vm = create.vm
    if (mustFit === "all" || (mustFit === "started" && spec.start)) checkFits(source, index, create, joins)
    setup.push(create)
    workloads.set(
      vm,
      workloadOf(source, `${path}.workload`, spec.workload, create.memoryTargetPages, pageSizeBytes, writers)
    )
    if (spec.load) {
      const load = compileLoad(spec.load, workloads.get(vm)!, pageSizeBytes)
      loads.set(vm, load)
      workloads.set(vm, initialWorkload(load))
    }
    if (spec.ha !== undefined) haSettings.push(setVmHa(0, vm, spec.ha))
    if (spec.start) starts.push({ _tag: "StartVm", atUs: 0, vm, ...(spec.host ? { host: hostId(spec.host) } : {}) })
  }
  // a loop, not push(...starts): a spread of more than about 120,000 arguments overflows the stack
  for (const setting of haSettings) setup.push(setting)
  for (const start of starts) setup.push(start)
  const poolHa = scenario.pool.ha
  if (poolHa !== undefined)
    setup.push({ _tag: "EnableHa", atUs: 0, hostFailuresToTolerate: poolHa.hostFailuresToTolerate })
  const knownVms = new Set<string>(workloads.keys())
  const knownHosts = new Set<string>(hostIds)
  for (const [index, vm] of scenario.vms.entries()) {
    if (vm.host !== undefined && !knownHosts.has(vm.host)) {
      throw new CompileFailure(
        inputError(source, `vms[${index}].host`, `a host of this scenario (no host '${vm.host}')`)
      )
    }
  }
  scenario.schedule.forEach((item, index) => checkReferences(source, index, item, knownVms, knownHosts, pageSizeBytes))
  const staticMax = staticMaxByVm(setup)
  scenario.schedule.forEach((item, index) => {
    if (!isMemoryItem(item)) return
    const error = checkMemoryItem(source, `schedule[${index}]`, item, staticMax.get(vmId(item.vm)) ?? 0, pageSizeBytes)
    if (error) throw new CompileFailure(error)
  })
  const controllers = new Map<number, ConsolidationController>()
  const known = allControllers(options.extensions)
  scenario.schedule.forEach((item, index) => {
    if (item.op !== "consolidate") return
    const params = consolidationParams(item, loads)
    if (Either.isLeft(params))
      throw new CompileFailure(inputError(source, `schedule[${index}].${params.left.field}`, params.left.expected))
    const name = item.controller ?? defaultConsolidationController.name
    const controller = known.find((c) => c.name === name)
    if (controller === undefined)
      throw new CompileFailure(
        inputError(
          source,
          `schedule[${index}].controller`,
          expectedOneOf(
            "controller",
            known.map((c) => c.name),
            name
          )
        )
      )
    controllers.set(index, controller)
  })
  const schedule = scenario.schedule
    .map((item, index) => ({ atUs: unit(source, `schedule[${index}].at`, parseDurationUs(item.at)), index, item }))
    .sort((a, b) => a.atUs - b.atUs || a.index - b.index)
  return {
    name: scenario.name,
    seed: options.seed ?? scenario.seed,
    pool,
    pageSizeBytes,
    setup,
    workloads,
    policy: policyOf(source, scenario.policy, options.extensions),
    placement: placementOf(source, scenario.placement, options.extensions),
    schedule,
    simulatedUsMax: unit(source, "limits.simulatedTime", parseDurationUs(scenario.limits.simulatedTime)),
    eventsMax: scenario.limits.events,
    hostIds,
    loads,
    controllers,
    ...(options.extensions?.policies === undefined ? {} : { policies: options.extensions.policies }),
    ...(options.extensions?.writers === undefined ? {} : { writers: options.extensions.writers }),
    ...(scenario.pool.ha?.livenessTimeout === undefined
      ? {}
      : {
          haLivenessTimeoutUs: unit(
            source,
            "pool.ha.livenessTimeout",
            parseDurationUs(scenario.pool.ha.livenessTimeout)
          )
        })
  }
}

export interface CompileOptions {
  readonly seed?: number
  readonly pool?: string
  /**
   * Which VMs must fit some host when the pool is empty: `all` (default) where the hosts are all known,
   * as in a scenario; `started` for a trace header, whose VMs started at time 0 can only go to the
   * header's hosts while later records may add hosts for the others; `none` for a trace record's VM.
   */
  readonly vmsMustFit?: VmsMustFit
  /** The user's own extensions a scenario may name (simulations/extensions.ts). */
  readonly extensions?: Extensions
}

export const compileScenario = (
  source: string,
  scenario: Scenario,
  options: CompileOptions = {}
): Either.Either<CompiledScenario, InputError> => {
  try {
    return Either.right(compileUnsafe(source, scenario, options))
  } catch (error) {
    if (error instanceof CompileFailure) return Either.left(error.error)
    throw error
  }
}
