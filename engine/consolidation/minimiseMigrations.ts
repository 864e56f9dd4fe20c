/**
 * The built-in consolidation controller, `minimise-migrations` (DESIGN.md §6, the PlanetLab workload): every interval it reads each VM's
 * CPU load, computes each host's CPU load (Σ VM cpu% × vCPUs / host CPUs), and
 * 1. relieves overloaded hosts (load above `overloadPct`), choosing VMs by "minimisation of migrations"
 *    (Beloglazov et al.): the VM that alone brings the host under the threshold, the one with the least
 *    memory among those (the shortest migration); if none does, the VM with the largest CPU demand, and
 *    again. Each goes to the least-loaded enabled host that can take it under the threshold; if no enabled
 *    host can, a host this controller switched off (disabled, empty) is enabled again for it;
 * 2. finishes drains it started that a refused or aborted migration left incomplete;
 * 3. empties underloaded hosts (load below `underloadPct`), least loaded first: the host is disabled
 *    (as before `host.evacuate`, so nothing new lands there) and every resident VM moves, largest CPU
 *    demand first, to the most loaded enabled host whose load stays at or below `packPct` (best fit,
 *    which packs the remaining hosts instead of spreading onto the next host to be emptied; `packPct`
 *    below `overloadPct` leaves headroom, so a packed host does not overload at the next wiggle). A host
 *    is emptied only if all of its VMs fit elsewhere within this interval's budget, so a drain never
 *    strands half a host.
 *
 * `planConsolidation` is pure: pool state and CPU loads in, a list of actions out, with memory checked by
 * the domain's own rules (`canBootHere`: `checkCanBootHere` without building its error) and the VM by
 * `checkVmOperation`, on a model that counts each planned move, so the engine refuses none of them unless
 * a test injects a refusal. A refusal is recorded by the engine anyway (`Simulation.attempt`). At most
 * `migrationsMaxPerInterval` migrations start per interval. Loads are "projected": a VM that is migrating
 * counts on its destination.
 *
 * Integers only: a host's demand is Σ cpuPct × vCPUs (percent-vCPUs); it is overloaded when
 * demand > overloadPct × cpus, underloaded when demand < underloadPct × cpus.
 */
import { Either } from "effect"
import type { HostId } from "../../domain/ids.js"
import { canBootHere, vmPhysicalPages, vmPlacementPages } from "../../domain/memory.js"
import { checkVmOperation } from "../../domain/operations.js"
import { getMigration, hostList, vmList, type Host, type PoolRead, type Vm } from "../../domain/state.js"
import type {
  ConsolidationAction,
  ConsolidationController,
  ConsolidationPlan,
  ConsolidationThresholds,
  CpuPctOf,
  MoveReason
} from "./controller.js"

interface HostModel {
  readonly id: HostId
  readonly cpus: number
  /** The domain's host, with the planned incoming reservations (and a planned enable or disable) applied. */
  host: Host
  /** Σ cpuPct × vCPUs of the VMs that are, or will be, here. */
  demand: number
  vms: number
  /** A migration to or from it is in flight or planned: not emptied this interval. */
  busy: boolean
  draining: boolean
  readonly owned: boolean
}

interface VmModel {
  readonly vm: Vm
  readonly demand: number
  readonly movable: boolean
}

interface Model {
  readonly hosts: ReadonlyArray<HostModel>
  readonly byId: ReadonlyMap<HostId, HostModel>
  /** Each host's resident VMs that are not migrating, in id order. */
  readonly residents: ReadonlyMap<HostId, ReadonlyArray<VmModel>>
  readonly thresholds: ConsolidationThresholds
  readonly actions: ConsolidationAction[]
  budget: number
  /** Hosts enabled in the plan so far (kept by `setEnabled`, not recounted for every drain). */
  enabled: number
}

const buildModel = (
  state: PoolRead,
  cpuPctOf: CpuPctOf,
  owned: ReadonlySet<HostId>,
  thresholds: ConsolidationThresholds
): Model => {
  const hosts: HostModel[] = hostList(state)
    .filter((h) => h.live)
    .map((h) => ({
      id: h.id,
      cpus: h.cpus,
      host: h,
      demand: 0,
      vms: 0,
      busy: false,
      draining: !h.enabled && owned.has(h.id),
      owned: owned.has(h.id)
    }))
  const byId = new Map(hosts.map((h) => [h.id, h]))
  const residents = new Map<HostId, VmModel[]>()
  for (const vm of vmList(state)) {
    if (vm.residentOn === undefined) continue
    const pct = cpuPctOf(vm.id)
    if (!Number.isInteger(pct) || pct < 0 || pct > 100) throw new RangeError(`cpu load of ${vm.id}: ${pct}`)
    const demand = vm.powerState === "Running" ? pct * vm.vcpus : 0
    const migration = vm.migration === undefined ? undefined : getMigration(state, vm.migration)
    const here = byId.get(migration ? migration.destination : vm.residentOn)
    if (here) {
      here.demand += demand
      here.vms++
    }
    if (migration) {
      for (const end of [migration.source, migration.destination]) {
        const h = byId.get(end)
        if (h) h.busy = true
      }
      continue
    }
    const list = residents.get(vm.residentOn) ?? []
    list.push({ vm, demand, movable: Either.isRight(checkVmOperation(vm, "pool_migrate")) })
    residents.set(vm.residentOn, list)
  }
  const enabled = hosts.filter((h) => h.host.enabled).length
  return { hosts, byId, residents, thresholds, actions: [], budget: thresholds.migrationsMaxPerInterval, enabled }
}

