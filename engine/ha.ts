/**
 * HA in the engine (docs/ha.md): what XAPI's HA does when a host fails, after the domain's rules.
 *
 * - The host stops at once: its NIC goes with it, so migrations through it abort as they do today.
 * - It is noticed after the liveness timeout (XAPI's default HA timeout, `Xapi_globs.ha_default_timeout_base`
 *   = 60 s): then `FailHost` marks it not live and halts its VMs; the domain elects a new master first if it
 *   was the master, and recomputes the plan.
 * - `restart_auto_run_vms` (ocaml/xapi/xapi_ha_vm_failover.ml): the protected VMs that run nowhere are
 *   restarted by the planner's restart plan (`VM.start_on` the planned host) in ascending `order`, each
 *   order's group after the one before; if the plan is incomplete, every halted protected VM is started
 *   where the pool places it, in the same order. A failed restart is tried again after 120 s (the
 *   `last_start_attempt` guard), up to `HA_RESTART_ATTEMPTS_MAX` times. Then the best-effort VMs that the
 *   failure halted are started once each, where the pool places them.
 *
 * Every change still goes through decide (the engine submits commands); the restart outcomes are kept for
 * reports (`restarts`), and each failed attempt is also an event (`VmHaRestartFailed`).
 */
import type { Either } from "effect"
import type { PoolCommand } from "../domain/commands.js"
import type { DomainError } from "../domain/errors.js"
import type { PoolEvent } from "../domain/events.js"
import { computeRestartPlan, haEnabled, haOrder, isBestEffort, isHaProtected } from "../domain/ha.js"
import type { HostId, VmId } from "../domain/ids.js"
import { getVm, vmList, vmsResidentOn, type PoolView } from "../domain/state.js"

/** `Xapi_globs.ha_default_timeout_base`: the HA liveness timeout when the pool sets none. */
export const HA_LIVENESS_TIMEOUT_DEFAULT_US = 60_000_000
/** `restart_auto_run_vms`: "If we tried before and failed, don't retry again within 2 minutes". */
export const HA_RESTART_RETRY_US = 120_000_000
/** Our bound on attempts per VM after one failure (XAPI's monitor keeps trying while the VM is halted). */
const HA_RESTART_ATTEMPTS_MAX = 10

export type HaRestartPriorityClass = "restart" | "best-effort"

/** One restart attempt and how it ended. */
export interface HaRestart {
  readonly atUs: number
  readonly vm: VmId
  readonly priority: HaRestartPriorityClass
  readonly order: number
  readonly attempt: number
  /** The planned host (`start_on`), or undefined where the pool placed it (`start`). */
  readonly plannedHost: HostId | undefined
  readonly ok: boolean
  /** Where it runs now (ok), or why not. */
  readonly detail: string
}

/** What the monitor needs of the simulation. */
export interface HaEngine {
  readonly view: () => PoolView
  readonly nowUs: () => number
  readonly at: (atUs: number, run: () => void) => void
  /**
   * Puts HA's timers on the agenda as data (so that the engine may rest while they wait): when a failure
   * is noticed (`noticeDue` runs then), when halted protected VMs are tried again (`retryDue`).
   */
  readonly plan: (timer: "notice" | "retry", atUs: number) => void
  readonly submit: (command: PoolCommand) => Either.Either<ReadonlyArray<PoolEvent>, DomainError>
  /** A start through the squeezer (engine/balloon.ts); `onDone` hears the outcome. */
  readonly start: (vm: VmId, host: HostId | undefined, operation: string, onDone: (ok: boolean) => void) => void
  /** The last refusal's message, to say why a start failed. */
  readonly lastRefusal: () => string
  readonly linkDown: (host: HostId) => void
  readonly linkUp: (host: HostId) => void
  readonly attempt: (command: PoolCommand, operation: string) => boolean
}

/** HA's state at rest (`HaMonitor.rest`): plain data. */
export interface HaRest {
  readonly livenessTimeoutUs: number
  /** Restart attempts of VMs not yet restarted. */
  readonly attempts: ReadonlyArray<readonly [VmId, number]>
  /** Hosts whose link HA's failure took down. */
  readonly linksDown: ReadonlyArray<HostId>
  /** Hosts that failed and are not yet noticed, with when they will be. */
  readonly unnoticed: ReadonlyArray<readonly [HostId, number]>
  /** When the retry of halted protected VMs is planned, if it is. */
  readonly retryAtUs?: number
}

