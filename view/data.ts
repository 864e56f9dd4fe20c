/**
 * What the view and the report read of a pool, through the projections (projections/timeTravel.ts,
 * history.ts, summary.ts, hostsInUse.ts) and the store: the pool list with provenance, the pool at a
 * moment (`at --json`'s document), the whole history's overview (migrations with their rounds, the
 * pool sampled over time), a VM's memory over time and the events around a revision. Read-only: nothing
 * here appends or saves, except the snapshot catch-up every time-travel query already does.
 */
import { Effect, HashMap, Schema } from "effect"
import { eventHost, eventVm, PoolEvent, type PoolEventTag } from "../domain/events.js"
import { evolve } from "../domain/evolve.js"
import { poolIdOfStream, poolStreamName, type HostId, type PoolId, type VmId } from "../domain/ids.js"
import { getHost, getVm, initialState, type PoolState } from "../domain/state.js"
import { migrationTotals } from "../projections/migrationTotals.js"
import { MigrationSummaries } from "../projections/summary.js"
import { stateAt, UnknownPool, type TimeTravelTarget } from "../projections/timeTravel.js"
import { EventStore, type RecordedEvent } from "../store/EventStore.js"
import { redactUrl } from "../store/url.js"
import { atJson, requireFocus, type Focus } from "../api/timeTravel.js"
import { provenanceOf } from "../api/provenance.js"
import type {
  AtAnswer,
  EventRow,
  EventsAround,
  HostsAnswer,
  HostsVm,
  MigrationDetail,
  MigrationRound,
  MigrationWindow,
  PoolListEntry,
  PoolOverview,
  PoolSeries,
  VmMemorySeries
} from "../web/api.js"

/** Events read per page when a whole stream is folded. */
const READ_PAGE_EVENTS = 4_096
/** The most moments a series may ask for; the page asks for a few thousand. */
export const SERIES_POINTS_MAX = 100_000
export const SERIES_POINTS_DEFAULT = 4_000
/** The links a series holds: the busiest. */
const SERIES_LINKS_MAX = 10
/** A VM's memory series stops after this many changes (and says so). */
const VM_SERIES_POINTS_MAX = 200_000
/** The events list reads at most this many events to find a filter's matches (and says how many it read). */
const EVENTS_SCAN_MAX = 100_000
export const EVENTS_SIDE_MAX = 500
/** The most migrations one answer of `migrations` holds. */
export const MIGRATIONS_WINDOW_MAX = 2_000

/** The pool's last revision; UnknownPool when it has no events. */
const lastRevisionOf = (pool: PoolId) =>
  Effect.gen(function* () {
    const last = yield* (yield* EventStore).lastRevision(poolStreamName(pool))
    return last === undefined ? yield* new UnknownPool({ pool }) : last
  })

/** Runs `visit` on every event of the pool up to `lastRevision`, a page at a time. */
const forEachEvent = (pool: PoolId, lastRevision: number, visit: (recorded: RecordedEvent) => void) =>
  Effect.gen(function* () {
    const store = yield* EventStore
    const stream = poolStreamName(pool)
    // Bounded: each page moves `next` forward by at least one, up to lastRevision.
    for (let next = 0; next <= lastRevision;) {
      const page = yield* store.read(stream, {
        from: next,
        maxCount: Math.min(READ_PAGE_EVENTS, lastRevision - next + 1)
      })
      if (page.length === 0) break
      for (const recorded of page) visit(recorded)
      next = page[page.length - 1]!.revision + 1
    }
  })

const firstEvent = (pool: PoolId) =>
  Effect.gen(function* () {
    const [first] = yield* (yield* EventStore).read(poolStreamName(pool), { from: 0, maxCount: 1 })
    return first
  })

// --- the pool list --------------------------------------------------------------------------------

/** Every pool of the store with its provenance and size (`pools --json`'s fields first). */
export const poolList = Effect.gen(function* () {
  const store = yield* EventStore
  const streams = yield* store.streams()
  const entries: PoolListEntry[] = []
  for (const s of streams) {
    const id = poolIdOfStream(s.stream)
    if (id === undefined) continue
    const first = yield* firstEvent(id)
    const latest = (yield* stateAt(id, { revision: Number.MAX_SAFE_INTEGER })).state
    entries.push({
      id,
      events: s.events,
      lastAtUs: s.lastAtUs,
      provenance: yield* provenanceOf(id),
      store: redactUrl(store.url),
      definedAs: first?.event._tag === "PoolCreated" ? first.event.pool : null,
      firstAtUs: first?.event.atUs ?? 0,
      pageSizeBytes: latest.pool?.pageSizeBytes ?? null,
      hosts: HashMap.size(latest.hosts),
      vms: HashMap.size(latest.vms)
    })
  }
  return entries
})

