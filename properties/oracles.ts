/**
 * Checkers that sit outside the engine and observe it (TigerBeetle's way): each restates one rule of
 * the pool in its own words, over the states the log folds into event by event. None of them calls the
 * domain's memory helpers or invariants, so a bug in those is not hidden by the same bug here.
 */
import { HashMap } from "effect"
import type { PoolEvent } from "../domain/events.js"
import { evolve } from "../domain/evolve.js"
import { initialState, type Host, type Migration, type PoolState, type Vm } from "../domain/state.js"
import type { EmittedEvent } from "../engine/simulation.js"
import { PageState, type PageStatesFactory } from "../engine/pageStates.js"
import type { PolicyConfig } from "../engine/config.js"

/** A checker over the event sequence: sees each event with the states before and after it. */
export interface Monitor {
  readonly onEvent: (before: PoolState, event: PoolEvent, after: PoolState) => string | undefined
  /** After the last event, when the run ended normally. */
  readonly atEnd?: (final: PoolState) => string | undefined
}

/** Folds the log event by event through the monitors; the first violation, with where it happened. */
export const monitorLog = (events: ReadonlyArray<EmittedEvent>, monitors: ReadonlyArray<Monitor>, ended: boolean) => {
  let state = initialState
  for (let i = 0; i < events.length; i++) {
    const event = events[i]!.event
    const next = evolve(state, event)
    for (const monitor of monitors) {
      const found = monitor.onEvent(state, event, next)
      if (found !== undefined) return `after event ${i} (${event._tag} at ${event.atUs} µs): ${found}`
    }
    state = next
  }
  if (!ended) return undefined
  for (const monitor of monitors) {
    const found = monitor.atEnd?.(state)
    if (found !== undefined) return `at the end of the run: ${found}`
  }
  return undefined
}

const hostsOf = (s: PoolState): ReadonlyArray<Host> => Array.from(HashMap.values(s.hosts))
const vmsOf = (s: PoolState): ReadonlyArray<Vm> => Array.from(HashMap.values(s.vms))
const migrationsOf = (s: PoolState): ReadonlyArray<Migration> => Array.from(HashMap.values(s.migrations))
const vmById = (s: PoolState, id: string): Vm | undefined => vmsOf(s).find((v) => v.id === id)
const hostById = (s: PoolState, id: string): Host | undefined => hostsOf(s).find((h) => h.id === id)

/** What a VM holds of a host's RAM: its populated pages plus its overhead. */
const footprint = (vm: Vm) => vm.populatedPages + vm.overheadPages
/** What XAPI's admission counts for a VM: dynamic min plus overhead. */
const admission = (vm: Vm) => vm.memory.dynamicMinPages + vm.overheadPages

// --- memory conservation -------------------------------------------------------------------------

/**
 * On every host: free + used + reserved + host overhead = total, with used and reserved recomputed
 * from the VMs and migrations, free as the host reports it, and free never negative. Every incoming
 * migration reserves exactly the VM's footprint; the admission sum never exceeds what the host has.
 */
const memoryConservation = (state: PoolState): string | undefined => {
  const vms = vmsOf(state)
  const migrations = migrationsOf(state)
  for (const m of migrations) {
    const vm = vms.find((v) => v.id === m.vm)
    if (vm && m.reservedPages !== footprint(vm))
      return `migration ${m.id} reserves ${m.reservedPages} pages on ${m.destination}, VM ${vm.id} holds ${footprint(vm)}`
  }
  for (const h of hostsOf(state)) {
    let used = 0
    let reserved = 0
    let admitted = 0
    for (const vm of vms) {
      if (vm.residentOn === h.id) used += footprint(vm)
      if (vm.residentOn === h.id || vm.scheduledToBeResidentOn === h.id) admitted += admission(vm)
    }
    for (const m of migrations) {
      const vm = vms.find((v) => v.id === m.vm)
      if (m.destination === h.id && vm) reserved += footprint(vm)
    }
    const free = h.memoryTotalPages - h.memoryOverheadPages - h.residentPages - h.reservedPages
    if (free < 0) return `host ${h.id}: free is ${free} pages`
    if (free + used + reserved + h.memoryOverheadPages !== h.memoryTotalPages)
      return `host ${h.id}: free ${free} + used ${used} + reserved ${reserved} + overhead ${h.memoryOverheadPages} ≠ total ${h.memoryTotalPages}`
    if (h.placementPages !== admitted) return `host ${h.id}: admission sum ${h.placementPages}, VMs say ${admitted}`
    if (admitted > h.memoryTotalPages - h.memoryOverheadPages)
      return `host ${h.id}: admitted ${admitted} pages > ${h.memoryTotalPages - h.memoryOverheadPages} for guests`
  }
  return undefined
}

