/**
 * The engine goes on from its log (issue 14, simulations/resume.ts): two properties over generated
 * scenarios.
 *
 * - `resume`: the log's prefix up to a revision R (anywhere, inside a migration round, or inside a
 *   page-in) is enough to go on: the engine rebuilt from it and run with no new input appends exactly
 *   the rest of the original log, byte for byte, ids included; so does the engine rebuilt from the last
 *   rest inside the run at or before R (`RestInRun`, through JSON and the snapshot codec).
 * - `continue-equals-run`: continuing a pool at its end with an operation gives the same log as a run
 *   whose scenario had that operation at that time from the start; so does continuing from the engine
 *   at rest at the log's end (`Simulation.rest`, through JSON and the snapshot codec), read from there.
 * - `fork-equals-parent`: a branch made at a moment R and run on with no new operation decides what its
 *   parent decided after R, event for event, under its own ids; so does the branch rebuilt from its
 *   parent's last rest inside the run before R whose clock had not passed the fork's time.
 */
import { Either } from "effect"
import fc from "fast-check"
import { PoolCreated, PoolForked } from "../domain/events.js"
import { eventId, poolId } from "../domain/ids.js"
import type { EmittedEvent } from "../engine/simulation.js"
import { decodeSnapshot, encodeSnapshot } from "../projections/snapshotCodec.js"
import { encodeEvent } from "../store/codec.js"
import {
  compileInput,
  InputLogReader,
  needsSchedule,
  recordedScenario,
  resume,
  withoutSchedule,
  type RestPoint,
  type Continuation,
  type LoggedEvent,
  type PoolInputLog
} from "../simulations/resume.js"
import type { RestInRun, ScenarioRest } from "../simulations/run.js"
import type { ScheduleItem } from "../simulations/scenario.js"
import { scenarioArb, type ScenarioJson } from "./arbitraries.js"
import { engineSeams, eventLine, runEngine, type CaseEnv } from "./engineRun.js"
import { scenarioProperty, withExtra, type NamedProperty } from "./property.js"

const encode = (event: Parameters<typeof encodeEvent>[0]): string => encodeEvent(event).data

/** The run's log as a store holds it: its creation event stamped with the scenario it ran. */
const stored = (scenario: ScenarioJson, emitted: ReadonlyArray<EmittedEvent>): ReadonlyArray<LoggedEvent> =>
  emitted.map((e, i) => {
    if (i !== 0 || e.event._tag !== "PoolCreated") return e
    const { atUs, pool, pageSizeBytes, linkLatencyUs } = e.event
    return {
      id: e.id,
      event: new PoolCreated({
        atUs,
        pool,
        pageSizeBytes,
        linkLatencyUs,
        provenance: {
          _tag: "run",
          seed: scenario.seed as number,
          xenpoolVersion: "check",
          input: "scenario",
          inputName: "generated",
          inputSha256: "0".repeat(64),
          scenario: JSON.stringify(scenario)
        }
      })
    }
  })

const readLog = (events: ReadonlyArray<LoggedEvent>, from?: RestPoint): PoolInputLog | string => {
  const reader = new InputLogReader(encode, from)
  for (const e of from ? events.slice(from.revision + 1) : events) reader.add(e)
  return Either.match(reader.result(), { onLeft: (failure) => failure.message, onRight: (log) => log })
}

/**
 * The engine at rest at the end of `log` (rebuilt from it), as a store would keep it: through JSON and
 * the snapshot codec, so that only data crosses. Undefined when the engine is not at rest there.
 */
