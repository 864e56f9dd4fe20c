/**
 * Histories (DESIGN.md §4), read from a pool's whole stream:
 * - a VM's: every placement and power-state change, with its time, revision, host and domid after it,
 *   and every migration with its hosts, rounds, bytes, total time and downtime;
 * - a host's: its memory (used, reserved, free, placement free) and state after every change, with the
 *   VMs resident on it (and migrating in) at each.
 *
 * Both fold with the one `evolve`, so what they report is what `stateAt` would answer at that revision.
 * A VM's history folds only the pool's and the hosts' events and that VM's own: its placement, power
 * state and domid depend on nothing else (the hosts' memory in that partial fold is not reported). A
 * host's history folds every event, as every VM's memory counts on some host. Both read the whole
 * stream: their cost grows with the history (docs/time-travel.md).
 */
import { Effect } from "effect"
import { eventVm, type PoolEvent, type PoolEventTag, type PowerState } from "../domain/events.js"
import { evolve } from "../domain/evolve.js"
import { poolStreamName, type HostId, type PoolId, type VmId } from "../domain/ids.js"
import { hostPhysicalFreePages, hostPlacementFreePages } from "../domain/memory.js"
import { formatBytes, formatDurationUs } from "../domain/units.js"
import { getHost, getVm, initialState, type Host, type PoolState, type Vm } from "../domain/state.js"
import { EventStore, type RecordedEvent } from "../store/EventStore.js"
import { MigrationSummaries, type MigrationSummary } from "./summary.js"
import { UnknownPool } from "./timeTravel.js"

const READ_PAGE_EVENTS = 4_096

/**
 * Runs `visit` on every event of the pool's stream, in revision order, a page at a time; after each page
 * `afterPage` runs (with the stream's last revision) and may stop the read by answering false. Fails if
 * the pool has no events.
 */
const forEachEvent = <E = never, R = never>(
  pool: PoolId,
  visit: (recorded: RecordedEvent) => void,
  afterPage: (lastRevision: number) => Effect.Effect<boolean, E, R> = () => Effect.succeed(true)
) =>
  Effect.gen(function* () {
    const store = yield* EventStore
    const stream = poolStreamName(pool)
    const lastRevision = yield* store.lastRevision(stream)
    if (lastRevision === undefined) return yield* new UnknownPool({ pool })
    let next = 0
    // Bounded by the stream's last revision as read above.
    while (next <= lastRevision) {
      const page = yield* store.read(stream, { from: next, maxCount: READ_PAGE_EVENTS })
      if (page.length === 0) break
      for (const recorded of page) visit(recorded)
      if (!(yield* afterPage(lastRevision))) break
      next = page[page.length - 1]!.revision + 1
    }
    return lastRevision
  })

// --- VM history -----------------------------------------------------------------------------------

export type VmChangeKind =
  | "created"
  | "started"
  | "paused"
  | "unpaused"
  | "suspended"
  | "resumed"
  | "shutdown"
  | "destroyed"
  | "migration-started"
  | "migrated"
  | "migration-aborted"
  | "ha-settings"
  | "ha-restart-failed"

export interface VmChange {
  readonly revision: number
  readonly atUs: number
  readonly kind: VmChangeKind
  /** After the change; undefined once the VM is destroyed. */
  readonly powerState: PowerState | undefined
  readonly residentOn: HostId | undefined
  /** -1 without a domain. */
  readonly domid: number
  /** The host the change involved, when another than `residentOn`: a migration's destination. */
  readonly host: HostId | undefined
  /** In words: the shutdown mode, the migration's hosts and figures, the abort's reason. */
  readonly detail: string
}

export interface VmHistory {
  readonly pool: PoolId
  readonly vm: VmId
  readonly lastRevision: number
  readonly changes: ReadonlyArray<VmChange>
  /** In start order, as the run summary reports them. */
  readonly migrations: ReadonlyArray<MigrationSummary>
}

const vmChangeKinds: Partial<Record<PoolEventTag, VmChangeKind>> = {
  VmCreated: "created",
  VmStarted: "started",
  VmPaused: "paused",
  VmUnpaused: "unpaused",
  VmSuspended: "suspended",
  VmResumed: "resumed",
  VmShutdown: "shutdown",
  VmDestroyed: "destroyed",
  VmMigrationStarted: "migration-started",
  VmMigrationCommitted: "migrated",
  VmMigrationAborted: "migration-aborted",
  VmHaSettingsSet: "ha-settings",
  VmHaRestartFailed: "ha-restart-failed"
}