export const memoryConservationMonitor = (): Monitor => ({ onEvent: (_b, _e, after) => memoryConservation(after) })

// --- residency -----------------------------------------------------------------------------------

/**
 * A Running or Paused VM is resident on exactly one existing host, with a domain there; a Halted or
 * Suspended one on none. A migrating VM counts on exactly two hosts, its source (resident) and its
 * destination (scheduled); any other VM on at most one. Domids are unique per host.
 */
const residency = (state: PoolState): string | undefined => {
  const hostIds = new Set(hostsOf(state).map((h) => h.id))
  const domids = new Set<string>()
  for (const vm of vmsOf(state)) {
    const up = vm.powerState === "Running" || vm.powerState === "Paused"
    if (up && (vm.residentOn === undefined || !hostIds.has(vm.residentOn)))
      return `VM ${vm.id} is ${vm.powerState} but resident on ${vm.residentOn ?? "no host"}`
    if (up && vm.domid < 1) return `VM ${vm.id} is ${vm.powerState} with domid ${vm.domid}`
    if (!up && (vm.residentOn !== undefined || vm.scheduledToBeResidentOn !== undefined || vm.domid !== -1))
      return `VM ${vm.id} is ${vm.powerState} but resident on ${vm.residentOn}, scheduled on ${vm.scheduledToBeResidentOn}, domid ${vm.domid}`
    const countedOn = new Set([vm.residentOn, vm.scheduledToBeResidentOn].filter((h) => h !== undefined))
    const migration = migrationsOf(state).find((m) => m.vm === vm.id)
    if (migration) {
      if (
        countedOn.size !== 2 ||
        vm.residentOn !== migration.source ||
        vm.scheduledToBeResidentOn !== migration.destination
      )
        return `VM ${vm.id} migrating ${migration.source} → ${migration.destination} counts on [${[...countedOn].join(", ")}]`
    } else if (vm.scheduledToBeResidentOn !== undefined) {
      return `VM ${vm.id} is not migrating but is scheduled on ${vm.scheduledToBeResidentOn}`
    }
    if (vm.residentOn !== undefined) {
      const key = `${vm.residentOn}/${vm.domid}`
      if (domids.has(key)) return `domid ${vm.domid} is used twice on ${vm.residentOn}`
      domids.add(key)
    }
  }
  return undefined
}

export const residencyMonitor = (): Monitor => ({ onEvent: (_b, _e, after) => residency(after) })

// --- atomic migration ----------------------------------------------------------------------------

interface OpenMigration {
  readonly vm: string
  readonly source: string
  readonly destination: string
  readonly domid: number
  readonly powerState: string
  readonly memory: string
  readonly pagedOutPages: number
  readonly reservedPages: number
}

/** What must not change while a VM migrates: the image's size, its target, its overhead (docs/paging.md). */
const vmMemory = (vm: Vm) =>
  `guest ${vm.populatedPages + vm.pagedOutPages} pages, target ${vm.memory.targetPages}, overhead ${vm.overheadPages}`

const sums = (h: Host | undefined) => ({
  resident: h?.residentPages ?? 0,
  reserved: h?.reservedPages ?? 0,
  admitted: h?.placementPages ?? 0
})

