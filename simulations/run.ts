/**
 * Runs a compiled scenario on the engine: setup at time 0, then the schedule. Returns the engine's
 * result; the events went to the sink as they were decided.
 */
import { Either } from "effect"
import { hostId, vmId } from "../domain/ids.js"
import { parseDurationUs, parseSizePages } from "../domain/units.js"
import type { PoolState } from "../domain/state.js"
import {
  Simulation,
  type EngineRest,
  type Refusal,
  type RunResult,
  type SimulationOptions
} from "../engine/simulation.js"
import type { EngineLimits } from "../engine/config.js"
import type { TransferFactory } from "../engine/transfer.js"
import { setVmHa, type CompiledScenario, type TimedItem } from "./compile.js"
import { ConsolidationRunner, type ConsolidationReport } from "../engine/consolidation/index.js"
import { consolidationParams, cpuPctAt, scheduleLoadChanges } from "./load.js"
import { performMemoryItem } from "./memoryOps.js"
import { invariant } from "../engine/migration/exact.js"

export interface RunScenarioOptions {
  readonly transferFactory: TransferFactory
  readonly debug?: boolean
  readonly sink?: SimulationOptions["sink"]
  readonly onProgress?: SimulationOptions["onProgress"]
  readonly decide?: SimulationOptions["decide"]
  readonly pageStates?: SimulationOptions["pageStates"]
  /** Go on from the engine at rest and the pool's state then: no setup, no load series (all done by then). */
  readonly from?: SimulationOptions["from"]
  /**
   * Hears the engine at rest inside a run (`startScenario`), just before one of its schedule's items,
   * at most once every `everyEvents` events: so that going on from there later reruns only what follows.
   */
  readonly rests?: { readonly everyEvents: number; readonly take: (rest: RestInRun) => void }
}

/**
 * The engine at rest inside a run, about to run the schedule's item `scheduleRun` (counted in the order
 * items run: the compiled schedule's, by time): everything else on its agenda done, so the rest and the
 * schedule's later items are all it needs to go on (simulations/resume.ts).
 */
export interface RestInRun {
  readonly rest: EngineRest
  /** How many of the schedule's items had run (a prefix of the compiled schedule). */
  readonly scheduleRun: number
  readonly state: PoolState
}

const must = <A>(result: Either.Either<A, unknown>): A => {
  if (Either.isLeft(result)) throw new Error("validated at compile time")
  return result.right
}

