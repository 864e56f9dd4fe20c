/**
 * Engines at rest, kept beside a pool's snapshots (issue 14, docs/branches.md): so that continuing a
 * pool rebuilds the engine from the last moment it was at rest instead of from the pool's start.
 *
 * An engine is at rest when nothing is on its agenda and nothing waits (`Simulation.rest`): at the end
 * of a run or a continuation that went quiet, and inside one, before one of its inputs, whenever
 * everything before it is done (`RestInRun`: one every so many events, the snapshot store's whole-state
 * cadence). What it then needs beside the pool's state is a few counters, PRNG states, page states and
 * settings (`EngineRest`), its controllers' rests, and inside a run how much of its input had run. Both
 * are saved, as one snapshot of the snapshot store (store/SnapshotStore.ts), under a key of their own:
 * `engine-rest/<format>/<xenpool version>`; a run's schedule beside them, in chunks by the order its
 * items ran, so that going on from a rest inside the run reads only the items still to come.
 * Like a projection snapshot it is a cache: losing one costs a longer rebuild, never an answer; one that
 * does not decode, or whose revision no longer holds the event it was taken after, is passed over with
 * a warning. Another xenpool's rests are never read (its engine may decide otherwise).
 *
 * A branch reads its own rests, else its parent's at or before the fork point (and so on up).
 *
 * @internal
 */
import { Effect, Either, Option, Schema } from "effect"
import { MigrationPhaseName } from "../domain/events.js"
import { HostId, MigrationId, poolIdOfStream, poolStreamName, VmId, type EventId, type PoolId } from "../domain/ids.js"
import { PRECOPY_DECISIONS, STOP_REASONS } from "../engine/migration/policy.js"
import type { WriterState } from "../engine/migration/workload.js"
import type { EngineRest } from "../engine/simulation.js"
import type { PoolState } from "../domain/state.js"
import { decodeSnapshot, encodeSnapshot } from "../projections/snapshotCodec.js"
import { decodeItems, needsSchedule, recordedScenario, withoutSchedule, type RestPoint } from "../simulations/resume.js"
import type { ControllerRest, ScenarioRest } from "../simulations/run.js"
import { EventStore } from "../store/EventStore.js"
import { SnapshotStore, type SnapshotKey } from "../store/SnapshotStore.js"
import { sha256OfText } from "./provenance.js"
import { version } from "./version.js"

/** Bumped when `EngineRest` changes shape. */
const ENGINE_REST_FORMAT = 1

const restKey = (pool: PoolId): SnapshotKey => ({
  stream: poolStreamName(pool),
  projectionVersion: `engine-rest/${ENGINE_REST_FORMAT}/${version}`
})

const Word = Schema.Number.pipe(Schema.int(), Schema.between(0, 2 ** 32 - 1))
const Count = Schema.Number.pipe(Schema.int(), Schema.nonNegative())
const PrngWords = Schema.Tuple(Word, Word, Word, Word)
/**
 * An array of counts (page states' runs, bitmaps, gfns, times): checked in one loop, not element by
 * element through the schema machinery, which made encoding a rest of a few busy 256 MiB pagers cost
 * more than the run between two rests.
 */
const Counts = Schema.declare(
  (u: unknown): u is ReadonlyArray<number> =>
    Array.isArray(u) && u.every((n) => typeof n === "number" && Number.isSafeInteger(n) && n >= 0),
  { identifier: "Counts", description: "an array of integers >= 0" }
)

/**
 * The recorded schedule in the order its items run, in chunks (`SCHEDULE_CHUNK_ITEMS` items each, chunk c
 * saved at "revision" c): a rest inside the run reads the chunks from its place on, not the whole
 * recorded scenario, so going on from it costs what follows it.
 */
const chunkKey = (pool: PoolId): SnapshotKey => ({
  stream: poolStreamName(pool),
  projectionVersion: `schedule-chunks/${ENGINE_REST_FORMAT}/${version}`
})

const SCHEDULE_CHUNK_ITEMS = 4_096