const expectDelta = (what: string, before: number, after: number, delta: number): string | undefined =>
  after - before === delta ? undefined : `${what} moved by ${after - before} pages, expected ${delta}`

/** The accounting an abort or a commit must leave: exactly the migration's own share moves. */
const endDeltas = (
  o: OpenMigration,
  vm: Vm,
  before: PoolState,
  after: PoolState,
  committed: boolean,
  reservedPages: number
) => {
  const [s0, s1] = [sums(hostById(before, o.source)), sums(hostById(after, o.source))]
  const [d0, d1] = [sums(hostById(before, o.destination)), sums(hostById(after, o.destination))]
  // The source gives back what the VM held there; the destination turns its reservation into use.
  return (
    expectDelta(`source ${o.source} used`, s0.resident, s1.resident, committed ? -footprint(vm) : 0) ??
    expectDelta(`source ${o.source} admitted`, s0.admitted, s1.admitted, committed ? -admission(vm) : 0) ??
    expectDelta(`destination ${o.destination} reserved`, d0.reserved, d1.reserved, -reservedPages) ??
    expectDelta(`destination ${o.destination} used`, d0.resident, d1.resident, committed ? reservedPages : 0) ??
    expectDelta(`destination ${o.destination} admitted`, d0.admitted, d1.admitted, committed ? 0 : -admission(vm))
  )
}

/**
 * Every started migration ends exactly once, committed or aborted, and nothing happens to it after.
 * While it runs the image's size, target and overhead do not change and nothing more is paged out
 * (page-ins may happen: they grow the reservation). An abort leaves the VM running on the source with
 * its domain and releases only the reservation; a commit moves exactly the VM's footprint to the
 * destination, where it runs under a new domid. At the end of a run that reached quiescence, none is
 * left in flight.
 */
export const atomicMigrationMonitor = (): Monitor => {
  const open = new Map<string, OpenMigration>()
  const ended = new Set<string>()
  const mustBeOpen = (id: string, what: string) =>
    open.has(id) ? undefined : `migration ${id}: ${what} ${ended.has(id) ? "after it ended" : "but it never started"}`
  return {
    onEvent: (before, event, after) => {
      switch (event._tag) {
        case "VmMigrationStarted": {
          if (open.has(event.migration) || ended.has(event.migration))
            return `migration ${event.migration} started twice`
          const vm = vmById(after, event.vm)
          if (!vm) return `migration ${event.migration} of unknown VM ${event.vm}`
          open.set(event.migration, {
            vm: event.vm,
            source: event.source,
            destination: event.destination,
            domid: vm.domid,
            powerState: vm.powerState,
            memory: vmMemory(vm),
            pagedOutPages: vm.pagedOutPages,
            reservedPages: event.reservedPages
          })
          return undefined
        }
        case "VmMigrationRoundCompleted":
          return mustBeOpen(event.migration, `round ${event.round} completed`)
        case "VmMigrationStopAndCopyStarted":
          return mustBeOpen(event.migration, "stop-and-copy started")
        case "VmMigrationCommitted":
        case "VmMigrationAborted": {
          const committed = event._tag === "VmMigrationCommitted"
          const notOpen = mustBeOpen(event.migration, committed ? "committed" : "aborted")
          if (notOpen) return notOpen
          const o = open.get(event.migration)!
          open.delete(event.migration)
          ended.add(event.migration)
          const vm = vmById(after, o.vm)
          if (!vm) return `migration ${event.migration}: VM ${o.vm} vanished`
          if (vmMemory(vm) !== o.memory)
            return `migration ${event.migration}: VM ${o.vm}'s memory changed while migrating (${o.memory} → ${vmMemory(vm)})`
          if (vm.pagedOutPages > o.pagedOutPages)
            return `migration ${event.migration}: VM ${o.vm} paged out ${vm.pagedOutPages - o.pagedOutPages} more pages while migrating`
          const where = committed ? o.destination : o.source
          if (vm.residentOn !== where || vm.scheduledToBeResidentOn !== undefined || vm.powerState !== o.powerState)
            return `migration ${event.migration} ${committed ? "committed" : "aborted"}: VM ${o.vm} is ${vm.powerState} on ${vm.residentOn} (scheduled ${vm.scheduledToBeResidentOn}), expected ${o.powerState} on ${where}`
          if (!committed && vm.domid !== o.domid)
            return `migration ${event.migration} aborted: the VM's domid changed from ${o.domid} to ${vm.domid}`
          if (committed && vm.domid !== (hostById(before, o.destination)?.nextDomid ?? -2))
            return `migration ${event.migration} committed: domid ${vm.domid} is not a new domain on ${o.destination}`
          // The reservation grows by every page paged in while migrating (docs/paging.md).
          const reservedPages = migrationsOf(before).find((m) => m.id === event.migration)?.reservedPages ?? -1
          const deltas = endDeltas(o, vm, before, after, committed, reservedPages)
          return deltas === undefined ? undefined : `migration ${event.migration} ${event._tag}: ${deltas}`
        }
        default:
          return undefined
      }
    },
    atEnd: (final) => {
      const left = [...open.keys()]
      if (left.length > 0) return `migrations never ended: ${left.join(", ")}`
      if (HashMap.size(final.migrations) > 0) return `the state still has ${HashMap.size(final.migrations)} migrations`
      return undefined
    }
  }
}