export class HaMonitor {
  livenessTimeoutUs = HA_LIVENESS_TIMEOUT_DEFAULT_US
  readonly restarts: HaRestart[] = []
  private readonly attempts = new Map<VmId, number>()
  private retryScheduledAtUs: number | undefined
  /** Hosts whose link HA's failure took down: a recovery brings it back. */
  private readonly linksDown = new Set<HostId>()
  /** Hosts that failed and are not yet noticed, with when they will be. */
  private readonly unnoticed = new Map<HostId, number>()

  constructor(private readonly engine: HaEngine) {}

  /**
   * What HA keeps between happenings, failures waiting for their timeout and a planned retry included
   * (their timers are on the agenda as data, engine/simulation.ts). A restart pass under way is not data
   * (its order groups wait on their starts): the engine is not at rest then. The restarts so far are a
   * report, not state: not kept.
   */
  rest(): HaRest {
    return {
      livenessTimeoutUs: this.livenessTimeoutUs,
      attempts: [...this.attempts],
      linksDown: [...this.linksDown],
      unnoticed: [...this.unnoticed],
      ...(this.retryScheduledAtUs === undefined ? {} : { retryAtUs: this.retryScheduledAtUs })
    }
  }

  /** Goes on from `rest` (a monitor that has done nothing yet); the engine puts its timers back. */
  restore(rest: HaRest): void {
    this.livenessTimeoutUs = rest.livenessTimeoutUs
    for (const [vm, attempts] of rest.attempts) this.attempts.set(vm, attempts)
    for (const host of rest.linksDown) this.linksDown.add(host)
    for (const [host, atUs] of rest.unnoticed) this.unnoticed.set(host, atUs)
    this.retryScheduledAtUs = rest.retryAtUs
  }

  /** A host stops. HA off: declared dead at once, as before. HA on: noticed after the liveness timeout. */
  hostFailed(host: HostId): void {
    if (!haEnabled(this.engine.view())) {
      this.engine.attempt({ _tag: "FailHost", atUs: this.engine.nowUs(), host }, `fail-host ${host}`)
      return
    }
    this.engine.linkDown(host)
    this.linksDown.add(host)
    const noticedAtUs = this.engine.nowUs() + this.livenessTimeoutUs
    if (!this.unnoticed.has(host)) this.unnoticed.set(host, noticedAtUs)
    this.engine.plan("notice", noticedAtUs)
  }

  /**
   * The host is live again (`HostRecovered`): its link comes back with it. (A host that recovers before
   * its failure is noticed is still declared dead at the timeout, as XAPI's HA fences a host that lost
   * its heartbeat.)
   */
  hostRecovered(host: HostId): void {
    if (this.linksDown.delete(host)) this.engine.linkUp(host)
  }

  /**
   * The live set lost every host whose timeout has run out: all of them are declared dead before any
   * restart (XAPI's `restart_auto_run_vms` takes the whole live set), so hosts that failed together are
   * handled together and no VM is restarted onto one of them.
   */
  noticeDue(): void {
    const now = this.engine.nowUs()
    const due = [...this.unnoticed].filter(([, atUs]) => atUs <= now).map(([host]) => host)
    if (due.length === 0) return
    for (const host of due) this.unnoticed.delete(host)
    const view = this.engine.view()
    // restart_auto_run_vms samples the dead hosts' VMs before forcing them Halted (its reset_vms)
    const reset = due
      .sort()
      .flatMap((host) => (view.host(host)?.live === true ? vmsResidentOn(view, host) : []))
      .filter((vm) => vm.powerState === "Running" || vm.powerState === "Paused")
      .map((vm) => vm.id)
    for (const host of due)
      if (this.engine.view().host(host)?.live === true)
        this.engine.attempt({ _tag: "FailHost", atUs: now, host }, `fail-host ${host}`)
    if (haEnabled(this.engine.view())) this.restartAutoRunVms(reset)
  }