const ScheduleChunk = Schema.parseJson(
  Schema.Struct({
    /** The recorded scenario's sha256: a chunk of another scenario's pool (written again under its id) is not used. */
    scenarioSha256: Schema.String,
    /** How many items the whole schedule has. */
    items: Count,
    /** Each item's place in the recorded schedule, and the item as recorded, in the order they run. */
    places: Counts,
    recorded: Schema.Array(Schema.Unknown)
  })
)
const encodeChunk = Schema.encodeSync(ScheduleChunk)
const decodeChunk = Schema.decodeUnknownEither(ScheduleChunk)

const Workload = Schema.Struct({
  model: Schema.Literal("rate", "pages"),
  writer: Schema.String,
  dirtyRateBytesPerS: Schema.Number,
  workingSetPages: Count,
  untouchedPages: Schema.optionalWith(Count, { exact: true }),
  stateBytes: Schema.optionalWith(Count, { exact: true })
})

/** -1 for "none yet" (a round whose bytes are not all delivered; a dirty count not known), else a count or a time. */
const CountOrMinusOne = Schema.Number.pipe(Schema.int(), Schema.greaterThanOrEqualTo(-1))
const Progress = Schema.Struct({ bytesDelivered: Count, microRemainder: Count })
const StopReason = Schema.Literal(...STOP_REASONS)
const Stats = Schema.Struct({ iteration: Count, totalWrittenPages: Count, dirtyCount: CountOrMinusOne })
const RoundRecordData = Schema.Struct({
  index: Count,
  live: Schema.Boolean,
  pagesSent: Count,
  pagesSkipped: Count,
  zeroPages: Count,
  stateBytes: Count,
  bytesSent: Count,
  durationUs: Count,
  dirtyPagesAfter: Count
})

/** Values as runs, `[value, count, …]` (engine/migration/pageTracker.ts). */
const Runs = Counts
/** What a writer of one's own keeps at rest (`WriterState`): any JSON value. */
const WriterStateData: Schema.Schema<WriterState> = Schema.Union(
  Schema.Null,
  Schema.Boolean,
  Schema.Number,
  Schema.String,
  Schema.Array(Schema.suspend(() => WriterStateData)),
  Schema.Record({ key: Schema.String, value: Schema.suspend(() => WriterStateData) })
)

/** A pages-model migration's page tracker (engine/migration/pageTracker.ts `PageTrackerRest`). */
const PageTrackerData = Schema.Struct({
  sourceVersion: Runs,
  destinationVersion: Runs,
  dirtyBits: Runs,
  toSendBits: Runs,
  dirtyPages: Count,
  toSendPages: Count,
  paused: Schema.Boolean,
  cursorGfn: Count,
  peekBatchPages: Count,
  batchPendingPages: Count,
  batchEndGfn: Count,
  roundSent: Count,
  roundSkipped: Count,
  writesApplied: Count,
  markerPages: Count,
  lookahead: Schema.Struct({
    times: Counts,
    gfns: Counts,
    writer: Schema.Union(
      Schema.Struct({ kind: Schema.Literal("idle") }),
      Schema.Struct({
        kind: Schema.Literal("spaced"),
        atUs: Count,
        gfn: CountOrMinusOne,
        offsetUs: Count,
        remainder: Count,
        written: Count,
        prng: PrngWords,
        own: Schema.optionalWith(WriterStateData, { exact: true })
      })
    )
  })
})

