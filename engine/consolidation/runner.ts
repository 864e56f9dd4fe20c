/**
 * A consolidation controller on the engine's clock: every `everyUs` from `startUs` until `untilUs`, it
 * asks the controller for a plan and performs it through the engine (`attempt` and `migrate`, which
 * record any refusal), and keeps the figures of its report.
 */
import type { HostId, VmId } from "../../domain/ids.js"
import type { Simulation } from "../simulation.js"
import type { ConsolidationController, ConsolidationThresholds } from "./controller.js"

export interface ConsolidationParams extends ConsolidationThresholds {
  /** First tick. */
  readonly startUs: number
  readonly everyUs: number
  /** No tick at or after this time. */
  readonly untilUs: number
}

/** Ticks at most, whatever the parameters say (every loop is bounded). */
const CONSOLIDATION_TICKS_MAX = 1_000_000

export interface ConsolidationTick {
  readonly atUs: number
  readonly hostsInUse: number
  readonly hostsEnabled: number
  readonly overloaded: number
  readonly saturated: number
  readonly migrationsStarted: number
  readonly unresolved: number
}

export interface ConsolidationReport {
  /** The controller's name. */
  readonly controller: string
  readonly overloadPct: number
  readonly underloadPct: number
  readonly packPct: number
  readonly everyUs: number
  readonly migrationsMaxPerInterval: number
  readonly ticks: number
  readonly migrationsStarted: number
  /** The started migrations by why they were planned; sums to `migrationsStarted`. */
  readonly migrationsByReason: { readonly overload: number; readonly drain: number; readonly "finish-drain": number }
  /** Starts the engine refused (each is also in the run's refusals, with the domain's reason). */
  readonly migrationsRefused: number
  readonly migrationsCommitted: number
  readonly migrationsAborted: number
  readonly hostsDisabled: number
  readonly hostsEnabled: number
  /** Σ over ticks of hosts above the overload threshold / above 100 % / left overloaded by the plan. */
  readonly overloadedHostTicks: number
  readonly saturatedHostTicks: number
  readonly unresolvedHostTicks: number
  /** Σ over ticks of hosts in use: the denominator for the three sums above. */
  readonly inUseHostTicks: number
  readonly samples: ReadonlyArray<ConsolidationTick>
}

/**
 * A runner between ticks, as data: the hosts it disabled, its report so far, and its next tick (when it
 * is due, and `order`, the stamp it was put on the agenda with), or none once it has stopped. Its
 * controller is pure, and its migrations are over when the engine rests, so this is all of it.
 */
export interface RunnerRest {
  readonly owned: ReadonlyArray<HostId>
  readonly samples: ReadonlyArray<ConsolidationTick>
  readonly byReason: { readonly overload: number; readonly drain: number; readonly "finish-drain": number }
  readonly counts: {
    readonly refused: number
    readonly committed: number
    readonly aborted: number
    readonly disabled: number
    readonly enabled: number
  }
  readonly sums: {
    readonly overloaded: number
    readonly saturated: number
    readonly unresolved: number
    readonly inUse: number
  }
  readonly nextTick?: { readonly atUs: number; readonly order: number }
}

/** Runs a controller's plans on a simulation, every interval (see the module's comment). */
export class ConsolidationRunner {
  private readonly owned = new Set<HostId>()
  private readonly samples: ConsolidationTick[] = []
  private readonly byReason = { overload: 0, drain: 0, "finish-drain": 0 }
  private counts = { refused: 0, committed: 0, aborted: 0, disabled: 0, enabled: 0 }
  private sums = { overloaded: 0, saturated: 0, unresolved: 0, inUse: 0 }
  private nextTick: { readonly atUs: number; readonly order: number } | undefined

  constructor(
    private readonly sim: Simulation,
    private readonly controller: ConsolidationController,
    private readonly params: ConsolidationParams,
    /** A VM's CPU load (percent of its vCPUs) at a simulated time. */
    private readonly cpuPctAt: (vm: VmId, atUs: number) => number,
    /**
     * Stamps each tick put on the agenda, in order across runners: runners going on from a rest put their
     * ticks back in that order, so that two due at one µs run as they would have.
     */
    private readonly stamp: () => number = () => 0,
    /**
     * The name the runner hears of its migrations' ends by (`Simulation.listen`): one per runner of an
     * engine, the same for the runner that goes on from this one's rest.
     */
    private readonly listener = "consolidation"
  ) {
    if (!(Number.isInteger(params.everyUs) && params.everyUs >= 1))
      throw new RangeError(`consolidation interval must be a positive integer µs, got ${params.everyUs}`)
    if (!(params.untilUs >= params.startUs)) throw new RangeError("consolidation ends before it starts")
    sim.listen(listener, (outcome, reason) => {
      if (reason === "refused") return
      if (outcome === "committed") this.counts.committed++
      else this.counts.aborted++
    })
  }

