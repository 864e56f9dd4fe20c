/**
 * `evolve(state, event)`: the one fold of the log into pool state, used by the engine's live state,
 * projections rebuilt from the store and time-travel answers alike. Pure, total (an event about an
 * unknown entity leaves the state as it was; the invariants report such a log), exhaustive on `_tag`.
 */
import type { PoolEvent } from "./events.js"
import type { HostId, MigrationId, VmId } from "./ids.js"
import { vmPhysicalPages, vmPlacementPages } from "./memory.js"
import { withMemoryTarget } from "./paging.js"
import {
  copyHost,
  copyMigration,
  copyVm,
  type Draft,
  type Host,
  type Migration,
  type PoolHa,
  type PoolState,
  type Vm
} from "./state.js"
import { LivePool, PersistentTables, type Tables } from "./tables.js"

const updateHost = (s: Tables, id: HostId | undefined, f: (host: Draft<Host>) => void): Tables => {
  const host = id === undefined ? undefined : s.host(id)
  if (!host) return s
  const next = copyHost(host)
  f(next)
  s.putHost(next)
  return s
}

const updateVm = (s: Tables, id: VmId, f: (vm: Draft<Vm>) => void): Tables => {
  const vm = s.vm(id)
  if (!vm) return s
  const next = copyVm(vm)
  f(next)
  s.putVm(next)
  return s
}

const updateMigration = (s: Tables, id: MigrationId, f: (m: Draft<Migration>) => void): Tables => {
  const migration = s.migration(id)
  if (!migration) return s
  const next = copyMigration(migration)
  f(next)
  s.putMigration(next)
  return s
}

/** Adds (sign +1) or removes (sign -1) a VM's footprint on a host it is resident on. */
const residency = (s: Tables, host: HostId | undefined, vm: Vm, sign: 1 | -1): Tables =>
  updateHost(s, host, (h) => {
    h.residentPages += sign * vmPhysicalPages(vm)
    h.placementPages += sign * vmPlacementPages(vm)
  })

/** The VM leaves its host: Halted or Suspended clears resident_on, scheduled and the domid (XAPI's force_state_reset). */
const leaveHost = (s: Tables, vm: Vm, powerState: "Halted" | "Suspended"): void => {
  residency(s, vm.residentOn, vm, -1)
  updateVm(s, vm.id, (v) => {
    v.powerState = powerState
    v.residentOn = undefined
    v.scheduledToBeResidentOn = undefined
    v.domid = -1
    v.currentOperation = undefined
    v.migration = undefined
    // the domain, and with it its paged-out pages, is gone: the next one starts with its target populated
    v.guestPages = v.memory.targetPages
    v.populatedPages = v.memory.targetPages
    v.pagedOutPages = 0
    v.pagingTargetPages = undefined
  })
}

/** A domain is created on `host` with `domid`: the host's domid counter moves past it. */
const arriveOnHost = (s: Tables, vm: Vm, host: HostId, domid: number, paused: boolean): Tables => {
  updateVm(s, vm.id, (v) => {
    v.powerState = paused ? "Paused" : "Running"
    v.residentOn = host
    v.domid = domid
  })
  updateHost(s, host, (h) => {
    h.residentPages += vmPhysicalPages(vm)
    h.placementPages += vmPlacementPages(vm)
    h.nextDomid = Math.max(h.nextDomid, domid + 1)
  })
  return s
}

/** The migration leaves the state; the destination's reservation and placement are released. */
const endMigration = (s: Tables, migration: Migration, vm: Vm): Tables => {
  updateHost(s, migration.destination, (h) => {
    h.reservedPages -= migration.reservedPages
    h.placementPages -= vmPlacementPages(vm)
  })
  updateVm(s, vm.id, (v) => {
    v.scheduledToBeResidentOn = undefined
    v.currentOperation = undefined
    v.migration = undefined
  })
  s.removeMigration(migration.id)
  return s
}

/** The VM's frames change by `framesDelta` pages (paging, ballooning): its host's physical use follows. */
const frames = (s: Tables, vm: Vm, framesDelta: number): Tables =>
  updateHost(s, vm.residentOn, (h) => void (h.residentPages += framesDelta))

