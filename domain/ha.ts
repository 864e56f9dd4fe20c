/**
 * XAPI's HA failover planner (docs/ha.md), restated from `ocaml/xapi/xapi_ha_vm_failover.ml` and
 * `ocaml/xapi/binpack.ml`:
 *
 * - the protected VMs are those with `ha_always_run` and `ha_restart_priority = "restart"`
 *   (`all_protected_vms`, `Helpers.vm_should_always_run`);
 * - every VM counts for its static max + overhead (`total_memory_of_vm` with `Static_max`), and a host's
 *   free memory is its total less its overhead and the same sum over the VMs resident or scheduled there
 *   (`host_compute_free_memory_with_policy … Static_max`);
 * - `computeRestartPlan` (`compute_restart_plan`): the live, enabled hosts; the protected VMs that run
 *   on none of them are first packed onto them (biggest fit decreasing); what does not fit is "not
 *   restarted";
 * - `planForNFailures` (`plan_for_n_failures`): a plan exists for n failures if nothing was left out
 *   and the heuristic `choose_heuristic` picks says every n failures can be survived: exhaustively (every
 *   combination of n hosts failing, in every order, each failure's VMs packed biggest fit decreasing
 *   onto the survivors) when C(hosts, n) × n! < 3500 and the pool has at most 32 hosts, else the
 *   conservative approximation (`simulate_failure_approximation`);
 * - `maxFailuresToTolerate` (`compute_max_host_failures_to_tolerate`): the bisection over 0..hosts;
 * - `haPoolStatus` (`update_pool_status`, `mark_pool_as_overcommitted`): `ha_plan_exists_for` and
 *   `ha_overcommitted` after a change;
 * - `haChangeRefusal` (`assert_configuration_change_preserves_ha_plan`): an operation is refused only
 *   when a plan exists now for `ha_plan_exists_for` failures and would not after it.
 *
 * Pure and synchronous. A `HaPlanner` carries the two choices the mutants change (properties/mutants.ts).
 */
import { Either } from "effect"
import { HaOperationWouldBreakFailoverPlan, HostEvacuateVmNotHaProtected, type DomainError } from "./errors.js"
import { planEvacuation, type Placement, type PlannedMove } from "./placement/index.js"
import type { HostId, VmId } from "./ids.js"
import { getVm, hostList, vmList, type Host, type PoolHa, type PoolRead, type Vm } from "./state.js"

/** What the planner takes as given; the real one is XAPI's, the mutants change one of the two. */
export interface HaPlanner {
  /** The memory the planner counts for a VM, resident or to be restarted. */
  readonly vmPages: (vm: Vm) => number
  /** The number of failures a plan is computed for when n are asked about (XAPI: n). */
  readonly failuresPlannedFor: (n: number) => number
}

/** `total_memory_of_vm ~policy:Static_max`: static max + overhead (our overhead includes shadow). */
export const vmHaPages = (vm: Vm): number => vm.memory.staticMaxPages + vm.overheadPages

export const xapiPlanner: HaPlanner = { vmPages: vmHaPages, failuresPlannedFor: (n) => n }

/** `Helpers.vm_should_always_run`: always run, priority `restart`. */
export const isHaProtected = (vm: Vm): boolean => vm.ha?.restartPriority === "restart" && vm.ha.alwaysRun

/** `ha_restart_priority = "best-effort"`: restarted after the protected VMs, if there is room. */
export const isBestEffort = (vm: Vm): boolean => vm.ha?.restartPriority === "best-effort"

/** `order_f`: the VM's restart order (XAPI maps a negative order last; ours are never negative). */
export const haOrder = (vm: Vm): number => vm.ha?.order ?? 0

export const haEnabled = (state: PoolRead): boolean => state.pool?.ha?.enabled === true

/** XAPI's `choose_heuristic` thresholds. */
const EXHAUSTIVE_HOSTS_MAX = 32
const EXHAUSTIVE_CASES_MAX = 3500