const perform = (
  sim: Simulation,
  scenario: CompiledScenario,
  { item, index }: TimedItem,
  controllers: ConsolidationRunner[]
): void => {
  const atUs = sim.nowUs
  switch (item.op) {
    case "migrate":
      sim.migrate(vmId(item.vm), hostId(item.to))
      return
    case "evacuate":
      sim.evacuate(hostId(item.host))
      return
    case "rolling-maintenance":
      sim.rollingMaintenance(item.hosts?.map(hostId) ?? scenario.hostIds, must(parseDurationUs(item.maintenance)))
      return
    case "fail-host":
      sim.failHost(hostId(item.host))
      return
    case "enable-ha":
      sim.enableHa(
        item.hostFailuresToTolerate,
        item.livenessTimeout === undefined ? undefined : must(parseDurationUs(item.livenessTimeout))
      )
      return
    case "disable-ha":
      sim.attempt({ _tag: "DisableHa", atUs }, "disable HA")
      return
    case "set-ha-failures-to-tolerate":
      sim.attempt(
        { _tag: "SetHaFailuresToTolerate", atUs, hostFailuresToTolerate: item.hostFailuresToTolerate },
        `set ha-host-failures-to-tolerate ${item.hostFailuresToTolerate}`
      )
      return
    case "set-vm-ha":
      sim.attempt(setVmHa(atUs, vmId(item.vm), item), `set HA of ${item.vm}`)
      return
    case "disable-host":
    case "enable-host":
    case "recover-host": {
      const tag = (
        {
          "disable-host": "DisableHost",
          "enable-host": "EnableHost",
          "recover-host": "RecoverHost"
        } as const
      )[item.op]
      sim.attempt({ _tag: tag, atUs, host: hostId(item.host) }, `${item.op} ${item.host}`)
      return
    }
    case "start-vm":
      sim.attempt(
        { _tag: "StartVm", atUs, vm: vmId(item.vm), ...(item.host ? { host: hostId(item.host) } : {}) },
        `start ${item.vm}`
      )
      return
    case "shutdown-vm":
      sim.attempt(
        { _tag: "ShutdownVm", atUs, vm: vmId(item.vm), mode: item.hard ? "hard" : "clean" },
        `shutdown ${item.vm}`
      )
      return
    case "resume-vm":
      sim.attempt(
        { _tag: "ResumeVm", atUs, vm: vmId(item.vm), ...(item.host ? { host: hostId(item.host) } : {}) },
        `resume ${item.vm}`
      )
      return
    case "pause-vm":
    case "unpause-vm":
    case "suspend-vm":
    case "destroy-vm": {
      const tag = (
        {
          "pause-vm": "PauseVm",
          "unpause-vm": "UnpauseVm",
          "suspend-vm": "SuspendVm",
          "destroy-vm": "DestroyVm"
        } as const
      )[item.op]
      sim.attempt({ _tag: tag, atUs, vm: vmId(item.vm) }, `${item.op} ${item.vm}`)
      return
    }
    case "set-memory-target":
      sim.attempt(
        {
          _tag: "SetMemoryTarget",
          atUs,
          vm: vmId(item.vm),
          targetPages: must(parseSizePages(item.target, scenario.pageSizeBytes))
        },
        `set memory target of ${item.vm}`
      )
      return
    case "fail-link":
      sim.failLink(hostId(item.host))
      return
    case "restore-link":
      sim.setLinkPercent(hostId(item.host), 100)
      return
    case "slow-link":
      sim.setLinkPercent(hostId(item.host), item.percent)
      return
    case "set-paging-target":
    case "guest-access":
      performMemoryItem(sim, item, scenario.pageSizeBytes)
      return
    case "consolidate": {
      const loads = scenario.loads ?? new Map()
      const params = must(consolidationParams(item, loads))
      const planner = scenario.controllers?.get(index)
      invariant(planner !== undefined, "a consolidate operation without its controller (resolved at compile time)")
      const controller = new ConsolidationRunner(sim, planner, params, (vm, atUs) => cpuPctAt(loads, vm, atUs))
      controllers.push(controller)
      controller.start()
      return
    }
  }
}

export interface ScenarioResult {
  readonly sim: Simulation
  readonly result: RunResult
  readonly consolidation: ReadonlyArray<ConsolidationReport>
}

/** A scenario set up on the engine, run in slices (so that a caller can stop between them). */
export interface ScenarioRun {
  readonly sim: Simulation
  /** Runs at most `eventsBudget` more events: the result once the run is over, else undefined. */
  readonly runFor: (eventsBudget: number) => ScenarioResult | undefined
  /** The engine at rest, or why it is not (`PreparedScenario.rest`). */
  readonly rest: PreparedScenario["rest"]
}

/**
 * A scenario's engine with its setup and load series on the agenda, and its schedule's items put on it
 * when asked: all at once for a run (`startScenario`), step by step for an engine rebuilt from a log
 * (simulations/resume.ts).
 */
export interface PreparedScenario {
  readonly sim: Simulation
  /**
   * Puts items on the agenda as inputs; `performed` hears each one as it runs, with the refusal it met
   * at once (undefined when none); `before` hears its place in `items` just before it runs.
   */
  readonly schedule: (
    items: Iterable<TimedItem>,
    performed?: (timed: TimedItem, refusal: Refusal | undefined) => void,
    before?: (position: number) => void
  ) => void
  /** The consolidation controllers' reports so far. */
  readonly consolidation: () => ReadonlyArray<ConsolidationReport>
  /**
   * The engine at rest (`Simulation.rest`, with `inputsQueued` of the schedule's items still on the
   * agenda), or why not: a consolidation controller never rests.
   */
  readonly rest: (inputsQueued?: number) => EngineRest | string
}

