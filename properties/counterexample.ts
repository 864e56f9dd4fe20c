/**
 * A failing scenario as the trace `xenpool check` writes (simulations/trace/fromScenario.ts), checked
 * before it is offered: the trace is replayed in memory and must give the events of the scenario's run
 * on the engine (as `xenpool simulate` runs it: the real seams, debug assertions off), ids included,
 * since the replay writes the scenario's pool id with the scenario's seed. Only then does the report say
 * `xenpool replay FILE` reproduces the case; otherwise it says where the two runs part.
 */
import { Either } from "effect"
import { poolId } from "../domain/ids.js"
import type { EmittedEvent } from "../engine/simulation.js"
import { parseScenarioJson, type InputError } from "../simulations/scenario.js"
import { replayTrace, scenarioTraceText, textInput } from "../simulations/trace.js"
import type { ScenarioJson } from "./arbitraries.js"
import { eventLine, runEngine } from "./engineRun.js"

export type CounterexampleTrace =
  /** The trace's replay gives the scenario run's `events` events. */
  | { readonly _tag: "Reproduces"; readonly text: string; readonly events: number }
  /** The replay parts from the scenario's run: where, in words. */
  | { readonly _tag: "Differs"; readonly text: string; readonly difference: string }
  /** The scenario uses something a trace has no record for (or does not compile). */
  | { readonly _tag: "NotConvertible"; readonly error: InputError }

interface Run {
  readonly events: ReadonlyArray<EmittedEvent>
  readonly defect: string | undefined
}

const eventInWords = (e: EmittedEvent | undefined): string =>
  e === undefined ? "no event" : `${e.event._tag} at ${e.event.atUs} µs`

const defectOf = (error: unknown): string =>
  error instanceof Error ? `${error.name}: ${error.message}` : String(error)

const replayRun = (text: string, name: string, pool: string): Run => {
  const events: EmittedEvent[] = []
  try {
    const outcome = replayTrace(textInput(name, text), { pool: poolId(pool), sink: (batch) => events.push(...batch) })
    if (Either.isLeft(outcome))
      return { events, defect: `bad trace: line ${outcome.left.line}, ${outcome.left.path}: ${outcome.left.expected}` }
    return { events, defect: undefined }
  } catch (error) {
    return { events, defect: defectOf(error) }
  }
}

/** Where the replay parts from the run, in words; undefined when they agree event for event. */
export const runDifference = (run: Run, replay: Run): string | undefined => {
  const length = Math.max(run.events.length, replay.events.length)
  for (let i = 0; i < length; i++) {
    const a = run.events[i]
    const b = replay.events[i]
    if (a === undefined || b === undefined || eventLine(a) !== eventLine(b))
      return `event ${i + 1}: the scenario's run has ${eventInWords(a)}, the trace's replay ${eventInWords(b)}`
  }
  if (run.defect !== replay.defect)
    return `after event ${length}: the scenario's run ${run.defect === undefined ? "ends" : `stops on ${run.defect}`}, the trace's replay ${replay.defect === undefined ? "ends" : `stops on ${replay.defect}`}`
  return undefined
}

/** The scenario's trace, and whether its replay reproduces the scenario's run. */
export const counterexampleTrace = (scenario: ScenarioJson, name = "counterexample"): CounterexampleTrace => {
  const parsed = parseScenarioJson(name, JSON.stringify(scenario))
  const text = Either.flatMap(parsed, (s) => scenarioTraceText(name, s))
  if (Either.isLeft(text)) return { _tag: "NotConvertible", error: text.left }
  const pool = Either.getOrThrow(parsed).pool.id
  const engine = runEngine(scenario)
  const run: Run = { events: engine.emitted, defect: engine.defect }
  const difference = runDifference(run, replayRun(text.right, `${name}.trace.jsonl`, pool))
  return difference === undefined
    ? { _tag: "Reproduces", text: text.right, events: run.events.length }
    : { _tag: "Differs", text: text.right, difference }
}