const overloaded = (m: Model, h: HostModel): boolean => h.demand > m.thresholds.overloadPct * h.cpus
const underloaded = (m: Model, h: HostModel): boolean => h.demand < m.thresholds.underloadPct * h.cpus
/** a's load below b's (demand / cpus compared without division). */
const lighter = (a: HostModel, b: HostModel): boolean => a.demand * b.cpus < b.demand * a.cpus

/** Enabled, live, not being emptied, and takes the VM: memory by the domain's rule, CPU under the threshold. */
const canTake = (m: Model, h: HostModel, v: VmModel): boolean =>
  h.host.enabled &&
  !h.draining &&
  h.host.id !== v.vm.residentOn &&
  h.demand + v.demand <= m.thresholds.overloadPct * h.cpus &&
  canBootHere(h.host, v.vm)

/** Hosts in id order; strict comparisons keep the lowest id on ties. */
const leastLoaded = (m: Model, v: VmModel): HostModel | undefined => {
  let best: HostModel | undefined
  for (const h of m.hosts) if (canTake(m, h, v) && (!best || lighter(h, best))) best = h
  return best
}

const mostLoadedInUse = (m: Model, v: VmModel): HostModel | undefined => {
  let best: HostModel | undefined
  for (const h of m.hosts) {
    if (h.vms === 0 || h.demand + v.demand > m.thresholds.packPct * h.cpus || !canTake(m, h, v)) continue
    if (!best || lighter(best, h)) best = h
  }
  return best
}

/** Saved fields of the hosts a tentative plan touched, to undo it. */
type Undo = Array<{ readonly h: HostModel; readonly saved: Pick<HostModel, "host" | "demand" | "vms" | "busy"> }>

const move = (m: Model, v: VmModel, from: HostModel, to: HostModel, reason: MoveReason, undo?: Undo): void => {
  undo?.push({ h: from, saved: { ...from } }, { h: to, saved: { ...to } })
  from.demand -= v.demand
  from.vms--
  from.busy = true
  to.demand += v.demand
  to.vms++
  to.busy = true
  to.host = {
    ...to.host,
    placementPages: to.host.placementPages + vmPlacementPages(v.vm),
    reservedPages: to.host.reservedPages + vmPhysicalPages(v.vm)
  }
  m.budget--
  m.actions.push({ _tag: "Migrate", vm: v.vm.id, from: from.id, to: to.id, reason })
}

const setEnabled = (m: Model, h: HostModel, enabled: boolean): void => {
  if (h.host.enabled !== enabled) m.enabled += enabled ? 1 : -1
  h.host = { ...h.host, enabled }
  h.draining = !enabled
  m.actions.push({ _tag: enabled ? "EnableHost" : "DisableHost", host: h.id })
}

/** A host this controller switched off, empty and idle, that can take the VM once enabled again. */
const wake = (m: Model, v: VmModel): HostModel | undefined => {
  for (const h of m.hosts) {
    if (!h.owned || h.host.enabled || h.vms > 0 || h.busy) continue
    const enabled: HostModel = { ...h, host: { ...h.host, enabled: true }, draining: false }
    if (!canTake(m, enabled, v)) continue
    setEnabled(m, h, true)
    return h
  }
  return undefined
}

/** Smallest memory first (minimum migration time), then the larger CPU demand, then id. */
const byMigrationTime = (a: VmModel, b: VmModel): number =>
  vmPhysicalPages(a.vm) - vmPhysicalPages(b.vm) || b.demand - a.demand || (a.vm.id < b.vm.id ? -1 : 1)

/** Minimisation of migrations: the least-memory VM that alone clears the excess, else the largest demand. */
const selectForRelief = (m: Model, h: HostModel, left: ReadonlyArray<VmModel>): VmModel => {
  const excess = h.demand - m.thresholds.overloadPct * h.cpus
  const enough = left.find((v) => v.demand >= excess) // `left` is in migration-time order
  if (enough) return enough
  let largest = left[0]!
  for (const v of left) if (v.demand > largest.demand) largest = v
  return largest
}