const restAtEnd = (
  log: PoolInputLog,
  events: ReadonlyArray<LoggedEvent>,
  env: CaseEnv
): RestPoint | string | undefined => {
  const out = resumed(log, undefined, env)
  if (typeof out === "string") return out
  if (typeof out.rest !== "object") return undefined
  const kept = asStored(out.rest.rest, out.rest.state)
  if (typeof kept === "string") return kept
  const scenario = Either.getOrUndefined(recordedScenario(events[0]!.event))
  if (scenario === undefined) return "the log records no scenario"
  return {
    revision: events.length - 1,
    atUs: events[events.length - 1]!.event.atUs,
    // as a store keeps it: without the schedule, which had all run (unless a controller's item is needed)
    scenario: needsSchedule(kept) ? scenario : withoutSchedule(scenario),
    ...kept
  }
}

/** Data as a store keeps it: through JSON, and the pool's state through the snapshot codec. */
const asStored = (
  rest: ScenarioRest,
  poolState: Parameters<typeof encodeSnapshot>[0]
): Pick<RestPoint, "rest" | "state" | "controllers"> | string => {
  const state = decodeSnapshot(encodeSnapshot(poolState))
  if (Either.isLeft(state)) return `the pool at rest does not decode: ${state.left.message}`
  const data = JSON.parse(JSON.stringify(rest)) as ScenarioRest
  return {
    rest: data.engine,
    state: state.right,
    ...(data.controllers.length === 0 ? {} : { controllers: data.controllers })
  }
}

/** An engine at rest inside the run that wrote `log`, as a store gives it back (with the whole recorded scenario). */
const restInRunPoint = (
  inRun: RestInRun,
  log: ReadonlyArray<LoggedEvent>,
  /** The places of the schedule's items in the order they ran: given, the items still to run come as chunks would give them. */
  runOrder?: ReadonlyArray<number>
): RestPoint | string => {
  const kept = asStored(inRun, inRun.state)
  if (typeof kept === "string") return kept
  const scenario = Either.getOrUndefined(recordedScenario(log[0]!.event))
  if (scenario === undefined) return "the log records no scenario"
  // a fresh run's log has no markers: the n-th decided event is revision n - 1
  const revision = inRun.engine.events - 1
  const { scheduleRun, loadsRun } = inRun
  const point = { revision, atUs: log[revision]!.event.atUs, scenario, scheduleRun, loadsRun, ...kept }
  if (runOrder === undefined || kept.controllers !== undefined) return point
  // as api/engineRests.ts keeps them: the schedule's items in the order they ran, the scenario without them
  const recorded = (JSON.parse(scenario) as { schedule: ReadonlyArray<unknown> }).schedule
  const places = runOrder.slice(scheduleRun)
  const scheduleToRun = { places, recorded: places.map((place) => recorded[place]) }
  return { ...point, scenario: withoutSchedule(scenario), scheduleToRun }
}

/** The engine rebuilt from `log` (and continued, if asked) to its end: the events it appended, or why it could not. */
const resumed = (log: PoolInputLog, continuation: Continuation | undefined, env: CaseEnv) => {
  const input = compileInput(log, continuation, env.policies === undefined ? undefined : { policies: env.policies })
  if (Either.isLeft(input)) return `the log's input does not compile: ${JSON.stringify(input.left)}`
  const appended: EmittedEvent[] = []
  const seams = engineSeams(env)
  try {
    const run = resume(log, input.right, {
      encode,
      transferFactory: seams.transferFactory,
      pageStates: seams.pageStates,
      decide: seams.decide,
      sink: (batch) => {
        for (const e of batch) appended.push(e)
      }
    })
    // Bounded: each slice runs the engine towards its recorded limits.
    while (run.runFor(10_000) === undefined);
    const rest = run.rest()
    return {
      appended,
      refused: run.refused,
      rest: typeof rest === "string" ? rest : { rest, state: run.sim.state }
    }
  } catch (error) {
    return error instanceof Error ? `${error.name}: ${error.message}` : String(error)
  }
}

