/**
 * The property suite: every named property, runnable alone, and the runner `xenpool check` and the
 * tests use. Paging properties (legal page-state edges, resident + paged = populated, the paged count
 * surviving a migration) join once paging exists; see docs/properties.md.
 */
import { engineProperties } from "./engineProperties.js"
import { evacuationPlan } from "./evacuation.js"
import { haFailover } from "./ha.js"
import { poolModel } from "./poolModel.js"
import type { NamedProperty, PropertyOptions, PropertyResult } from "./property.js"
import { swarmLiveness } from "./swarm.js"
import { resumeProperties } from "./resume.js"

export type { NamedProperty } from "./property.js"
export { mutants } from "./mutants.js"

export const properties: ReadonlyArray<NamedProperty> = [
  poolModel,
  evacuationPlan,
  ...engineProperties,
  swarmLiveness,
  haFailover,
  ...resumeProperties
]

export const propertyNames: ReadonlyArray<string> = properties.map((p) => p.name)

export const findProperty = (name: string): NamedProperty | undefined => properties.find((p) => p.name === name)

export interface CheckOptions {
  readonly runs: number
  readonly seed: number
  /** Only these properties (default: all). */
  readonly only?: ReadonlyArray<string>
  /** Replay one case (with `only` naming one property). */
  readonly path?: string
  readonly seams?: PropertyOptions["seams"]
  /** Policies of a user's own that the scenario properties' migrations use instead of the built-ins. */
  readonly policies?: PropertyOptions["policies"]
  /** Called before each property and before each of its runs. */
  readonly onProgress?: (property: string, run: number, runs: number) => void
}

export interface CheckReport {
  readonly seed: number
  readonly runs: number
  readonly properties: ReadonlyArray<PropertyResult & { readonly elapsedMs: number }>
}

/** Runs the selected properties one after another, each with the same root seed. */
export const runCheck = (options: CheckOptions, clockMs: () => number): CheckReport => {
  const selected = options.only ? properties.filter((p) => options.only!.includes(p.name)) : properties
  const results = selected.map((property) => {
    let run = 0
    options.onProgress?.(property.name, 0, options.runs)
    const started = clockMs()
    const result = property.run({
      runs: options.runs,
      seed: options.seed,
      ...(options.path === undefined ? {} : { path: options.path }),
      ...(options.seams === undefined ? {} : { seams: options.seams }),
      ...(options.policies === undefined ? {} : { policies: options.policies }),
      onRun: () => options.onProgress?.(property.name, ++run, options.runs)
    })
    return { ...result, elapsedMs: clockMs() - started }
  })
  return { seed: options.seed, runs: options.runs, properties: results }
}