/** A counterfactual (`configuration_change`): what an operation would do, for the planner to judge. */
export interface ConfigurationChange {
  readonly leaving?: ReadonlyArray<{ readonly host: HostId; readonly vm: Vm }>
  readonly arriving?: ReadonlyArray<{ readonly host: HostId; readonly vm: Vm }>
  readonly hostsToDisable?: ReadonlyArray<HostId>
  readonly numFailures?: number
  readonly newVmsToProtect?: ReadonlyArray<Vm>
}

// --- binpack.ml -----------------------------------------------------------------------------------

interface Bin {
  readonly host: HostId
  readonly freePages: number
}

/** A planning configuration (`Binpack.configuration`): live hosts' free memory, VM sizes, placement. */
interface Configuration {
  readonly hosts: ReadonlyArray<Bin>
  readonly vmPages: ReadonlyMap<VmId, number>
  /** VM → host, in XAPI's list order (it decides ties in the sorts). */
  readonly placement: ReadonlyArray<readonly [VmId, HostId]>
  readonly totalHosts: number
  readonly numFailures: number
}

/** A failure the plan cannot survive (binpack.ml's `Stop`). */
class Stop {}

/** Stable sort, largest first (`List.sort less_than` is a stable merge sort). */
const descending = <T>(items: ReadonlyArray<T>, size: (t: T) => number): T[] =>
  items
    .map((item, index) => ({ item, index }))
    .sort((a, b) => size(b.item) - size(a.item) || a.index - b.index)
    .map((x) => x.item)

/**
 * `biggest_fit_decreasing`: the largest VM first, each into the bin with the most room (kept sorted,
 * a bin that shrank goes back before those of equal room); a VM that does not fit the roomiest bin is
 * left out. The mapping comes out latest first, as XAPI's list does.
 */
export const biggestFitDecreasing = (
  things: ReadonlyArray<readonly [VmId, number]>,
  bins: ReadonlyArray<Bin>
): Array<readonly [VmId, HostId]> => {
  const sortedBins = descending(bins, (b) => b.freePages)
  const mapping: Array<readonly [VmId, HostId]> = []
  for (const [vm, pages] of descending(things, ([, size]) => size)) {
    const first = sortedBins[0]
    if (first === undefined) continue
    const remaining = first.freePages - pages
    if (remaining < 0) continue
    sortedBins.shift()
    const at = sortedBins.findIndex((b) => remaining >= b.freePages)
    sortedBins.splice(at < 0 ? sortedBins.length : at, 0, { host: first.host, freePages: remaining })
    mapping.unshift([vm, first.host])
  }
  return mapping
}

/** `account`: each host's free memory less the VMs the plan puts on it. */
const account = (
  hosts: ReadonlyArray<Bin>,
  vmPages: ReadonlyMap<VmId, number>,
  plan: ReadonlyArray<readonly [VmId, HostId]>
): Bin[] =>
  hosts.map((bin) => {
    let used = 0
    for (const [vm, host] of plan) if (host === bin.host) used += vmPages.get(vm)!
    return { host: bin.host, freePages: bin.freePages - used }
  })

/** `apply_plan`: the plan's placements first, then the untouched ones. */
const applyPlan = (config: Configuration, plan: ReadonlyArray<readonly [VmId, HostId]>): Configuration => {
  const planned = new Set(plan.map(([vm]) => vm))
  return {
    ...config,
    hosts: account(config.hosts, config.vmPages, plan),
    placement: [...plan, ...config.placement.filter(([vm]) => !planned.has(vm))]
  }
}

/** `pack_failed_vms_onto_live_hosts`. */
const packFailed = (config: Configuration, failed: ReadonlyArray<VmId>) =>
  biggestFitDecreasing(
    failed.map((vm) => [vm, config.vmPages.get(vm)!] as const),
    config.hosts
  )

