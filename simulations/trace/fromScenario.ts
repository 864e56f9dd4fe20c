/**
 * A scenario as a trace (docs/trace-format.md, "From a scenario"): the header carries the scenario's
 * pool, hosts, VMs, seed, policy and limits, and each schedule entry becomes one engine-level record at
 * its time (`migrate`, `evacuate`, `fail-link`, `access`, ...), in the order the scenario runs them. So
 * `xenpool replay` runs the engine on the same inputs as `xenpool simulate` and, with the scenario's pool
 * id and seed, gives the same events, ids included; an engine bug the scenario shows, the trace shows too.
 * (Exporting the event log instead, `fromLog.ts`, would replay the recorded steps and bypass the engine.)
 *
 * Pure: a scenario in, a header and records out, or an error naming the scenario field that a trace has
 * no record for (a VM's `load` series, `consolidate`: both feed the consolidation controller, which
 * reads the VMs' CPU load; `xenpool simulate` runs those).
 */
import { Either } from "effect"
import { compileScenario, type CompiledScenario, type TimedItem } from "../compile.js"
import { inputError, type InputError, type Scenario } from "../scenario.js"
import { traceText, type TraceHeaderInput, type TraceRecordInput } from "./writer.js"

export interface ScenarioTrace {
  readonly header: TraceHeaderInput
  readonly records: ReadonlyArray<TraceRecordInput>
}

/** The header: the scenario's pool with its hosts and VMs at time 0, its seed, policy and limits. */
const headerOf = (scenario: Scenario): TraceHeaderInput => ({
  name: scenario.name,
  ...(scenario.description === undefined ? {} : { description: scenario.description }),
  seed: scenario.seed,
  policy: scenario.policy,
  ...(scenario.placement === undefined ? {} : { placement: scenario.placement }),
  pool: {
    id: scenario.pool.id,
    pageSize: scenario.pool.pageSize,
    linkLatency: scenario.pool.linkLatency,
    ...(scenario.pool.ha === undefined ? {} : { ha: scenario.pool.ha }),
    hosts: scenario.hosts,
    // `load` is refused before this (`unsupported`); the rest of a VM is written as in the scenario.
    vms: scenario.vms.map(({ load: _load, ...vm }) => vm)
  },
  limits: scenario.limits
})

/** One schedule entry as the record the replay performs the same way (simulations/run.ts `perform`). */
const recordOf = (compiled: CompiledScenario, { atUs, item }: TimedItem): TraceRecordInput => {
  const at = { atUs }
  switch (item.op) {
    case "migrate":
      // No policy: the header's, which is also what the scenario's migrations and evacuations use.
      return { ...at, op: "migrate", vm: item.vm, to: item.to }
    case "evacuate":
      return { ...at, op: "evacuate", host: item.host }
    case "rolling-maintenance":
      return { ...at, op: "rolling-maintenance", hosts: item.hosts ?? compiled.hostIds, maintenance: item.maintenance }
    case "disable-host":
    case "enable-host":
    case "fail-host":
    case "recover-host":
    case "fail-link":
    case "restore-link":
      return { ...at, op: item.op, host: item.host }
    case "slow-link":
      return { ...at, op: "slow-link", host: item.host, percent: item.percent }
    case "enable-ha":
      return {
        ...at,
        op: "enable-ha",
        hostFailuresToTolerate: item.hostFailuresToTolerate,
        ...(item.livenessTimeout === undefined ? {} : { livenessTimeout: item.livenessTimeout })
      }
    case "disable-ha":
      return { ...at, op: "disable-ha" }
    case "set-ha-failures-to-tolerate":
      return { ...at, op: "set-ha-failures-to-tolerate", hostFailuresToTolerate: item.hostFailuresToTolerate }
    case "set-vm-ha":
      return {
        ...at,
        op: "set-vm-ha",
        vm: item.vm,
        restartPriority: item.restartPriority,
        ...(item.order === undefined ? {} : { order: item.order }),
        ...(item.alwaysRun === undefined ? {} : { alwaysRun: item.alwaysRun })
      }
    case "start-vm":
    case "resume-vm":
      return { ...at, op: item.op, vm: item.vm, ...(item.host === undefined ? {} : { host: item.host }) }
    case "shutdown-vm":
      return { ...at, op: "shutdown-vm", vm: item.vm, ...(item.hard === undefined ? {} : { hard: item.hard }) }
    case "pause-vm":
    case "unpause-vm":
    case "suspend-vm":
    case "destroy-vm":
      return { ...at, op: item.op, vm: item.vm }
    case "set-memory-target":
    case "set-paging-target":
      return { ...at, op: item.op, vm: item.vm, target: item.target }
    case "guest-access":
      if (item.gfns !== undefined) return { ...at, op: "access", vm: item.vm, gfns: item.gfns }
      if (item.range !== undefined)
        return {
          ...at,
          op: "access",
          vm: item.vm,
          ranges: [[item.range.first, item.range.first + item.range.count - 1]]
        }
      return { ...at, op: "access", vm: item.vm, random: item.random! }
    case "consolidate":
      throw new Error("consolidate is refused before records are made")
  }
}

/** The first field of the scenario a trace cannot carry, as an error; undefined when there is none. */
const unsupported = (source: string, scenario: Scenario): InputError | undefined => {
  const loaded = scenario.vms.findIndex((vm) => vm.load !== undefined)
  if (loaded >= 0)
    return inputError(
      source,
      `vms[${loaded}].load`,
      "no load series: a trace has no record for one (the consolidation controller reads it); run this scenario with xenpool simulate"
    )
  const consolidate = scenario.schedule.findIndex((item) => item.op === "consolidate")
  if (consolidate >= 0)
    return inputError(
      source,
      `schedule[${consolidate}].op`,
      "an operation a trace can record: consolidate has none (its controller reads the VMs' load series); run this scenario with xenpool simulate"
    )
  return undefined
}

/**
 * The trace of a scenario: an error if the scenario does not compile (the compiler's, naming the field)
 * or uses a feature a trace cannot carry. `source` names the scenario in errors.
 */
export const scenarioTrace = (source: string, scenario: Scenario): Either.Either<ScenarioTrace, InputError> =>
  Either.flatMap(compileScenario(source, scenario), (compiled) => {
    const refused = unsupported(source, scenario)
    if (refused !== undefined) return Either.left(refused)
    return Either.right({
      header: headerOf(scenario),
      // The compiled schedule is in the order the scenario runs it: by time, then as written.
      records: compiled.schedule.map((timed) => recordOf(compiled, timed))
    })
  })

/** The trace of a scenario as text (JSON Lines), ready to write to a file `xenpool replay` reads. */
export const scenarioTraceText = (source: string, scenario: Scenario): Either.Either<string, InputError> =>
  Either.map(scenarioTrace(source, scenario), ({ header, records }) => traceText(header, records))