/** The first event where two logs differ, in words; undefined when they are the same bytes. */
const firstDifference = (
  expected: ReadonlyArray<LoggedEvent>,
  actual: ReadonlyArray<LoggedEvent>,
  offset: number
): string | undefined => {
  const n = Math.max(expected.length, actual.length)
  for (let i = 0; i < n; i++) {
    const [a, b] = [expected[i], actual[i]]
    const [la, lb] = [a && eventLine(a), b && eventLine(b)]
    if (la !== lb) return `event ${offset + i}: the log has ${la ?? "(end)"}, the resumed engine ${lb ?? "(end)"}`
  }
  return undefined
}

type Where = "anywhere" | "inside a migration round" | "inside a page-in"

/** The revisions of the log that are `where` (R just before a round's or a page-in's end event). */
const candidates = (log: ReadonlyArray<LoggedEvent>, where: Where): ReadonlyArray<number> => {
  if (where === "anywhere") return log.map((_, i) => i)
  const ending = where === "inside a migration round" ? "VmMigrationRoundCompleted" : "VmPagesPagedIn"
  return log.flatMap((e, i) => (i > 0 && e.event._tag === ending ? [i - 1] : []))
}

const resumeProperty = scenarioProperty({
  name: "resume",
  statement:
    "the engine rebuilt from a run's log up to a revision R (anywhere, inside a migration round, inside a page-in), from its start or from the last engine at rest inside the run before R, and run with no new input appends exactly the rest of the log, byte for byte",
  // page-ins need the pager on and paged-out VMs; the other cases take the swarm's scenarios
  arbitrary: fc.oneof(
    withExtra(scenarioArb(), fc.tuple(fc.constant<Where>("anywhere"), fc.nat())),
    withExtra(scenarioArb(), fc.tuple(fc.constant<Where>("inside a migration round"), fc.nat())),
    withExtra(
      scenarioArb({ faults: ["paging"], pageOutFirst: true }),
      fc.tuple(fc.constant<Where>("inside a page-in"), fc.nat())
    )
  ),
  check: (scenario, [where, pick], env) => {
    // every moment the engine is at rest inside the run, before a schedule item, is kept
    const rests: RestInRun[] = []
    const run = runEngine(scenario, { ...env, rests: { everyEvents: 1, take: (rest) => rests.push(rest) } })
    if (run.defect !== undefined) return undefined // the engine properties report defects
    const log = stored(scenario, run.emitted)
    const at = candidates(log, where)
    if (at.length === 0) return undefined
    const R = at[pick % at.length]!
    const input = readLog(log.slice(0, R + 1))
    if (typeof input === "string") return `the log's prefix up to ${R} does not read: ${input}`
    const out = resumed(input, undefined, env)
    if (typeof out === "string") return `resuming at R = ${R} (${where}) failed: ${out}`
    const difference = firstDifference(log.slice(R + 1), out.appended, R + 1)
    if (difference !== undefined) return `resumed at R = ${R} (${where}): ${difference}`
    const inRun = rests.filter((r) => r.engine.events - 1 <= R).at(-1)
    if (inRun === undefined) return undefined
    // every other case, the items still to run as the run's schedule chunks give them
    const runOrder = pick % 2 === 0 ? run.compiled.schedule.map((timed) => timed.index) : undefined
    const point = restInRunPoint(inRun, log, runOrder)
    if (typeof point === "string") return `the engine at rest inside the run: ${point}`
    const fromRest = readLog(log.slice(0, R + 1), point)
    if (typeof fromRest === "string")
      return `the log's prefix up to ${R} does not read from @${point.revision}: ${fromRest}`
    const again = resumed(fromRest, undefined, env)
    if (typeof again === "string") return `resuming at R = ${R} from the rest after @${point.revision} failed: ${again}`
    const fromRestDifference = firstDifference(log.slice(R + 1), again.appended, R + 1)
    if (fromRestDifference !== undefined)
      return `resumed at R = ${R} (${where}) from the rest after @${point.revision}: ${fromRestDifference}`
    const ends = endsDiffer(out.rest, again.rest)
    return ends === undefined ? undefined : `resumed at R = ${R} from the rest after @${point.revision}: ${ends}`
  }
})

