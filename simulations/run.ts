/**
 * Runs a compiled scenario on the engine: setup at time 0, then the schedule. Returns the engine's
 * result; the events went to the sink as they were decided.
 */
import { Either, HashMap } from "effect"
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
import { ConsolidationRunner, type ConsolidationReport, type RunnerRest } from "../engine/consolidation/index.js"
import { consolidationParams, cpuPctAt, loadChanges } from "./load.js"
import { performMemoryItem } from "./memoryOps.js"
import { invariant } from "../engine/migration/exact.js"

export interface RunScenarioOptions {
  readonly transferFactory: TransferFactory
  readonly debug?: boolean
  readonly sink?: SimulationOptions["sink"]
  readonly onProgress?: SimulationOptions["onProgress"]
  readonly decide?: SimulationOptions["decide"]
  readonly pageStates?: SimulationOptions["pageStates"]
  /**
   * Go on from the engine at rest and the pool's state then: no setup; the load series' changes from
   * `loadsRun` on (none without it: all done by then); the controllers running again from their rests.
   */
  readonly from?: NonNullable<SimulationOptions["from"]> & {
    readonly loadsRun?: number
    readonly controllers?: ReadonlyArray<ControllerRest>
  }
  /**
   * How many of the compiled schedule's items (by index) are the scenario's own, the rest being a
   * continuation's (simulations/resume.ts): only a controller one of them started can rest. Default: all.
   */
  readonly scenarioItems?: number
  /**
   * An item's place in the recorded schedule, when the compiled schedule holds only some of its items
   * (simulations/resume.ts); default its index. A controller's migrations in flight name it by place.
   */
  readonly placeOf?: (index: number) => number
  /** The rests inside the run (`startScenario`), or inside the continuation (simulations/resume.ts). */
  readonly rests?: RestsWanted
}

/**
 * Hears the engine at rest inside a run, just before one of its inputs (an item of the schedule it
 * comes with, or a load change), at most once every `everyEvents` events, while no other schedule's item
 * waits on the agenda: so that going on from there later reruns only what follows.
 */
export interface RestsWanted {
  /** At least this many events between two rests. */
  readonly everyEvents: number
  /** And at least this many per VM and host of the pool (a rest encodes the whole pool); default 0. */
  readonly everyEventsPerEntity?: number
  readonly take: (rest: RestInRun) => void
}

/** A consolidation controller at rest: the schedule item that started it (its index), and its runner as data. */
export interface ControllerRest extends RunnerRest {
  readonly index: number
}

/** The engine at rest as data, and the scenario's controllers as data (`PreparedScenario.rest`). */
export interface ScenarioRest {
  readonly engine: EngineRest
  readonly controllers: ReadonlyArray<ControllerRest>
}

/**
 * The engine at rest inside a run, about to run one of its inputs or between two of its agenda's items:
 * everything on its agenda data (the inputs still to come, its controllers' next ticks, its migrations'
 * round ends and commits, its long operations' steps), so the rest, how much of the input had run and
 * the controllers' rests are all it needs to go on (simulations/resume.ts). Inputs run in the order
 * they were put on the agenda at one time: the load changes by time, then the schedule's items in the
 * compiled schedule's order (the agenda breaks ties by insertion), so what had run of each is a prefix.
 */
export interface RestInRun extends ScenarioRest {
  /** How many of the schedule's items had run (a prefix of it, in the order given: the compiled order). */
  readonly scheduleRun: number
  /** How many of the load series' changes had run (a prefix of `loadChanges`). */
  readonly loadsRun: number
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
  controllers: Controllers
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
    case "consolidate":
      controllers.start(index, runnerOf(sim, scenario, item, index, controllers))
      return
  }
}

