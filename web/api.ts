/**
 * The JSON the view's server answers (docs/view.md lists the endpoints). One declaration for both sides:
 * the server's functions (view/) are typed to return these, the page (web/) reads them. Where an answer
 * overlaps a CLI `--json` document it has that document's shape, with fields added, none renamed.
 */

/** How a pool was made: `pools --json`'s `provenance` (api/provenance.ts), null where not recorded. */
export interface PoolProvenanceJson {
  readonly seed: number | null
  readonly xenpoolVersion: string | null
  readonly input: { readonly kind: "scenario" | "trace"; readonly name: string; readonly sha256: string } | null
  /** For a branch: its parent, the parent's last revision it shares, the xenpool that forked it. */
  readonly parent: { readonly pool: string; readonly revision: number; readonly xenpoolVersion: string } | null
}

/**
 * `GET /api/pools`: `pools --json`'s `{ id, events, lastAtUs, provenance }` plus where the pool came from
 * and its size.
 */
export interface PoolListEntry {
  readonly id: string
  readonly events: number
  readonly lastAtUs: number
  readonly provenance: PoolProvenanceJson
  /** The store it is read from, secrets hidden. */
  readonly store: string
  /** The pool name its definition gave (`PoolCreated.pool`): the scenario's or the trace's. */
  readonly definedAs: string | null
  readonly firstAtUs: number
  readonly pageSizeBytes: number | null
  /** Hosts and VMs in the pool at its last event. */
  readonly hosts: number
  readonly vms: number
}

/** A host in `at --json` (projections/summary.ts `HostSummary`), plus used and overhead memory. */
interface AtHost {
  readonly id: string
  readonly enabled: boolean
  readonly live: boolean
  readonly memoryTotalPages: number
  readonly memoryFreePages: number
  readonly memoryPlacementFreePages: number
  readonly memoryReservedPages: number
  readonly vms: ReadonlyArray<string>
  /** Added: Xen and dom0 plus the resident VMs' populated pages and overhead (as `history --host`). */
  readonly memoryUsedPages: number
  /** Added: Xen and dom0. */
  readonly memoryOverheadPages: number
}

export interface AtVm {
  readonly id: string
  readonly powerState: string
  readonly residentOn: string | null
  readonly scheduledToBeResidentOn: string | null
  readonly domid: number
  readonly currentOperation: string | null
  readonly migration: string | null
  readonly populatedPages: number
  readonly pagedOutPages: number
  readonly memoryTargetPages: number
  readonly [field: string]: unknown
}

interface AtMigration {
  readonly id: string
  readonly vm: string
  readonly source: string
  readonly destination: string
  readonly phase: string
  readonly rounds: number
  readonly [field: string]: unknown
}

/** `GET /api/pools/ID/at?t=WHEN`: `at WHEN --json`, hosts with two fields added. */
export interface AtAnswer {
  readonly pool: string
  readonly revision: number
  readonly atUs: number
  readonly bound: "before-first" | "within" | "after-last"
  readonly note: string | null
  readonly lastRevision: number
  readonly lastEventAtUs: number | null
  readonly hosts: ReadonlyArray<AtHost>
  readonly vms: ReadonlyArray<AtVm>
  readonly migrations: ReadonlyArray<AtMigration>
}

/** A VM as the page's hosts panel draws it: `at --json`'s `vms[]` element with only these fields. */
export interface HostsVm {
  readonly id: string
  readonly powerState: string
  readonly residentOn: string | null
  readonly scheduledToBeResidentOn: string | null
  readonly domid: number
  readonly currentOperation: string | null
  readonly migration: string | null
}

/**
 * `GET /api/pools/ID/hosts?t=WHEN`: what the page draws of the pool at a moment, `at --json`'s document
 * (the hosts as `/at` answers them, the migrations in flight) with each VM cut to the fields the hosts
 * panel shows. A VM's other fields: `/at?t=@REVISION&vm=VM`.
 */
export interface HostsAnswer extends Omit<AtAnswer, "vms"> {
  readonly vms: ReadonlyArray<HostsVm>
}

/** One transfer round, as its `VmMigrationRoundCompleted` event says. */
export interface MigrationRound {
  readonly round: number
  readonly live: boolean
  /** When the round ended; it started `durationUs` before. */
  readonly atUs: number
  readonly durationUs: number
  readonly pagesSent: number
  readonly pagesSkipped: number
  readonly pagesDirtied: number
  readonly bytesSent: number
}

/**
 * A migration: `simulate --json`'s `migrations[]` element (projections/summary.ts `MigrationSummary`:
 * `{ id, vm, from, to, startedAtUs, rounds, bytesSent, totalUs, downtimeUs, outcome, stopReason?, reason? }`)
 * plus its rounds and when it ended.
 */