/** `simulate_failure`: the host dies, its VMs are packed onto the others, or Stop. */
const simulateFailure = (config: Configuration, dead: HostId): Configuration => {
  const failed = config.placement.filter(([, host]) => host === dead).map(([vm]) => vm)
  const survivors = { ...config, hosts: config.hosts.filter((b) => b.host !== dead) }
  const plan = packFailed(survivors, failed)
  if (plan.length !== failed.length) throw new Stop()
  const moved = new Map(plan)
  return {
    ...survivors,
    hosts: account(survivors.hosts, config.vmPages, plan),
    placement: config.placement.map(([vm, host]) => [vm, moved.get(vm) ?? host] as const),
    numFailures: config.numFailures - 1
  }
}

/** `plan_trivially_never_possible`. */
const triviallyNeverPossible = (config: Configuration): boolean =>
  config.hosts.length < config.numFailures || (config.hosts.length === config.numFailures && config.vmPages.size > 0)

/** Every k-subset of `items`, in any order (`Binpack.choose`). */
const combinations = <T>(items: ReadonlyArray<T>, k: number): T[][] => {
  if (k === 0) return [[]]
  if (items.length < k) return []
  const [first, ...rest] = items
  return [...combinations(rest, k), ...combinations(rest, k - 1).map((c) => [first!, ...c])]
}

const permutations = <T>(items: ReadonlyArray<T>): T[][] =>
  items.length === 0
    ? [[]]
    : items.flatMap((item, i) => permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((p) => [item, ...p]))

/** `bin_pack_every_combination.plan_always_possible`: every n failures, in every order. */
const exhaustivePlanAlwaysPossible = (config: Configuration): boolean => {
  if (triviallyNeverPossible(config)) return false
  try {
    for (const combination of combinations(
      config.hosts.map((b) => b.host),
      config.numFailures
    ))
      for (const order of permutations(combination)) order.reduce(simulateFailure, config)
    return true
  } catch (error) {
    if (error instanceof Stop) return false
    throw error
  }
}

/**
 * `approximate_bin_pack.plan_always_possible` (`simulate_failure_approximation`): every VM as big as
 * the biggest, the largest hosts fail, and they held the most VMs.
 */
const approximatePlanAlwaysPossible = (config: Configuration): boolean => {
  if (triviallyNeverPossible(config)) return false
  if (config.vmPages.size === 0) return true
  const maxVmPages = Math.max(...config.vmPages.values())
  const capacities = config.hosts.map((b) => Math.trunc(b.freePages / maxVmPages)).sort((a, b) => b - a)
  const leftCapacity = capacities.slice(config.numFailures).reduce((a, b) => a + b, 0)
  const vmsPerHost = config.hosts
    .map((b) => config.placement.filter(([, host]) => host === b.host).length)
    .sort((a, b) => b - a)
  const vmsToMove = vmsPerHost.slice(0, config.numFailures).reduce((a, b) => a + b, 0)
  return vmsToMove <= leftCapacity
}

/** C(n, r) × r!, or Infinity past the threshold (XAPI's Overflow also falls back to the approximation). */
const casesToCheck = (n: number, r: number): number => {
  let cases = 1
  for (let i = 0; i < r; i++) {
    cases *= n - i
    if (cases >= EXHAUSTIVE_CASES_MAX) return Infinity
  }
  return cases
}

export type HeuristicName = "exhaustive" | "approximate"

/** `choose_heuristic`: exhaustive for small pools and few failures, else the approximation. */
export const chooseHeuristic = (totalHosts: number, numFailures: number): HeuristicName =>
  totalHosts > EXHAUSTIVE_HOSTS_MAX || casesToCheck(totalHosts, numFailures) >= EXHAUSTIVE_CASES_MAX
    ? "approximate"
    : "exhaustive"

const planAlwaysPossible = (config: Configuration): boolean => {
  const heuristic = chooseHeuristic(config.totalHosts, config.numFailures)
  switch (heuristic) {
    case "exhaustive":
      return exhaustivePlanAlwaysPossible(config)
    case "approximate":
      return approximatePlanAlwaysPossible(config)
  }
}

