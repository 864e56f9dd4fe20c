/**
 * A named property: runnable alone with a run count, a seed and (to replay one case) a path, through
 * fast-check's runner; its result says how many runs it did and, on failure, the seed and path that
 * reproduce the shrunk counterexample, the counterexample in words and, for engine properties, the
 * scenario, which `xenpool check` writes as a trace that `xenpool replay` reproduces.
 */
import fc from "fast-check"
import type { ScenarioJson } from "./arbitraries.js"
import { describeScenario } from "./describe.js"
import type { Seams } from "./engineRun.js"

export interface PropertyOptions {
  readonly runs: number
  readonly seed: number
  /** Replays exactly the case at this path (from a failure report) instead of generating new ones. */
  readonly path?: string
  /** Mutants (and only mutants) wrap the engine's seams. */
  readonly seams?: Seams
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

/** fast-check's parameters for a property run (a path replays one case, without shrinking further). */
export const runnerParameters = <T>(
  options: PropertyOptions,
  path: string | undefined = options.path
): fc.Parameters<T> => ({
  numRuns: options.runs,
  seed: options.seed,
  ...(path === undefined ? {} : { path }),
  ...(path !== undefined || options.shrink === false ? { endOnFailure: true } : {})
})

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
  readonly check: (scenario: ScenarioJson, extra: Extra, seams: Seams) => string | undefined
}): NamedProperty => ({
  name: spec.name,
  statement: spec.statement,
  run: (options) => {
    const property = fc.property(spec.arbitrary, ([scenario, extra]) => {
      options.onRun?.()
      const violation = spec.check(scenario, extra, options.seams ?? {})
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

/** `[scenario, extra]` from two arbitraries. */
export const withExtra = <Extra>(
  scenario: fc.Arbitrary<ScenarioJson>,
  extra: fc.Arbitrary<Extra>
): fc.Arbitrary<readonly [ScenarioJson, Extra]> => fc.tuple(scenario, extra)

export const scenarioOnly = (scenario: fc.Arbitrary<ScenarioJson>) => withExtra(scenario, fc.constant(undefined))
