/**
 * `evacuation-plan`: XAPI's evacuation plan, restated and compared. Pool states come from generated
 * command sequences (the model-based test's commands, run on the engine); for every host of each
 * state, `planEvacuation` must give exactly the plan of a plain restatement of the rule: the host's
 * resident VMs that are not migrating, largest admission footprint first (ties by id), each onto the
 * live, enabled other host with the most admission-free memory left after the moves already planned
 * (lowest id on ties) that has admission and physical room for it; a VM that fits nowhere fails the
 * whole plan with `NoHostsAvailable`. Found by mutation testing: nothing else checked the plan itself.
 * The built-in's fast plan must also be the plan its `choose` gives one VM at a time (the way a user's
 * placement plans), so the extension point and the built-in cannot drift apart, and the plan made on the
 * engine's live pool (its index of VMs by host) the plan made on the persistent state.
 */
import { Either, HashMap } from "effect"
import fc from "fast-check"
import { planByChoices, planEvacuation, xapiDefault, type EvacuationPlan } from "../domain/placement/index.js"
import { hostId } from "../domain/ids.js"
import type { Host, PoolState, Vm } from "../domain/state.js"
import { hostSetupArb, setupPool, Step, stepDrawArb, type StepDraw } from "./poolModel.js"
import { PropertyViolation, runnerParameters, type NamedProperty } from "./property.js"

type Plan = { readonly error: string } | { readonly moves: ReadonlyArray<string> }

const byId = <T extends { readonly id: string }>(a: T, b: T) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)

/** The rule in its own words, over the hosts' running sums (which memory-conservation checks). */
const referencePlan = (state: PoolState, evacuated: string): Plan => {
  const hosts = Array.from(HashMap.values(state.hosts)).sort(byId)
  if (!hosts.some((h) => h.id === evacuated)) return { error: "HostUnknown" }
  const targets = hosts
    .filter((h: Host) => h.id !== evacuated && h.live && h.enabled)
    .map((h) => ({
      id: h.id,
      admissionFree: Math.max(0, h.memoryTotalPages - h.memoryOverheadPages - h.placementPages),
      physicalFree: h.memoryTotalPages - h.memoryOverheadPages - h.residentPages - h.reservedPages
    }))
  const need = (vm: Vm) => vm.memory.dynamicMinPages + vm.overheadPages
  const holds = (vm: Vm) => vm.populatedPages + vm.overheadPages
  const movable = Array.from(HashMap.values(state.vms))
    .filter((vm) => vm.residentOn === evacuated && vm.migration === undefined)
    .sort((a, b) => need(b) - need(a) || byId(a, b))
  const moves: string[] = []
  for (const vm of movable) {
    let best: (typeof targets)[number] | undefined
    for (const t of targets) {
      if (t.admissionFree < need(vm) || t.physicalFree < holds(vm)) continue
      if (best === undefined || t.admissionFree > best.admissionFree) best = t
    }
    if (best === undefined) return { error: "NoHostsAvailable" }
    best.admissionFree -= need(vm)
    best.physicalFree -= holds(vm)
    moves.push(`${vm.id} → ${best.id}`)
  }
  return { moves }
}

const asPlan = (plan: EvacuationPlan): Plan =>
  Either.isLeft(plan) ? { error: plan.left._tag } : { moves: plan.right.map((m) => `${m.vm} → ${m.destination}`) }

/** Draws that mostly create and start VMs, so that hosts fill up and plans have something to move. */
const buildingDrawArb: fc.Arbitrary<StepDraw> = fc.oneof(
  { weight: 3, arbitrary: stepDrawArb.map((d): StepDraw => ({ ...d, kind: d.flag ? "create-vm" : "start-vm" })) },
  { weight: 2, arbitrary: stepDrawArb }
)

export const evacuationPlan: NamedProperty = {
  name: "evacuation-plan",
  statement:
    "for every host of a generated pool state, the evacuation plan is XAPI's: largest VM first onto the live, enabled host with the most admission-free memory left, or NoHostsAvailable when one fits nowhere",
  run: (options) => {
    const property = fc.property(
      hostSetupArb,
      fc.array(buildingDrawArb, { maxLength: 40, size: "medium" }),
      (hosts, draws) => {
        options.onRun?.()
        const { model, real } = setupPool(hosts, options.seams ?? {})()
        for (const draw of draws) {
          // The model-based test checks each step; here the steps only build a state.
          new Step(draw).run(model, real)
        }
        const state = real.sim.state
        const live = real.sim.view
        for (const host of [...Array.from(HashMap.keys(state.hosts)), "h-none"]) {
          const expected = JSON.stringify(referencePlan(state, host))
          const actual = JSON.stringify(asPlan(planEvacuation(state, hostId(host), xapiDefault)))
          if (expected !== actual)
            throw new PropertyViolation(`evacuating ${host}: expected ${expected}, got ${actual}`)
          // the built-in's fast plan is the plan its own choices give, one VM at a time, as a user's would
          const byChoices = JSON.stringify(asPlan(planByChoices(state, hostId(host), xapiDefault)))
          if (byChoices !== actual)
            throw new PropertyViolation(
              `evacuating ${host}: the plan of xapi-default's choices is ${byChoices}, its own ${actual}`
            )
          const onLive = JSON.stringify(asPlan(planEvacuation(live, hostId(host), xapiDefault)))
          if (onLive !== actual)
            throw new PropertyViolation(
              `evacuating ${host}: the plan on the live pool is ${onLive}, on its state ${actual}`
            )
        }
      }
    )
    const details = fc.check(property, runnerParameters<[ReadonlyArray<unknown>, ReadonlyArray<unknown>]>(options))
    if (!details.failed) return { name: "evacuation-plan", runs: details.numRuns, ok: true, seed: options.seed }
    const error = details.errorInstance
    return {
      name: "evacuation-plan",
      runs: details.numRuns,
      ok: false,
      seed: options.seed,
      ...(details.counterexamplePath === null ? {} : { path: details.counterexamplePath }),
      counterexample: `${error instanceof Error ? error.message : String(error)}\n${fc.stringify(details.counterexample)}`
    }
  }
}
