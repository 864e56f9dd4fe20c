/**
 * A named property: runnable alone with a run count, a seed and (to replay one case) a path, through
 * fast-check's runner; its result says how many runs it did and, on failure, the seed and path that
 * reproduce the shrunk counterexample, the counterexample in words and, for engine properties, the
 * scenario, which `xenpool check` writes as a trace that `xenpool replay` reproduces.
 */
import fc from "fast-check"
import type { ScenarioJson } from "./arbitraries.js"
import { describeScenario } from "./describe.js"
import type { PolicyDefinition } from "../engine/migration/policy.js"
import type { CaseEnv, Seams } from "./engineRun.js"

export interface PropertyOptions {
  readonly runs: number
  readonly seed: number
  /** Replays exactly the case at this path (from a failure report) instead of generating new ones. */
  readonly path?: string
  /**
   * Index of the first run (default 0): `runs` runs from there, each the very case it is in a run of
   * them all from 0, a failure shrunk and its path counted from run 0 (a range of a larger run, which
   * threads share: properties/runRanges.ts). Not with `path`.
   */
  readonly firstRun?: number
  /** Mutants (and only mutants) wrap the engine's seams. */
  readonly seams?: Seams
  /**
   * Policies of a user's own: each generated case's migrations use one of them (drawn with the case)
   * instead of a built-in, so the invariants are checked against them.
   */
  readonly policies?: ReadonlyArray<PolicyDefinition>
  /** Called before every run, shrinking runs included (progress display). */
  readonly onRun?: () => void
  /** false: stop at the first failure without shrinking it (the mutant test only asks whether). */
  readonly shrink?: boolean
}

export interface PropertyResult {
  readonly name: string
  /** Runs that passed before the first failure (or all of them). */
  readonly runs: number
  readonly ok: boolean
  readonly seed: number
  readonly path?: string
  /** The shrunk counterexample and what went wrong, in words. */
  readonly counterexample?: string
  /** The failing scenario (engine properties), written as a trace (properties/counterexample.ts). */
  readonly scenario?: ScenarioJson
}

export interface NamedProperty {
  readonly name: string
  /** One sentence: what the property states. */
  readonly statement: string
  readonly run: (options: PropertyOptions) => PropertyResult
}

/** A property's verdict on one case: a description of the violation, or undefined. */
export class PropertyViolation extends Error {
  override readonly name = "PropertyViolation"
}

/**
 * fast-check's parameters for a property run (a path replays one case, without shrinking further).
 * A first run past 0 is fast-check's path of that run alone: a path without `:` starts generating at
 * that index, with the cases a run from 0 would have drawn there, runs `numRuns` of them, shrinks a
 * failure, and reports its path counted from run 0 (fast-check's `RunExecution.mergePaths`).
 */
export const runnerParameters = <T>(
  options: PropertyOptions,
  path: string | undefined = options.path
): fc.Parameters<T> => {
  const firstRun = options.firstRun ?? 0
  if (!(Number.isSafeInteger(firstRun) && firstRun >= 0)) throw new Error(`bad first run ${firstRun}`)
  if (firstRun > 0 && path !== undefined) throw new Error(`a first run (${firstRun}) and a replay path (${path})`)
  return {
    numRuns: options.runs,
    seed: options.seed,
    ...(path === undefined ? {} : { path }),
    // Run 0 has no path, so that a whole run is the very call it was before ranges existed.
    ...(firstRun === 0 ? {} : { path: String(firstRun) }),
    ...(path !== undefined || options.shrink === false ? { endOnFailure: true } : {})
  }
}

const messageOf = (error: unknown): string =>
  error instanceof PropertyViolation
    ? error.message
    : error instanceof Error
      ? `${error.name}: ${error.message}`
      : String(error)

/**
 * A property over generated scenarios (plus whatever else the arbitrary draws alongside). `check`
 * returns a description of the violation or undefined.
 */
export const scenarioProperty = <Extra>(spec: {
  readonly name: string
  readonly statement: string
  readonly arbitrary: fc.Arbitrary<readonly [ScenarioJson, Extra]>
  readonly check: (scenario: ScenarioJson, extra: Extra, env: CaseEnv) => string | undefined
}): NamedProperty => ({
  name: spec.name,
  statement: spec.statement,
  run: (options) => {
    const env: CaseEnv = {
      seams: options.seams ?? {},
      ...(options.policies === undefined ? {} : { policies: options.policies })
    }
    const arbitrary = options.policies === undefined ? spec.arbitrary : withPolicies(spec.arbitrary, options.policies)
    const property = fc.property(arbitrary, ([scenario, extra]) => {
      options.onRun?.()
      const violation = spec.check(scenario, extra, env)
      if (violation !== undefined) throw new PropertyViolation(violation)
    })
    const details = fc.check(property, runnerParameters<[readonly [ScenarioJson, Extra]]>(options))
    if (!details.failed) return { name: spec.name, runs: details.numRuns, ok: true, seed: options.seed }
    const [scenario] = details.counterexample![0]
    return {
      name: spec.name,
      runs: details.numRuns,
      ok: false,
      seed: options.seed,
      ...(details.counterexamplePath === null ? {} : { path: details.counterexamplePath }),
      counterexample: `${messageOf(details.errorInstance)}\n${describeScenario(scenario)}`,
      scenario
    }
  }
})

/**
 * The cases of `arbitrary` with their policy replaced by one of `policies` (drawn with the case; a case
 * that ran the pure model keeps `phases: none`), for `check({ policies })`.
 */
const withPolicies = <Extra>(
  arbitrary: fc.Arbitrary<readonly [ScenarioJson, Extra]>,
  policies: ReadonlyArray<PolicyDefinition>
): fc.Arbitrary<readonly [ScenarioJson, Extra]> =>
  fc.tuple(arbitrary, fc.integer({ min: 0, max: policies.length - 1 })).map(([[scenario, extra], k]) => {
    const name = policies[k]!.name
    const pure = typeof scenario.policy === "object" && (scenario.policy as { phases?: string }).phases === "none"
    return [{ ...scenario, policy: pure ? { name, phases: "none" } : name }, extra] as const
  })

/** `[scenario, extra]` from two arbitraries. */
export const withExtra = <Extra>(
  scenario: fc.Arbitrary<ScenarioJson>,
  extra: fc.Arbitrary<Extra>
): fc.Arbitrary<readonly [ScenarioJson, Extra]> => fc.tuple(scenario, extra)

export const scenarioOnly = (scenario: fc.Arbitrary<ScenarioJson>) => withExtra(scenario, fc.constant(undefined))