/** Every kind of change, for a column's width. */
export const vmChangeKindNames: ReadonlyArray<VmChangeKind> = [...new Set(Object.values(vmChangeKinds))]

const changeDetail = (event: PoolEvent): { readonly host: HostId | undefined; readonly detail: string } => {
  switch (event._tag) {
    case "VmStarted":
      return { host: undefined, detail: event.paused ? "started paused" : "" }
    case "VmShutdown":
      return { host: undefined, detail: `mode ${event.mode}` }
    case "VmMigrationStarted":
      return {
        host: event.destination,
        detail: `${event.migration}: ${event.source} → ${event.destination} (${event.policy}), ${event.reservedPages} pages reserved`
      }
    case "VmMigrationCommitted":
      return {
        host: event.destination,
        detail: `${event.migration}: ${event.source} → ${event.destination}, ${event.rounds} rounds, ${formatBytes(event.bytesSent)}, total ${formatDurationUs(event.totalUs)}, downtime ${formatDurationUs(event.downtimeUs)}`
      }
    case "VmMigrationAborted":
      return { host: undefined, detail: `${event.migration}: ${event.reason}` }
    case "VmHaSettingsSet":
      return {
        host: undefined,
        detail: `ha-restart-priority ${event.restartPriority === "" ? '""' : event.restartPriority}, order ${event.order}, ha-always-run ${event.alwaysRun}`
      }
    case "VmHaRestartFailed":
      return {
        host: undefined,
        detail: `${event.reason}${event.retryAtUs === null ? "; not retried" : `; retry at ${formatDurationUs(event.retryAtUs)}`}`
      }
    default:
      return { host: undefined, detail: "" }
  }
}

/** The change a VM event makes, as the VM is after it; undefined for events that are not placement or power. */
const vmChangeOf = (recorded: RecordedEvent, after: Vm | undefined): VmChange | undefined => {
  const kind = vmChangeKinds[recorded.event._tag]
  if (kind === undefined) return undefined
  return {
    revision: recorded.revision,
    atUs: recorded.event.atUs,
    kind,
    powerState: after?.powerState,
    residentOn: after?.residentOn,
    domid: after?.domid ?? -1,
    ...changeDetail(recorded.event)
  }
}

/** What a streamed VM history ends with: everything but the changes, which went to the caller page by page. */
interface VmHistoryEnd {
  readonly pool: PoolId
  readonly vm: VmId
  readonly lastRevision: number
  /** How many changes the caller heard; 0 when no event of the pool names the VM. */
  readonly changes: number
  /** The caller stopped the read before the end. */
  readonly stopped: boolean
  /** In start order, as the run summary reports them. */
  readonly migrations: ReadonlyArray<MigrationSummary>
}

/**
 * A VM's history as it is read: `onChanges` hears the changes of each page of the log (pages without one
 * are skipped) with the stream's last revision, and may stop the read by answering false. What is held
 * is the pool's hosts, this VM and its migrations' summaries, not the history: a history longer than
 * memory prints in full.
 */
export const streamVmHistory = <E, R>(
  pool: PoolId,
  vm: VmId,
  onChanges: (changes: ReadonlyArray<VmChange>, lastRevision: number) => Effect.Effect<boolean, E, R>
) =>
  Effect.gen(function* () {
    let state: PoolState = initialState
    let pending: VmChange[] = []
    let changes = 0
    let stopped = false
    const migrations = new MigrationSummaries()
    const visit = (recorded: RecordedEvent) => {
      const subject = eventVm(recorded.event)
      if (subject !== undefined && subject !== vm) return
      state = evolve(state, recorded.event)
      if (subject === undefined) return
      migrations.add(recorded.event)
      const change = vmChangeOf(recorded, getVm(state, vm))
      if (change !== undefined) pending.push(change)
    }
    const afterPage = (lastRevision: number) => {
      const page = pending
      pending = []
      if (page.length === 0) return Effect.succeed(true)
      changes += page.length
      return Effect.map(onChanges(page, lastRevision), (go) => {
        stopped = !go
        return go
      })
    }
    const lastRevision = yield* forEachEvent(pool, visit, afterPage)
    return { pool, vm, lastRevision, changes, stopped, migrations: migrations.list() } satisfies VmHistoryEnd
  })