export const prepareScenario = (scenario: CompiledScenario, options: RunScenarioOptions): PreparedScenario => {
  const sim = new Simulation({
    seed: scenario.seed,
    pool: scenario.pool,
    policy: scenario.policy,
    placement: scenario.placement,
    workloads: scenario.workloads,
    limits: { eventsMax: scenario.eventsMax, simulatedUsMax: scenario.simulatedUsMax },
    transferFactory: options.transferFactory,
    debug: options.debug ?? false,
    ...(options.sink ? { sink: options.sink } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    ...(options.decide ? { decide: options.decide } : {}),
    ...(options.pageStates ? { pageStates: options.pageStates } : {}),
    ...(options.from ? { from: options.from } : {})
  })
  if (options.from === undefined) {
    if (scenario.haLivenessTimeoutUs !== undefined) sim.ha.livenessTimeoutUs = scenario.haLivenessTimeoutUs
    sim.input(0, () => {
      for (const command of scenario.setup) sim.attempt(command, command._tag)
    })
    // Load changes go on the agenda before the schedule, so at a shared time they come first.
    if (scenario.loads) scheduleLoadChanges(sim, scenario.loads)
  }
  const controllers: ConsolidationRunner[] = []
  const schedule: PreparedScenario["schedule"] = (items, performed, before) => {
    let position = 0
    for (const timed of items) {
      const at = position++
      sim.input(timed.atUs, () => {
        before?.(at)
        const refusals = sim.refusals.length
        perform(sim, scenario, timed, controllers)
        performed?.(timed, sim.refusals[refusals])
      })
    }
  }
  return {
    sim,
    schedule,
    consolidation: () => controllers.map((c) => c.report()),
    rest: (inputsQueued) => (controllers.length > 0 ? "a consolidation controller runs" : sim.rest(inputsQueued))
  }
}

/**
 * Runs the engine towards `limits` for at most `eventsBudget` more events: the result once it stopped
 * on its own (quiescent, or at `limits`), undefined when only the budget stopped it.
 */
export const runSlice = (sim: Simulation, limits: EngineLimits, eventsBudget: number): RunResult | undefined => {
  invariant(eventsBudget >= 1, "eventsBudget must be >= 1")
  const eventsMax = Math.min(limits.eventsMax, sim.events + eventsBudget)
  const result = sim.run({ eventsMax, simulatedUsMax: limits.simulatedUsMax })
  return result.stopReason === "events-limit" && sim.events < limits.eventsMax ? undefined : result
}

export const startScenario = (scenario: CompiledScenario, options: RunScenarioOptions): ScenarioRun => {
  const prepared = prepareScenario(scenario, options)
  const rests = options.rests
  let nextRestEvents = rests?.everyEvents ?? 0
  // The schedule's items run in the compiled schedule's order (by time, then place; the agenda breaks ties
  // by insertion): before item k, items k + 1.. are the inputs on the agenda, and k of them have run.
  const restBefore = (position: number): void => {
    if (rests === undefined || prepared.sim.events < nextRestEvents) return
    const rest = prepared.rest(scenario.schedule.length - position - 1)
    if (typeof rest === "string") return
    nextRestEvents = prepared.sim.events + rests.everyEvents
    rests.take({ rest, scheduleRun: position, state: prepared.sim.state })
  }
  prepared.schedule(scenario.schedule, undefined, rests === undefined ? undefined : restBefore)
  const limits = { eventsMax: scenario.eventsMax, simulatedUsMax: scenario.simulatedUsMax }
  const runFor = (eventsBudget: number): ScenarioResult | undefined => {
    const result = runSlice(prepared.sim, limits, eventsBudget)
    return result && { sim: prepared.sim, result, consolidation: prepared.consolidation() }
  }
  return { sim: prepared.sim, runFor, rest: prepared.rest }
}

/** Runs the scenario to its end in one go. */
export const runScenario = (scenario: CompiledScenario, options: RunScenarioOptions): ScenarioResult => {
  const run = startScenario(scenario, options)
  // Bounded: each slice emits events towards the scenario's events limit, or ends the run.
  for (;;) {
    const done = run.runFor(scenario.eventsMax)
    if (done !== undefined) return done
  }
}