// --- xapi_ha_vm_failover.ml ----------------------------------------------------------------------

/** A host XAPI plans with: enabled, live, not about to be disabled (`is_alive`). */
const plannedLive = (host: Host, change: ConfigurationChange): boolean =>
  host.enabled && host.live && !(change.hostsToDisable ?? []).includes(host.id)

/** Each host's free memory as the planner counts it: total − overhead − Σ over VMs resident or scheduled there. */
const haFreePages = (state: PoolRead, planner: HaPlanner): Map<HostId, number> => {
  const free = new Map<HostId, number>()
  for (const host of hostList(state)) free.set(host.id, host.memoryTotalPages - host.memoryOverheadPages)
  for (const vm of vmList(state)) {
    const pages = planner.vmPages(vm)
    for (const host of [vm.residentOn, vm.scheduledToBeResidentOn]) {
      if (host !== undefined && free.has(host)) free.set(host, free.get(host)! - pages)
    }
  }
  return free
}

export interface RestartPlan {
  /** VM → host for the protected VMs running nowhere live, latest planned first (XAPI's list). */
  readonly plan: ReadonlyArray<readonly [VmId, HostId]>
  /** Protected VMs running nowhere live that the plan could not place. */
  readonly notRestarted: ReadonlyArray<VmId>
  readonly config: Configuration | undefined
}