/** A VM's history, whole; `changes` is empty when no event of the pool names the VM. */
export const vmHistory = (pool: PoolId, vm: VmId) =>
  Effect.gen(function* () {
    const changes: VmChange[] = []
    const end = yield* streamVmHistory(pool, vm, (page) => {
      for (const change of page) changes.push(change)
      return Effect.succeed(true)
    })
    return { pool, vm, lastRevision: end.lastRevision, changes, migrations: end.migrations } satisfies VmHistory
  })

// --- host history ---------------------------------------------------------------------------------

export interface HostPoint {
  readonly revision: number
  readonly atUs: number
  /** The event that changed the host, and the VM it was about, if any. */
  readonly event: PoolEventTag
  readonly vm: VmId | undefined
  readonly enabled: boolean
  readonly live: boolean
  readonly memoryTotalPages: number
  /** Xen and dom0, plus what the resident VMs hold (populated + overhead). */
  readonly memoryUsedPages: number
  /** Held for incoming migrations. */
  readonly memoryReservedPages: number
  /** total - used - reserved: physical memory free. */
  readonly memoryFreePages: number
  /** XAPI's admission rule (domain/memory.ts). */
  readonly memoryPlacementFreePages: number
  /** VMs whose domain runs here, in id order. */
  readonly vms: ReadonlyArray<VmId>
  /** VMs migrating here, in id order. */
  readonly incoming: ReadonlyArray<VmId>
}

export interface HostHistory {
  readonly pool: PoolId
  readonly host: HostId
  readonly lastRevision: number
  /** One point per change, from the host's joining on; empty when no event names the host. */
  readonly points: ReadonlyArray<HostPoint>
}

const sorted = (ids: ReadonlySet<VmId>): ReadonlyArray<VmId> => [...ids].sort()

const hostPoint = (
  recorded: RecordedEvent,
  host: Host,
  vms: ReadonlySet<VmId>,
  incoming: ReadonlySet<VmId>
): HostPoint => ({
  revision: recorded.revision,
  atUs: recorded.event.atUs,
  event: recorded.event._tag,
  vm: eventVm(recorded.event),
  enabled: host.enabled,
  live: host.live,
  memoryTotalPages: host.memoryTotalPages,
  memoryUsedPages: host.memoryOverheadPages + host.residentPages,
  memoryReservedPages: host.reservedPages,
  memoryFreePages: hostPhysicalFreePages(host),
  memoryPlacementFreePages: hostPlacementFreePages(host),
  vms: sorted(vms),
  incoming: sorted(incoming)
})

/** Adds or removes `vm` from `set` as `member` says; whether the set changed. */
const track = (set: Set<VmId>, vm: VmId, member: boolean): boolean => {
  if (member === set.has(vm)) return false
  if (member) set.add(vm)
  else set.delete(vm)
  return true
}

/** The host's figures a point reports, to tell a change from an event that changed nothing visible. */
const sameFigures = (a: HostPoint, b: HostPoint): boolean =>
  a.enabled === b.enabled &&
  a.live === b.live &&
  a.memoryTotalPages === b.memoryTotalPages &&
  a.memoryUsedPages === b.memoryUsedPages &&
  a.memoryReservedPages === b.memoryReservedPages &&
  a.memoryPlacementFreePages === b.memoryPlacementFreePages

/** A host's history: a point whenever its state, its memory, its resident VMs or its incoming VMs change. */
export const hostHistory = (pool: PoolId, host: HostId) =>
  Effect.gen(function* () {
    let state: PoolState = initialState
    let previous: Host | undefined
    const vms = new Set<VmId>()
    const incoming = new Set<VmId>()
    const points: HostPoint[] = []
    const lastRevision = yield* forEachEvent(pool, (recorded) => {
      state = evolve(state, recorded.event)
      const current = getHost(state, host)
      if (current === undefined) return
      const vm = eventVm(recorded.event)
      const after = vm === undefined ? undefined : getVm(state, vm)
      const placed = vm !== undefined && track(vms, vm, after?.residentOn === host)
      const arriving = vm !== undefined && track(incoming, vm, after?.scheduledToBeResidentOn === host)
      // Host records are immutable: the same object means nothing about the host changed.
      if (current === previous && !placed && !arriving) return
      previous = current
      const point = hostPoint(recorded, current, vms, incoming)
      const last = points[points.length - 1]
      if (last === undefined || placed || arriving || !sameFigures(last, point)) points.push(point)
    })
    return { pool, host, lastRevision, points } satisfies HostHistory
  })