  /** XAPI's `restart_auto_run_vms`: protected VMs by plan and order, then the best-effort ones. */
  private restartAutoRunVms(reset: ReadonlyArray<VmId>): void {
    const view = this.engine.view()
    const ntol = view.pool?.ha?.hostFailuresToTolerate ?? 0
    const { plan, notRestarted } = computeRestartPlan(view, ntol)
    const planned = new Map(plan)
    const complete = notRestarted.length === 0
    const halted = vmList(view).filter((vm) => isHaProtected(vm) && vm.powerState === "Halted")
    const targets = complete ? halted.filter((vm) => planned.has(vm.id)) : halted
    const protectedStarts = targets.map((vm) => ({
      vm: vm.id,
      order: haOrder(vm),
      host: complete ? planned.get(vm.id) : undefined,
      priority: "restart" as const
    }))
    this.runGroups(protectedStarts, () => {
      this.scheduleRetries()
      const bestEffort = reset
        .map((id) => getVm(this.engine.view(), id))
        .filter((vm) => vm !== undefined && vm.powerState === "Halted" && isBestEffort(vm))
        .map((vm) => ({ vm: vm!.id, order: haOrder(vm!), host: undefined, priority: "best-effort" as const }))
      this.runGroups(bestEffort, () => undefined)
    })
  }

  /** Starts in ascending order, one order's group after the previous one ended (`map_parallel ~order_f`). */
  private runGroups(
    starts: ReadonlyArray<{ vm: VmId; order: number; host: HostId | undefined; priority: HaRestartPriorityClass }>,
    then: () => void
  ): void {
    const orders = [...new Set(starts.map((s) => s.order))].sort((a, b) => a - b)
    const step = (i: number): void => {
      if (i >= orders.length) return then()
      const group = starts.filter((s) => s.order === orders[i])
      let pending = group.length
      const oneDone = () => {
        if (--pending === 0) this.engine.at(this.engine.nowUs(), () => step(i + 1))
      }
      for (const s of group) this.restartOne(s.vm, s.host, s.priority, s.order, oneDone)
    }
    step(0)
  }

  private restartOne(
    vm: VmId,
    host: HostId | undefined,
    priority: HaRestartPriorityClass,
    order: number,
    done: () => void
  ): void {
    const attempt = (this.attempts.get(vm) ?? 0) + 1
    this.attempts.set(vm, attempt)
    const operation = `HA restart of ${vm}${host === undefined ? "" : ` on ${host}`}`
    this.engine.start(vm, host, operation, (ok) => {
      const now = this.engine.nowUs()
      const where = getVm(this.engine.view(), vm)?.residentOn
      const retry = priority === "restart" && !ok && attempt < HA_RESTART_ATTEMPTS_MAX
      const detail = ok ? `running on ${where ?? "?"}` : this.engine.lastRefusal()
      this.restarts.push({ atUs: now, vm, priority, order, attempt, plannedHost: host, ok, detail })
      if (ok) this.attempts.delete(vm)
      else
        this.engine.submit({
          _tag: "RecordHaRestartFailure",
          atUs: now,
          vm,
          reason: detail,
          ...(retry ? { retryAtUs: now + HA_RESTART_RETRY_US } : {})
        })
      done()
    })
  }

  /** Protected VMs still halted after a pass are tried again 120 s later (one pass for all of them). */
  private scheduleRetries(): void {
    const view = this.engine.view()
    const waiting = vmList(view).some(
      (vm) =>
        isHaProtected(vm) &&
        vm.powerState === "Halted" &&
        (this.attempts.get(vm.id) ?? 0) > 0 &&
        (this.attempts.get(vm.id) ?? 0) < HA_RESTART_ATTEMPTS_MAX
    )
    const atUs = this.engine.nowUs() + HA_RESTART_RETRY_US
    if (!waiting || this.retryScheduledAtUs === atUs) return
    this.retryScheduledAtUs = atUs
    this.engine.plan("retry", atUs)
  }

  /** The planned retry is due: halted protected VMs are tried again, if HA is still on. */
  retryDue(): void {
    this.retryScheduledAtUs = undefined
    if (haEnabled(this.engine.view())) this.restartAutoRunVms([])
  }
}