// --- the pool at a moment -------------------------------------------------------------------------

/**
 * `at --json` for the whole pool (or, with `vm`, `at --vm VM --json`: that VM, its hosts and its
 * migration), each host with its used and overhead memory added.
 */
export const poolAt = (pool: PoolId, target: TimeTravelTarget, vm?: VmId) =>
  Effect.gen(function* () {
    const answer = yield* stateAt(pool, target)
    const focus: Focus = vm === undefined ? { _tag: "pool" } : { _tag: "vm", vm }
    // An unknown VM is refused as the CLI refuses it (`at --vm`).
    yield* requireFocus(pool, focus, answer.state)
    const document = atJson(answer, focus)
    const hosts = document.hosts.map((h) => {
      const host = getHost(answer.state, h.id as HostId)!
      return {
        ...h,
        memoryUsedPages: host.memoryOverheadPages + host.residentPages,
        memoryOverheadPages: host.memoryOverheadPages
      }
    })
    return { ...document, hosts } satisfies AtAnswer
  })

/** What the page draws of the pool at a moment: `poolAt`'s document with each VM cut to the hosts panel's fields. */
export const poolHosts = (pool: PoolId, target: TimeTravelTarget) =>
  Effect.map(poolAt(pool, target), (document): HostsAnswer => ({
    ...document,
    vms: document.vms.map((vm): HostsVm => ({
      id: vm.id,
      powerState: vm.powerState,
      residentOn: vm.residentOn,
      scheduledToBeResidentOn: vm.scheduledToBeResidentOn,
      domid: vm.domid,
      currentOperation: vm.currentOperation,
      migration: vm.migration
    }))
  }))

// --- the overview: migrations and series ----------------------------------------------------------

type MutableRoundList = Map<string, MigrationRound[]>

/** Collects each migration's rounds and end time beside the run summary's read model. */
class MigrationDetails {
  readonly summaries = new MigrationSummaries()
  private readonly rounds: MutableRoundList = new Map()
  private readonly endedAtUs = new Map<string, number>()

  add(event: PoolEvent): void {
    this.summaries.add(event)
    if (!("migration" in event)) return
    this.endedAtUs.set(event.migration, event.atUs)
    if (event._tag !== "VmMigrationRoundCompleted") return
    const list = this.rounds.get(event.migration) ?? []
    list.push({
      round: event.round,
      live: event.live,
      atUs: event.atUs,
      durationUs: event.durationUs,
      pagesSent: event.pagesSent,
      pagesSkipped: event.pagesSkipped,
      pagesDirtied: event.pagesDirtied,
      bytesSent: event.bytesSent
    })
    this.rounds.set(event.migration, list)
  }

  list(): ReadonlyArray<MigrationDetail> {
    return this.summaries.list().map((m) => ({
      ...m,
      endedAtUs: this.endedAtUs.get(m.id) ?? m.startedAtUs,
      roundList: this.rounds.get(m.id) ?? []
    }))
  }
}

/** The first index whose value is >= t (ends is ascending). */
const lowerBound = (ends: ReadonlyArray<number>, t: number): number => {
  let lo = 0
  let hi = ends.length
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if (ends[mid]! < t) lo = mid + 1
    else hi = mid
  }
  return lo
}

/**
 * Hosts in use, projections/hostsInUse.ts's rule read from a state: live, with at least one VM's domain
 * resident (a migrating VM counts on its source until the commit). Counted at a moment, not per event.
 */
const hostsInUseNow = (state: PoolState): number => {
  const occupied = new Set<HostId>()
  for (const vm of HashMap.values(state.vms)) if (vm.residentOn !== undefined) occupied.add(vm.residentOn)
  let count = 0
  for (const host of occupied) if (getHost(state, host)?.live === true) count++
  return count
}

interface Link {
  readonly from: string
  readonly to: string
  readonly bandwidthBytesPerS: number
  readonly bytes: number[]
}

/**
 * Samples the pool as `at` would answer at a list of moments, and the links' traffic between them.
 * Moments are either given (even spacing) or taken as the event times go by (every event time).
 */