/** During a migration's live rounds a paged-in page travels with its data: the reservation grows. */
const growReservation = (s: Tables, vm: Vm, pages: number): void => {
  const migration = vm.migration ? s.migration(vm.migration) : undefined
  if (!migration) return
  updateHost(s, migration.destination, (h) => void (h.reservedPages += pages))
  updateMigration(s, migration.id, (m) => void (m.reservedPages += pages))
}

/**
 * Applies one event to the tables and returns them, on every branch: a missing case is a type error (no
 * default). An event about an unknown entity changes nothing.
 */
const apply = (s: Tables, event: PoolEvent): Tables => {
  switch (event._tag) {
    case "PoolCreated":
      s.pool = {
        id: event.pool,
        pageSizeBytes: event.pageSizeBytes,
        linkLatencyUs: event.linkLatencyUs,
        master: undefined,
        ha: undefined
      }
      return s
    case "PoolForked":
      // Where the branch begins: the pool is as the parent left it at that revision.
      return s
    case "OperationsRequested":
      // An input: what it asked for is in the events that follow.
      return s
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
      if (s.pool && s.pool.master === undefined) s.pool = { ...s.pool, master: event.host }
      s.putHost(host)
      return s
    }
    case "HostEnabled":
      return updateHost(s, event.host, (h) => void (h.enabled = true))
    case "HostDisabled":
      return updateHost(s, event.host, (h) => void (h.enabled = false))
    case "HostFailed":
      return updateHost(s, event.host, (h) => {
        h.live = false
        h.enabled = false
      })
    case "HostRecovered":
      return updateHost(s, event.host, (h) => void (h.live = true))
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
        blockedOperations: event.blockedOperations,
        ha: undefined
      }
      s.putVm(vm)
      return s
    }
    case "VmStarted":
    case "VmResumed": {
      const vm = s.vm(event.vm)
      if (!vm || !s.host(event.host)) return s
      return arriveOnHost(s, vm, event.host, event.domid, event._tag === "VmStarted" && event.paused)
    }
    case "VmPaused":
      return updateVm(s, event.vm, (v) => void (v.powerState = "Paused"))
    case "VmUnpaused":
      return updateVm(s, event.vm, (v) => void (v.powerState = "Running"))
    case "VmSuspended":
    case "VmShutdown": {
      const vm = s.vm(event.vm)
      if (vm) leaveHost(s, vm, event._tag === "VmSuspended" ? "Suspended" : "Halted")
      return s
    }
    case "VmDestroyed":
      s.removeVm(event.vm)
      return s
    case "VmMemoryTargetSet": {
      // A domain balloons toward the new target step by step (VmBalloonInflated / VmBalloonDeflated).
      const vm = s.vm(event.vm)
      if (vm) s.putVm(withMemoryTarget(vm, event.targetPages))
      return s
    }
    case "VmMigrationStarted": {
      const vm = s.vm(event.vm)
      if (!vm || !s.host(event.source) || !s.host(event.destination)) return s
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
      updateHost(s, event.destination, (h) => {
        h.reservedPages += event.reservedPages
        h.placementPages += vmPlacementPages(vm)
      })
      updateVm(s, vm.id, (v) => {
        v.scheduledToBeResidentOn = event.destination
        v.currentOperation = "pool_migrate"
        v.migration = event.migration
      })
      s.putMigration(migration)
      return s
    }
    case "VmMigrationRoundCompleted":
      return updateMigration(s, event.migration, (m) => {
        m.phase = event.live ? "precopy" : "committing"
        m.rounds = Math.max(m.rounds, event.round)
        m.pagesSent += event.pagesSent
        m.bytesSent += event.bytesSent
      })
    case "VmMigrationRoundInterrupted":
      // the last of an aborting migration's rounds: its pages and bytes count, its round number does not
      return updateMigration(s, event.migration, (m) => {
        m.pagesSent += event.pagesSent
        m.bytesSent += event.bytesSent
      })
    case "VmMigrationPhaseCompleted":
      // a record of time spent; the phase moves with the rounds and stop-and-copy
      return s
    case "VmMigrationStopAndCopyStarted":
      return updateMigration(s, event.migration, (m) => {
        m.phase = "stop-and-copy"
        m.stopAndCopyAtUs = event.atUs
      })
    case "VmMigrationCommitted":
    case "VmMigrationAborted": {
      const migration = s.migration(event.migration)
      const vm = migration && s.vm(migration.vm)
      if (!migration || !vm) return s
      if (event._tag === "VmMigrationAborted") return endMigration(s, migration, vm)
      residency(s, migration.source, vm, -1)
      endMigration(s, migration, vm)
      updateVm(s, vm.id, (v) => {
        v.residentOn = undefined
        v.domid = -1
      })
      return arriveOnHost(s, vm, event.destination, event.domid, vm.powerState === "Paused")
    }
    case "VmPagingTargetSet":
      return updateVm(s, event.vm, (v) => void (v.pagingTargetPages = event.targetPages))
    case "VmPagesPagedOut":
    case "VmPagesPagedIn": {
      const vm = s.vm(event.vm)
      if (!vm) return s
      const inPages = event._tag === "VmPagesPagedIn" ? event.pages : -event.pages
      frames(s, vm, inPages)
      if (inPages > 0) growReservation(s, vm, inPages)
      return updateVm(s, vm.id, (v) => {
        v.populatedPages += inPages
        v.pagedOutPages -= inPages
      })
    }
    case "VmBalloonInflated": {
      const vm = s.vm(event.vm)
      if (!vm) return s
      frames(s, vm, -event.releasedPages)
      return updateVm(s, vm.id, (v) => {
        v.guestPages -= event.releasedPages + event.droppedPages
        v.populatedPages -= event.releasedPages
        v.pagedOutPages -= event.droppedPages
      })
    }
    case "VmBalloonDeflated": {
      const vm = s.vm(event.vm)
      if (!vm) return s
      frames(s, vm, event.pages)
      return updateVm(s, vm.id, (v) => {
        v.guestPages += event.pages
        v.populatedPages += event.pages
      })
    }
    case "VmPageFaultsServed":
      return s
    case "PoolHaEnabled":
      return updateHa(s, (ha) => ({
        enabled: true,
        hostFailuresToTolerate: event.hostFailuresToTolerate,
        planExistsFor: ha?.planExistsFor ?? 0,
        overcommitted: ha?.overcommitted ?? false
      }))
    case "PoolHaDisabled":
      return updateHa(s, (ha) => (ha === undefined ? undefined : { ...ha, enabled: false }))
    case "PoolHaFailuresToTolerateSet":
      return updateHa(s, (ha) => ({
        enabled: ha?.enabled ?? false,
        hostFailuresToTolerate: event.hostFailuresToTolerate,
        planExistsFor: ha?.planExistsFor ?? 0,
        overcommitted: ha?.overcommitted ?? false
      }))
    case "PoolHaPlanChanged":
      return updateHa(s, (ha) =>
        ha === undefined ? undefined : { ...ha, planExistsFor: event.planExistsFor, overcommitted: event.overcommitted }
      )
    case "VmHaSettingsSet":
      return updateVm(s, event.vm, (v) => {
        const unset = event.restartPriority === "" && event.order === 0 && !event.alwaysRun
        v.ha = unset
          ? undefined
          : {
              restartPriority: event.restartPriority === "" ? undefined : event.restartPriority,
              order: event.order,
              alwaysRun: event.alwaysRun
            }
      })
    case "PoolMasterElected":
      if (s.pool) s.pool = { ...s.pool, master: event.host }
      return s
    case "VmHaRestartFailed":
      // a record of an attempt; the VM stays as it was (Halted)
      return s
  }
}

/** The pool's HA fields replaced by `f` of them (no pool: nothing). */
const updateHa = (s: Tables, f: (ha: PoolHa | undefined) => PoolHa | undefined): Tables => {
  if (s.pool) s.pool = { ...s.pool, ha: f(s.pool.ha) }
  return s
}

export const evolve = (state: PoolState, event: PoolEvent): PoolState => {
  const tables = new PersistentTables(state)
  evolveInPlace(tables, event)
  return tables.toPoolState()
}

/** `evolve` on tables changed in place: the engine's live pool, a fold's own maps, decide's overlay. */
export const evolveInPlace = (tables: Tables, event: PoolEvent): void => {
  apply(tables, event)
  tables.atUs = event.atUs
}

/**
 * The fold of `evolve` over events, from `initial`: the same rules, on native maps only this fold
 * holds, brought back to persistent maps once at the end, so a long fold costs no path copies.
 */
export const foldEvents = (initial: PoolState, events: Iterable<PoolEvent>): PoolState => {
  const tables = new LivePool(initial)
  for (const event of events) evolveInPlace(tables, event)
  return tables.toPoolState()
}
