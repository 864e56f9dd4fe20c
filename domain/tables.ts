/**
 * The tables `evolve`'s rules write to, in three forms:
 *
 * - `PersistentTables`: effect's persistent maps, for `evolve(state, event)`, where every earlier state
 *   stays valid;
 * - `LivePool`: native maps changed in place, for a fold only one owner holds (the engine's live state,
 *   `foldEvents`). Once asked for a persistent state, it remembers which entities change, so that the
 *   next `toPoolState()` costs the changes, not the pool. It also keeps the VMs by resident host and the
 *   hosts in id order and by room, so that an evacuation costs the host's VMs, not a scan of the pool's,
 *   and a placement O(log hosts), not a sort and a scan of the hosts;
 * - `OverlayPool`: changes kept beside a state that stays as it was, for `decide` to see the state after
 *   the events it has decided so far.
 *
 * The last two are also `PoolView`s: the rules read them as they read a `PoolState`.
 */
import { HashMap, Option } from "effect"
import type { HostId, MigrationId, VmId } from "./ids.js"
import { hostRoom, roomiestOf, type Room } from "./memory.js"
import { NO_HOST, RoomIndex } from "./roomIndex.js"
import {
  getHost,
  getMigration,
  getVm,
  hostList,
  isResidentOn,
  migrationList,
  persistentState,
  sortById,
  vmList,
  vmsResidentOn,
  type Host,
  type Migration,
  type PoolInfo,
  type PoolRead,
  type PoolState,
  type PoolView,
  type Vm
} from "./state.js"

/**
 * What an event changes. Entities are never mutated once stored: a change is a copy (the `copy*`
 * functions of state.ts) put back in place, so a state handed out earlier never sees a later change.
 */
export interface Tables {
  pool: PoolInfo | undefined
  atUs: number
  host(id: HostId): Host | undefined
  putHost(host: Host): void
  vm(id: VmId): Vm | undefined
  putVm(vm: Vm): void
  removeVm(id: VmId): void
  migration(id: MigrationId): Migration | undefined
  putMigration(migration: Migration): void
  removeMigration(id: MigrationId): void
}

export class PersistentTables implements Tables {
  pool: PoolInfo | undefined
  atUs: number
  hosts: HashMap.HashMap<HostId, Host>
  vms: HashMap.HashMap<VmId, Vm>
  migrations: HashMap.HashMap<MigrationId, Migration>
  constructor(state: PoolState) {
    this.pool = state.pool
    this.atUs = state.atUs
    this.hosts = state.hosts
    this.vms = state.vms
    this.migrations = state.migrations
  }
  host(id: HostId) {
    return Option.getOrUndefined(HashMap.get(this.hosts, id))
  }
  putHost(host: Host) {
    this.hosts = HashMap.set(this.hosts, host.id, host)
  }
  vm(id: VmId) {
    return Option.getOrUndefined(HashMap.get(this.vms, id))
  }
  putVm(vm: Vm) {
    this.vms = HashMap.set(this.vms, vm.id, vm)
  }
  removeVm(id: VmId) {
    this.vms = HashMap.remove(this.vms, id)
  }
  migration(id: MigrationId) {
    return Option.getOrUndefined(HashMap.get(this.migrations, id))
  }
  putMigration(migration: Migration) {
    this.migrations = HashMap.set(this.migrations, migration.id, migration)
  }
  removeMigration(id: MigrationId) {
    this.migrations = HashMap.remove(this.migrations, id)
  }
  toPoolState(): PoolState {
    return { pool: this.pool, hosts: this.hosts, vms: this.vms, migrations: this.migrations, atUs: this.atUs }
  }
}

/**
 * The persistent map with `keys` brought up to date: each to `valueOf(key)`, or removed where that is
 * undefined. The live pool's changes and the overlay's layer both go through here.
 */
const withChanges = <K, V>(
  persistent: HashMap.HashMap<K, V>,
  keys: ReadonlySet<K> | ReadonlyMap<K, unknown>,
  valueOf: (key: K) => V | undefined
): HashMap.HashMap<K, V> =>
  keys.size === 0
    ? persistent
    : HashMap.mutate(persistent, (map) => {
        for (const key of keys.keys()) {
          const value = valueOf(key)
          if (value === undefined) HashMap.remove(map, key)
          else HashMap.set(map, key, value)
        }
      })

