/**
 * Pool state: what `evolve` folds the log into. Persistent maps (effect's HashMap) so that each event
 * costs O(log n) and every earlier state stays valid: a fold can keep any intermediate state for free.
 *
 * Host memory is kept as running sums, maintained by `evolve` and re-derived by the invariant
 * `hostAccountingMatchesVms`, so that admission checks are O(1) and a bookkeeping bug is caught.
 */
import { HashMap, Option } from "effect"
import type { PowerState } from "./events.js"
import type { HostId, MigrationId, PoolId, VmId } from "./ids.js"
import { roomiestOf, type Room } from "./memory.js"
import type { VmOperation } from "./operations.js"

export interface PoolInfo {
  readonly id: PoolId
  readonly pageSizeBytes: number
  readonly linkLatencyUs: number
  /** The first host to join (XAPI: the pool master owns the database); with HA, re-elected when it fails. */
  readonly master: HostId | undefined
  /** XAPI's pool HA fields (domain/ha.ts); undefined until HA is first enabled. */
  readonly ha: PoolHa | undefined
}

/**
 * The pool's HA fields as XAPI keeps them (`pool.ha_enabled`, `ha_host_failures_to_tolerate`,
 * `ha_plan_exists_for`, `ha_overcommitted`). The plan's two fields are the planner's answer
 * (domain/ha.ts), recorded by `PoolHaPlanChanged` whenever it changes.
 */
export interface PoolHa {
  readonly enabled: boolean
  readonly hostFailuresToTolerate: number
  readonly planExistsFor: number
  readonly overcommitted: boolean
}

/** XAPI's `ha_restart_priority` values that protect: `restart` (planned for) and `best-effort`. */
export type HaRestartPriority = "restart" | "best-effort"

/**
 * A VM's HA fields (XAPI's `ha_restart_priority`, `order`, `ha_always_run`); undefined is XAPI's
 * default: no priority (unprotected), order 0, not always run.
 */
export interface VmHa {
  readonly restartPriority: HaRestartPriority | undefined
  readonly order: number
  readonly alwaysRun: boolean
}

export interface Host {
  readonly id: HostId
  readonly memoryTotalPages: number
  /** Xen and dom0. */
  readonly memoryOverheadPages: number
  readonly nicBandwidthBytesPerS: number
  readonly cpus: number
  readonly enabled: boolean
  readonly live: boolean
  /** The domid the next domain created on this host gets (dom0 is 0). */
  readonly nextDomid: number
  /** Σ (populated + overhead) of the VMs resident here: physical memory in use. */
  readonly residentPages: number
  /** Σ reservations of incoming migrations: physical memory held for them. */
  readonly reservedPages: number
  /** Σ (dynamicMin + overhead) of VMs resident or scheduled to be resident here: XAPI's placement sum. */
  readonly placementPages: number
}

export interface MemoryConstraints {
  readonly staticMinPages: number
  readonly dynamicMinPages: number
  readonly targetPages: number
  readonly dynamicMaxPages: number
  readonly staticMaxPages: number
}

export interface Vm {
  readonly id: VmId
  readonly vcpus: number
  readonly memory: MemoryConstraints
  readonly overheadPages: number
  readonly powerState: PowerState
  readonly residentOn: HostId | undefined
  readonly scheduledToBeResidentOn: HostId | undefined
  /** -1 when the VM has no domain (Halted or Suspended), as XAPI does. */
  readonly domid: number
  readonly currentOperation: VmOperation | undefined
  readonly migration: MigrationId | undefined
  /**
   * The guest's memory as its balloon leaves it: populated + paged out (domain/paging.ts). It follows
   * the target one balloon step at a time while the VM has a domain, and equals it otherwise.
   */
  readonly guestPages: number
  /** Of the guest's pages, those backed by a host frame (Xen's `tot_pages`): what the host holds for it. */
  readonly populatedPages: number
  /** Of the guest's pages, those in the paging file (Xen's `paged_pages`). */
  readonly pagedOutPages: number
  /** xenpaging's target for the populated pages; undefined while no pager is attached (no domain, or never set). */
  readonly pagingTargetPages: number | undefined
  readonly blockedOperations: ReadonlyArray<string>
  readonly ha: VmHa | undefined
}

