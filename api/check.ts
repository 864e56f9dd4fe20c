/**
 * The property suite (docs/properties.md): generated pools, workloads and faults against the pool's
 * invariants, with fast-check's shrinking; on a failure, the seed and path that reproduce it, and the
 * failing case written as a trace that `replay` runs to the same events.
 */
import { Effect } from "effect"
import { mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { counterexampleTrace } from "../properties/counterexample.js"
import { findProperty, propertyNames, runCheck, type CheckReport } from "../properties/index.js"
import type { PolicyDefinition } from "../engine/migration/policy.js"
import { checkOnWorkers } from "./checkWorkers.js"
import { XenpoolError } from "./errors.js"
import { checkExtensions } from "./simulate.js"

export type { CheckReport } from "../properties/index.js"

/** The properties `check` knows, by name. */
export { propertyNames }

/** The most worker processes `check` starts (each holds a copy of the simulator). */
export const CHECK_WORKERS_MAX = 256

export interface CheckOptions {
  /** Runs per property (default 100). */
  readonly runs?: number
  /** Root seed (default 1): the same seed gives the same cases, verdicts and shrunk counterexamples. */
  readonly seed?: number
  /** Only these properties (default: all of `propertyNames`). */
  readonly properties?: ReadonlyArray<string>
  /** Replay the one case at this path (from a failure report), with one property named. */
  readonly path?: string
  /**
   * Worker processes to run the properties on, 1 to 256 (default: none, all on this thread). Each
   * property's runs are cut into ranges that the workers share; the report (verdicts, runs, paths,
   * counterexamples) is the same for every count, and the same as on this thread. The workers load
   * the built `dist/xenpool-check-worker.mjs`. Not with `policies`: a policy is functions, which cannot
   * cross to another thread, so a check of your own policies runs on this thread.
   */
  readonly workers?: number
  /**
   * Called before each property and before each of its runs (a run past `runs` is a shrinking run).
   * With `workers`, several properties are under way at once and `run` counts a property's runs on
   * every worker together, told a few times a second.
   */
  readonly onProgress?: (property: string, run: number, runs: number) => void
  /**
   * Policies of your own to verify: every generated case's migrations use one of them instead of a
   * built-in, and the scenario properties (no lost write, memory conservation, termination within the
   * policy's own bound on rounds, …) hold them to the pool's invariants. Runs on this thread (not with
   * `workers`).
   */
  readonly policies?: ReadonlyArray<PolicyDefinition>
}

/**
 * Runs the property suite and returns each property's verdict; a failing property carries its seed,
 * path and shrunk counterexample in words. On this thread (synchronously, property after property),
 * or with `workers`, on that many worker processes (interruptible at any moment).
 *
 * @example
 * const report = yield* check({ runs: 200, seed: 42, workers: 2 })
 * report.properties.filter((p) => !p.ok).map((p) => p.counterexample)
 */
export const check = (options: CheckOptions = {}): Effect.Effect<CheckReport, XenpoolError> =>
  Effect.gen(function* () {
    yield* validate(options)
    const common = {
      runs: options.runs ?? 100,
      seed: options.seed ?? 1,
      ...(options.properties === undefined ? {} : { only: options.properties }),
      ...(options.path === undefined ? {} : { path: options.path }),
      ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress })
    }
    if (options.workers !== undefined) return yield* checkOnWorkers({ ...common, workers: options.workers })
    return runCheck({ ...common, ...(options.policies === undefined ? {} : { policies: options.policies }) }, () =>
      performance.now()
    )
  })