/** The runner of the schedule's `consolidate` item at `index` (its controller resolved at compile time). */
const runnerOf = (
  sim: Simulation,
  scenario: CompiledScenario,
  item: TimedItem["item"],
  index: number,
  controllers: Controllers
): ConsolidationRunner => {
  invariant(item.op === "consolidate", `schedule item ${index} is not a consolidate operation`)
  const loads = scenario.loads ?? new Map()
  const planner = scenario.controllers?.get(index)
  invariant(planner !== undefined, "a consolidate operation without its controller (resolved at compile time)")
  const params = must(consolidationParams(item, loads))
  return new ConsolidationRunner(
    sim,
    planner,
    params,
    (vm, atUs) => cpuPctAt(loads, vm, atUs),
    controllers.stamp,
    controllers.listenerOf(index)
  )
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
   * Puts items on the agenda as inputs, in the order given (the compiled order); `performed` hears each
   * one as it runs, with the refusal it met at once (undefined when none); `rests` hears the engine at
   * rest before them (and before load changes) while these are the only items waiting.
   */
  readonly schedule: (
    items: ReadonlyArray<TimedItem>,
    performed?: (timed: TimedItem, refusal: Refusal | undefined) => void,
    rests?: RestsWanted
  ) => void
  /** The consolidation controllers' reports so far. */
  readonly consolidation: () => ReadonlyArray<ConsolidationReport>
  /** The engine and its controllers at rest (`Simulation.rest`; a controller's next tick waits), or why not. */
  readonly rest: () => ScenarioRest | string
}

/** How many numbers of a rest's page data weigh as much as one VM or host of its pool (`restEventsPerEntity`). */
const NUMBERS_PER_ENTITY = 250

/** The numbers in the arrays of a rest (page states, bitmaps, page-ins, writes): its page data's size. */
const numbersIn = (value: unknown): number => {
  if (Array.isArray(value)) {
    let n = 0
    for (const item of value) n += typeof item === "number" ? 1 : numbersIn(item)
    return n
  }
  if (typeof value !== "object" || value === null) return 0
  let n = 0
  for (const field of Object.values(value)) n += numbersIn(field)
  return n
}

/** The consolidation controllers a scenario started, with the schedule item each came from. */
class Controllers {
  private readonly runners: Array<{ readonly index: number; readonly runner: ConsolidationRunner }> = []
  private stamps = 0
  readonly stamp = (): number => this.stamps++

  constructor(
    private readonly placeOf: (index: number) => number = (index) => index,
    private readonly scenarioItems: number
  ) {}

  /**
   * The name the controller of item `index` hears of its migrations by. A scenario item's is the same
   * whatever part of the schedule is compiled (its place in the recorded schedule: migrations in flight
   * at a rest name it). A continuation's item has no such place (the schedule compiled from a rest holds
   * only some of the recorded items): it is named by its index past the scenario's, unique in this
   * engine, and its controller keeps the engine from resting.
   */
  listenerOf(index: number): string {
    return index < this.scenarioItems
      ? `consolidation:${this.placeOf(index)}`
      : `consolidation:continuation:${index - this.scenarioItems}`
  }

  start(index: number, runner: ConsolidationRunner, from?: RunnerRest): void {
    this.runners.push({ index, runner })
    if (from === undefined) runner.start()
    else runner.restore(from)
  }

  reports(): ReadonlyArray<ConsolidationReport> {
    return this.runners.map((r) => r.runner.report())
  }

  get ticking(): number {
    return this.runners.filter((r) => r.runner.ticking).length
  }