// --- termination and bounds ------------------------------------------------------------------------

const XEN_LIVE_ROUNDS_MAX = 5
const XEN_DIRTY_THRESHOLD_PAGES = 50
const LEGACY_LIVE_ROUNDS_MAX = 29
const LEGACY_SENT_THRESHOLD_PAGES = 50
const LEGACY_MAX_FACTOR = 3
const MAX_DOWNTIME_US_DEFAULT = 30_000
const ROUNDS_MAX_DEFAULT = 10_000

interface Round {
  readonly live: boolean
  readonly pagesSent: number
  readonly pagesSkipped: number
  readonly zeroPages?: number
  readonly stateBytes?: number
  readonly bytesSent: number
  readonly pagesDirtied: number
  readonly durationUs: number
}

/** The policy's rules, restated over one migration's rounds; `memoryPages` is the VM's memory (p2m size). */
const checkRounds = (
  policy: PolicyConfig,
  rounds: ReadonlyArray<Round>,
  memoryPages: number,
  pageSizeBytes: number,
  /** A user's policy: its own bound on live rounds (the built-ins' are restated here). */
  userLiveRoundsMax: number = ROUNDS_MAX_DEFAULT
): string | undefined => {
  const live = rounds.filter((r) => r.live)
  const pausedAt = rounds.findIndex((r) => !r.live)
  if (pausedAt >= 0 && pausedAt !== rounds.length - 1) return `a live round follows the paused round`
  let totalPages = 0
  for (const [i, r] of rounds.entries()) {
    if (r.pagesSent > memoryPages) return `round ${i + 1} sends ${r.pagesSent} pages of a ${memoryPages}-page VM`
    const zeroPages = r.zeroPages ?? 0
    const stateBytes = r.stateBytes ?? 0
    if (r.bytesSent !== r.pagesSent * pageSizeBytes + zeroPages * QEMU_ZERO_PAGE_MARKER_BYTES + stateBytes)
      return `round ${i + 1}: ${r.bytesSent} bytes for ${r.pagesSent} pages, ${zeroPages} zero pages and ${stateBytes} bytes of state`
    totalPages += r.pagesSent
  }
  // After live round i: must the next round be the paused one (no further live round)?
  const mustStopAfter = (i: number, cumulativeLivePages: number): boolean => {
    const r = live[i]!
    switch (policy.name) {
      case "xen":
        return false
      case "xen-legacy":
        return (
          i + 1 >= LEGACY_LIVE_ROUNDS_MAX ||
          r.pagesSent + r.pagesSkipped < LEGACY_SENT_THRESHOLD_PAGES ||
          cumulativeLivePages > memoryPages * LEGACY_MAX_FACTOR
        )
      case "max-downtime": {
        const dirtyBytes = BigInt(r.pagesDirtied * pageSizeBytes)
        const limit = BigInt(policy.maxDowntimeUs ?? MAX_DOWNTIME_US_DEFAULT)
        return (
          dirtyBytes * BigInt(r.durationUs) <= limit * BigInt(r.bytesSent) ||
          i + 1 >= (policy.roundsMax ?? ROUNDS_MAX_DEFAULT)
        )
      }
      default:
        // A user's policy (registered by a run): only its own bound on rounds, below, holds.
        return false
    }
  }
  let cumulative = 0
  for (let i = 0; i < live.length - 1; i++) {
    cumulative += live[i]!.pagesSent
    if (mustStopAfter(i, cumulative))
      return `${policy.name}: live round ${i + 2} follows a round after which it must stop`
    // xen: the pass that finds fewer than 50 dirty pages stops, after sending them live.
    if (policy.name === "xen" && live[i]!.pagesDirtied < XEN_DIRTY_THRESHOLD_PAGES && i + 2 < live.length)
      return `xen: live round ${i + 3} follows round ${i + 1}, which left ${live[i]!.pagesDirtied} (< 50) pages dirty`
  }
  const liveMax =
    policy.name === "xen"
      ? XEN_LIVE_ROUNDS_MAX
      : policy.name === "xen-legacy"
        ? LEGACY_LIVE_ROUNDS_MAX
        : policy.name === "max-downtime"
          ? (policy.roundsMax ?? ROUNDS_MAX_DEFAULT)
          : userLiveRoundsMax
  if (live.length > liveMax) return `${policy.name}: ${live.length} live rounds > ${liveMax}`
  // Bytes: each round sends at most every page; xen-legacy's 3x rule also caps the live total at 4x.
  const pagesMax = policy.name === "xen-legacy" ? (LEGACY_MAX_FACTOR + 2) * memoryPages : (liveMax + 1) * memoryPages
  if (totalPages > pagesMax) return `${policy.name}: ${totalPages} pages sent > the bound ${pagesMax}`
  return undefined
}