const relieve = (m: Model, h: HostModel, unresolved: Array<{ host: HostId; reason: string }>): void => {
  const left = (m.residents.get(h.id) ?? []).filter((v) => v.movable && v.demand > 0).sort(byMigrationTime)
  // Each pass removes one candidate: at most as many passes as the host has VMs.
  while (overloaded(m, h) && m.budget > 0 && left.length > 0) {
    const v = selectForRelief(m, h, left)
    left.splice(left.indexOf(v), 1)
    const to = leastLoaded(m, v) ?? wake(m, v)
    if (to) move(m, v, h, to, "overload")
  }
  if (overloaded(m, h)) {
    const reason =
      m.budget === 0
        ? "the interval's migration budget is spent"
        : "no other host can take one of its VMs under the overload threshold"
    unresolved.push({ host: h.id, reason })
  }
}

/** Largest CPU demand first, then the larger memory, then id (first fit decreasing into best fit). */
const byDemand = (a: VmModel, b: VmModel): number =>
  b.demand - a.demand || vmPhysicalPages(b.vm) - vmPhysicalPages(a.vm) || (a.vm.id < b.vm.id ? -1 : 1)

/** Plans every VM of `h` onto other hosts, all or none; true if all were planned. */
const placeAll = (m: Model, h: HostModel, vms: ReadonlyArray<VmModel>, reason: MoveReason): boolean => {
  if (vms.length > m.budget || vms.some((v) => !v.movable)) return false
  const undo: Undo = []
  const budget = m.budget
  const actions = m.actions.length
  for (const v of [...vms].sort(byDemand)) {
    const to = mostLoadedInUse(m, v)
    if (!to) {
      for (const { h: touched, saved } of undo.reverse()) Object.assign(touched, saved)
      m.budget = budget
      m.actions.length = actions
      return false
    }
    move(m, v, h, to, reason, undo)
  }
  return true
}

/** Drains this controller started that left VMs behind: finish them, or give the host back if they cannot move. */
const finishDrains = (m: Model): void => {
  for (const h of m.hosts) {
    if (!h.owned || h.host.enabled) continue
    const left = m.residents.get(h.id) ?? []
    if (left.length === 0) continue
    if (left.length > m.budget) continue // not this interval: the budget is short
    if (!placeAll(m, h, left, "finish-drain")) setEnabled(m, h, true)
  }
}

const drainUnderloaded = (m: Model): void => {
  const candidates = m.hosts
    .filter((h) => h.host.enabled && !h.busy && underloaded(m, h))
    .sort((a, b) => (lighter(a, b) ? -1 : lighter(b, a) ? 1 : a.vms - b.vms || (a.id < b.id ? -1 : 1)))
  for (const h of candidates) {
    if (m.budget === 0) return
    if (h.busy) continue // it received a VM earlier in this plan
    const enabledOthers = m.enabled - (h.host.enabled ? 1 : 0)
    if (enabledOthers === 0) return
    const disableAt = m.actions.length
    if (!placeAll(m, h, m.residents.get(h.id) ?? [], "drain")) continue
    setEnabled(m, h, false)
    // The disable goes before the host's migrations, as an operator disables a host before evacuating it.
    m.actions.splice(disableAt, 0, m.actions.pop()!)
  }
}

/**
 * One interval's decisions. `owned`: the hosts this controller disabled (it only re-enables or finishes
 * draining those, never a host an operator disabled).
 */
export const planConsolidation = (
  state: PoolRead,
  cpuPctOf: CpuPctOf,
  thresholds: ConsolidationThresholds,
  owned: ReadonlySet<HostId> = new Set()
): ConsolidationPlan => {
  const t = thresholds
  if (!(t.underloadPct < t.packPct && t.packPct <= t.overloadPct && t.migrationsMaxPerInterval >= 1))
    throw new RangeError(`consolidation thresholds: ${JSON.stringify(thresholds)}`)
  const m = buildModel(state, cpuPctOf, owned, thresholds)
  const hostsInUse = m.hosts.filter((h) => h.vms > 0).length
  const hostsEnabled = m.enabled
  const over = m.hosts.filter((h) => overloaded(m, h))
  const saturated = m.hosts.filter((h) => h.demand > 100 * h.cpus).map((h) => h.id)
  const unresolved: Array<{ host: HostId; reason: string }> = []
  const worstFirst = [...over].sort((a, b) => (lighter(b, a) ? -1 : lighter(a, b) ? 1 : a.id < b.id ? -1 : 1))
  for (const h of worstFirst) relieve(m, h, unresolved)
  finishDrains(m)
  drainUnderloaded(m)
  if (m.budget < 0) throw new RangeError("consolidation planned more migrations than its budget")
  return {
    actions: m.actions,
    hostsInUse,
    hostsEnabled,
    overloaded: over.map((h) => h.id),
    saturated,
    unresolved
  }
}

/** The built-in controller, as a user would write theirs. */
export const minimiseMigrations: ConsolidationController = {
  name: "minimise-migrations",
  summary:
    "relieve overloaded hosts by the fewest, shortest migrations (Beloglazov et al.), then empty and disable underloaded hosts",
  plan: ({ state, cpuPctOf, thresholds, owned }) => planConsolidation(state, cpuPctOf, thresholds, owned)
}