export class LivePool implements Tables, PoolView {
  pool: PoolInfo | undefined
  atUs: number
  private readonly hosts: Map<HostId, Host>
  private readonly vms: Map<VmId, Vm>
  private readonly migrations: Map<MigrationId, Migration>
  /**
   * The entities changed since the last persistent state; undefined until one is asked for. A pool
   * nobody asks (a run whose state is read at its end) pays for no tracking, and its first persistent
   * state is built whole, as a fold's would be.
   */
  private changed:
    { readonly hosts: Set<HostId>; readonly vms: Set<VmId>; readonly migrations: Set<MigrationId> } | undefined
  /** The persistent state handed out last (with `changed`, this pool); the initial state until then. */
  private persistent: PoolState
  private changedSinceBuilt = false
  /**
   * The ids of the VMs resident on each host, kept by `putVm` and `removeVm` from the VMs' `residentOn`
   * whatever the event: an evacuation asks for one host's VMs, and a scan of the pool's for each of its
   * hosts was quadratic in the pool's size.
   */
  private readonly residents = new Map<HostId, Set<VmId>>()
  /**
   * The hosts in id order and each one's position there; undefined from a host's joining until the order
   * is next asked for. A changed host takes its old place, so the order is sorted once per host joined,
   * not once per placement. Once a placement has asked (`roomiestHost`), the positions are also ordered
   * by room (`room`), and `stale` holds those of hosts changed since, brought up to date at the next ask.
   */
  private hostOrder: HostOrder | undefined

  constructor(initial: PoolState) {
    this.pool = initial.pool
    this.atUs = initial.atUs
    this.hosts = new Map(initial.hosts)
    this.vms = new Map(initial.vms)
    this.migrations = new Map(initial.migrations)
    this.persistent = initial
    for (const vm of this.vms.values()) this.indexResident(vm)
  }

  host(id: HostId) {
    return this.hosts.get(id)
  }
  putHost(host: Host) {
    this.hosts.set(host.id, host)
    this.changedSinceBuilt = true
    this.changed?.hosts.add(host.id)
    if (this.hostOrder === undefined) return
    const position = this.hostOrder.position.get(host.id)
    if (position === undefined) this.hostOrder = undefined
    else {
      this.hostOrder.hosts[position] = host
      if (this.hostOrder.room !== undefined) this.hostOrder.stale.add(position)
    }
  }
  vm(id: VmId) {
    return this.vms.get(id)
  }
  putVm(vm: Vm) {
    const before = this.vms.get(vm.id)
    if (before?.residentOn !== vm.residentOn) {
      this.unindexResident(before)
      this.indexResident(vm)
    }
    this.vms.set(vm.id, vm)
    this.changedSinceBuilt = true
    this.changed?.vms.add(vm.id)
  }
  removeVm(id: VmId) {
    this.unindexResident(this.vms.get(id))
    this.vms.delete(id)
    this.changedSinceBuilt = true
    this.changed?.vms.add(id)
  }
  migration(id: MigrationId) {
    return this.migrations.get(id)
  }
  putMigration(migration: Migration) {
    this.migrations.set(migration.id, migration)
    this.changedSinceBuilt = true
    this.changed?.migrations.add(migration.id)
  }
  removeMigration(id: MigrationId) {
    this.migrations.delete(id)
    this.changedSinceBuilt = true
    this.changed?.migrations.add(id)
  }
  hostsInIdOrder() {
    // a copy: the caller may keep it while the pool changes
    return this.ordered().hosts.slice()
  }
  roomiestHost(needed: Room) {
    const order = this.ordered()
    if (order.room === undefined) {
      const rooms = order.hosts.map(hostRoom)
      order.room = new RoomIndex(
        rooms.map((r) => r.placementFreePages),
        rooms.map((r) => r.physicalFreePages)
      )
    } else
      for (const position of order.stale) {
        const room = hostRoom(order.hosts[position]!)
        order.room.set(position, room.placementFreePages, room.physicalFreePages)
      }
    order.stale.clear()
    const best = order.room.bestFit(needed.placementFreePages, needed.physicalFreePages)
    return best === NO_HOST ? undefined : order.hosts[best]
  }

  private ordered(): HostOrder {
    if (this.hostOrder === undefined) {
      const hosts = sortById(Array.from(this.hosts.values()))
      this.hostOrder = {
        hosts,
        position: new Map(hosts.map((host, i) => [host.id, i])),
        room: undefined,
        stale: new Set()
      }
    }
    return this.hostOrder
  }
  vmValues() {
    return this.vms.values()
  }
  migrationValues() {
    return this.migrations.values()
  }
  residentValues(host: HostId) {
    const ids = this.residents.get(host)
    return ids === undefined ? [] : Array.from(ids, (id) => this.vms.get(id)!)
  }

  private indexResident(vm: Vm): void {
    if (vm.residentOn === undefined) return
    const ids = this.residents.get(vm.residentOn)
    if (ids === undefined) this.residents.set(vm.residentOn, new Set([vm.id]))
    else ids.add(vm.id)
  }
  private unindexResident(vm: Vm | undefined): void {
    if (vm?.residentOn === undefined) return
    if (this.residents.get(vm.residentOn)?.delete(vm.id) !== true)
      throw new Error(`LivePool: ${vm.id} is resident on ${vm.residentOn} but missing from that host's index`)
  }

