/**
 * Continuing a pool (issue 14, docs/branches.md): operations applied to an existing pool at its end, the
 * engine rebuilt from the pool's log (simulations/resume.ts) and run on until quiescent or a limit, the
 * operations and what they caused appended in one atomic append at the revision the pool was read at.
 */
import { Effect, Either, Option, Schema } from "effect"
import { OperationsRequested } from "../domain/events.js"
import { xapiErrorCode } from "../domain/errors.js"
import { poolStreamName, type PoolId } from "../domain/ids.js"
import { formatDurationUs, parseDurationUs } from "../domain/units.js"
import type { EmittedEvent } from "../engine/simulation.js"
import { encodeEvent } from "../store/codec.js"
import { EventStore, ExpectedRevision, type NewEvent } from "../store/EventStore.js"
import { StoreError } from "../store/errors.js"
import type { Extensions } from "../simulations/extensions.js"
import { compileInput, InputLogReader, resume, ResumeFailure, type PoolInputLog } from "../simulations/resume.js"
import type { RestInRun } from "../simulations/run.js"
import { snapshotCadence } from "../projections/snapshots.js"
import { loadRestPoint, saveEngineRests, type RestToSave } from "./engineRests.js"
import type { SnapshotStore } from "../store/SnapshotStore.js"
import { inputError, parseScheduleItem, ScheduleItem, type InputError } from "../simulations/scenario.js"
import { inputFailure, XenpoolError } from "./errors.js"
import { checkPoolId, requirePool } from "./pools.js"
import { silentProgress, type Progress } from "./progress.js"
import {
  RunTally,
  RUN_SLICE_EVENTS,
  APPEND_BATCH_EVENTS,
  checkExtensions,
  transferFactoryFor,
  type RunOutput
} from "./simulate.js"
import { slices } from "./newPool.js"
import { inSlices } from "./slices.js"
import { describeTarget, targetOf, type When } from "./timeTravel.js"
import { version } from "./version.js"
import { digestEventId } from "./fork.js"

type ScheduleItemInput = typeof ScheduleItem.Encoded

/**
 * One operation, in the scenario's schedule vocabulary (docs/branches.md): `{ op: "migrate", vm, to }`,
 * `{ op: "evacuate", host }`, `{ op: "start-vm", vm, host? }`, … `at` is a time of the pool (`6m`,
 * `43.10 s`, `250000us`), at or after its end; without it, the pool's end.
 */
export type Operation = ScheduleItemInput extends infer I
  ? I extends { readonly at: string }
    ? Omit<I, "at"> & { readonly at?: string }
    : never
  : never

export interface ContinueOptions {
  /** Run the engine until this time of the pool at most (default: the pool's end plus its scenario's time limit). */
  readonly until?: When
  /** Progress of reading the pool, rebuilding the engine and writing (default: none shown). */
  readonly progress?: Progress
  /** Hears of the commit the moment it lands. */
  readonly onCommitted?: (what: string) => void
  /**
   * Rebuild the engine from the last engine at rest kept for the pool (default), or (false) from the
   * pool's start: the same events either way, the second reads and reruns the whole log.
   */
  readonly fromRest?: boolean
  /** The extensions the pool's scenario names (its policies, placement, writers, controllers). */
  readonly extensions?: Extensions
  /**
   * Where the operations came from, for messages (`operations`, or a file's name).
   *
   * @internal
   */
  readonly source?: string
  /**
   * The line of the file each operation came from, for messages (`run --pool ID FILE`).
   *
   * @internal
   */
  readonly lineOf?: (index: number) => number
  /**
   * Runs after the pool was read and the engine run, just before the append: a seam for the tests of two
   * writers continuing the same pool at once.
   *
   * @internal
   */
  readonly beforeAppend?: Effect.Effect<void, unknown, EventStore | SnapshotStore>
}

/** What a continuation did: the run's summary over the events it appended, and where they went. */
export interface ContinueOutput extends RunOutput {
  /** The revision of the first appended event (the operations' record) and of the last. */
  readonly firstRevision: number
  readonly lastRevision: number
  /** When the operations ran. */
  readonly atUs: number
  /**
   * Where the engine was rebuilt from: the engine at rest kept after revision `restRevision` (api/engineRests.ts),
   * or the pool's start (`restRevision` -1); and how many events of the log that read.
   */
  readonly rebuilt: { readonly restRevision: number; readonly eventsRead: number }
}