/**
 * Two rebuilds of one history must also end as the same engine, in what no event shows yet (which pages
 * are paged, the pager's cursors, a controller's figures): their rests at the end, compared as data.
 */
const endsDiffer = (
  fromStart: { readonly rest: ScenarioRest } | string,
  fromRest: { readonly rest: ScenarioRest } | string
): string | undefined => {
  const [a, b] = [fromStart, fromRest].map((end) => (typeof end === "string" ? end : JSON.stringify(end.rest)))
  if (a === b) return undefined
  const at = [...a!].findIndex((c, i) => c !== b![i])
  return `the engine from the start ends as ${a!.slice(Math.max(0, at - 80), at + 80)}…, the one from the rest as ${b!.slice(Math.max(0, at - 80), at + 80)}…`
}

/** An operation to continue with, drawn over the case's hosts and VMs. */
const operationArb = fc.tuple(
  fc.constantFrom("migrate", "evacuate", "disable-host", "fail-host", "shutdown-vm", "start-vm"),
  fc.nat(),
  fc.nat(),
  fc.integer({ min: 0, max: 5_000_000 })
)

const continueEqualsRun = scenarioProperty({
  name: "continue-equals-run",
  statement:
    "continuing a pool at its end with an operation appends what a run with that operation in its scenario from the start decides, byte for byte, whether the engine is rebuilt from the whole log or from the engine at rest kept at its end",
  arbitrary: withExtra(scenarioArb(), operationArb),
  check: (scenario, [op, a, b, delayUs], env) => {
    const run = runEngine(scenario, env)
    if (run.defect !== undefined || run.result?.stopReason !== "quiescent") return undefined
    const log = stored(scenario, run.emitted)
    const input = readLog(log)
    if (typeof input === "string") return `the log does not read: ${input}`
    const hosts = (scenario.hosts as ReadonlyArray<{ id: string }>).map((h) => h.id)
    const vms = (scenario.vms as ReadonlyArray<{ id: string }>).map((v) => v.id)
    // after the last thing the engine did (a happening may follow the last event and decide nothing)
    const atUs = Math.max(input.lastAtUs, run.result.simulatedUs) + delayUs
    const at = `${atUs}us`
    const [host, vm] = [hosts[a % hosts.length]!, vms[b % vms.length]]
    if (vm === undefined) return undefined
    const item = (
      op === "migrate"
        ? { at, op, vm, to: host }
        : op === "shutdown-vm" || op === "start-vm"
          ? { at, op, vm }
          : { at, op, host }
    ) as typeof ScheduleItem.Type
    const limits = scenario.limits as { simulatedTime: string; events: number }
    const simulatedUsMax = atUs + Number(limits.simulatedTime.replace("us", ""))
    const eventsMax = input.decided + limits.events
    const out = resumed(input, { items: [item], limits: { simulatedUsMax, eventsMax } }, env)
    if (typeof out === "string") return `continuing with ${JSON.stringify(item)} failed: ${out}`
    // A refused operation appends nothing (the caller's failure): the run from the start refuses it too.
    const whole = runEngine(
      {
        ...scenario,
        schedule: [...(scenario.schedule as ReadonlyArray<unknown>), item],
        limits: { simulatedTime: `${simulatedUsMax}us`, events: eventsMax }
      },
      env
    )
    if (whole.defect !== undefined) return undefined
    const expected = whole.emitted.slice(log.length)
    if (out.refused.length > 0) return undefined
    const difference = firstDifference(expected, out.appended, log.length)
    if (difference !== undefined) return `continuing with ${JSON.stringify(item)}: ${difference}`
    // the same from the engine at rest at the log's end, read from there on (as a store's saved rest gives it)
    const point = restAtEnd(input, log, env)
    if (typeof point === "string") return `the engine at rest at the log's end: ${point}`
    if (point === undefined) return undefined
    const fromRest = readLog(log, point)
    if (typeof fromRest === "string") return `the log does not read from its rest: ${fromRest}`
    const again = resumed(fromRest, { items: [item], limits: { simulatedUsMax, eventsMax } }, env)
    if (typeof again === "string") return `continuing from the engine at rest failed: ${again}`
    const fromRestDifference = firstDifference(expected, again.appended, log.length)
    return fromRestDifference === undefined
      ? undefined
      : `continuing with ${JSON.stringify(item)} from the engine at rest: ${fromRestDifference}`
  }
})