/** A migration's pre-copy machine in flight (engine/migration/precopy.ts `PrecopyRest`). */
const MachineRestData = Schema.Struct({
  nowUs: Count,
  round: Schema.optionalWith(
    Schema.Struct({
      index: Count,
      live: Schema.Boolean,
      startUs: Count,
      progress: Progress,
      tailBytes: Count,
      tail: Progress,
      modelDoneUs: CountOrMinusOne,
      bytesDoneUs: CountOrMinusOne
    }),
    { exact: true }
  ),
  part: Schema.optionalWith(Schema.Struct({ name: MigrationPhaseName, startUs: Count, endUs: Count }), {
    exact: true
  }),
  rounds: Schema.Array(RoundRecordData),
  parts: Schema.Array(Schema.Struct({ name: MigrationPhaseName, startUs: Count, durationUs: Count })),
  totals: Schema.Struct({ pagesSent: Count, pagesSkipped: Count, bytesSent: Count }),
  paused: Schema.optionalWith(Schema.Struct({ atUs: Count, stopReason: StopReason }), { exact: true }),
  ending: Schema.optionalWith(
    Schema.Struct({
      result: Schema.Literal("committed", "aborted"),
      stopReason: StopReason,
      abortReason: Schema.optionalWith(Schema.String, { exact: true }),
      endUs: Count,
      downtimeUs: Count
    }),
    { exact: true }
  ),
  loop: Schema.optionalWith(
    Schema.Union(
      Schema.Struct({
        kind: Schema.Literal("xen"),
        passes: Count,
        stats: Stats,
        lastRound: Schema.optionalWith(RoundRecordData, { exact: true }),
        inFlight: Schema.optionalWith(Schema.Struct({ decision: Schema.Literal(...PRECOPY_DECISIONS), stats: Stats }), {
          exact: true
        })
      }),
      Schema.Struct({ kind: Schema.Literal("xen-legacy"), iterations: Count, totalSentPages: Count }),
      Schema.Struct({ kind: Schema.Literal("max-downtime"), round: Count })
    ),
    { exact: true }
  ),
  model: Schema.Union(
    Schema.Struct({
      dirtyPages: Count,
      carryMicroBytes: Count,
      toSendPages: Count,
      roundPages: Count,
      toSendZeroPages: Count,
      roundZeroPages: Count,
      paused: Schema.Boolean,
      touchedPages: Count
    }),
    Schema.Struct({ kind: Schema.Literal("pages"), tracker: PageTrackerData })
  )
})

const Policy = Schema.Struct({
  name: Schema.String,
  maxDowntimeUs: Schema.optionalWith(Count, { exact: true }),
  roundsMax: Schema.optionalWith(Count, { exact: true }),
  phases: Schema.optionalWith(Schema.Literal("default", "none"), { exact: true })
})
const HaPriority = Schema.Literal("restart", "best-effort")

const TransferRestData = Schema.Struct({
  migration: MigrationId,
  source: HostId,
  destination: HostId,
  vm: VmId,
  memoryPages: Count,
  pageSizeBytes: Count,
  latencyUs: Count,
  startUs: Count,
  policy: Policy,
  workload: Workload,
  paged: Schema.Boolean,
  rateBytesPerS: Count,
  finished: Schema.Boolean,
  machine: MachineRestData,
  evacuation: Schema.optionalWith(Count, { exact: true }),
  listener: Schema.optionalWith(Schema.String, { exact: true })
})

/** Rests kept before the memory model's work in flight was data had none: these default to none. */
const none = <S extends Schema.Schema.AnyNoContext>(schema: S, empty: Schema.Schema.Type<S>) =>
  Schema.optionalWith(schema, { default: () => empty })
const Int = Schema.Number.pipe(Schema.int())
const Host = Schema.optionalWith(HostId, { exact: true })

const SqueezeWaiterData = Schema.Struct({
  operation: Schema.String,
  command: Schema.Union(
    Schema.Struct({
      _tag: Schema.Literal("StartVm"),
      atUs: Count,
      vm: VmId,
      host: Host,
      paused: Schema.optionalWith(Schema.Boolean, { exact: true })
    }),
    Schema.Struct({ _tag: Schema.Literal("ResumeVm"), atUs: Count, vm: VmId, host: Host }),
    Schema.Struct({
      _tag: Schema.Literal("StartMigration"),
      atUs: Count,
      migration: MigrationId,
      vm: VmId,
      destination: HostId,
      policy: Schema.String
    })
  ),
  vm: VmId,
  sinceUs: Count,
  lastFreePages: Count,
  lastProgressUs: Count,
  then: Schema.optionalWith(
    Schema.Union(
      Schema.Struct({
        _tag: Schema.Literal("StartTransfer"),
        migration: MigrationId,
        vm: VmId,
        policy: Policy,
        waiter: Schema.optionalWith(
          Schema.Union(Schema.Struct({ evacuation: Count }), Schema.Struct({ listener: Schema.String })),
          { exact: true }
        )
      }),
      Schema.Struct({
        _tag: Schema.Literal("HaRestart"),
        pass: Count,
        vm: VmId,
        host: Host,
        priority: HaPriority,
        order: Int,
        attempt: Count
      })
    ),
    { exact: true }
  )
})