const PAGE_EVENTS = 4_096

const encode = (event: Parameters<typeof encodeEvent>[0]): string => encodeEvent(event).data

/**
 * The pool's log read once, page by page, into its input (scenario, continuations, forks) and
 * fingerprints: from the last engine at rest kept for it (api/engineRests.ts) on, or from its start.
 */
const readInput = (pool: PoolId, lastRevision: number, progress: Progress, fromRest: boolean) =>
  Effect.gen(function* () {
    const store = yield* EventStore
    const stream = poolStreamName(pool)
    const point = fromRest ? Option.getOrUndefined(yield* loadRestPoint(pool, lastRevision)) : undefined
    const reader = new InputLogReader(encode, point)
    // Bounded: each pass reads the next page of a stream of lastRevision + 1 events.
    for (let from = (point?.revision ?? -1) + 1; from <= lastRevision;) {
      const page = yield* store.read(stream, { from, maxCount: Math.min(PAGE_EVENTS, lastRevision + 1 - from) })
      if (page.length === 0) break
      for (const recorded of page) reader.add(recorded)
      from = page[page.length - 1]!.revision + 1
      progress.update(`reading pool ${pool}`, from, lastRevision + 1)
    }
    return yield* Either.match(reader.result(), {
      onLeft: (failure) => Effect.fail(cannotContinue(pool, failure)),
      onRight: Effect.succeed
    })
  })

/** Where a log was read from, and how many events that took (from a rest, the event it was taken after included). */
const rebuiltFrom = (log: PoolInputLog): ContinueOutput["rebuilt"] =>
  log.from === undefined
    ? { restRevision: -1, eventsRead: log.lastRevision + 1 }
    : { restRevision: log.from.revision, eventsRead: log.lastRevision - log.from.revision + 1 }

const cannotContinue = (pool: PoolId, failure: ResumeFailure) =>
  new XenpoolError({
    what: "cannot continue the pool",
    where: `${pool} @${failure.revision}`,
    expected: failure.detail
  })

/** Each operation as a schedule item at its time: the pool's end unless it says otherwise, never before. */
const itemsOf = (
  operations: ReadonlyArray<Operation>,
  log: PoolInputLog,
  source: string,
  lineOf: ((index: number) => number) | undefined
) =>
  Effect.gen(function* () {
    const items: Array<{ readonly item: typeof ScheduleItem.Type; readonly atUs: number }> = []
    for (const [i, operation] of operations.entries()) {
      const where = lineOf === undefined ? `${source}[${i}]` : source
      const line = lineOf?.(i)
      const decoded = parseScheduleItem(where, { ...operation, at: operation.at ?? `${log.lastAtUs}us` }, line)
      if (Either.isLeft(decoded)) return yield* inputFailure("bad operation", decoded.left)
      const atUs = parseDurationUs(decoded.right.at)
      if (Either.isLeft(atUs))
        return yield* inputFailure("bad operation", inputError(where, "at", atUs.left.expected, line))
      if (atUs.right < log.lastAtUs)
        return yield* inputFailure(
          "before the pool's end",
          inputError(
            where,
            "at",
            `a time at or after ${formatDurationUs(log.lastAtUs)}, where the pool's history ends (fork it to go back)`,
            line
          )
        )
      items.push({ item: { ...decoded.right, at: `${atUs.right}us` }, atUs: atUs.right })
    }
    return items
  })

/** A new item's compile error (`operations[i].vm`) named as the caller gave it: an index, or a file's line. */
const asGiven = (error: InputError, source: string, lineOf: ((index: number) => number) | undefined): InputError => {
  const match = /^operations\[(\d+)\]\.?(.*)$/.exec(error.path)
  if (match === null) return error
  const index = Number(match[1])
  const field = match[2] || "(root)"
  return lineOf === undefined
    ? inputError(`${source}[${index}]`, field, error.expected)
    : inputError(source, field, error.expected, lineOf(index))
}

/** The summary's refusals and outcomes are the continuation's own: those of the rebuilt history are in the log. */
const since = <A>(all: ReadonlyArray<A>, from: number): ReadonlyArray<A> => all.slice(from)