class SeriesSampler {
  readonly atUs: number[] = []
  readonly used = new Map<string, number[]>()
  readonly reserved = new Map<string, number[]>()
  readonly totals = new Map<string, number>()
  readonly hostsInUse: number[] = []
  readonly inFlight: number[] = []
  readonly links = new Map<string, Link>()
  private state: PoolState = initialState
  private seen = false

  constructor(
    private readonly evenEndsUs: ReadonlyArray<number> | undefined,
    private readonly firstAtUs: number
  ) {}

  add(event: PoolEvent): void {
    if (this.evenEndsUs === undefined) {
      if (this.seen && event.atUs > this.state.atUs) this.sample(this.state.atUs)
    } else
      while (this.atUs.length < this.evenEndsUs.length && this.evenEndsUs[this.atUs.length]! < event.atUs)
        this.sample(this.evenEndsUs[this.atUs.length]!)
    this.seen = true
    this.state = evolve(this.state, event)
    if (event._tag === "VmMigrationRoundCompleted") this.addRound(event)
  }

  end(): void {
    if (this.evenEndsUs === undefined) {
      if (this.seen) this.sample(this.state.atUs)
    } else while (this.atUs.length < this.evenEndsUs.length) this.sample(this.evenEndsUs[this.atUs.length]!)
  }

  private sample(atUs: number): void {
    this.atUs.push(atUs)
    for (const host of HashMap.values(this.state.hosts)) {
      if (!this.used.has(host.id)) {
        // A host that joined late has no memory before it joined.
        this.used.set(host.id, new Array<number>(this.atUs.length - 1).fill(0))
        this.reserved.set(host.id, new Array<number>(this.atUs.length - 1).fill(0))
      }
      this.totals.set(host.id, host.memoryTotalPages)
      this.used.get(host.id)!.push(host.memoryOverheadPages + host.residentPages)
      this.reserved.get(host.id)!.push(host.reservedPages)
    }
    this.hostsInUse.push(hostsInUseNow(this.state))
    this.inFlight.push(HashMap.size(this.state.migrations))
  }

  /** Spreads the round's bytes evenly over its duration, into the intervals between moments it overlaps. */
  private addRound(event: Extract<PoolEvent, { _tag: "VmMigrationRoundCompleted" }>): void {
    const migration = this.state.migrations.pipe(HashMap.get(event.migration))
    const vm = getVm(this.state, event.vm)
    const from = migration._tag === "Some" ? migration.value.source : vm?.residentOn
    const to = migration._tag === "Some" ? migration.value.destination : vm?.scheduledToBeResidentOn
    if (from === undefined || to === undefined) return
    const key = `${from}→${to}`
    let link = this.links.get(key)
    if (link === undefined) {
      const a = getHost(this.state, from)?.nicBandwidthBytesPerS ?? 1
      const b = getHost(this.state, to)?.nicBandwidthBytesPerS ?? 1
      link = { from, to, bandwidthBytesPerS: Math.min(a, b), bytes: [] }
      this.links.set(key, link)
    }
    const endUs = event.atUs
    const startUs = endUs - event.durationUs
    const ends = this.evenEndsUs ?? this.atUs
    // The interval i runs from the moment before it (or the first event) to ends[i]; the open one is ends.length.
    for (let i = lowerBound(ends, startUs); i <= ends.length; i++) {
      const intervalStart = i === 0 ? this.firstAtUs : ends[i - 1]!
      const intervalEnd = i < ends.length ? ends[i]! : endUs
      const overlap = Math.min(endUs, intervalEnd) - Math.max(startUs, intervalStart)
      const share =
        event.durationUs === 0 ? (i === lowerBound(ends, endUs) ? 1 : 0) : Math.max(0, overlap) / event.durationUs
      if (share > 0) link.bytes[i] = (link.bytes[i] ?? 0) + share * event.bytesSent
      if (intervalEnd >= endUs) break
    }
  }

