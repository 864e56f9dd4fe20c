/**
 * `evolve(state, event)`: the one fold of the log into pool state, used by the engine's live state,
 * projections rebuilt from the store and time-travel answers alike. Pure, total (an event about an
 * unknown entity leaves the state as it was; the invariants report such a log), exhaustive on `_tag`.
 */
import { HashMap, Option } from "effect"
import type { PoolEvent } from "./events.js"
import type { HostId, MigrationId, VmId } from "./ids.js"
import { vmPhysicalPages, vmPlacementPages } from "./memory.js"
import { evolvePaging, withMemoryTarget } from "./paging.js"
import type { Host, Migration, PoolState, Vm } from "./state.js"

const updateHost = (state: PoolState, id: HostId, f: (host: Host) => Host): PoolState =>
  HashMap.has(state.hosts, id) ? { ...state, hosts: HashMap.modify(state.hosts, id, f) } : state

const updateVm = (state: PoolState, id: VmId, f: (vm: Vm) => Vm): PoolState =>
  HashMap.has(state.vms, id) ? { ...state, vms: HashMap.modify(state.vms, id, f) } : state

const updateMigration = (state: PoolState, id: MigrationId, f: (m: Migration) => Migration): PoolState =>
  HashMap.has(state.migrations, id) ? { ...state, migrations: HashMap.modify(state.migrations, id, f) } : state

/** Adds (sign +1) or removes (sign -1) a VM's footprint on a host it is resident on. */
const residency = (state: PoolState, host: HostId | undefined, vm: Vm, sign: 1 | -1): PoolState =>
  host === undefined
    ? state
    : updateHost(state, host, (h) => ({
        ...h,
        residentPages: h.residentPages + sign * vmPhysicalPages(vm),
        placementPages: h.placementPages + sign * vmPlacementPages(vm)
      }))

const withVm = (state: PoolState, id: VmId, f: (state: PoolState, vm: Vm) => PoolState): PoolState => {
  const vm = HashMap.get(state.vms, id)
  return Option.isSome(vm) ? f(state, vm.value) : state
}

const withMigration = (
  state: PoolState,
  id: MigrationId,
  f: (state: PoolState, migration: Migration, vm: Vm) => PoolState
): PoolState => {
  const migration = HashMap.get(state.migrations, id)
  if (Option.isNone(migration)) return state
  const vm = HashMap.get(state.vms, migration.value.vm)
  return Option.isSome(vm) ? f(state, migration.value, vm.value) : state
}

/** The VM leaves its host: Halted or Suspended clears resident_on, scheduled and the domid (XAPI's force_state_reset). */
const leaveHost = (state: PoolState, vm: Vm, powerState: "Halted" | "Suspended"): PoolState =>
  updateVm(residency(state, vm.residentOn, vm, -1), vm.id, (v) => ({
    ...v,
    powerState,
    residentOn: undefined,
    scheduledToBeResidentOn: undefined,
    domid: -1,
    currentOperation: undefined,
    migration: undefined,
    // the domain, and with it its paged-out pages, is gone: the next one starts with its target populated
    guestPages: v.memory.targetPages,
    populatedPages: v.memory.targetPages,
    pagedOutPages: 0,
    pagingTargetPages: undefined
  }))

/** A domain is created on `host` with `domid`: the host's domid counter moves past it. */
const arriveOnHost = (state: PoolState, vm: Vm, host: HostId, domid: number, paused: boolean): PoolState => {
  const placed = updateVm(state, vm.id, (v) => ({
    ...v,
    powerState: paused ? "Paused" : "Running",
    residentOn: host,
    domid
  }))
  const counted = residency(placed, host, vm, 1)
  return updateHost(counted, host, (h) => ({ ...h, nextDomid: Math.max(h.nextDomid, domid + 1) }))
}

/** The migration leaves the state; the destination's reservation and placement are released. */
const endMigration = (state: PoolState, migration: Migration, vm: Vm): PoolState => {
  const released = updateHost(state, migration.destination, (h) => ({
    ...h,
    reservedPages: h.reservedPages - migration.reservedPages,
    placementPages: h.placementPages - vmPlacementPages(vm)
  }))
  const cleared = updateVm(released, vm.id, (v) => ({
    ...v,
    scheduledToBeResidentOn: undefined,
    currentOperation: undefined,
    migration: undefined
  }))
  return { ...cleared, migrations: HashMap.remove(cleared.migrations, migration.id) }
}