/**
 * Applies operations to pool `pool` at its end (or each at its `at`, not before the end) and runs the
 * engine on until it is quiescent, `until`, or the pool's scenario's events limit, then appends the
 * operations' record and every event they caused in one atomic append at the revision the pool was read
 * at. With no operation, the pool runs on: a pool its limits stopped goes further, a branch repeats its
 * parent's future. An operation the pool refuses at once fails the whole continuation with XAPI's error code; nothing
 * is appended. Another writer appending to the pool meanwhile makes this one fail, with nothing written.
 *
 * The pool must have been made by a scenario (its log records it) or be a branch of one.
 *
 * @example
 * yield* fork("rolling-1", "3m10s", "what-if")
 * const run = yield* continuePool("what-if", [{ op: "evacuate", host: "h2" }])
 */
export const continuePool = (poolText: string, operations: ReadonlyArray<Operation>, options: ContinueOptions = {}) =>
  Effect.gen(function* () {
    const pool = yield* checkPoolId(poolText)
    yield* checkExtensions(options.extensions)
    const source = options.source ?? "operations"
    const progress = options.progress ?? silentProgress
    const lastRevision = yield* requirePool(pool)
    const log = yield* readInput(pool, lastRevision, progress, options.fromRest ?? true)
    const timed = yield* itemsOf(operations, log, source, options.lineOf)
    const items = timed.map((t) => t.item)
    const until = options.until === undefined ? undefined : yield* targetOf(options.until)
    if (until !== undefined && !("atUs" in until))
      return yield* new XenpoolError({
        what: "bad --until",
        where: `@${until.revision}`,
        expected: "a time, not a revision"
      })
    // no operation: the pool runs on (a pool stopped at its limit, a branch repeating its parent's future)
    const firstAtUs = timed.length === 0 ? log.lastAtUs : Math.min(...timed.map((t) => t.atUs))
    if (until !== undefined && until.atUs < firstAtUs)
      return yield* new XenpoolError({
        what: "bad --until",
        where: describeTarget(until),
        expected: `a time at or after the operations' (${formatDurationUs(firstAtUs)})`
      })
    // the limits are known before the run, and recorded: a rebuilt engine stops where this one does
    const compiled = compileInput(
      log,
      {
        items,
        limits: (scenario) => ({
          simulatedUsMax: until?.atUs ?? firstAtUs + scenario.simulatedUsMax,
          eventsMax: log.decided + scenario.eventsMax
        })
      },
      options.extensions
    )
    if (Either.isLeft(compiled))
      return yield* compiled.left instanceof ResumeFailure
        ? cannotContinue(pool, compiled.left)
        : inputFailure("bad operation", asGiven(compiled.left, source, options.lineOf))
    const limits = compiled.right.segments[compiled.right.segments.length - 1]!.limits!
    const appended: EmittedEvent[] = []
    const tally = new RunTally()
    const input = compiled.right
    // the engine at rest inside the continuation, before its items: `k` events appended by then
    const cadence = yield* snapshotCadence
    const restsInside: Array<{ readonly appended: number; readonly rest: RestInRun }> = []
    const resumption = resume(log, input, {
      encode,
      transferFactory: transferFactoryFor(input.scenario),
      sink: (batch) => {
        for (const e of batch) appended.push(e)
      },
      rests: {
        everyEvents: cadence.everyEvents * cadence.wholeStateEvery,
        everyEventsPerEntity: cadence.restEventsPerEntity,
        take: (rest) => restsInside.push({ appended: appended.length, rest })
      }
    })
    const sim = resumption.sim
    const result = yield* inSlices(
      Effect.try({
        try: () => {
          const done = resumption.runFor(RUN_SLICE_EVENTS)
          progress.update(
            sim.events < log.decided
              ? `rebuilding pool ${pool} from its log: t = ${formatDurationUs(sim.nowUs)}`
              : `continuing pool ${pool}: t = ${formatDurationUs(sim.nowUs)}, ${appended.length.toLocaleString("en-US")} new events`,
            Math.min(sim.events, log.decided),
            log.decided
          )
          return done
        },
        catch: (e) =>
          e instanceof ResumeFailure
            ? cannotContinue(pool, e)
            : new XenpoolError({
                what: "simulation failed",
                where: pool,
                expected: e instanceof Error ? e.message : String(e)
              })
      })
    )
    const refused = resumption.refused[0]
    if (refused !== undefined) {
      progress.stop()
      const item = items[refused.index - (input.scenario.schedule.length - items.length)]
      return yield* new XenpoolError({
        what: xapiErrorCode(refused.refusal.error),
        where: `${item === undefined ? "an operation" : describeItem(item)} at ${formatDurationUs(refused.refusal.atUs)} in pool ${pool}`,
        expected: `${refused.refusal.error.message}; nothing was appended`
      })
    }
    const resumed = resumption.resumedBeforeContinuation()
    const atUs = Math.max(firstAtUs, log.lastAtUs)
    const record = new OperationsRequested({
      atUs,
      pool,
      operations: JSON.stringify(items.map((item) => Schema.encodeSync(ScheduleItem)(item))),
      untilUs: limits.simulatedUsMax,
      eventsMax: limits.eventsMax,
      xenpoolVersion: version
    })
    const recordEvent: NewEvent = {
      id: digestEventId(`xenpool continue ${pool}@${lastRevision + 1 + resumed} ${record.operations}`),
      event: record
    }
    const events: NewEvent[] = [...appended.slice(0, resumed), recordEvent, ...appended.slice(resumed)]
    tally.add(appended.slice(resumed))
    if (options.beforeAppend) yield* Effect.orDie(options.beforeAppend)
    const store = yield* EventStore
    const written = yield* store
      .appendBatches(
        poolStreamName(pool),
        slices(events, APPEND_BATCH_EVENTS),
        ExpectedRevision.at(lastRevision),
        (r) => {
          if (r.written) options.onCommitted?.(`${events.length} events to pool ${pool} (${store.url})`)
        }
      )
      .pipe(
        Effect.catchTag("WrongExpectedVersion", (conflict) =>
          Effect.fail(
            new XenpoolError({
              what: "the pool changed while continuing it",
              where: `${pool} in ${store.url}`,
              expected: `it was read up to revision ${lastRevision} and another writer has appended since (${conflict.message}); nothing was written: run the command again to continue from its new end`
            })
          )
        ),
        Effect.mapError((error) =>
          error instanceof StoreError
            ? new StoreError({ ...error, detail: `${error.detail}; nothing was appended to pool ${pool}` })
            : error
        )
      )
    // the engine at rest inside the continuation and at the new end is kept: the next continuation, or a
    // branch made inside this one, starts at the last one before its point. With k events appended, the
    // last event is events[k] (the record's place is among the first resumed + 1), at lastRevision + 1 + k.
    const markerRevision = lastRevision + 1 + resumed
    const kept: RestToSave[] = restsInside.map(({ appended: k, rest: { scheduleRun, loadsRun, state, ...rest } }) => {
      const last = events[k]!
      return {
        last: { revision: lastRevision + 1 + k, id: last.id, atUs: last.event.atUs },
        rest,
        state,
        inRun: { step: { revision: markerRevision, itemsRun: scheduleRun }, loadsRun }
      }
    })
    const rest = resumption.rest()
    const last = events[events.length - 1]!
    if (typeof rest !== "string")
      kept.push({
        last: { revision: written.nextExpectedRevision, id: last.id, atUs: last.event.atUs },
        rest,
        state: sim.state
      })
    // the scenario as the rest read was saved with it, if there was one: no 10 MB schedule parsed again
    yield* saveEngineRests(pool, kept, log.from?.scenarioWithoutSchedule ?? log.scenario)
    progress.stop()
    const from = resumption.continuationMarks()
    const output = tally.output(
      pool,
      input.scenario.pageSizeBytes,
      {
        ...result,
        refusals: since(result.refusals, from.refusals),
        operations: since(result.operations, from.operations),
        haRestarts: since(result.haRestarts, from.restarts)
      },
      resumption.consolidation()
    )
    return {
      ...output,
      firstRevision: written.nextExpectedRevision - events.length + 1,
      lastRevision: written.nextExpectedRevision,
      atUs,
      rebuilt: rebuiltFrom(log)
    } satisfies ContinueOutput
  })

/** `migrate a to h2`, `evacuate h1`, …: an operation as a message names it. */
const describeItem = (item: typeof ScheduleItem.Type): string => {
  const subject = "vm" in item ? item.vm : "host" in item ? item.host : ""
  const to = "to" in item ? ` to ${item.to}` : ""
  return `${item.op} ${subject}${to}`.trim()
}