  series(): PoolSeries {
    const hosts = [...this.used.keys()].sort().map((id) => ({
      id,
      memoryTotalPages: this.totals.get(id)!,
      memoryUsedPages: this.used.get(id)!,
      memoryReservedPages: this.reserved.get(id)!
    }))
    const total = (link: Link) => link.bytes.reduce((sum, b) => sum + (b ?? 0), 0)
    // The busiest links (by bytes, ties by name): a pool of 64 hosts may have thousands of links.
    const links = [...this.links.values()]
      .map((link) => ({ link, bytes: total(link) }))
      .sort((a, b) => b.bytes - a.bytes || (`${a.link.from}→${a.link.to}` < `${b.link.from}→${b.link.to}` ? -1 : 1))
      .slice(0, SERIES_LINKS_MAX)
      .map(({ link }) => ({
        from: link.from,
        to: link.to,
        utilisation: this.atUs.map((end, i) => {
          const startUs = i === 0 ? this.firstAtUs : this.atUs[i - 1]!
          const seconds = (end - startUs) / 1_000_000
          const bytes = link.bytes[i] ?? 0
          return seconds > 0 ? Math.min(1, bytes / seconds / link.bandwidthBytesPerS) : 0
        })
      }))
    return {
      sampling: this.evenEndsUs === undefined ? "every-event-time" : "even",
      atUs: this.atUs,
      hosts,
      hostsInUse: this.hostsInUse,
      migrationsInFlight: this.inFlight,
      linksTotal: this.links.size,
      links
    }
  }
}

/** Evenly spaced moments from first to last (the last one is the last event's time). */
const evenMoments = (firstAtUs: number, lastAtUs: number, points: number): ReadonlyArray<number> =>
  Array.from({ length: points }, (_, i) => Math.round(firstAtUs + ((lastAtUs - firstAtUs) * (i + 1)) / points))

/**
 * One read of the whole stream: the migrations with their rounds, the event types, and the pool sampled
 * at up to `pointsMax` moments. Its cost grows with the history (the view caches it per revision).
 */
export const readPoolHistory = (pool: PoolId, pointsMax: number = SERIES_POINTS_DEFAULT) =>
  Effect.gen(function* () {
    const store = yield* EventStore
    const lastRevision = yield* lastRevisionOf(pool)
    const stream = poolStreamName(pool)
    const [first] = yield* store.read(stream, { from: 0, maxCount: 1 })
    const [last] = yield* store.read(stream, { from: lastRevision, maxCount: 1 })
    const firstAtUs = first!.event.atUs
    const lastAtUs = last!.event.atUs
    // Fewer events than moments: every event time is a moment (distinct times are at most the events).
    const even = lastRevision + 1 > pointsMax ? evenMoments(firstAtUs, lastAtUs, pointsMax) : undefined
    const sampler = new SeriesSampler(even, firstAtUs)
    const migrations = new MigrationDetails()
    const types = new Map<PoolEventTag, number>()
    yield* forEachEvent(pool, lastRevision, ({ event }) => {
      sampler.add(event)
      migrations.add(event)
      types.set(event._tag, (types.get(event._tag) ?? 0) + 1)
    })
    sampler.end()
    const details = migrations.list()
    const overview = {
      pool,
      lastRevision,
      firstAtUs,
      lastAtUs,
      pageSizeBytes: first!.event._tag === "PoolCreated" ? first!.event.pageSizeBytes : 4096,
      eventTypes: [...types].map(([type, events]) => ({ type, events })).sort((a, b) => (a.type < b.type ? -1 : 1)),
      migrations: {
        ...migrationTotals(details),
        count: details.length,
        inProgress: details.filter((m) => m.outcome === "in-progress").length
      },
      series: sampler.series()
    } satisfies PoolOverview
    return { overview, migrations: details } satisfies PoolHistory
  })

/** The overview and every migration with its rounds: one read of the history, which the server keeps. */
export interface PoolHistory {
  readonly overview: PoolOverview
  /** In start order. */
  readonly migrations: ReadonlyArray<MigrationDetail>
}

/** The migrations overlapping [fromUs, toUs] (or those named), in start order, the first `limit`. */
export const migrationWindow = (
  history: PoolHistory,
  options: {
    readonly fromUs: number
    readonly toUs: number
    readonly limit: number
    readonly ids?: ReadonlySet<string>
  }
): MigrationWindow => {
  const overlapping = history.migrations.filter((m) =>
    options.ids === undefined ? m.startedAtUs <= options.toUs && m.endedAtUs >= options.fromUs : options.ids.has(m.id)
  )
  return {
    pool: history.overview.pool,
    fromUs: options.fromUs,
    toUs: options.toUs,
    overlapping: overlapping.length,
    migrations: overlapping.slice(0, options.limit)
  }
}

// --- a VM's memory --------------------------------------------------------------------------------