  /** This pool as a persistent state: the last one handed out, with what changed since applied to it. */
  toPoolState(): PoolState {
    const last = this.persistent
    if (!this.changedSinceBuilt && last.pool === this.pool && last.atUs === this.atUs) return last
    const changed = this.changed
    this.persistent = {
      pool: this.pool,
      hosts: changed
        ? withChanges(last.hosts, changed.hosts, (id) => this.hosts.get(id))
        : HashMap.fromIterable(this.hosts),
      vms: changed ? withChanges(last.vms, changed.vms, (id) => this.vms.get(id)) : HashMap.fromIterable(this.vms),
      migrations: changed
        ? withChanges(last.migrations, changed.migrations, (id) => this.migrations.get(id))
        : HashMap.fromIterable(this.migrations),
      atUs: this.atUs
    }
    if (changed) {
      changed.hosts.clear()
      changed.vms.clear()
      changed.migrations.clear()
    } else this.changed = { hosts: new Set(), vms: new Set(), migrations: new Set() }
    this.changedSinceBuilt = false
    return this.persistent
  }
}

/** The live pool's hosts in id order, and by room once a placement has asked (`LivePool.hostOrder`). */
interface HostOrder {
  readonly hosts: Host[]
  readonly position: Map<HostId, number>
  /** Position i is hosts[i], with the figures of `hostRoom`. */
  room: RoomIndex | undefined
  readonly stale: Set<number>
}

/** Marks an entity removed in an overlay. */
const REMOVED = Symbol("removed")
type Layer<K, V> = Map<K, V | typeof REMOVED>

/** The layer's own value for a key: undefined where it removed the entity. */
const layered = <K, V>(layer: Layer<K, V>, key: K): V | undefined => {
  const value = layer.get(key)
  return value === REMOVED ? undefined : value
}

const through = <K, V>(layer: Layer<K, V>, key: K, below: (key: K) => V | undefined): V | undefined => {
  const value = layer.get(key)
  return value === REMOVED ? undefined : value === undefined ? below(key) : value
}

const merged = <K, V extends { readonly id: K }>(below: ReadonlyArray<V>, layer: Layer<K, V>): Iterable<V> => {
  const kept = below.filter((entity) => !layer.has(entity.id))
  for (const value of layer.values()) if (value !== REMOVED) kept.push(value)
  return kept
}

export class OverlayPool implements Tables, PoolView {
  pool: PoolInfo | undefined
  atUs: number
  private readonly hosts: Layer<HostId, Host> = new Map()
  private readonly vms: Layer<VmId, Vm> = new Map()
  private readonly migrations: Layer<MigrationId, Migration> = new Map()

  constructor(private readonly base: PoolRead) {
    this.pool = base.pool
    this.atUs = base.atUs
  }

  host(id: HostId) {
    return through(this.hosts, id, (key) => getHost(this.base, key))
  }
  putHost(host: Host) {
    this.hosts.set(host.id, host)
  }
  vm(id: VmId) {
    return through(this.vms, id, (key) => getVm(this.base, key))
  }
  putVm(vm: Vm) {
    this.vms.set(vm.id, vm)
  }
  removeVm(id: VmId) {
    this.vms.set(id, REMOVED)
  }
  migration(id: MigrationId) {
    return through(this.migrations, id, (key) => getMigration(this.base, key))
  }
  putMigration(migration: Migration) {
    this.migrations.set(migration.id, migration)
  }
  removeMigration(id: MigrationId) {
    this.migrations.set(id, REMOVED)
  }
  hostsInIdOrder() {
    return sortById(Array.from(merged(hostList(this.base), this.hosts)))
  }
  vmValues() {
    return merged(vmList(this.base), this.vms)
  }
  migrationValues() {
    return merged(migrationList(this.base), this.migrations)
  }
  roomiestHost(needed: Room) {
    return roomiestOf(this.hostsInIdOrder(), needed)
  }
  /** The base's residents the overlay has not changed, and the overlay's own that are resident there. */
  residentValues(host: HostId) {
    const resident = vmsResidentOn(this.base, host).filter((vm) => !this.vms.has(vm.id))
    for (const vm of this.vms.values()) if (vm !== REMOVED && isResidentOn(vm, host)) resident.push(vm)
    return resident
  }
  toPoolState(): PoolState {
    const base = persistentState(this.base)
    return {
      pool: this.pool,
      hosts: withChanges(base.hosts, this.hosts, (id) => layered(this.hosts, id)),
      vms: withChanges(base.vms, this.vms, (id) => layered(this.vms, id)),
      migrations: withChanges(base.migrations, this.migrations, (id) => layered(this.migrations, id)),
      atUs: this.atUs
    }
  }
}
