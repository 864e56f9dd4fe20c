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

/**
 * HA's timers, on the agenda as data (so that the engine may rest while they wait): a failure noticed
 * (`noticeDue` runs then), halted protected VMs tried again (`retryDue`), a restart pass's next order
 * group (`groupDue`).
 */
export type HaTimer = { readonly _tag: "HaNotice" | "HaRetry" } | { readonly _tag: "HaGroup"; readonly pass: number }

/** One start of a restart pass. */
export interface HaStart {
  readonly vm: VmId
  readonly order: number
  /** The planned host (`start_on`); none where the pool places it (`start`). */
  readonly host?: HostId
  readonly priority: HaRestartPriorityClass
}

/** A restart pass under way (`restart_auto_run_vms`), as data. */
export interface HaPassRest {
  readonly id: number
  /** Its protected VMs' starts first (`restart`), then the best-effort ones'. */
  readonly stage: HaRestartPriorityClass
  readonly starts: ReadonlyArray<HaStart>
  /** The VMs the failure halted: the best-effort ones among them are started after the protected ones. */
  readonly reset: ReadonlyArray<VmId>
  /** The order group in hand (its place among the starts' orders), and how many of its starts are not done. */
  readonly group: number
  readonly pending: number
}

type Pass = { -readonly [K in keyof HaPassRest]: HaPassRest[K] }

/** What follows a restart's start once it is done (at once, or after the squeezer), as data. */
export interface HaRestartThen extends HaStart {
  readonly _tag: "HaRestart"
  readonly pass: number
  readonly attempt: number
}

/** What the monitor needs of the simulation. */
export interface HaEngine {
  readonly view: () => PoolView
  readonly nowUs: () => number
  readonly plan: (timer: HaTimer, atUs: number) => void
  readonly submit: (command: PoolCommand) => Either.Either<ReadonlyArray<PoolEvent>, DomainError>
  /**
   * A start through the squeezer (engine/balloon.ts): `restartDone(then, ok)` follows, at once or when the
   * squeezer is done.
   */
  readonly start: (vm: VmId, host: HostId | undefined, operation: string, then: HaRestartThen) => void
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
  /** Restart passes under way, and how many were numbered so far. */
  readonly passes: ReadonlyArray<HaPassRest>
  readonly passCount: number
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
  private readonly passes = new Map<number, Pass>()
  private passCount = 0

  constructor(private readonly engine: HaEngine) {}

  /**
   * What HA keeps between happenings: failures waiting for their timeout, a planned retry, restart passes
   * under way (their timers are on the agenda as data, engine/simulation.ts; their starts waiting for the
   * squeezer are the squeezer's). The restarts so far are a report, not state: not kept.
   */
  rest(): HaRest {
    return {
      livenessTimeoutUs: this.livenessTimeoutUs,
      attempts: [...this.attempts],
      linksDown: [...this.linksDown],
      unnoticed: [...this.unnoticed],
      ...(this.retryScheduledAtUs === undefined ? {} : { retryAtUs: this.retryScheduledAtUs }),
      passes: [...this.passes.values()].map((pass) => ({ ...pass })),
      passCount: this.passCount
    }
  }

  /** Goes on from `rest` (a monitor that has done nothing yet); the engine puts its timers back. */
  restore(rest: HaRest): void {
    this.livenessTimeoutUs = rest.livenessTimeoutUs
    for (const [vm, attempts] of rest.attempts) this.attempts.set(vm, attempts)
    for (const host of rest.linksDown) this.linksDown.add(host)
    for (const [host, atUs] of rest.unnoticed) this.unnoticed.set(host, atUs)
    this.retryScheduledAtUs = rest.retryAtUs
    for (const pass of rest.passes) this.passes.set(pass.id, { ...pass })
    this.passCount = rest.passCount
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
    this.engine.plan({ _tag: "HaNotice" }, noticedAtUs)
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
    const starts = targets.map((vm): HaStart => {
      const host = complete ? planned.get(vm.id) : undefined
      return { vm: vm.id, order: haOrder(vm), ...(host === undefined ? {} : { host }), priority: "restart" }
    })
    const pass: Pass = { id: ++this.passCount, stage: "restart", starts, reset: [...reset], group: 0, pending: 0 }
    this.passes.set(pass.id, pass)
    this.runGroup(pass)
  }

  /**
   * Starts the pass's order group in hand, in ascending order, each group after the one before ended
   * (`map_parallel ~order_f`); after the protected VMs' last group, the best-effort ones'.
   */
  private runGroup(pass: Pass): void {
    const orders = [...new Set(pass.starts.map((s) => s.order))].sort((a, b) => a - b)
    if (pass.group < orders.length) {
      const group = pass.starts.filter((s) => s.order === orders[pass.group])
      pass.pending = group.length
      for (const s of group) this.restartOne(pass, s)
      return
    }
    if (pass.stage === "best-effort") {
      this.passes.delete(pass.id)
      return
    }
    this.scheduleRetries()
    pass.stage = "best-effort"
    pass.starts = pass.reset
      .map((id) => getVm(this.engine.view(), id))
      .filter((vm) => vm !== undefined && vm.powerState === "Halted" && isBestEffort(vm))
      .map((vm) => ({ vm: vm!.id, order: haOrder(vm!), priority: "best-effort" as const }))
    pass.group = 0
    this.runGroup(pass)
  }

  /** The pass's next order group is due (its `HaGroup` timer came). */
  groupDue(id: number): void {
    const pass = this.passes.get(id)!
    pass.group++
    this.runGroup(pass)
  }

  private restartOne(pass: Pass, start: HaStart): void {
    const attempt = (this.attempts.get(start.vm) ?? 0) + 1
    this.attempts.set(start.vm, attempt)
    const operation = `HA restart of ${start.vm}${start.host === undefined ? "" : ` on ${start.host}`}`
    this.engine.start(start.vm, start.host, operation, { _tag: "HaRestart", ...start, pass: pass.id, attempt })
  }

  /** A restart's start is done (`ok`: the VM runs): recorded, and its order group is one start nearer its end. */
  restartDone(then: HaRestartThen, ok: boolean): void {
    const { vm, host, priority, order, attempt } = then
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
    const pass = this.passes.get(then.pass)!
    if (--pass.pending === 0) this.engine.plan({ _tag: "HaGroup", pass: pass.id }, now)
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
    this.engine.plan({ _tag: "HaRetry" }, atUs)
  }

  /** The planned retry is due: halted protected VMs are tried again, if HA is still on. */
  retryDue(): void {
    this.retryScheduledAtUs = undefined
    if (haEnabled(this.engine.view())) this.restartAutoRunVms([])
  }
}