const forkEqualsParent = scenarioProperty({
  name: "fork-equals-parent",
  statement:
    "a branch made at a moment of a run and run on with no new operation decides what its parent decided after that moment, event for event, under ids of its own",
  arbitrary: withExtra(scenarioArb(), fc.nat()),
  check: (scenario, pick, env) => {
    const rests: RestInRun[] = []
    const run = runEngine(scenario, { ...env, rests: { everyEvents: 1, take: (rest) => rests.push(rest) } })
    if (run.defect !== undefined) return undefined
    const log = stored(scenario, run.emitted)
    // a moment: the last event at its time (a fork at a time takes all of that µs)
    const moments = log.flatMap((e, i) => (log[i + 1]?.event.atUs === e.event.atUs ? [] : [i]))
    const R = moments[pick % moments.length]!
    const created = log[0]!.event
    const parent = created._tag === "PoolCreated" ? created.pool : poolId("parent")
    const fork: LoggedEvent = {
      id: log[0]!.id,
      event: new PoolForked({
        atUs: log[R]!.event.atUs,
        pool: poolId("branch"),
        parent: poolId(parent),
        parentRevision: R,
        xenpoolVersion: "check"
      })
    }
    const branchLog = [...log.slice(0, R + 1), fork]
    const limits = scenario.limits as { simulatedTime: string; events: number }
    const runOn = {
      items: [],
      limits: { simulatedUsMax: Number(limits.simulatedTime.replace("us", "")), eventsMax: limits.events }
    }
    const suffix = log.slice(R + 1)
    const parentIds = new Set(log.map((e) => e.id))
    const withoutId = (e: LoggedEvent): LoggedEvent => ({
      id: eventId("00000000-0000-7000-8000-000000000000"),
      event: e.event
    })
    const branch = (from: RestPoint | undefined) => {
      const input = readLog(branchLog, from)
      if (typeof input === "string") return `the branch's log does not read: ${input}`
      const out = resumed(input, runOn, env)
      if (typeof out === "string") return `running the branch made at R = ${R} on failed: ${out}`
      const reused = out.appended.find((e) => parentIds.has(e.id))
      if (reused !== undefined) return `the branch made at R = ${R} reuses its parent's event id ${reused.id}`
      const difference = firstDifference(suffix.map(withoutId), out.appended.map(withoutId), R + 1)
      return difference === undefined ? out : `the branch made at R = ${R}: ${difference}`
    }
    const fromStart = branch(undefined)
    if (typeof fromStart === "string") return fromStart
    // as api/engineRests.ts picks it: the parent's last rest at or before R that had not passed the fork's time
    const inRun = rests.filter((r) => r.engine.events - 1 <= R && r.engine.nowUs <= log[R]!.event.atUs).at(-1)
    if (inRun === undefined) return undefined
    const point = restInRunPoint(inRun, log)
    if (typeof point === "string") return `the parent's engine at rest inside the run: ${point}`
    const fromRest = branch(point)
    if (typeof fromRest === "string") return `from the parent's rest after @${point.revision}: ${fromRest}`
    const ends = endsDiffer(fromStart.rest, fromRest.rest)
    return ends === undefined ? undefined : `the branch from the parent's rest after @${point.revision}: ${ends}`
  }
})

export const resumeProperties: ReadonlyArray<NamedProperty> = [resumeProperty, continueEqualsRun, forkEqualsParent]