const evolveEvent = (state: PoolState, event: PoolEvent): PoolState => {
  switch (event._tag) {
    case "PoolCreated":
      return {
        ...state,
        pool: {
          id: event.pool,
          pageSizeBytes: event.pageSizeBytes,
          linkLatencyUs: event.linkLatencyUs,
          master: undefined
        }
      }
    case "HostJoined": {
      const host: Host = {
        id: event.host,
        memoryTotalPages: event.memoryTotalPages,
        memoryOverheadPages: event.memoryOverheadPages,
        nicBandwidthBytesPerS: event.nicBandwidthBytesPerS,
        cpus: event.cpus,
        enabled: true,
        live: true,
        nextDomid: 1,
        residentPages: 0,
        reservedPages: 0,
        placementPages: 0
      }
      const pool = state.pool && state.pool.master === undefined ? { ...state.pool, master: event.host } : state.pool
      return { ...state, pool, hosts: HashMap.set(state.hosts, event.host, host) }
    }
    case "HostEnabled":
      return updateHost(state, event.host, (h) => ({ ...h, enabled: true }))
    case "HostDisabled":
      return updateHost(state, event.host, (h) => ({ ...h, enabled: false }))
    case "HostFailed":
      return updateHost(state, event.host, (h) => ({ ...h, live: false, enabled: false }))
    case "HostRecovered":
      return updateHost(state, event.host, (h) => ({ ...h, live: true }))
    case "VmCreated": {
      const vm: Vm = {
        id: event.vm,
        vcpus: event.vcpus,
        memory: {
          staticMinPages: event.memoryStaticMinPages,
          dynamicMinPages: event.memoryDynamicMinPages,
          targetPages: event.memoryTargetPages,
          dynamicMaxPages: event.memoryDynamicMaxPages,
          staticMaxPages: event.memoryStaticMaxPages
        },
        overheadPages: event.memoryOverheadPages,
        powerState: "Halted",
        residentOn: undefined,
        scheduledToBeResidentOn: undefined,
        domid: -1,
        currentOperation: undefined,
        migration: undefined,
        guestPages: event.memoryTargetPages,
        populatedPages: event.memoryTargetPages,
        pagedOutPages: 0,
        pagingTargetPages: undefined,
        blockedOperations: event.blockedOperations
      }
      return { ...state, vms: HashMap.set(state.vms, event.vm, vm) }
    }
    case "VmStarted":
      return HashMap.has(state.hosts, event.host)
        ? withVm(state, event.vm, (s, vm) => arriveOnHost(s, vm, event.host, event.domid, event.paused))
        : state
    case "VmResumed":
      return HashMap.has(state.hosts, event.host)
        ? withVm(state, event.vm, (s, vm) => arriveOnHost(s, vm, event.host, event.domid, false))
        : state
    case "VmPaused":
      return updateVm(state, event.vm, (v) => ({ ...v, powerState: "Paused" }))
    case "VmUnpaused":
      return updateVm(state, event.vm, (v) => ({ ...v, powerState: "Running" }))
    case "VmSuspended":
      return withVm(state, event.vm, (s, vm) => leaveHost(s, vm, "Suspended"))
    case "VmShutdown":
      return withVm(state, event.vm, (s, vm) => leaveHost(s, vm, "Halted"))
    case "VmDestroyed":
      return { ...state, vms: HashMap.remove(state.vms, event.vm) }
    case "VmMemoryTargetSet":
      // A domain balloons toward the new target step by step (VmBalloonInflated / VmBalloonDeflated).
      return updateVm(state, event.vm, (v) => withMemoryTarget(v, event.targetPages))
    case "VmMigrationStarted":
      if (!HashMap.has(state.hosts, event.source) || !HashMap.has(state.hosts, event.destination)) return state
      return withVm(state, event.vm, (s, vm) => {
        const migration: Migration = {
          id: event.migration,
          vm: event.vm,
          source: event.source,
          destination: event.destination,
          policy: event.policy,
          phase: "reserved",
          reservedPages: event.reservedPages,
          rounds: 0,
          pagesSent: 0,
          bytesSent: 0,
          startedAtUs: event.atUs,
          stopAndCopyAtUs: undefined
        }
        const reserved = updateHost(s, event.destination, (h) => ({
          ...h,
          reservedPages: h.reservedPages + event.reservedPages,
          placementPages: h.placementPages + vmPlacementPages(vm)
        }))
        const scheduled = updateVm(reserved, vm.id, (v) => ({
          ...v,
          scheduledToBeResidentOn: event.destination,
          currentOperation: "pool_migrate",
          migration: event.migration
        }))
        return { ...scheduled, migrations: HashMap.set(scheduled.migrations, event.migration, migration) }
      })
    case "VmMigrationRoundCompleted":
      return updateMigration(state, event.migration, (m) => ({
        ...m,
        phase: event.live ? "precopy" : "committing",
        rounds: Math.max(m.rounds, event.round),
        pagesSent: m.pagesSent + event.pagesSent,
        bytesSent: m.bytesSent + event.bytesSent
      }))
    case "VmMigrationStopAndCopyStarted":
      return updateMigration(state, event.migration, (m) => ({
        ...m,
        phase: "stop-and-copy",
        stopAndCopyAtUs: event.atUs
      }))
    case "VmMigrationCommitted":
      return withMigration(state, event.migration, (s, migration, vm) => {
        const left = residency(s, migration.source, vm, -1)
        const ended = endMigration(left, migration, vm)
        const moved = updateVm(ended, vm.id, (v) => ({ ...v, residentOn: undefined, domid: -1 }))
        return arriveOnHost(moved, vm, event.destination, event.domid, vm.powerState === "Paused")
      })
    case "VmMigrationAborted":
      return withMigration(state, event.migration, endMigration)
    case "VmPagesPagedOut":
    case "VmPagesPagedIn":
    case "VmPagingTargetSet":
    case "VmBalloonInflated":
    case "VmBalloonDeflated":
      return evolvePaging(state, event)
    case "VmPageFaultsServed":
      return state
  }
}

export const evolve = (state: PoolState, event: PoolEvent): PoolState => {
  const next = evolveEvent(state, event)
  return next.atUs === event.atUs ? next : { ...next, atUs: event.atUs }
}

/** The fold of `evolve` over events, from `initial`. */
export const foldEvents = (initial: PoolState, events: Iterable<PoolEvent>): PoolState => {
  let state = initial
  for (const event of events) state = evolve(state, event)
  return state
}