export type MigrationPhase = "reserved" | "precopy" | "stop-and-copy" | "committing"

/** An in-flight migration. Finished ones leave the state; their history is in the log. */
export interface Migration {
  readonly id: MigrationId
  readonly vm: VmId
  readonly source: HostId
  readonly destination: HostId
  readonly policy: string
  readonly phase: MigrationPhase
  readonly reservedPages: number
  readonly rounds: number
  readonly pagesSent: number
  readonly bytesSent: number
  readonly startedAtUs: number
  /** When the guest was paused for the final round; downtime runs from here to the commit. */
  readonly stopAndCopyAtUs: number | undefined
}

export interface PoolState {
  readonly pool: PoolInfo | undefined
  readonly hosts: HashMap.HashMap<HostId, Host>
  readonly vms: HashMap.HashMap<VmId, Vm>
  readonly migrations: HashMap.HashMap<MigrationId, Migration>
  /** Time of the last event folded in. */
  readonly atUs: number
}

export const initialState: PoolState = {
  pool: undefined,
  hosts: HashMap.empty(),
  vms: HashMap.empty(),
  migrations: HashMap.empty(),
  atUs: 0
}

/**
 * A pool state read through lookups instead of persistent maps: the engine's live state (`LivePool` in
 * domain/tables.ts, native maps it changes in place) and the overlay `decide` evolves on while it decides a host failure.
 * The rules read either form through the functions below, so each rule is written once.
 */
export interface PoolView {
  readonly pool: PoolInfo | undefined
  readonly atUs: number
  host(id: HostId): Host | undefined
  vm(id: VmId): Vm | undefined
  migration(id: MigrationId): Migration | undefined
  /**
   * Every host in id order, as `hostList` gives them, in an array the caller may keep: the live pool
   * keeps the order from one call to the next instead of sorting the hosts for each placement.
   */
  hostsInIdOrder(): ReadonlyArray<Host>
  vmValues(): Iterable<Vm>
  migrationValues(): Iterable<Migration>
  /**
   * The VMs whose `residentOn` is `host`, in no particular order (`vmsResidentOn` sorts): the live pool
   * reads them from its index of VMs by host instead of a scan of every VM of the pool.
   */
  residentValues(host: HostId): Iterable<Vm>
  /**
   * `roomiestOf(hostList(this), needed)`: the live pool answers from its hosts ordered by room instead
   * of a scan of every host, so that placing each VM of a large pool does not cost the pool's hosts.
   */
  roomiestHost(needed: Room): Host | undefined
  /** The state as it is now, as persistent maps: for whoever keeps it after the view changes. */
  toPoolState(): PoolState
}

/** What the rules read: a persistent state or a view of one. */
export type PoolRead = PoolState | PoolView

const isView = (state: PoolRead): state is PoolView => "host" in state

/** The state as it is now, to keep: a persistent state is itself, a view is copied. */
export const persistentState = (state: PoolRead): PoolState => (isView(state) ? state.toPoolState() : state)

export const getHost = (state: PoolRead, id: HostId): Host | undefined =>
  isView(state) ? state.host(id) : Option.getOrUndefined(HashMap.get(state.hosts, id))
export const getVm = (state: PoolRead, id: VmId): Vm | undefined =>
  isView(state) ? state.vm(id) : Option.getOrUndefined(HashMap.get(state.vms, id))
export const getMigration = (state: PoolRead, id: MigrationId): Migration | undefined =>
  isView(state) ? state.migration(id) : Option.getOrUndefined(HashMap.get(state.migrations, id))

const byId = <T extends { readonly id: string }>(a: T, b: T): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)

