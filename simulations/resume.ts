/**
 * The engine rebuilt from a pool's log, so that the pool can go on (issue 14, docs/branches.md).
 *
 * The log holds the engine's whole input: the scenario the pool was made from (in its creation event's
 * provenance), each continuation's operations and limits (`OperationsRequested`), and where a branch left
 * its parent (`PoolForked`). The engine is deterministic, so running that input again gives the engine
 * as it stood at the log's end: in-flight migrations mid-round, page states, balloon targets, pending
 * happenings, PRNG streams and link shares included, none of it kept anywhere but in the log. Every event
 * the rebuilt engine decides is checked against the stored one (a fingerprint of its id and encoded
 * bytes): a log this engine would not have written is refused, naming the first revision that differs,
 * instead of being continued into a history that never was.
 *
 * What a branch keeps of its parent: its history up to the fork point, and its plan after it: the
 * engine's own happenings (a migration in flight goes on, a controller keeps ticking, the load series
 * keeps changing) and the scenario's later operations. Not the parent's continuations after the fork
 * point: those are the parent's own history. So a branch run on with no new operation repeats its
 * parent's future (with its own event ids), and an operation added to it is a what-if on that future.
 *
 * The cost is a rerun of the history from the last engine at rest the log has (`RestPoint`, kept beside
 * the snapshots at the end of a run or a continuation that left the engine at rest, and inside the run
 * that made the pool whenever it rested before an input), or from the start without one: proportional
 * to what follows it (docs/branches.md).
 *
 * Pure and synchronous: the caller reads the log and writes what comes out (api/continue.ts).
 */
import { Either, ParseResult, Schema } from "effect"
import { PoolCreated, type PoolEvent } from "../domain/events.js"
import { poolId, type EventId, type PoolId } from "../domain/ids.js"
import { parseDurationUs } from "../domain/units.js"
import type { EngineLimits } from "../engine/config.js"
import type { EmittedEvent, EngineRest, Refusal, RunResult, Simulation } from "../engine/simulation.js"
import type { PoolState } from "../domain/state.js"
import { compileScenario, type CompiledScenario, type TimedItem } from "./compile.js"
import type { Extensions } from "./extensions.js"
import {
  prepareScenario,
  runSlice,
  type ControllerRest,
  type PreparedScenario,
  type RunScenarioOptions
} from "./run.js"
import { Scenario, ScheduleItem, type InputError } from "./scenario.js"

/** A stored event as the reader hands it over. */
export interface LoggedEvent {
  readonly id: EventId
  readonly event: PoolEvent
}

/** An event's bytes as the store writes them (store/codec.ts); injected, since this layer cannot import the store. */
export type EncodeEvent = (event: PoolEvent) => string

/** One step of a pool's input after its scenario, in log order. */
type InputStep =
  | {
      readonly _tag: "operations"
      readonly revision: number
      /** Engine events before it: the engine must stand exactly there when it comes. */
      readonly position: number
      readonly atUs: number
      readonly items: ReadonlyArray<typeof ScheduleItem.Type>
      readonly limits: EngineLimits
    }
  | {
      readonly _tag: "fork"
      readonly revision: number
      readonly position: number
      readonly atUs: number
      readonly pool: PoolId
    }

/** The log cannot be continued: it names the revision and says why. */
export class ResumeFailure extends Error {
  constructor(
    readonly revision: number,
    readonly detail: string
  ) {
    super(`revision ${revision}: ${detail}`)
  }
}