  start(): void {
    this.schedule(Math.max(this.params.startUs, this.sim.nowUs))
  }

  /** Whether a tick is on the agenda. */
  get ticking(): boolean {
    return this.nextTick !== undefined
  }

  /** The runner as data (`RunnerRest`). */
  rest(): RunnerRest {
    return {
      owned: [...this.owned],
      samples: [...this.samples],
      byReason: { ...this.byReason },
      counts: { ...this.counts },
      sums: { ...this.sums },
      ...(this.nextTick === undefined ? {} : { nextTick: this.nextTick })
    }
  }

  /** Goes on from `rest` (a new runner, on an engine going on from its rest): its next tick back on the agenda. */
  restore(rest: RunnerRest): void {
    for (const host of rest.owned) this.owned.add(host)
    this.samples.push(...rest.samples)
    Object.assign(this.byReason, rest.byReason)
    this.counts = { ...rest.counts }
    this.sums = { ...rest.sums }
    if (rest.nextTick !== undefined) this.schedule(rest.nextTick.atUs)
  }

  private schedule(atUs: number): void {
    this.nextTick = { atUs, order: this.stamp() }
    this.sim.at(atUs, () => {
      this.nextTick = undefined
      this.tick()
    })
  }

  private tick(): void {
    const nowUs = this.sim.nowUs
    if (nowUs >= this.params.untilUs || this.samples.length >= CONSOLIDATION_TICKS_MAX) return
    const plan = this.controller.plan({
      state: this.sim.view,
      cpuPctOf: (vm) => this.cpuPctAt(vm, nowUs),
      thresholds: this.params,
      owned: this.owned
    })
    let started = 0
    for (const action of plan.actions) {
      if (action._tag === "Migrate") {
        const ok = this.sim.migrate(action.vm, action.to, { listener: this.listener })
        if (ok) {
          started++
          this.byReason[action.reason]++
        } else this.counts.refused++
        continue
      }
      const enable = action._tag === "EnableHost"
      if (!this.sim.attempt({ _tag: action._tag, atUs: nowUs, host: action.host }, `consolidate: ${action._tag}`))
        continue
      if (enable) {
        this.owned.delete(action.host)
        this.counts.enabled++
      } else {
        this.owned.add(action.host)
        this.counts.disabled++
      }
    }
    this.samples.push({
      atUs: nowUs,
      hostsInUse: plan.hostsInUse,
      hostsEnabled: plan.hostsEnabled,
      overloaded: plan.overloaded.length,
      saturated: plan.saturated.length,
      migrationsStarted: started,
      unresolved: plan.unresolved.length
    })
    this.sums.overloaded += plan.overloaded.length
    this.sums.saturated += plan.saturated.length
    this.sums.unresolved += plan.unresolved.length
    this.sums.inUse += plan.hostsInUse
    const nextUs = nowUs + this.params.everyUs
    if (nextUs < this.params.untilUs) this.schedule(nextUs)
  }

  report(): ConsolidationReport {
    const p = this.params
    return {
      controller: this.controller.name,
      overloadPct: p.overloadPct,
      underloadPct: p.underloadPct,
      packPct: p.packPct,
      everyUs: p.everyUs,
      migrationsMaxPerInterval: p.migrationsMaxPerInterval,
      ticks: this.samples.length,
      migrationsStarted: this.samples.reduce((n, s) => n + s.migrationsStarted, 0),
      migrationsByReason: { ...this.byReason },
      migrationsRefused: this.counts.refused,
      migrationsCommitted: this.counts.committed,
      migrationsAborted: this.counts.aborted,
      hostsDisabled: this.counts.disabled,
      hostsEnabled: this.counts.enabled,
      overloadedHostTicks: this.sums.overloaded,
      saturatedHostTicks: this.sums.saturated,
      unresolvedHostTicks: this.sums.unresolved,
      inUseHostTicks: this.sums.inUse,
      samples: this.samples
    }
  }
}
