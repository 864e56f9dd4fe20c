/**
 * `ha-failover`: XAPI's HA promise, checked on generated pools (docs/ha.md). A pool of 2–5 small hosts
 * (sizes in pages, so that VM overheads matter), VMs of every restart priority started at time 0, HA on
 * with ntol 0–2; at 10 s some hosts fail at once. The engine runs in debug mode, so every domain
 * invariant (no host overcommitted, a running VM resident on exactly one host) holds after every event.
 *
 * - If the planner said a plan exists for ntol (`ha_plan_exists_for` ≥ ntol, not overcommitted) when the
 *   hosts failed and at most ntol failed: every protected VM that was running is running again, on a
 *   live host, started exactly once after the failure, by the liveness timeout plus one retry interval.
 * - Whatever happened: a protected VM that was running and is halted at the end has its failed restart
 *   reported (`VmHaRestartFailed`).
 *
 * The planner mutants (properties/mutants.ts: one ignores VM overheads, one plans for ntol − 1) make the
 * first promise false on some pools: the test of mutants asserts this property finds one.
 */
import fc from "fast-check"
import { isHaProtected } from "../domain/ha.js"
import { foldEvents } from "../domain/evolve.js"
import { getHost, initialState, vmList } from "../domain/state.js"
import { HA_LIVENESS_TIMEOUT_DEFAULT_US, HA_RESTART_RETRY_US } from "../engine/ha.js"
import type { ScenarioJson } from "./arbitraries.js"
import { runEngine, type CaseEnv } from "./engineRun.js"
import { scenarioProperty } from "./property.js"

export const HA_FAILURE_AT_US = 10_000_000

const priorityArb = fc.constantFrom("restart", "restart", "best-effort", "")

/** A pool, its VMs, ntol and the hosts that fail together at 10 s. */
export const haScenarioArb: fc.Arbitrary<ScenarioJson> = fc
  .record({
    hostPages: fc.array(fc.integer({ min: 2_000, max: 6_000 }), { minLength: 2, maxLength: 5 }),
    vms: fc.array(
      fc.record({
        pages: fc.integer({ min: 100, max: 1_500 }),
        vcpus: fc.integer({ min: 1, max: 8 }),
        priority: priorityArb,
        order: fc.integer({ min: 0, max: 2 })
      }),
      { minLength: 1, maxLength: 10 }
    ),
    ntol: fc.oneof({ weight: 1, arbitrary: fc.constant(0) }, { weight: 4, arbitrary: fc.integer({ min: 1, max: 2 }) }),
    /** Mostly ntol hosts fail (the promise), sometimes one more (the report). */
    beyond: fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.constant(1) }),
    order: fc.uniqueArray(fc.integer({ min: 0, max: 4 }), { minLength: 5, maxLength: 5 })
  })
  .map(({ hostPages, vms, ntol: drawn, beyond, order }) => {
    const hosts = hostPages.map((pages, i) => ({ id: `h${i + 1}`, memory: `${pages}pages`, overhead: "64pages" }))
    const ntol = Math.min(drawn, hosts.length - 1)
    const failed = order
      .filter((i) => i < hosts.length)
      .slice(0, ntol + beyond)
      .map((i) => `h${i + 1}`)
    return {
      format: "xenpool-scenario",
      version: 1,
      name: "ha-failover",
      seed: 1,
      pool: { id: "ha", ha: { hostFailuresToTolerate: ntol } },
      hosts,
      vms: vms.map((vm, i) => ({
        id: `v${i + 1}`,
        vcpus: vm.vcpus,
        memory: `${vm.pages}pages`,
        ...(vm.priority === "" ? {} : { ha: { restartPriority: vm.priority, order: vm.order } })
      })),
      schedule: failed.map((host) => ({ at: `${HA_FAILURE_AT_US}us`, op: "fail-host", host })),
      limits: { simulatedTime: "1h", events: 100_000 }
    }
  })

const failedHosts = (scenario: ScenarioJson): ReadonlyArray<string> =>
  (scenario["schedule"] as ReadonlyArray<{ readonly host: string }>).map((s) => s.host)

/** The violation of the HA promise in one run, or undefined. */
export const checkHaFailover = (scenario: ScenarioJson, env: CaseEnv): string | undefined => {
  const run = runEngine(scenario, { ...env, debug: true })
  if (run.defect !== undefined) return `engine defect: ${run.defect}`
  const events = run.emitted.map((e) => e.event)
  const before = foldEvents(
    initialState,
    events.filter((e) => e.atUs < HA_FAILURE_AT_US)
  )
  const after = run.result!.state
  const ha = before.pool?.ha
  const ntol = ha?.hostFailuresToTolerate ?? 0
  const failed = failedHosts(scenario)
  const promised =
    ha !== undefined && ha.enabled && !ha.overcommitted && ha.planExistsFor >= ntol && failed.length <= ntol
  const deadlineUs = HA_FAILURE_AT_US + HA_LIVENESS_TIMEOUT_DEFAULT_US + HA_RESTART_RETRY_US
  for (const vm of vmList(before)) {
    if (!isHaProtected(vm) || vm.powerState !== "Running" || !failed.includes(vm.residentOn!)) continue
    const now = vmList(after).find((v) => v.id === vm.id)
    const starts = events.filter((e) => e._tag === "VmStarted" && e.vm === vm.id && e.atUs >= HA_FAILURE_AT_US)
    const reported = events.some((e) => e._tag === "VmHaRestartFailed" && e.vm === vm.id)
    if (now?.powerState !== "Running") {
      if (promised)
        return `${vm.id} (protected, on failed ${vm.residentOn}) is ${now?.powerState ?? "gone"} after ${failed.join(", ")} failed, with a plan for ${ha!.planExistsFor} failure(s)`
      if (!reported) return `${vm.id} (protected) was not restarted and no VmHaRestartFailed says so`
      continue
    }
    if (getHost(after, now.residentOn!)?.live !== true) return `${vm.id} runs on ${now.residentOn}, which is not live`
    if (promised && starts.length !== 1) return `${vm.id} was started ${starts.length} times after the failure`
    if (promised && starts[0]!.atUs > deadlineUs)
      return `${vm.id} restarted at ${starts[0]!.atUs} µs, after the bound ${deadlineUs} µs`
  }
  return undefined
}

export const haFailover = scenarioProperty({
  name: "ha-failover",
  statement:
    "with HA on and a plan for ntol, any ≤ ntol simultaneous host failures leave every protected VM running again, once, on a live host with the memory for it, within the liveness timeout and one retry; a protected VM left halted is reported",
  arbitrary: haScenarioArb.map((scenario) => [scenario, undefined] as const),
  check: (scenario, _extra, env) => checkHaFailover(scenario, env)
})