/** FNV-1a over a string's UTF-16 code units: a 32-bit fingerprint per event, 4 bytes of memory each. */
const fnv1a = (text: string, hash = 0x811c9dc5): number => {
  let h = hash
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

/** The creation event as the engine makes it: the provenance is stamped on the way to the store. */
const asDecided = (event: PoolEvent): PoolEvent =>
  event._tag === "PoolCreated"
    ? new PoolCreated({
        atUs: event.atUs,
        pool: event.pool,
        pageSizeBytes: event.pageSizeBytes,
        linkLatencyUs: event.linkLatencyUs
      })
    : event

const fingerprint = (encode: EncodeEvent, e: LoggedEvent): number => fnv1a(encode(asDecided(e.event)), fnv1a(e.id))

/** A continuation's operations as its `OperationsRequested` event records them (JSON). */
export const decodeItems = Schema.decodeUnknownEither(Schema.parseJson(Schema.Array(ScheduleItem)))
const decodeScenario = Schema.decodeUnknownEither(Scenario)

/**
 * An engine at rest saved at a revision of the log (api/engineRests.ts keeps them beside the
 * snapshots): the log is read, and the engine rebuilt, from there on instead of from the start.
 */
export interface RestPoint {
  /** The revision of the log's last event when the engine was at rest. */
  readonly revision: number
  /** That event's time. */
  readonly atUs: number
  readonly rest: EngineRest
  /** The pool as it stood then. */
  readonly state: PoolState
  /**
   * For a rest inside the run that made the pool (`RestInRun`): how many of its schedule's items and of
   * its load series' changes had run, the others to be put on the agenda again. Undefined: all had run.
   */
  readonly scheduleRun?: number
  readonly loadsRun?: number
  /**
   * For a rest inside a continuation: the continuation (its `OperationsRequested` event's revision, items
   * and limits) and how many of its items had run, in the order they run.
   */
  readonly step?: {
    readonly revision: number
    readonly items: ReadonlyArray<typeof ScheduleItem.Type>
    readonly itemsRun: number
    readonly limits: EngineLimits
  }
  /** The consolidation controllers the scenario's items started, as data (none when undefined). */
  readonly controllers?: ReadonlyArray<ControllerRest>
  /**
   * With `scheduleRun`, the schedule's items still to run as recorded, with their places in the recorded
   * schedule, in the order they run (api/engineRests.ts keeps them in chunks): `scenario` may then be left
   * without its schedule.
   */
  readonly scheduleToRun?: { readonly places: ReadonlyArray<number>; readonly recorded: ReadonlyArray<unknown> }
  /** The pool's recorded scenario: whole if `needsSchedule` (and no `scheduleToRun`), else its schedule may be left out. */
  readonly scenario: string
  /** The same without its schedule, as the rest was saved with it (what the next rests are saved with). */
  readonly scenarioWithoutSchedule?: string
}

/** Whether going on from a rest reads the scenario's schedule: items still to run, or controllers started by some. */
export const needsSchedule = (point: Pick<RestPoint, "scheduleRun" | "controllers">): boolean =>
  point.scheduleRun !== undefined || (point.controllers?.length ?? 0) > 0

/** What the log says the engine was given, and the fingerprints of what it decided. */
export interface PoolInputLog {
  /** The scenario's JSON as the engine ran it (seed and pool id of the run). */
  readonly scenario: string
  /** Where the log was read from: an engine at rest, or (undefined) the start. */
  readonly from?: RestPoint
  /** The steps after `from` (all of them without it). */
  readonly steps: ReadonlyArray<InputStep>
  /** How many decided (non-marker) events the log holds, `from`'s included. */
  readonly decided: number
  /** The log's last revision and the time of its last event. */
  readonly lastRevision: number
  readonly lastAtUs: number
  /** The fingerprint of each decided event after `from` (all of them without it), in order. */
  readonly fingerprints: Uint32Array
  /** The revision of the n-th decided event. */
  readonly revisionOf: (decidedIndex: number) => number
}

/** The scenario a pool's creation event records, or why it cannot go on. */
export const recordedScenario = (event: PoolEvent): Either.Either<string, ResumeFailure> => {
  const provenance = event._tag === "PoolCreated" ? event.provenance : undefined
  if (provenance?._tag === "run" && provenance.scenario !== undefined) return Either.right(provenance.scenario)
  return Either.left(
    new ResumeFailure(
      0,
      provenance?._tag === "run" && provenance.input === "trace"
        ? "the pool was made by replaying a trace, whose records the log does not hold: only a scenario's pool (and its branches) can go on"
        : "the pool does not record the scenario it was made from (written before xenpool recorded it): it cannot go on"
    )
  )
}

/**
 * Reads a pool's log, in revision order, into its input: one pass, keeping the input and 4 bytes per
 * event. Fails on a log that records no scenario (a trace's pool, or one written before xenpool recorded
 * its input) and on a malformed continuation. From an engine at rest, it reads the events after it (the
 * scenario comes with the rest).
 */
export class InputLogReader {
  private scenario: string | undefined
  private readonly steps: InputStep[] = []
  private fingerprints = new Uint32Array(1024)
  private fingerprinted = 0
  private decided: number
  private revision: number
  private lastAtUs: number
  private failure: ResumeFailure | undefined

  constructor(
    private readonly encode: EncodeEvent,
    private readonly from?: RestPoint
  ) {
    this.scenario = from?.scenario
    this.decided = from?.rest.events ?? 0
    this.revision = from?.revision ?? -1
    this.lastAtUs = from?.atUs ?? 0
  }

  add(logged: LoggedEvent): void {
    const revision = ++this.revision
    const event = logged.event
    this.lastAtUs = event.atUs
    if (this.failure !== undefined) return
    if (revision === 0)
      Either.match(recordedScenario(event), {
        onLeft: (failure) => (this.failure = failure),
        onRight: (scenario) => (this.scenario = scenario)
      })
    if (event._tag === "OperationsRequested") {
      const items = decodeItems(event.operations)
      if (Either.isLeft(items)) {
        this.failure = new ResumeFailure(revision, `its operations do not read: ${items.left.message}`)
        return
      }
      this.steps.push({
        _tag: "operations",
        revision,
        position: this.decided,
        atUs: event.atUs,
        items: items.right,
        limits: { simulatedUsMax: event.untilUs, eventsMax: event.eventsMax }
      })
      return
    }
    if (event._tag === "PoolForked") {
      this.steps.push({ _tag: "fork", revision, position: this.decided, atUs: event.atUs, pool: event.pool })
      return
    }
    if (this.fingerprinted === this.fingerprints.length) {
      const grown = new Uint32Array(this.fingerprints.length * 2)
      grown.set(this.fingerprints)
      this.fingerprints = grown
    }
    this.fingerprints[this.fingerprinted++] = fingerprint(this.encode, logged)
    this.decided++
  }

  result(): Either.Either<PoolInputLog, ResumeFailure> {
    if (this.failure !== undefined) return Either.left(this.failure)
    if (this.scenario === undefined) return Either.left(new ResumeFailure(0, "the pool has no events"))
    const markers = this.steps.map((step) => step.position)
    const point = this.from
    const firstRevision = (point?.revision ?? -1) + 1
    const firstDecided = point?.rest.events ?? 0
    return Either.right({
      scenario: this.scenario,
      ...(point === undefined ? {} : { from: point }),
      steps: this.steps,
      decided: this.decided,
      lastRevision: this.revision,
      lastAtUs: this.lastAtUs,
      fingerprints: this.fingerprints,
      // markers are few (one per continuation or fork): a scan is enough
      revisionOf: (index) =>
        firstRevision + (index - firstDecided) + markers.filter((position) => position <= index).length
    })
  }
}

/** Operations to add at the log's end: scenario schedule items, and the limits to run them to. */
export interface Continuation {
  readonly items: ReadonlyArray<typeof ScheduleItem.Type>
  /** The limits, or how they follow from the pool's scenario (its own time and events budget). */
  readonly limits: EngineLimits | ((scenario: CompiledScenario) => EngineLimits)
}

/** The input compiled: the scenario with every continuation's items appended to its schedule. */
interface CompiledInput {
  readonly scenario: CompiledScenario
  /** How many of its schedule's items (by index) are the scenario's own. */
  readonly scenarioItems: number
  /**
   * From an engine at rest, the scenario's own items are those kept (`ScenarioRead.kept`): the place in
   * the recorded schedule of each, by index. Undefined: the index is the place.
   */
  readonly kept?: ReadonlyArray<number>
  /** Each step's items (the scenario's own first), with the limits it ran to. */
  readonly segments: ReadonlyArray<Segment>
}

interface Segment {
  /** A branch's own ids from here on (its fork). */
  readonly idsOf?: PoolId
  readonly items: ReadonlyArray<TimedItem>
  /** Undefined: nothing runs (a fork only cuts and renames). */
  readonly limits?: EngineLimits
  /** Engine events before the segment, as the log has them (undefined for the new continuation). */
  readonly position?: number
  readonly revision: number
  /** Where the cut of a later fork stops this segment: its engine events, and its last time. */
  readonly cut?: { readonly events: number; readonly atUs: number; readonly revision: number }
}

/**
 * A recorded scenario (its JSON, or that parsed) without its schedule: what a rest keeps of it, small
 * whatever the schedule's length.
 */
export const withoutSchedule = (scenario: string | object): string =>
  JSON.stringify({ ...(typeof scenario === "string" ? (JSON.parse(scenario) as object) : scenario), schedule: [] })

/** The recorded scenario as read for going on: its schedule whole, or only the items still needed. */
interface ScenarioRead {
  readonly scenario: typeof Scenario.Type
  /**
   * From an engine at rest: the place in the recorded schedule of each item kept (the items still to
   * run, and those that started the controllers at rest), in schedule order; undefined: all kept.
   */
  readonly kept?: ReadonlyArray<number>
  /** Of the kept items (places in the recorded schedule), those still to run. */
  readonly toRun?: ReadonlySet<number>
}

/**
 * The recorded scenario, read. From an engine at rest only the items still needed are decoded and
 * compiled: those still to run (after the first `scheduleRun` in the order they run, by time) and those
 * that started its controllers; a scenario of 125,000 operations is most of what a continuation would
 * otherwise decode and compile.
 */
const readScenario = (json: string, from: RestPoint | undefined): Either.Either<ScenarioRead, ResumeFailure> => {
  const failure = (detail: string) => new ResumeFailure(0, `its recorded scenario does not read: ${detail}`)
  let parsed: unknown
  try {
    parsed = JSON.parse(json)
  } catch (e) {
    return Either.left(failure(e instanceof Error ? e.message : String(e)))
  }
  const decode = (input: unknown) =>
    Either.mapLeft(decodeScenario(input), (e) => failure(ParseResult.TreeFormatter.formatErrorSync(e)))
  if (from === undefined) return Either.map(decode(parsed), (scenario) => ({ scenario }))
  const raw = typeof parsed === "object" && parsed !== null ? (parsed as { schedule?: unknown }) : {}
  const given = from.scheduleToRun
  if (given !== undefined && (from.controllers ?? []).length === 0) {
    // the items still to run, given: kept in schedule order (their places), no time read
    const order = given.places.map((place, i) => [place, i] as const).sort((a, b) => a[0] - b[0])
    const kept = order.map(([place]) => place)
    return Either.map(decode({ ...raw, schedule: order.map(([, i]) => given.recorded[i]) }), (scenario) => ({
      scenario,
      kept,
      toRun: new Set(kept)
    }))
  }
  const schedule: ReadonlyArray<unknown> = Array.isArray(raw.schedule) ? raw.schedule : []
  const toRun = new Set<number>()
  if (from.scheduleRun !== undefined) {
    // the order items run in: by time, then place (as compileScenario sorts them)
    const times: number[] = []
    for (let i = 0; i < schedule.length; i++) {
      const at = parseDurationUs(String((schedule[i] as { at?: unknown } | null)?.at))
      if (Either.isLeft(at)) return Either.left(failure(`schedule[${i}].at: ${at.left.expected}`))
      times.push(at.right)
    }
    const order = times.map((_, i) => i).sort((a, b) => times[a]! - times[b]! || a - b)
    for (const i of order.slice(from.scheduleRun)) toRun.add(i)
  }
  const kept = [...new Set([...toRun, ...(from.controllers ?? []).map((c) => c.index)])].sort((a, b) => a - b)
  if (kept.some((i) => i >= schedule.length))
    return Either.left(failure(`the engine at rest names schedule item ${kept[kept.length - 1]}, past its end`))
  return Either.map(decode({ ...raw, schedule: kept.map((i) => schedule[i]) }), (scenario) => ({
    scenario,
    kept,
    toRun
  }))
}

/**
 * The scenario with the continuations' items appended to its schedule, compiled as one input (every
 * item's references and units checked by the scenario's compiler; a new item's error names it as
 * `operations[i]`), then cut into the segments the log ran them in.
 */
export const compileInput = (
  log: PoolInputLog,
  continuation: Continuation | undefined,
  extensions: Extensions | undefined
): Either.Either<CompiledInput, ResumeFailure | InputError> =>
  Either.gen(function* () {
    const from = log.from
    const read = yield* readScenario(log.scenario, from)
    const scenario = read.scenario
    const own = scenario.schedule.length
    // a rest inside a continuation: that continuation's items come first, before the steps after the rest
    const partial = from?.step
    const stepItems = [
      ...(partial === undefined ? [] : [partial.items]),
      ...log.steps.map((step) => (step._tag === "operations" ? step.items : []))
    ]
    const firstLogStep = partial === undefined ? 1 : 2
    const newItems = continuation?.items ?? []
    const schedule = [...scenario.schedule, ...stepItems.flat(), ...newItems]
    const compiled = yield* compileScenario(
      "the pool's recorded scenario",
      { ...scenario, schedule },
      extensions === undefined ? {} : { extensions }
    ).pipe(Either.mapLeft((error) => relabel(error, own + stepItems.flat().length)))
    // each schedule index belongs to the scenario, to one step, or to the new continuation
    const ranges: number[] = [own]
    for (const items of stepItems) ranges.push(ranges[ranges.length - 1]! + items.length)
    const segmentOf = (index: number): number => ranges.findIndex((end) => index < end)
    const timed: TimedItem[][] = ranges.map(() => [])
    const added: TimedItem[] = []
    for (const item of compiled.schedule) {
      const k = segmentOf(item.index)
      if (k === -1) added.push(item)
      else timed[k]!.push(item)
    }
    // a fork stops every segment before it: at its time, at its engine position (what the segment put on
    // the agenda stays there, and goes on in the branch)
    // from an engine at rest, the steps before it have all run, and the scenario's own items all of them
    // or (a rest inside the run that made the pool) the first `scheduleRun`, in the order they run
    const scenarioLimits = { eventsMax: compiled.eventsMax, simulatedUsMax: compiled.simulatedUsMax }
    const segments: Segment[] = [
      from === undefined
        ? { items: timed[0]!, limits: scenarioLimits, position: 0, revision: 0 }
        : from.scheduleRun === undefined
          ? { items: [], position: from.rest.events, revision: from.revision }
          : {
              items: timed[0]!.filter((item) => read.toRun?.has(read.kept?.[item.index] ?? item.index)),
              limits: scenarioLimits,
              position: from.rest.events,
              revision: from.revision
            }
    ]
    // where each segment's later steps start in the log's steps (those a fork among them cuts it at)
    const stepsAfter = [0]
    if (from !== undefined && partial !== undefined) {
      segments.push({
        items: timed[1]!.slice(partial.itemsRun),
        limits: partial.limits,
        position: from.rest.events,
        revision: partial.revision
      })
      stepsAfter.push(0)
    }
    log.steps.forEach((step, i) => {
      segments.push(
        step._tag === "operations"
          ? {
              items: timed[i + firstLogStep]!,
              limits: step.limits,
              position: step.position,
              revision: step.revision
            }
          : { idsOf: step.pool, items: [], position: step.position, revision: step.revision }
      )
      stepsAfter.push(i + 1)
    })
    const cut = segments.map((_, k) => {
      const forks = log.steps.slice(stepsAfter[k]).filter((step) => step._tag === "fork")
      if (forks.length === 0) return undefined
      const first = forks.reduce((a, b) => (b.atUs < a.atUs ? b : a))
      return { events: first.position, atUs: first.atUs, revision: first.revision }
    })
    const cutSegments = segments.map((segment, k) => {
      const c = cut[k]
      return c === undefined ? segment : { ...segment, cut: c }
    })
    if (continuation !== undefined)
      cutSegments.push({
        items: added,
        limits: typeof continuation.limits === "function" ? continuation.limits(compiled) : continuation.limits,
        revision: log.lastRevision + 1
      })
    return {
      scenario: compiled,
      scenarioItems: own,
      ...(read.kept === undefined ? {} : { kept: read.kept }),
      segments: cutSegments
    }
  })

/** A new item's compile error names it among the operations asked, not as a schedule entry. */
const relabel = (error: InputError, firstNew: number): InputError | ResumeFailure => {
  const match = /^schedule\[(\d+)\](.*)$/.exec(error.path)
  if (match === null)
    return new ResumeFailure(0, `its recorded scenario does not compile: ${error.path}: ${error.expected}`)
  const index = Number(match[1])
  if (index < firstNew)
    return new ResumeFailure(0, `its recorded input does not compile: ${error.path}: ${error.expected}`)
  return { ...error, source: "operations", path: `operations[${index - firstNew}]${match[2]}` }
}

/** A refusal that met one of the new operations at once: the continuation's failure. */
export interface RefusedOperation {
  readonly index: number
  readonly refusal: Refusal
}

export interface ResumeOptions extends Omit<RunScenarioOptions, "sink"> {
  readonly encode: EncodeEvent
  /** Receives the events past the log's end (the resumed run's, then the continuation's), in batches. */
  readonly sink: (batch: ReadonlyArray<EmittedEvent>) => void
}

interface RunMarks {
  readonly refusals: number
  readonly operations: number
  readonly restarts: number
}

const marksOf = (sim: Simulation): RunMarks => ({
  refusals: sim.refusals.length,
  operations: sim.outcomes.length,
  restarts: sim.ha.restarts.length
})

/** Where the rebuilt engine stands, run in slices. */
export interface Resumption {
  readonly sim: Simulation
  /**
   * Runs at most `eventsBudget` more events: the result once every segment ran (undefined while more is
   * left). Throws a ResumeFailure when the engine decides an event the log does not have.
   */
  readonly runFor: (eventsBudget: number) => RunResult | undefined
  /** The new operations refused at once, in order. */
  readonly refused: ReadonlyArray<RefusedOperation>
  /** The events past the log's end decided before the continuation's operations (a log cut short). */
  readonly resumedBeforeContinuation: () => number
  /** How many refusals, outcomes and HA restarts the run had when the continuation's operations came. */
  readonly continuationMarks: () => RunMarks
  readonly consolidation: PreparedScenario["consolidation"]
  /** The engine at rest, to save beside the log once what it decided is stored; or why it is not at rest. */
  readonly rest: PreparedScenario["rest"]
}

/**
 * The engine rebuilt from the log and, if asked, continued: each decided event is checked against the
 * log's fingerprints while the engine is inside it, and handed to `sink` once past its end.
 */
export const resume = (log: PoolInputLog, input: CompiledInput, options: ResumeOptions): Resumption => {
  const firstDecided = log.from?.rest.events ?? 0
  let decided = firstDecided
  let beforeContinuation: number | undefined
  let marks: RunMarks | undefined
  const check = (batch: ReadonlyArray<EmittedEvent>): void => {
    let past = 0
    for (const e of batch) {
      if (decided < log.decided) {
        if (fingerprint(options.encode, e) !== log.fingerprints[decided - firstDecided])
          throw new ResumeFailure(
            log.revisionOf(decided),
            `this xenpool decides ${e.event._tag} at ${e.event.atUs} µs here, not the stored event: the log was written by another engine (or changed), and continuing it would write a history that never was`
          )
      } else past++
      decided++
    }
    if (past > 0) options.sink(past === batch.length ? batch : batch.slice(batch.length - past))
  }
  const from = log.from
  // controllers at rest name their item by its place in the recorded schedule; the compiled input by index
  const kept = input.kept
  const indexOf = (place: number): number => {
    const index = kept === undefined ? place : kept.indexOf(place)
    if (index < 0) throw new ResumeFailure(from?.revision ?? 0, `no schedule item ${place} for a controller at rest`)
    return index
  }
  const placeOf = (index: number): number => (kept === undefined ? index : kept[index]!)
  const prepared = prepareScenario(input.scenario, {
    ...options,
    sink: check,
    scenarioItems: input.scenarioItems,
    placeOf,
    ...(from === undefined
      ? {}
      : {
          from: {
            state: from.state,
            rest: from.rest,
            ...(from.loadsRun === undefined ? {} : { loadsRun: from.loadsRun }),
            ...(from.controllers === undefined
              ? {}
              : { controllers: from.controllers.map((c) => ({ ...c, index: indexOf(c.index) })) })
          }
        })
  })
  const sim = prepared.sim
  const refused: RefusedOperation[] = []
  let k = 0
  let started = false
  let result: RunResult | undefined
  const runFor = (eventsBudget: number): RunResult | undefined => {
    // Bounded: each pass starts a segment, runs one slice, or moves to the next segment.
    while (k < input.segments.length) {
      const segment = input.segments[k]!
      if (!started) {
        started = true
        if (segment.position !== undefined && segment.position !== sim.events)
          throw new ResumeFailure(
            segment.revision,
            `the log has ${segment.position} decided events before this point, the engine ${sim.events}`
          )
        if (segment.position === undefined) {
          beforeContinuation = Math.max(0, sim.events - log.decided)
          marks = marksOf(sim)
        }
        if (segment.idsOf !== undefined) sim.idsOf(poolId(segment.idsOf))
        const isNew = segment.position === undefined
        prepared.schedule(
          segment.items,
          isNew
            ? (timed, refusal) => {
                if (refusal !== undefined) refused.push({ index: timed.index, refusal })
              }
            : undefined,
          isNew ? options.rests : undefined
        )
      }
      if (segment.limits !== undefined) {
        const limits = segment.cut
          ? {
              eventsMax: Math.min(segment.limits.eventsMax, segment.cut.events),
              simulatedUsMax: Math.min(segment.limits.simulatedUsMax, segment.cut.atUs)
            }
          : segment.limits
        const done = runSlice(sim, limits, eventsBudget)
        if (done === undefined) return undefined
        result = done
        // the segment the fork cuts (the one just before it) must stop exactly there; earlier ones end on their own
        const cutHere = segment.cut !== undefined && input.segments[k + 1]?.revision === segment.cut.revision
        if (cutHere && sim.events !== segment.cut!.events)
          throw new ResumeFailure(
            segment.cut!.revision,
            `the branch leaves its parent after ${segment.cut!.events} decided events, but the engine stands at ${sim.events} at that time: the fork point splits the events of one moment (fork at a time, not inside it, to continue a branch)`
          )
      }
      k++
      started = false
    }
    // from an engine at rest with nothing after it, nothing ran: the engine stands there, quiescent
    return result ?? (result = sim.run({ eventsMax: sim.events, simulatedUsMax: sim.nowUs }))
  }
  return {
    sim,
    runFor,
    refused,
    resumedBeforeContinuation: () => beforeContinuation ?? Math.max(0, sim.events - log.decided),
    continuationMarks: () => marks ?? marksOf(sim),
    consolidation: prepared.consolidation,
    rest: () => {
      const rest = prepared.rest()
      if (typeof rest === "string") return rest
      return { ...rest, controllers: rest.controllers.map((c) => ({ ...c, index: placeOf(c.index) })) }
    }
  }
}
