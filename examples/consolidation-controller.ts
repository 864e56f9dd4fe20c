/**
 * A consolidation controller of your own on the bundled PlanetLab scenario (100 VMs of the 2011-03-03
 * PlanetLab trace on 20 hosts), beside the built-in one: hosts in use over the day for each.
 *
 * The controller here, `first-fit`, is simpler than the built-in: it moves the busiest VM off each
 * overloaded host to the first enabled host (in id order) with the memory and the CPU headroom for it,
 * switching a host it emptied back on if none has; then it empties the one least loaded host whose VMs
 * all fit elsewhere within `packPct`, first fit, and disables it. It is a plain value with a name, a
 * summary and a `plan` function, as the built-in is; the engine checks every action it plans against
 * the pool's rules.
 *
 *   node consolidation-controller.js
 */
import { readFileSync } from "node:fs"
import {
  hostList,
  hostPlacementFreePages,
  openStore,
  scenarioPath,
  simulate,
  vmPlacementPages,
  vmsResidentOn,
  type ConsolidationAction,
  type ConsolidationController,
  type Host,
  type ScenarioInput,
  type Vm
} from "xenpool"

const firstFit: ConsolidationController = {
  name: "first-fit",
  summary: "relieve overloaded hosts first fit, then empty the least loaded host first fit",
  plan: ({ state, cpuPctOf, thresholds, owned }) => {
    const hosts = hostList(state).filter((h) => h.live)
    const movable = (h: Host) =>
      vmsResidentOn(state, h.id).filter((v) => v.powerState === "Running" && v.currentOperation === undefined)
    const vmLoad = (v: Vm) => cpuPctOf(v.id) * v.vcpus
    // Planned demand (Σ cpu% × vCPUs), free placement memory and enabled flag per host, as actions are added.
    const demand = new Map(hosts.map((h) => [h.id, vmsResidentOn(state, h.id).reduce((d, v) => d + vmLoad(v), 0)]))
    const free = new Map(hosts.map((h) => [h.id, hostPlacementFreePages(h)]))
    const enabled = new Map(hosts.map((h) => [h.id, h.enabled]))
    const actions: ConsolidationAction[] = []
    const budgetLeft = () => thresholds.migrationsMaxPerInterval - actions.filter((a) => a._tag === "Migrate").length
    const fits = (h: Host, v: Vm, pct: number) =>
      free.get(h.id)! >= vmPlacementPages(v) && demand.get(h.id)! + vmLoad(v) <= pct * h.cpus
    const move = (v: Vm, from: Host, to: Host, reason: "overload" | "drain") => {
      actions.push({ _tag: "Migrate", vm: v.id, from: from.id, to: to.id, reason })
      demand.set(to.id, demand.get(to.id)! + vmLoad(v))
      demand.set(from.id, demand.get(from.id)! - vmLoad(v))
      free.set(to.id, free.get(to.id)! - vmPlacementPages(v))
    }
    const overloaded = hosts.filter((h) => demand.get(h.id)! > thresholds.overloadPct * h.cpus)
    for (const host of overloaded) {
      const busiest = movable(host).sort((a, b) => vmLoad(b) - vmLoad(a))[0]
      if (busiest === undefined || budgetLeft() < 1) continue
      let target = hosts.find((h) => h.id !== host.id && enabled.get(h.id) && fits(h, busiest, thresholds.overloadPct))
      if (target === undefined) {
        target = hosts.find((h) => owned.has(h.id) && !enabled.get(h.id) && fits(h, busiest, thresholds.overloadPct))
        if (target === undefined) continue
        actions.push({ _tag: "EnableHost", host: target.id })
        enabled.set(target.id, true)
      }
      move(busiest, host, target, "overload")
    }
    if (overloaded.length === 0) {
      const underloaded = hosts
        .filter((h) => enabled.get(h.id) && movable(h).length > 0)
        .filter((h) => demand.get(h.id)! < thresholds.underloadPct * h.cpus)
        .sort((a, b) => demand.get(a.id)! / a.cpus - demand.get(b.id)! / b.cpus)
      const host = underloaded[0]
      const vms = host === undefined ? [] : movable(host)
      if (host !== undefined && vms.length <= budgetLeft() && vms.length === vmsResidentOn(state, host.id).length) {
        const plan: Array<[Vm, Host]> = []
        const saved = { demand: new Map(demand), free: new Map(free) }
        for (const v of vms) {
          const to = hosts.find((h) => h.id !== host.id && enabled.get(h.id) && fits(h, v, thresholds.packPct))
          if (to === undefined) break
          plan.push([v, to])
          demand.set(to.id, demand.get(to.id)! + vmLoad(v))
          free.set(to.id, free.get(to.id)! - vmPlacementPages(v))
        }
        for (const [id, d] of saved.demand) demand.set(id, d)
        for (const [id, f] of saved.free) free.set(id, f)
        if (plan.length === vms.length) {
          actions.push({ _tag: "DisableHost", host: host.id })
          for (const [v, to] of plan) move(v, host, to, "drain")
        }
      }
    }
    return {
      actions,
      hostsInUse: hosts.filter((h) => vmsResidentOn(state, h.id).length > 0).length,
      hostsEnabled: hosts.filter((h) => h.enabled).length,
      overloaded: overloaded.map((h) => h.id),
      saturated: hosts.filter((h) => demand.get(h.id)! > 100 * h.cpus).map((h) => h.id),
      unresolved: []
    }
  }
}

/** The bundled scenario with its `consolidate` operation handed to `controller`. */
const withController = (controller: string): ScenarioInput => {
  const scenario = JSON.parse(readFileSync(scenarioPath("planetlab-consolidation"), "utf8")) as ScenarioInput
  return {
    ...scenario,
    schedule: (scenario.schedule ?? []).map((item) => (item.op === "consolidate" ? { ...item, controller } : item))
  }
}

const store = await openStore("memory:")
try {
  for (const controller of ["minimise-migrations", firstFit.name]) {
    const run = await simulate(withController(controller), {
      store,
      extensions: { consolidationControllers: [firstFit] }
    })
    const h = run.hostsInUse
    console.log(
      `${controller}: ${run.migrations.length} migrations, hosts in use min ${h.min}, max ${h.max}, mean ${h.mean.toFixed(2)}`
    )
    console.log(`  every ${h.sampleEveryUs / 3_600_000_000} h: ${h.samples.join(" ")}`)
  }
} finally {
  await store.close()
}