/** A VM's populated, paged-out and target pages after every event that changed them (pool and VM events only). */
export const vmMemory = (pool: PoolId, vm: VmId) =>
  Effect.gen(function* () {
    const lastRevision = yield* lastRevisionOf(pool)
    let state: PoolState = initialState
    const series = {
      atUs: [] as number[],
      populatedPages: [] as number[],
      pagedOutPages: [] as number[],
      balloonTargetPages: [] as number[],
      pagingTargetPages: [] as Array<number | null>
    }
    let before = ""
    let truncated = false
    yield* forEachEvent(pool, lastRevision, ({ event }) => {
      const about = eventVm(event)
      if (about !== undefined && about !== vm) return
      state = evolve(state, event)
      const after = getVm(state, vm)
      if (after === undefined || truncated) return
      const figures = `${after.populatedPages} ${after.pagedOutPages} ${after.memory.targetPages} ${after.pagingTargetPages}`
      if (figures === before) return
      before = figures
      if (series.atUs.length >= VM_SERIES_POINTS_MAX) {
        truncated = true
        return
      }
      series.atUs.push(event.atUs)
      series.populatedPages.push(after.populatedPages)
      series.pagedOutPages.push(after.pagedOutPages)
      series.balloonTargetPages.push(after.memory.targetPages)
      series.pagingTargetPages.push(after.pagingTargetPages ?? null)
    })
    return { pool, vm, ...series, truncated } satisfies VmMemorySeries
  })

// --- events ---------------------------------------------------------------------------------------

const encodeEvent = Schema.encodeSync(PoolEvent)

/** `events --json`'s row. */
const eventRow = (r: RecordedEvent): EventRow => {
  const { _tag, ...data } = encodeEvent(r.event) as { _tag: string } & Record<string, unknown>
  return { revision: r.revision, id: r.id, type: _tag, atUs: r.event.atUs, data }
}

export interface EventFilter {
  readonly types: ReadonlySet<string>
  readonly vm: string | undefined
  readonly host: string | undefined
}

const matches = (filter: EventFilter, r: RecordedEvent): boolean => {
  const event = r.event
  if (filter.types.size > 0 && !filter.types.has(event._tag)) return false
  if (filter.vm !== undefined && eventVm(event) !== filter.vm) return false
  if (filter.host !== undefined) {
    const hosts = [
      eventHost(event),
      "source" in event ? event.source : undefined,
      "destination" in event ? event.destination : undefined
    ]
    if (!hosts.includes(filter.host as HostId)) return false
  }
  return true
}

/**
 * Up to `before` matching events before `around` and `after` from it on (in revision order), reading at
 * most EVENTS_SCAN_MAX events each way.
 */
export const eventsAround = (
  pool: PoolId,
  options: { readonly around: number; readonly before: number; readonly after: number; readonly filter: EventFilter }
) =>
  Effect.gen(function* () {
    const store = yield* EventStore
    const lastRevision = yield* lastRevisionOf(pool)
    const stream = poolStreamName(pool)
    const around = Math.max(0, Math.min(options.around, lastRevision))
    const filtered =
      options.filter.types.size > 0 || options.filter.vm !== undefined || options.filter.host !== undefined
    // Unfiltered, every event read is shown: read no more than asked (decoding is most of the cost).
    const pageOf = (wanted: number) => (filtered ? 512 : Math.max(1, Math.min(512, wanted)))
    let scanned = 0
    const before: EventRow[] = []
    for (let next = around - 1, read = 0; next >= 0 && before.length < options.before && read < EVENTS_SCAN_MAX;) {
      const page = yield* store.read(stream, {
        from: next,
        direction: "backwards",
        maxCount: pageOf(options.before - before.length)
      })
      if (page.length === 0) break
      for (const r of page) if (before.length < options.before && matches(options.filter, r)) before.push(eventRow(r))
      read += page.length
      scanned += page.length
      next = page[page.length - 1]!.revision - 1
    }
    const after: EventRow[] = []
    for (let next = around, read = 0; next <= lastRevision && after.length < options.after && read < EVENTS_SCAN_MAX;) {
      const page = yield* store.read(stream, { from: next, maxCount: pageOf(options.after - after.length) })
      if (page.length === 0) break
      for (const r of page) if (after.length < options.after && matches(options.filter, r)) after.push(eventRow(r))
      read += page.length
      scanned += page.length
      next = page[page.length - 1]!.revision + 1
    }
    return { pool, around, before: before.reverse(), after, scanned } satisfies EventsAround
  })