/** Collects each migration's rounds and checks them against the policy when it ends. */
export const boundsMonitor = (
  policy: PolicyConfig,
  pageSizeBytes: number,
  userLiveRoundsMax: number = ROUNDS_MAX_DEFAULT
): Monitor => {
  const rounds = new Map<string, Round[]>()
  const memory = new Map<string, number>()
  return {
    onEvent: (_before, event, after) => {
      switch (event._tag) {
        case "VmMigrationStarted":
          rounds.set(event.migration, [])
          // The image the migration copies is the guest's memory as its balloon left it (p2m size).
          memory.set(event.migration, vmById(after, event.vm)?.guestPages ?? 0)
          return undefined
        case "VmMigrationRoundCompleted": {
          const list = rounds.get(event.migration)
          if (!list) return undefined
          if (event.round !== list.length + 1)
            return `migration ${event.migration}: round ${event.round} after ${list.length}`
          list.push(event)
          return undefined
        }
        case "VmMigrationCommitted":
        case "VmMigrationAborted": {
          const list = rounds.get(event.migration) ?? []
          const committed = event._tag === "VmMigrationCommitted"
          if (committed && list.filter((r) => !r.live).length !== 1)
            return `migration ${event.migration} committed after ${list.filter((r) => !r.live).length} paused rounds`
          const found = checkRounds(policy, list, memory.get(event.migration) ?? 0, pageSizeBytes, userLiveRoundsMax)
          return found === undefined ? undefined : `migration ${event.migration}: ${found}`
        }
        default:
          return undefined
      }
    }
  }
}

// --- paging ------------------------------------------------------------------------------------------

