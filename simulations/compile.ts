/**
 * Turns a parsed scenario into what the engine runs: setup commands in pages, per-VM workloads in
 * bytes/s and pages, and a schedule in µs. Every unit error is reported with the JSON path it came from.
 */
import { Either } from "effect"
import type { CreateVm, JoinHost, PoolCommand } from "../domain/commands.js"
import { hostId, poolId, vmId, type HostId, type PoolId, type VmId } from "../domain/ids.js"
import { defaultVmOverheadPages } from "../domain/memory.js"
import {
  parseDurationUs,
  parsePercent,
  parseRateBytesPerS,
  parseSizeBytes,
  parseSizePages,
  type UnitError
} from "../domain/units.js"
import type { PolicyConfig, VmWorkload } from "../engine/config.js"
import {
  inputError,
  type InputError,
  type Scenario,
  type ScheduleItem,
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
  readonly schedule: ReadonlyArray<TimedItem>
  readonly simulatedUsMax: number
  readonly eventsMax: number
  readonly hostIds: ReadonlyArray<HostId>
  /** VMs with a load series (simulations/load.ts); absent or empty when none has one. */
  readonly loads?: ReadonlyMap<VmId, CompiledLoad>
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

const expand = <T extends { readonly id: string; readonly count?: number | undefined }>(
  specs: ReadonlyArray<T>
): ReadonlyArray<{ readonly spec: T; readonly index: number; readonly id: string }> =>
  specs.flatMap((spec, index) =>
    spec.count === undefined
      ? [{ spec, index, id: spec.id }]
      : Array.from({ length: spec.count }, (_, k) => ({ spec, index, id: `${spec.id}${k + 1}` }))
  )

const vmMemoryPages = (source: string, path: string, spec: VmSpec, pageSizeBytes: number) => {
  const pages = (field: string, text: string) => unit(source, `${path}.${field}`, parseSizePages(text, pageSizeBytes))
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
  pageSizeBytes: number
): VmWorkload => {
  if (!workload) return { model: "rate", writer: "uniform", dirtyRateBytesPerS: 0, workingSetPages: memoryPages }
  const dirtyRateBytesPerS = unit(source, `${path}.dirtyRate`, parseRateBytesPerS(workload.dirtyRate, pageSizeBytes))
  const ws = workload.workingSet
  const workingSetPages =
    ws === undefined
      ? memoryPages
      : ws.trim().endsWith("%")
        ? Math.floor((memoryPages * unit(source, `${path}.workingSet`, parsePercent(ws))) / 100)
        : unit(source, `${path}.workingSet`, parseSizePages(ws, pageSizeBytes))
  if (workingSetPages > memoryPages) {
    throw new CompileFailure(inputError(source, `${path}.workingSet`, `at most the VM's memory (${memoryPages} pages)`))
  }
  return {
    model: workload.model,
    writer: workload.model === "pages" ? workload.writer : "uniform",
    dirtyRateBytesPerS,
    workingSetPages
  }
}

const policyOf = (source: string, spec: Scenario["policy"]): PolicyConfig => {
  if (typeof spec === "string") return { name: spec }
  const maxDowntimeUs = spec.maxDowntime
    ? unit(source, "policy.maxDowntime", parseDurationUs(spec.maxDowntime))
    : undefined
  return {
    name: spec.name,
    ...(maxDowntimeUs === undefined ? {} : { maxDowntimeUs }),
    ...(spec.roundsMax === undefined ? {} : { roundsMax: spec.roundsMax })
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
}

const compileUnsafe = (
  source: string,
  scenario: Scenario,
  seedOverride?: number,
  poolOverride?: string
): CompiledScenario => {
  const pageSizeBytes = unit(source, "pool.pageSize", parseSizeBytes(scenario.pool.pageSize))
  const pool = poolId(poolOverride ?? scenario.pool.id)
  const setup: PoolCommand[] = [
    {
      _tag: "CreatePool",
      atUs: 0,
      pool,
      pageSizeBytes,
      linkLatencyUs: unit(source, "pool.linkLatency", parseDurationUs(scenario.pool.linkLatency))
    }
  ]
  const hostIds: HostId[] = []
  for (const { spec, index, id } of expand(scenario.hosts)) {
    const path = `hosts[${index}]`
    const join: JoinHost = {
      _tag: "JoinHost",
      atUs: 0,
      host: hostId(id),
      memoryTotalPages: unit(source, `${path}.memory`, parseSizePages(spec.memory, pageSizeBytes)),
      memoryOverheadPages: unit(source, `${path}.overhead`, parseSizePages(spec.overhead, pageSizeBytes)),
      nicBandwidthBytesPerS: unit(source, `${path}.nic`, parseRateBytesPerS(spec.nic, pageSizeBytes)),
      cpus: spec.cpus
    }
    setup.push(join)
    hostIds.push(join.host)
  }
  const workloads = new Map<VmId, VmWorkload>()
  const loads = new Map<VmId, CompiledLoad>()
  const starts: PoolCommand[] = []
  for (const { spec, index, id } of expand(scenario.vms)) {
    const path = `vms[${index}]`
    const m = vmMemoryPages(source, path, spec, pageSizeBytes)
    const vm = vmId(id)
    const create: CreateVm = {
      _tag: "CreateVm",
      atUs: 0,
      vm,
      vcpus: spec.vcpus,
      memoryStaticMinPages: m.staticMin,
      memoryDynamicMinPages: m.dynamicMin,
      memoryTargetPages: m.target,
      memoryDynamicMaxPages: m.dynamicMax,
      memoryStaticMaxPages: m.staticMax,
      memoryOverheadPages: defaultVmOverheadPages(spec.vcpus, m.staticMax)
    }
    setup.push(create)
    workloads.set(vm, workloadOf(source, `${path}.workload`, spec.workload, m.target, pageSizeBytes))
    if (spec.load) {
      const load = compileLoad(spec.load, workloads.get(vm)!, pageSizeBytes)
      loads.set(vm, load)
      workloads.set(vm, initialWorkload(load))
    }
    if (spec.start) starts.push({ _tag: "StartVm", atUs: 0, vm, ...(spec.host ? { host: hostId(spec.host) } : {}) })
  }
  // a loop, not push(...starts): a spread of more than about 120,000 arguments overflows the stack
  for (const start of starts) setup.push(start)
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
  scenario.schedule.forEach((item, index) => {
    if (item.op !== "consolidate") return
    const params = consolidationParams(item, loads)
    if (Either.isLeft(params))
      throw new CompileFailure(inputError(source, `schedule[${index}].${params.left.field}`, params.left.expected))
  })
  const schedule = scenario.schedule
    .map((item, index) => ({ atUs: unit(source, `schedule[${index}].at`, parseDurationUs(item.at)), index, item }))
    .sort((a, b) => a.atUs - b.atUs || a.index - b.index)
  return {
    name: scenario.name,
    seed: seedOverride ?? scenario.seed,
    pool,
    pageSizeBytes,
    setup,
    workloads,
    policy: policyOf(source, scenario.policy),
    schedule,
    simulatedUsMax: unit(source, "limits.simulatedTime", parseDurationUs(scenario.limits.simulatedTime)),
    eventsMax: scenario.limits.events,
    hostIds,
    loads
  }
}

export const compileScenario = (
  source: string,
  scenario: Scenario,
  options: { readonly seed?: number; readonly pool?: string } = {}
): Either.Either<CompiledScenario, InputError> => {
  try {
    return Either.right(compileUnsafe(source, scenario, options.seed, options.pool))
  } catch (error) {
    if (error instanceof CompileFailure) return Either.left(error.error)
    throw error
  }
}