const EngineRestData = Schema.Struct({
  nowUs: Count,
  events: Count,
  // rests kept before stale round ends could rest had none
  idleUs: Schema.optionalWith(Counts, { default: () => [] }),
  ids: PrngWords,
  migrations: Count,
  linkPercent: Schema.Array(Schema.Tuple(HostId, Schema.Number)),
  workloads: Schema.Array(Schema.Tuple(VmId, Workload)),
  memory: Schema.Struct({
    accessPrngs: Schema.Array(Schema.Tuple(VmId, PrngWords)),
    // rests kept before pagers were data had none (a VM under xenpaging kept no rest)
    pagers: Schema.optionalWith(
      Schema.Array(
        Schema.Struct({
          vm: VmId,
          pages: Schema.Struct({
            guestPages: Count,
            runs: Counts,
            pageInSequence: Count,
            recent: Counts
          }),
          victimCursor: Count,
          prefetchCursor: Count,
          nextPrefetchUs: Count,
          checks: Count,
          batch: none(Counts, []),
          batchEvictUs: none(CountOrMinusOne, -1),
          reads: none(Counts, []),
          readsReadyUs: none(Counts, []),
          waiters: none(Counts, []),
          heldPagingIn: none(Count, 0),
          stalled: none(Schema.Boolean, false)
        })
      ),
      { default: () => [] }
    ),
    stalledBalloons: none(Schema.Array(VmId), []),
    squeezes: none(Schema.Array(Schema.Tuple(HostId, Schema.Array(SqueezeWaiterData))), [])
  }),
  ha: Schema.Struct({
    livenessTimeoutUs: Count,
    attempts: Schema.Array(Schema.Tuple(VmId, Count)),
    linksDown: Schema.Array(HostId),
    // rests kept before HA's timers were data had none pending
    unnoticed: Schema.optionalWith(Schema.Array(Schema.Tuple(HostId, Count)), { default: () => [] }),
    retryAtUs: Schema.optionalWith(Count, { exact: true }),
    passes: none(
      Schema.Array(
        Schema.Struct({
          id: Count,
          stage: HaPriority,
          starts: Schema.Array(Schema.Struct({ vm: VmId, order: Int, host: Host, priority: HaPriority })),
          reset: Schema.Array(VmId),
          group: Count,
          pending: Count
        })
      ),
      []
    ),
    passCount: none(Count, 0)
  }),
  // rests kept before migrations in flight were data had none
  transfers: Schema.optionalWith(Schema.Array(TransferRestData), { default: () => [] }),
  happenings: Schema.optionalWith(
    Schema.Array(
      Schema.Union(
        Schema.Struct({ _tag: Schema.Literal("RoundEnd", "Commit"), migration: MigrationId, atUs: Count }),
        Schema.Struct({ _tag: Schema.Literal("EvacuationBatch", "MaintenanceOver"), operation: Count, atUs: Count }),
        Schema.Struct({ _tag: Schema.Literal("HaNotice", "HaRetry"), atUs: Count }),
        Schema.Struct({ _tag: Schema.Literal("HaGroup"), pass: Count, atUs: Count }),
        Schema.Struct({ _tag: Schema.Literal("PagerStep", "BalloonStep"), vm: VmId, atUs: Count }),
        Schema.Struct({ _tag: Schema.Literal("SqueezeCheck"), host: HostId, atUs: Count })
      )
    ),
    { default: () => [] }
  ),
  evacuations: Schema.optionalWith(
    Schema.Array(
      Schema.Struct({
        id: Count,
        host: HostId,
        pass: Count,
        moves: Schema.Array(Schema.Struct({ vm: VmId, destination: HostId })),
        next: Count,
        pending: Count,
        maintenance: Schema.optionalWith(Count, { exact: true })
      })
    ),
    { default: () => [] }
  ),
  maintenances: Schema.optionalWith(
    Schema.Array(Schema.Struct({ id: Count, hosts: Schema.Array(HostId), maintenanceUs: Count, step: Count })),
    { default: () => [] }
  ),
  longOperations: Schema.optionalWith(Count, { default: () => 0 })
})