/**
 * Every VM's pages add up, restated: resident (populated) + paged out = the guest's pages, none
 * negative; a VM without a domain has nothing paged out. A commit carries the paged count across
 * unchanged: the paged pages travel as markers and stay paged on the destination.
 */
export const pagingMonitor = (): Monitor => ({
  onEvent: (before, event, after) => {
    for (const vm of vmsOf(after)) {
      if (vm.populatedPages < 0 || vm.pagedOutPages < 0)
        return `VM ${vm.id}: resident ${vm.populatedPages}, paged ${vm.pagedOutPages} pages`
      if (vm.populatedPages + vm.pagedOutPages !== vm.guestPages)
        return `VM ${vm.id}: resident ${vm.populatedPages} + paged ${vm.pagedOutPages} ≠ ${vm.guestPages} guest pages`
      if (vm.residentOn === undefined && vm.pagedOutPages !== 0)
        return `VM ${vm.id} has no domain but ${vm.pagedOutPages} pages paged out`
    }
    if (event._tag === "VmMigrationCommitted") {
      const [b, a] = [vmById(before, event.vm), vmById(after, event.vm)]
      if (b && a && b.pagedOutPages !== a.pagedOutPages)
        return `migration ${event.migration}: ${b.pagedOutPages} pages paged before the commit, ${a.pagedOutPages} after`
    }
    return undefined
  }
})

// --- page-state moves --------------------------------------------------------------------------------

const pageStateName: Readonly<Record<number, string>> = {
  [PageState.Absent]: "absent",
  [PageState.Rw]: "rw",
  [PageState.PagingOut]: "paging-out",
  [PageState.Paged]: "paged",
  [PageState.PagingIn]: "paging-in"
}

/**
 * The moves a gfn may make, restated from XEN.md §5 and its invariant 14 (not from the engine's own
 * table): paging goes rw → paging-out → paged → paging-in → rw, plus paging-out → paging-in when the
 * guest touches a page being evicted; the balloon populates (absent → rw), gives back a resident page
 * (rw → absent) or drops a paged one (paged → absent). A page-in always passes through paging-in.
 */
const legalPageMoves: ReadonlySet<string> = new Set([
  "rw → paging-out",
  "paging-out → paged",
  "paged → paging-in",
  "paging-out → paging-in",
  "paging-in → rw",
  "absent → rw",
  "rw → absent",
  "paged → absent"
])

/**
 * Wraps the pager's page-states factory: every move of every VM's pages (the pager's and the
 * balloon's, all through `transition`) is checked against `legalPageMoves`, by the states the gfn had
 * before and after it, whatever the move was asked to do. A shadow copy of each gfn's state catches a
 * change made without a move. Violations are pushed to `found`; the engine runs on undisturbed.
 */
export const pageMoveObserver =
  (found: string[]) =>
  (base: PageStatesFactory): PageStatesFactory =>
  (spec) => {
    const pages = base(spec)
    const seen = new Uint8Array(spec.staticMaxPages).fill(PageState.Rw, 0, spec.guestPages)
    const move = pages.transition.bind(pages)
    const name = (state: number) => pageStateName[state] ?? `state ${state}`
    pages.transition = (gfn, from, to) => {
      const before = pages.state(gfn)
      if (before !== seen[gfn])
        found.push(`VM ${spec.vm} gfn ${gfn} went ${name(seen[gfn]!)} → ${name(before)} without a move`)
      move(gfn, from, to)
      const after = pages.state(gfn)
      seen[gfn] = after
      if (after !== before && !legalPageMoves.has(`${name(before)} → ${name(after)}`))
        found.push(
          `VM ${spec.vm} gfn ${gfn} went ${name(before)} → ${name(after)} (asked ${name(from)} → ${name(to)}): not a legal page-state move`
        )
    }
    return pages
  }

// --- migration accounting (docs/migration.md) --------------------------------------------------------