/** `compute_restart_plan`; undefined config when `check_configuration` fails (more failures than hosts). */
export const computeRestartPlan = (
  state: PoolRead,
  numFailuresAsked: number,
  change: ConfigurationChange = {},
  planner: HaPlanner = xapiPlanner
): RestartPlan => {
  const numFailures = change.numFailures ?? numFailuresAsked
  const arriving = new Map((change.arriving ?? []).map(({ host, vm }) => [vm.id, host]))
  const leaving = new Set((change.leaving ?? []).map(({ vm }) => vm.id))
  const protectedVms = new Map<VmId, Vm>()
  for (const vm of vmList(state)) if (isHaProtected(vm)) protectedVms.set(vm.id, vm)
  for (const vm of change.newVmsToProtect ?? []) protectedVms.set(vm.id, vm)
  const residentOn = (vm: Vm): HostId | undefined =>
    arriving.get(vm.id) ?? (leaving.has(vm.id) ? undefined : vm.residentOn)
  const hosts = hostList(state)
  const live = new Set(hosts.filter((h) => plannedLive(h, change)).map((h) => h.id))
  const free = haFreePages(state, planner)
  const delta = (list: ConfigurationChange["leaving"], host: HostId) =>
    (list ?? []).filter((x) => x.host === host).reduce((sum, x) => sum + planner.vmPages(x.vm), 0)
  const bins: Bin[] = hosts
    .filter((h) => live.has(h.id))
    .map((h) => ({
      host: h.id,
      freePages: free.get(h.id)! + delta(change.leaving, h.id) - delta(change.arriving, h.id)
    }))
  const vms = [...protectedVms.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  const accountedTo = (vm: Vm): HostId | undefined => {
    const resident = residentOn(vm)
    if (resident !== undefined && live.has(resident)) return resident
    const scheduled = getVm(state, vm.id)?.scheduledToBeResidentOn
    return scheduled !== undefined && live.has(scheduled) ? scheduled : undefined
  }
  const placement: Array<readonly [VmId, HostId]> = []
  const offline: VmId[] = []
  for (const vm of vms) {
    const host = accountedTo(vm)
    if (host === undefined) offline.push(vm.id)
    else placement.push([vm.id, host])
  }
  const vmPages = new Map(vms.map((vm) => [vm.id, planner.vmPages(vm)] as const))
  if (numFailures > hosts.length || numFailures < 0) return { plan: [], notRestarted: offline, config: undefined }
  const initial: Configuration = { hosts: bins, vmPages, placement, totalHosts: hosts.length, numFailures }
  const plan = packFailed(initial, offline)
  const planned = new Set(plan.map(([vm]) => vm))
  return { plan, notRestarted: offline.filter((vm) => !planned.has(vm)), config: applyPlan(initial, plan) }
}

/** `plan_for_n_failures` = `Plan_exists_for_all_VMs` (every VM is agile here: no storage is modelled). */
export const planForNFailures = (
  state: PoolRead,
  n: number,
  change: ConfigurationChange = {},
  planner: HaPlanner = xapiPlanner
): boolean => {
  const asked = change.numFailures ?? n
  const { notRestarted, config } = computeRestartPlan(
    state,
    planner.failuresPlannedFor(asked),
    { ...change, numFailures: planner.failuresPlannedFor(asked) },
    planner
  )
  return config !== undefined && notRestarted.length === 0 && planAlwaysPossible(config)
}

/** `Helpers.bisect`: the largest n in [lower, upper] with f(n), f assumed monotone (lower if none). */
const bisect = (f: (n: number) => boolean, lower: number, upper: number): number => {
  let lo = lower
  let hi = upper
  // bounded: the interval halves each pass
  while (hi - lo >= 2) {
    const mid = Math.floor((lo + hi) / 2)
    if (f(mid)) lo = mid
    else hi = mid
  }
  return f(hi) ? hi : lo
}

/** `compute_max_host_failures_to_tolerate`. */
export const maxFailuresToTolerate = (state: PoolRead, planner: HaPlanner = xapiPlanner): number =>
  bisect((n) => planForNFailures(state, n, {}, planner), 0, hostList(state).length)

/** The plan's fields as `update_pool_status` leaves them (with `mark_pool_as_overcommitted`). */
export const haPoolStatus = (
  state: PoolRead,
  ha: PoolHa,
  planner: HaPlanner = xapiPlanner
): { readonly planExistsFor: number; readonly overcommitted: boolean } => {
  const ntol = ha.hostFailuresToTolerate
  if (planForNFailures(state, ntol, {}, planner)) return { planExistsFor: ntol, overcommitted: false }
  const max = maxFailuresToTolerate(state, planner)
  return { planExistsFor: ha.planExistsFor !== max ? Math.min(ntol, max) : ha.planExistsFor, overcommitted: true }
}

/** `assert_configuration_change_preserves_ha_plan`: refused only if a plan exists now and not after. */
export const haChangeRefusal = (
  state: PoolRead,
  change: ConfigurationChange,
  operation: string,
  planner: HaPlanner = xapiPlanner
): HaOperationWouldBreakFailoverPlan | undefined => {
  const ha = state.pool?.ha
  if (ha === undefined || !ha.enabled) return undefined
  const toTolerate = ha.planExistsFor
  if (!planForNFailures(state, toTolerate, {}, planner)) return undefined
  return planForNFailures(state, toTolerate, change, planner)
    ? undefined
    : new HaOperationWouldBreakFailoverPlan({ operation, planExistsFor: toTolerate })
}

/**
 * `host.evacuate` with HA on: the placement's plan (domain/placement), where a VM that cannot be placed and is
 * not protected is refused with HOST_EVACUATE_VM_NOT_HA_PROTECTED (XEN.md §6); HA off: the plan as is.
 */
export const planEvacuationWithHa = (
  state: PoolRead,
  host: HostId,
  placement: Placement
): Either.Either<ReadonlyArray<PlannedMove>, DomainError> => {
  const plan = planEvacuation(state, host, placement)
  if (Either.isRight(plan) || !haEnabled(state) || plan.left._tag !== "NoHostsAvailable") return plan
  const vm = getVm(state, plan.left.vm as VmId)
  return vm !== undefined && !isHaProtected(vm)
    ? Either.left(new HostEvacuateVmNotHaProtected({ host, vm: vm.id, reason: plan.left.reason }))
    : plan
}

/** The live host a new master is elected from: the first in id order (our stand-in for xhad's choice). */
export const electedMaster = (state: PoolRead, failed: HostId): HostId | undefined =>
  hostList(state).find((h) => h.live && h.id !== failed)?.id