const ControllerRestData = Schema.Struct({
  index: Count,
  owned: Schema.Array(HostId),
  samples: Schema.Array(
    Schema.Struct({
      atUs: Count,
      hostsInUse: Count,
      hostsEnabled: Count,
      overloaded: Count,
      saturated: Count,
      migrationsStarted: Count,
      unresolved: Count
    })
  ),
  byReason: Schema.Struct({ overload: Count, drain: Count, "finish-drain": Count }),
  counts: Schema.Struct({ refused: Count, committed: Count, aborted: Count, disabled: Count, enabled: Count }),
  sums: Schema.Struct({ overloaded: Count, saturated: Count, unresolved: Count, inUse: Count }),
  nextTick: Schema.optionalWith(Schema.Struct({ atUs: Count, order: Count }), { exact: true })
})

/** What a saved rest holds: the id of the event it was taken after, the engine's rest, the pool's state. */
const SavedRest = Schema.parseJson(
  Schema.Struct({
    format: Schema.Literal(ENGINE_REST_FORMAT),
    eventId: Schema.String,
    rest: EngineRestData,
    /** The pool's state, in the snapshot codec (projections/snapshotCodec.ts). */
    state: Schema.String,
    /**
     * The pool's recorded scenario without its schedule: all of it had run, or (with `scheduleRun`) the
     * schedule is read from the pool's creation event, which records it whole.
     */
    scenario: Schema.String,
    /** Inside the run that made the pool: how many of its schedule's items and load changes had run (`RestInRun`). */
    scheduleRun: Schema.optionalWith(Count, { exact: true }),
    loadsRun: Schema.optionalWith(Count, { exact: true }),
    /** Inside the run: the recorded scenario's sha256, naming the schedule chunks saved with it. */
    scenarioSha256: Schema.optionalWith(Schema.String, { exact: true }),
    /** Inside a continuation: its `OperationsRequested` event's revision, and how many of its items had run. */
    step: Schema.optionalWith(Schema.Struct({ revision: Count, itemsRun: Count }), { exact: true }),
    /** The consolidation controllers the scenario started, as data. */
    controllers: Schema.optionalWith(Schema.Array(ControllerRestData), { exact: true })
  })
)

/** The rest's type is the engine's, field for field: a change to one that the other lacks fails to compile. */
const asEngineRest = (rest: typeof EngineRestData.Type): EngineRest => rest
const asControllerRests = (rests: ReadonlyArray<typeof ControllerRestData.Type>): ReadonlyArray<ControllerRest> => rests
const encodeSaved = Schema.encodeSync(SavedRest)
const decodeSaved = Schema.decodeUnknownEither(SavedRest)

/** The last event a pool's engine decided before resting: its revision, id and time. */
export interface RestedAfter {
  readonly revision: number
  readonly id: EventId
  readonly atUs: number
}

/**
 * An engine at rest to keep: after which event, the rest and its controllers', the pool then, and (inside
 * a run) how much of the scenario's input had run.
 */
export interface RestToSave {
  readonly last: RestedAfter
  readonly rest: ScenarioRest
  readonly state: PoolState
  /** Inside the run that made the pool (`scheduleRun`) or a continuation (`step`): how much of its input had run. */
  readonly inRun?: {
    readonly scheduleRun?: number
    readonly step?: { readonly revision: number; readonly itemsRun: number }
    readonly loadsRun: number
  }
}

/**
 * Saves engines at rest in pool `pool`'s log, with the pool's recorded scenario, in one write; with
 * `runOrder` (the recorded schedule's places in the order its items ran), rests inside the run that made
 * the pool get the schedule's chunks beside them.
 */
export const saveEngineRests = (
  pool: PoolId,
  rests: ReadonlyArray<RestToSave>,
  scenario: string,
  runOrder?: ReadonlyArray<number>
) =>
  // a cache: the events are stored by now, and a rest that could not be kept costs only a longer rebuild
  Effect.catchAll(saveRests(pool, rests, scenario, runOrder), (error) =>
    Effect.logWarning(
      `the engine at rest after ${rests.map((r) => `${pool}@${r.last.revision}`).join(", ")} was not kept (${error.message})`
    )
  )