export interface MigrationDetail {
  readonly id: string
  readonly vm: string
  readonly from: string
  readonly to: string
  readonly startedAtUs: number
  readonly rounds: number
  readonly bytesSent: number
  readonly totalUs: number
  readonly downtimeUs: number
  readonly outcome: "committed" | "aborted" | "in-progress"
  readonly stopReason?: string
  readonly reason?: string
  /** Added: the time of its last event (commit, abort, or the last round of one still in progress). */
  readonly endedAtUs: number
  /** Added: every transfer round, in order. */
  readonly roundList: ReadonlyArray<MigrationRound>
}

/**
 * The pool over time, sampled: `atUs[i]` is a moment and every series' `[i]` the value `at atUs[i]`
 * answers (the state after every event at or before it). With at most `pointsMax` distinct event times
 * the moments are those times; with more, `pointsMax` moments evenly spaced from the first event to the last.
 */
export interface PoolSeries {
  readonly sampling: "every-event-time" | "even"
  readonly atUs: ReadonlyArray<number>
  readonly hosts: ReadonlyArray<{
    readonly id: string
    readonly memoryTotalPages: number
    readonly memoryUsedPages: ReadonlyArray<number>
    readonly memoryReservedPages: ReadonlyArray<number>
  }>
  /** Hosts live with at least one VM's domain on them (projections/hostsInUse.ts's rule). */
  readonly hostsInUse: ReadonlyArray<number>
  readonly migrationsInFlight: ReadonlyArray<number>
  /**
   * Per link (source → destination), the share of the slower NIC its rounds used in the interval that
   * ends at `atUs[i]` (from the one before): bytes sent in rounds overlapping it, spread evenly over each round.
   */
  /** How many links carried a round; `links` holds the 10 busiest (by bytes), busiest first. */
  readonly linksTotal: number
  readonly links: ReadonlyArray<{
    readonly from: string
    readonly to: string
    readonly utilisation: ReadonlyArray<number>
  }>
}

/** Totals over every migration of the history (projections/migrationTotals.ts, plus counts). */
interface MigrationStats {
  readonly count: number
  readonly committed: number
  readonly aborted: number
  readonly inProgress: number
  /** Σ and max of the committed migrations' total times and downtimes. */
  readonly totalUs: number
  readonly totalUsMax: number
  readonly downtimeUs: number
  readonly downtimeUsMax: number
  readonly bytesSent: number
}

/** `GET /api/pools/ID/overview`: what the timeline needs of the whole history, read once per revision. */
export interface PoolOverview {
  readonly pool: string
  readonly lastRevision: number
  readonly firstAtUs: number
  readonly lastAtUs: number
  readonly pageSizeBytes: number
  readonly eventTypes: ReadonlyArray<{ readonly type: string; readonly events: number }>
  readonly migrations: MigrationStats
  readonly series: PoolSeries
}

/**
 * `GET /api/pools/ID/migrations?from=US&to=US&limit=N` (or `?id=M1,M2`): the migrations that overlap
 * [from, to], in start order, at most `limit` (a pool of a million events has a hundred thousand).
 */
export interface MigrationWindow {
  readonly pool: string
  readonly fromUs: number
  readonly toUs: number
  /** Migrations overlapping the window, all of them (`migrations` holds the first `limit`). */
  readonly overlapping: number
  readonly migrations: ReadonlyArray<MigrationDetail>
}

/** `GET /api/pools/ID/vms/VM/memory`: a VM's memory after each event that changed it. */
export interface VmMemorySeries {
  readonly pool: string
  readonly vm: string
  readonly atUs: ReadonlyArray<number>
  readonly populatedPages: ReadonlyArray<number>
  readonly pagedOutPages: ReadonlyArray<number>
  /** The balloon's target (`memory.targetPages`). */
  readonly balloonTargetPages: ReadonlyArray<number>
  /** xenpaging's target, null while no pager is attached. */
  readonly pagingTargetPages: ReadonlyArray<number | null>
  /** True when the series stopped at `pointsMax` changes. */
  readonly truncated: boolean
}

/** A row of `events --json`: `{ revision, id, type, atUs, data }`. */
export interface EventRow {
  readonly revision: number
  readonly id: string
  readonly type: string
  readonly atUs: number
  readonly data: Readonly<Record<string, unknown>>
}

/** `GET /api/pools/ID/events?around=REV…`: matching events before and from a revision. */
export interface EventsAround {
  readonly pool: string
  readonly around: number
  readonly before: ReadonlyArray<EventRow>
  readonly after: ReadonlyArray<EventRow>
  /** Events read to find them (a filter may read far). */
  readonly scanned: number
}

/** Every error answer: the CLI's one-line failure, split. HTTP status 400, 404, 405 or 503. */
export interface ErrorAnswer {
  readonly error: { readonly what: string; readonly where: string; readonly expected: string }
}
