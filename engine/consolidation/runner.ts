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

/** Runs a controller's plans on a simulation, every interval (see the module's comment). */
export class ConsolidationRunner {
  private readonly owned = new Set<HostId>()
  private readonly samples: ConsolidationTick[] = []
  private readonly byReason = { overload: 0, drain: 0, "finish-drain": 0 }
  private counts = { refused: 0, committed: 0, aborted: 0, disabled: 0, enabled: 0 }
  private sums = { overloaded: 0, saturated: 0, unresolved: 0, inUse: 0 }

  constructor(
    private readonly sim: Simulation,
    private readonly controller: ConsolidationController,
    private readonly params: ConsolidationParams,
    /** A VM's CPU load (percent of its vCPUs) at a simulated time. */
    private readonly cpuPctAt: (vm: VmId, atUs: number) => number
  ) {
    if (!(Number.isInteger(params.everyUs) && params.everyUs >= 1))
      throw new RangeError(`consolidation interval must be a positive integer µs, got ${params.everyUs}`)
    if (!(params.untilUs >= params.startUs)) throw new RangeError("consolidation ends before it starts")
  }

  start(): void {
    this.sim.at(Math.max(this.params.startUs, this.sim.nowUs), () => this.tick())
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
        const ok = this.sim.migrate(action.vm, action.to, (outcome, reason) => {
          if (reason === "refused") return
          if (outcome === "committed") this.counts.committed++
          else this.counts.aborted++
        })
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
    if (nextUs < this.params.untilUs) this.sim.at(nextUs, () => this.tick())
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