const saveRests = (
  pool: PoolId,
  rests: ReadonlyArray<RestToSave>,
  scenario: string,
  runOrder: ReadonlyArray<number> | undefined
) =>
  Effect.gen(function* () {
    if (rests.length === 0) return
    const snapshots = yield* SnapshotStore
    const inside = runOrder !== undefined && rests.some((r) => r.inRun?.scheduleRun !== undefined)
    // parsed once, for the chunks and the scenario kept without its schedule
    const parsed = inside ? (JSON.parse(scenario) as { schedule?: ReadonlyArray<unknown> }) : undefined
    const scenarioKept = withoutSchedule(parsed ?? scenario)
    const scenarioSha256 = inside ? sha256OfText(scenario) : undefined
    // the chunks first: a rest that names them finds them
    if (inside && scenarioSha256 !== undefined) {
      const recorded = parsed?.schedule ?? []
      const chunks = []
      for (let c = 0; c * SCHEDULE_CHUNK_ITEMS < runOrder.length; c++) {
        const places = runOrder.slice(c * SCHEDULE_CHUNK_ITEMS, (c + 1) * SCHEDULE_CHUNK_ITEMS)
        chunks.push({
          ...chunkKey(pool),
          revision: c,
          atUs: 0,
          data: encodeChunk({
            scenarioSha256,
            items: runOrder.length,
            places,
            recorded: places.map((place) => recorded[place])
          })
        })
      }
      yield* snapshots.save(chunks)
    }
    // one at a time: a rest of a pool with busy pagers is megabytes of text, and a long run keeps many
    for (const { last, rest, state, inRun } of rests)
      yield* snapshots.save([
        {
          ...restKey(pool),
          revision: last.revision,
          atUs: last.atUs,
          data: encodeSaved({
            format: ENGINE_REST_FORMAT,
            eventId: last.id,
            rest: rest.engine,
            state: encodeSnapshot(state),
            scenario: scenarioKept,
            ...(inRun ?? {}),
            ...(inRun?.scheduleRun !== undefined && scenarioSha256 !== undefined ? { scenarioSha256 } : {}),
            ...(rest.controllers.length === 0 ? {} : { controllers: rest.controllers })
          })
        }
      ])
  })

/**
 * The recorded schedule's items from run position `from` on, from the chunks saved with `scenarioSha256`;
 * undefined if a chunk is missing or of another scenario (the caller reads the creation event instead).
 */
const scheduleFrom = (pool: PoolId, from: number, scenarioSha256: string) =>
  Effect.gen(function* () {
    const snapshots = yield* SnapshotStore
    const places: number[] = []
    const recorded: unknown[] = []
    // Bounded: each pass reads the next chunk, until the schedule's end.
    for (let c = Math.floor(from / SCHEDULE_CHUNK_ITEMS); ; c++) {
      const found = yield* snapshots.loadAtOrBeforeRevision(chunkKey(pool), c)
      if (Option.isNone(found) || found.value.revision !== c) return undefined
      const chunk = decodeChunk(found.value.data)
      if (Either.isLeft(chunk) || chunk.right.scenarioSha256 !== scenarioSha256) return undefined
      const skip = Math.max(0, from - c * SCHEDULE_CHUNK_ITEMS)
      places.push(...chunk.right.places.slice(skip))
      recorded.push(...chunk.right.recorded.slice(skip))
      if ((c + 1) * SCHEDULE_CHUNK_ITEMS >= chunk.right.items) return { places, recorded }
    }
  })

/** Branches a pool's rests may come from before its own: its parent up to the fork point, and so on up. */
const BRANCH_DEPTH_MAX = 64

/**
 * The last engine at rest in pool `pool`'s log at or before `revision`, read back and checked against the
 * log; none if there is none usable.
 */