/** The entities sorted in place into id order, the one order of every listing and choice; returns them. */
export const sortById = <T extends { readonly id: string }>(entities: T[]): T[] => entities.sort(byId)

/** Hosts, VMs and migrations in id order: every listing and every choice iterates in this stable order. */
export const hostList = (state: PoolRead): ReadonlyArray<Host> =>
  isView(state) ? state.hostsInIdOrder() : sortById(Array.from(HashMap.values(state.hosts)))
export const vmList = (state: PoolRead): ReadonlyArray<Vm> =>
  Array.from(isView(state) ? state.vmValues() : HashMap.values(state.vms)).sort(byId)
export const migrationList = (state: PoolRead): ReadonlyArray<Migration> =>
  Array.from(isView(state) ? state.migrationValues() : HashMap.values(state.migrations)).sort(byId)

/**
 * VMs whose domain runs on the host (resident), in id order (only they are sorted, not the pool's VMs).
 * A view answers from its index; a persistent state, which keeps none, is scanned (`isResidentOn`).
 */
export const vmsResidentOn = (state: PoolRead, host: HostId): ReadonlyArray<Vm> => {
  if (isView(state)) return sortById(Array.from(state.residentValues(host)))
  const resident: Vm[] = []
  for (const vm of HashMap.values(state.vms)) if (isResidentOn(vm, host)) resident.push(vm)
  return sortById(resident)
}

/**
 * The host with the most placement-free memory (the first in id order on ties) among those whose room
 * covers `needed` (domain/memory.ts); undefined when none does. A view answers from its index.
 */
export const roomiestHost = (state: PoolRead, needed: Room): Host | undefined =>
  isView(state) ? state.roomiestHost(needed) : roomiestOf(hostList(state), needed)

/** The one statement of residency: the VM's domain runs on `host`. The views' indexes key by the same field. */
export const isResidentOn = (vm: Vm, host: HostId): boolean => vm.residentOn === host

/**
 * Mutable copies of entities, for `evolve` to change a fresh object before it enters the state. Each
 * lists every field in a literal (V8 builds those far faster than `{ ...x, k: v }` spreads, which were
 * most of a fold's time), and a field added to the interface fails to compile here until it is copied.
 */
export type Draft<T> = { -readonly [K in keyof T]: T[K] }

export const copyHost = (h: Host): Draft<Host> => ({
  id: h.id,
  memoryTotalPages: h.memoryTotalPages,
  memoryOverheadPages: h.memoryOverheadPages,
  nicBandwidthBytesPerS: h.nicBandwidthBytesPerS,
  cpus: h.cpus,
  enabled: h.enabled,
  live: h.live,
  nextDomid: h.nextDomid,
  residentPages: h.residentPages,
  reservedPages: h.reservedPages,
  placementPages: h.placementPages
})

export const copyVm = (v: Vm): Draft<Vm> => ({
  id: v.id,
  vcpus: v.vcpus,
  memory: v.memory,
  overheadPages: v.overheadPages,
  powerState: v.powerState,
  residentOn: v.residentOn,
  scheduledToBeResidentOn: v.scheduledToBeResidentOn,
  domid: v.domid,
  currentOperation: v.currentOperation,
  migration: v.migration,
  guestPages: v.guestPages,
  populatedPages: v.populatedPages,
  pagedOutPages: v.pagedOutPages,
  pagingTargetPages: v.pagingTargetPages,
  blockedOperations: v.blockedOperations,
  ha: v.ha
})

export const copyMigration = (m: Migration): Draft<Migration> => ({
  id: m.id,
  vm: m.vm,
  source: m.source,
  destination: m.destination,
  policy: m.policy,
  phase: m.phase,
  reservedPages: m.reservedPages,
  rounds: m.rounds,
  pagesSent: m.pagesSent,
  bytesSent: m.bytesSent,
  startedAtUs: m.startedAtUs,
  stopAndCopyAtUs: m.stopAndCopyAtUs
})