/** A QEMU zero page in the stream: an 8-byte page header and one byte (qemu `migration/ram.c`). */
const QEMU_ZERO_PAGE_MARKER_BYTES = 9

interface Flight {
  readonly policy: string
  readonly startedAtUs: number
  readonly guestPages: number
  readonly pagedPages: number
  setupUs: number | undefined
  suspendUs: number | undefined
  restoreUs: number | undefined
  stopAndCopyAtUs: number | undefined
  pausedRoundUs: number | undefined
  roundsUs: number
  roundsBytes: number
  /** When the step now in flight began (the start, setup's end, a round's end, suspend's end). */
  stepStartUs: number
  interruptedAtUs: number | undefined
}

/** What the monitor must know of the run: phases on or off, the pool's latency, each VM's never-written pages. */
export interface AccountingContext {
  readonly phases: boolean
  readonly latencyUs: number
  /** Never-written pages and working set of each VM's workload (rate model). */
  readonly untouched: (vm: string) => { readonly untouchedPages: number; readonly workingSetPages: number }
}

/**
 * A migration's time and bytes are the sum of its parts: total = setup + the rounds + the stop-and-copy
 * parts (suspend and restore; without phases, the one link latency to the commit); downtime = suspend +
 * the paused round + restore (without phases: the paused round + that latency); its bytes = the sum of
 * its rounds' bytes, the round an abort cut short included, which is recorded whenever a round was in
 * flight for some time; never-written pages never go as full pages under max-downtime, and only
 * max-downtime sends zero pages. A migration a host failure commits past the point of no return ends
 * inside restore and is held to its bytes only.
 */
export const migrationAccountingMonitor = (context: AccountingContext): Monitor => {
  const flights = new Map<string, Flight>()
  let lastHostFailureAtUs = -1
  return {
    onEvent: (before, event) => {
      if (event._tag === "HostFailed") lastHostFailureAtUs = event.atUs
      if (!("migration" in event)) return undefined
      const id = event.migration
      if (event._tag === "VmMigrationStarted") {
        const vm = vmById(before, event.vm)
        flights.set(id, {
          policy: event.policy,
          startedAtUs: event.atUs,
          guestPages: vm?.guestPages ?? 0,
          pagedPages: vm?.pagedOutPages ?? 0,
          setupUs: undefined,
          suspendUs: undefined,
          restoreUs: undefined,
          stopAndCopyAtUs: undefined,
          pausedRoundUs: undefined,
          roundsUs: 0,
          roundsBytes: 0,
          stepStartUs: event.atUs,
          interruptedAtUs: undefined
        })
        return undefined
      }
      const f = flights.get(id)
      if (f === undefined) return undefined
      const pageSizeBytes = before.pool?.pageSizeBytes ?? 4096
      switch (event._tag) {
        case "VmMigrationPhaseCompleted":
          if (event.atUs - event.durationUs !== f.stepStartUs)
            return `migration ${id}: ${event.phase} began at ${event.atUs - event.durationUs}, not when the step before it ended (${f.stepStartUs})`
          f[`${event.phase}Us`] = event.durationUs
          f.stepStartUs = event.atUs
          return undefined
        case "VmMigrationRoundCompleted": {
          if (event.atUs - event.durationUs !== f.stepStartUs)
            return `migration ${id}: round ${event.round} began at ${event.atUs - event.durationUs}, not when the step before it ended (${f.stepStartUs})`
          const zeroProblem = zeroPagesProblem(context, f, event, event.vm)
          if (zeroProblem !== undefined) return `migration ${id}: ${zeroProblem}`
          f.roundsUs += event.durationUs
          f.roundsBytes += event.bytesSent
          if (!event.live) f.pausedRoundUs = event.durationUs
          f.stepStartUs = event.atUs
          const whole =
            event.pagesSent * pageSizeBytes + event.zeroPages * QEMU_ZERO_PAGE_MARKER_BYTES + event.stateBytes
          return event.bytesSent === whole
            ? undefined
            : `migration ${id}: round ${event.round} sent ${event.bytesSent} bytes, its pages, zero pages and state make ${whole}`
        }
        case "VmMigrationStopAndCopyStarted":
          f.stopAndCopyAtUs = event.atUs
          return undefined
        case "VmMigrationRoundInterrupted":
          if (event.atUs - event.durationUs !== f.stepStartUs)
            return `migration ${id}: the interrupted round began at ${event.atUs - event.durationUs}, not at ${f.stepStartUs}`
          f.roundsBytes += event.bytesSent
          f.interruptedAtUs = event.atUs
          return undefined
        case "VmMigrationCommitted":
          flights.delete(id)
          return commitProblem(context, f, event, lastHostFailureAtUs === event.atUs)
        case "VmMigrationAborted":
          flights.delete(id)
          return abortProblem(context, f, event.atUs)
        default:
          return undefined
      }
    }
  }
}