  /** The controllers as data, or why not: one a continuation started (its item's index is not stable). */
  rest(): ReadonlyArray<ControllerRest> | string {
    if (this.runners.some((r) => r.index >= this.scenarioItems))
      return "a consolidation controller a continuation started runs"
    return this.runners.map((r) => ({ index: r.index, ...r.runner.rest() }))
  }
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
    ...(options.from ? { from: options.from } : {}),
    betweenItems: () => tryRest(0)
  })
  const from = options.from
  if (from === undefined) {
    if (scenario.haLivenessTimeoutUs !== undefined) sim.ha.livenessTimeoutUs = scenario.haLivenessTimeoutUs
    sim.input(0, () => {
      for (const command of scenario.setup) sim.attempt(command, command._tag)
    })
  }
  // Load changes go on the agenda before the schedule, so at a shared time they come first.
  const changes = scenario.loads ? loadChanges(scenario.loads) : []
  let loadsRun = from === undefined ? 0 : (from.loadsRun ?? changes.length)
  let itemsScheduled = 0
  let itemsRun = 0
  for (const change of changes.slice(loadsRun))
    sim.input(change.atUs, () => {
      tryRest(1)
      for (const [vm, workload] of change.workloads) sim.setWorkload(vm, workload)
      loadsRun++
    })
  const scenarioItems = options.scenarioItems ?? scenario.schedule.length
  const controllers = new Controllers(options.placeOf, scenarioItems)
  // in the order their ticks went on the agenda (see `ConsolidationRunner`'s stamp)
  const restored = [...(from?.controllers ?? [])].sort(
    (a, b) => (a.nextTick?.order ?? -1) - (b.nextTick?.order ?? -1) || a.index - b.index
  )
  for (const controller of restored) {
    const timed = scenario.schedule.find((t) => t.index === controller.index)
    invariant(timed !== undefined, `a controller at rest names schedule item ${controller.index}, which is not there`)
    controllers.start(controller.index, runnerOf(sim, scenario, timed.item, controller.index, controllers), controller)
  }
  const rest = (inputsQueued = 0): ScenarioRest | string => {
    const engine = sim.rest(inputsQueued + controllers.ticking)
    if (typeof engine === "string") return engine
    const rests = controllers.rest()
    return typeof rests === "string" ? rests : { engine, controllers: rests }
  }
  // the schedule whose rests are wanted (the last one given them), and how many of its items have run
  let resting: { readonly rests: RestsWanted; readonly size: number; run: number; nextEvents: number } | undefined
  // Tried just before an input runs (taken off the agenda already, not counted as run yet: `popped` 1),
  // and between two of the agenda's items (`popped` 0: inside a long operation, a rolling maintenance of
  // 1,024 hosts being one input, the engine rests too). The inputs on the agenda are the others that have
  // not run (see `RestInRun`): a rest only while every item among them is the resting schedule's.
  function tryRest(popped: 0 | 1): void {
    if (resting === undefined || sim.events < resting.nextEvents) return
    if (itemsScheduled - itemsRun !== resting.size - resting.run) return
    const inputsQueued = changes.length - loadsRun + itemsScheduled - itemsRun - popped
    // most tries fail here, at no cost: something is in flight
    if (!sim.quiet(inputsQueued + controllers.ticking)) return
    const at = rest(inputsQueued)
    if (typeof at === "string") return
    const state = sim.state
    // a rest costs about its size: the pool's VMs and hosts, and the page data of its pagers and
    // migrations (a busy 256 MiB pager is tens of thousands of numbers); the run between two of them
    // may be kept a multiple of that, so that rests held until the run commits stay within a share of
    // what its events take
    const perEntity = resting.rests.everyEventsPerEntity ?? 0
    const size =
      perEntity === 0
        ? 0
        : HashMap.size(state.vms) + HashMap.size(state.hosts) + numbersIn(at.engine) / NUMBERS_PER_ENTITY
    resting.nextEvents = sim.events + Math.max(resting.rests.everyEvents, perEntity * size)
    resting.rests.take({ ...at, scheduleRun: resting.run, loadsRun, state })
  }
  const schedule: PreparedScenario["schedule"] = (items, performed, rests) => {
    const batch =
      rests === undefined
        ? undefined
        : { rests, size: items.length, run: 0, nextEvents: sim.events + rests.everyEvents }
    if (batch !== undefined) resting = batch
    for (const timed of items) {
      itemsScheduled++
      sim.input(timed.atUs, () => {
        tryRest(1)
        const refusals = sim.refusals.length
        perform(sim, scenario, timed, controllers)
        itemsRun++
        if (batch !== undefined) batch.run++
        performed?.(timed, sim.refusals[refusals])
      })
    }
  }
  return {
    sim,
    schedule,
    consolidation: () => controllers.reports(),
    rest: () => rest()
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
  prepared.schedule(scenario.schedule, undefined, options.rests)
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