export const loadRestPoint = (pool: PoolId, revision: number) =>
  Effect.gen(function* () {
    const store = yield* EventStore
    const snapshots = yield* SnapshotStore
    const stream = poolStreamName(pool)
    let owner = pool
    let upTo = revision
    // A parent's rest serves a branch only if its engine had not gone past the fork's time: a rebuild stops
    // the parent there, and what the parent's engine did later (if nothing but its clock) is the branch's to do.
    let notAfterUs = Number.POSITIVE_INFINITY
    // Bounded: a pool's own rests, then up its chain of parents, at most BRANCH_DEPTH_MAX of them.
    for (let depth = 0; depth <= BRANCH_DEPTH_MAX; depth++) {
      // Bounded: each pass looks at an earlier saved rest of `owner` than the last.
      for (;;) {
        const found = yield* snapshots.loadAtOrBeforeRevision(restKey(owner), upTo)
        if (Option.isNone(found)) break
        const saved = found.value
        const usable = yield* pointOf(stream, owner, saved.revision, saved.atUs, saved.data, notAfterUs)
        if (typeof usable !== "string") return Option.some(usable)
        if (usable !== PAST_THE_FORK)
          yield* Effect.logWarning(
            `the engine at rest saved for ${owner}@${saved.revision} is not usable (${usable}); trying an earlier one`
          )
        if (saved.revision === 0) break
        upTo = saved.revision - 1
      }
      const point = yield* store.branchOf(poolStreamName(owner))
      const parent = point && poolIdOfStream(point.parent)
      if (point === undefined || parent === undefined) break
      const [forked] = yield* store.read(poolStreamName(owner), { from: point.parentRevision + 1, maxCount: 1 })
      if (forked === undefined) break
      notAfterUs = Math.min(notAfterUs, forked.event.atUs)
      owner = parent
      upTo = Math.min(upTo, point.parentRevision)
    }
    return Option.none<RestPoint>()
  })

/** A parent's rest a branch cannot use (not a fault: the next earlier one is tried, without a warning). */
const PAST_THE_FORK = "its engine had gone past the time the branch leaves it"

/** A saved rest as a `RestPoint` of `stream`, or why it cannot be used. */
const pointOf = (stream: string, owner: PoolId, revision: number, atUs: number, data: string, notAfterUs: number) =>
  Effect.gen(function* () {
    const saved = decodeSaved(data)
    if (Either.isLeft(saved)) return "it does not decode"
    if (saved.right.rest.nowUs > notAfterUs) return PAST_THE_FORK
    const state = decodeSnapshot(saved.right.state)
    if (Either.isLeft(state)) return `its pool state does not decode: ${state.left.detail}`
    const store = yield* EventStore
    const [event] = yield* store.read(stream, { from: revision, maxCount: 1 })
    if (event === undefined || event.id !== saved.right.eventId)
      return `revision ${revision} no longer holds the event it was taken after`
    const { scheduleRun, loadsRun, controllers, step, scenarioSha256 } = saved.right
    // inside a continuation, its items still to come: read from its record
    let continuation: RestPoint["step"] | undefined
    if (step !== undefined) {
      const [requested] = yield* store.read(stream, { from: step.revision, maxCount: 1 })
      if (requested?.event._tag !== "OperationsRequested")
        return `revision ${step.revision} does not hold the continuation the rest was taken inside`
      const items = decodeItems(requested.event.operations)
      if (Either.isLeft(items)) return `the continuation at revision ${step.revision} does not read`
      const limits = { simulatedUsMax: requested.event.untilUs, eventsMax: requested.event.eventsMax }
      continuation = { revision: step.revision, items: items.right, itemsRun: step.itemsRun, limits }
    }
    const progress = {
      ...(scheduleRun === undefined ? {} : { scheduleRun }),
      ...(loadsRun === undefined ? {} : { loadsRun }),
      ...(continuation === undefined ? {} : { step: continuation }),
      ...(controllers === undefined ? {} : { controllers: asControllerRests(controllers) })
    }
    // the schedule's later items still to come: from its chunks, if the run kept them (and no controller
    // needs an item that ran); else, as for the items that started controllers, the creation event
    const point: RestPoint = {
      revision,
      atUs,
      rest: asEngineRest(saved.right.rest),
      state: state.right,
      scenario: saved.right.scenario,
      scenarioWithoutSchedule: saved.right.scenario,
      ...progress
    }
    const toRun =
      scheduleRun !== undefined && controllers === undefined && scenarioSha256 !== undefined
        ? yield* scheduleFrom(owner, scheduleRun, scenarioSha256)
        : undefined
    if (toRun !== undefined) return { ...point, scheduleToRun: toRun }
    if (!needsSchedule(progress)) return point
    const [created] = yield* store.read(stream, { from: 0, maxCount: 1 })
    const recorded = created === undefined ? undefined : Either.getOrUndefined(recordedScenario(created.event))
    if (recorded === undefined) return "the pool's creation event records no scenario"
    const whole: RestPoint = { ...point, scenario: recorded }
    return whole
  })