/** Refuses options `check` cannot run with, naming the one at fault. */
const validate = (options: CheckOptions): Effect.Effect<void, XenpoolError> =>
  Effect.gen(function* () {
    const runs = options.runs ?? 100
    if (!(Number.isSafeInteger(runs) && runs >= 1))
      return yield* new XenpoolError({ what: "bad runs", where: String(runs), expected: "an integer >= 1" })
    const seed = options.seed ?? 1
    if (!(Number.isSafeInteger(seed) && seed >= 0 && seed <= 2 ** 31 - 1))
      return yield* new XenpoolError({
        what: "bad seed",
        where: String(seed),
        expected: `an integer from 0 to ${2 ** 31 - 1}`
      })
    const unknown = (options.properties ?? []).find((name) => findProperty(name) === undefined)
    if (unknown !== undefined)
      return yield* new XenpoolError({
        what: "unknown property",
        where: unknown,
        expected: `one of ${propertyNames.join(", ")}`
      })
    if (options.policies !== undefined) {
      if (options.policies.length === 0)
        return yield* new XenpoolError({
          what: "no policies",
          where: "policies",
          expected: "at least one policy to verify"
        })
      yield* checkExtensions({ policies: options.policies })
    }
    if (options.path !== undefined && options.properties?.length !== 1)
      return yield* new XenpoolError({
        what: "a path needs the case it came from",
        where: options.path,
        expected: "exactly one property named, and the seed the failure report printed"
      })
    const workers = options.workers
    if (workers === undefined) return
    if (!(Number.isSafeInteger(workers) && workers >= 1 && workers <= CHECK_WORKERS_MAX))
      return yield* new XenpoolError({
        what: "bad workers",
        where: String(workers),
        expected: `an integer from 1 to ${CHECK_WORKERS_MAX}`
      })
    if (options.policies !== undefined)
      return yield* new XenpoolError({
        what: "policies run on this thread",
        where: `workers: ${workers}`,
        expected: "no workers with policies (a policy is functions, which cannot cross to a worker process)"
      })
  })

/** What was written for one failing property. */
export interface CounterexampleFiles {
  /** A trace whose replay gives the failing run's events. */
  readonly trace?: string
  /** Events of that run (and of the trace's replay). */
  readonly events?: number
  /** The scenario, written when there is no such trace. */
  readonly scenario?: string
  /** Why there is no trace, in words. */
  readonly note?: string
}

/** The cases of these properties are not scenarios, so they have no file: the seed and path replay them. */
const notScenarios: Readonly<Record<string, string>> = {
  "pool-model": "a sequence of single pool commands (fast-check's fc.commands), not a scenario",
  "evacuation-plan": "a generated pool state, not a scenario"
}

const counterexampleFiles = (
  p: CheckReport["properties"][number],
  directory: string
): CounterexampleFiles | undefined => {
  if (p.ok) return undefined
  if (p.scenario === undefined) {
    const kind = notScenarios[p.name] ?? "not a scenario"
    return { note: `no trace: the case is ${kind}; the reproduce line replays it` }
  }
  mkdirSync(directory, { recursive: true })
  const base = join(directory, `xenpool-check-${p.name}-${p.seed}`)
  const scenario = {
    ...p.scenario,
    name: `check ${p.name} seed ${p.seed}`,
    description: p.counterexample?.split("\n")[0]
  }
  const trace = counterexampleTrace(scenario, base)
  if (trace._tag === "Reproduces") {
    writeFileSync(`${base}.trace.jsonl`, trace.text)
    return { trace: `${base}.trace.jsonl`, events: trace.events }
  }
  writeFileSync(`${base}.json`, `${JSON.stringify(scenario, null, 2)}\n`)
  const why =
    trace._tag === "NotConvertible"
      ? `the scenario has no trace (${trace.error.path}: expected ${trace.error.expected})`
      : `its trace would not reproduce the run (${trace.difference})`
  return { scenario: `${base}.json`, note: `no trace: ${why}` }
}

/** Writes each failing property's case (a trace, else the scenario); returns what was written per property. */
/** Writes each failing property's case (a trace, else the scenario) into `directory`. */
export const writeCounterexamples = (
  report: CheckReport,
  directory: string
): ReadonlyMap<string, CounterexampleFiles> => {
  const files = new Map<string, CounterexampleFiles>()
  for (const p of report.properties) {
    const written = counterexampleFiles(p, directory)
    if (written !== undefined) files.set(p.name, written)
  }
  return files
}