const zeroPagesProblem = (
  context: AccountingContext,
  f: Flight,
  round: { readonly round: number; readonly pagesSent: number; readonly zeroPages: number },
  vm: string
): string | undefined => {
  if (round.zeroPages > 0 && f.policy !== "max-downtime")
    return `round ${round.round} sent ${round.zeroPages} zero pages under ${f.policy}, which sends every page in full`
  if (round.zeroPages > 0 && round.round !== 1)
    return `round ${round.round} sent zero pages: only the first round meets them`
  if (round.round !== 1 || f.policy !== "max-downtime") return undefined
  const { untouchedPages, workingSetPages } = context.untouched(vm)
  const never = Math.min(untouchedPages, f.guestPages - Math.min(workingSetPages, f.guestPages))
  const fullMax = f.guestPages - never
  return round.pagesSent > fullMax
    ? `round 1 sent ${round.pagesSent} full pages of a ${f.guestPages}-page VM with ${never} never-written pages: some went in full`
    : undefined
}

const commitProblem = (
  context: AccountingContext,
  f: Flight,
  c: { readonly totalUs: number; readonly downtimeUs: number; readonly bytesSent: number; readonly migration: string },
  byHostFailure: boolean
): string | undefined => {
  if (c.bytesSent !== f.roundsBytes)
    return `migration ${c.migration} committed with ${c.bytesSent} bytes, its rounds sent ${f.roundsBytes}`
  if (byHostFailure) return undefined
  const tailUs = context.phases ? (f.suspendUs ?? 0) + (f.restoreUs ?? 0) : context.latencyUs
  const total = (f.setupUs ?? 0) + f.roundsUs + tailUs
  if (c.totalUs !== total)
    return `migration ${c.migration}: total ${c.totalUs} µs, but setup ${f.setupUs ?? 0} + rounds ${f.roundsUs} + stop-and-copy parts ${tailUs} = ${total}`
  const paused = (f.pausedRoundUs ?? 0) + tailUs
  if (c.downtimeUs !== paused)
    return `migration ${c.migration}: downtime ${c.downtimeUs} µs, but its paused parts make ${paused}`
  if (context.phases && (f.setupUs === undefined || f.suspendUs === undefined || f.restoreUs === undefined))
    return `migration ${c.migration} committed without its setup, suspend or restore`
  return undefined
}

const abortProblem = (context: AccountingContext, f: Flight, atUs: number): string | undefined => {
  if (f.interruptedAtUs !== undefined)
    return f.interruptedAtUs === atUs ? undefined : `the interrupted round is not at the abort`
  // Was a round in flight, and for some time? Not during setup, suspend or restore.
  const inSetup = context.phases && f.setupUs === undefined
  const inSuspend = context.phases && f.stopAndCopyAtUs !== undefined && f.suspendUs === undefined
  const afterPaused = f.pausedRoundUs !== undefined
  if (inSetup || inSuspend || afterPaused || atUs === f.stepStartUs) return undefined
  return `aborted at ${atUs} µs with a round in flight since ${f.stepStartUs} µs, but no interrupted round recorded its bytes`
}
