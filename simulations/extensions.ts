/**
 * What a user adds to xenpool's built-ins for one run: their own pre-copy policies, consolidation
 * controllers, placements and page writers. A scenario names one by its `name`; a user's value with the
 * name of a built-in is refused rather than silently shadowing it.
 */
import { consolidationControllers, type ConsolidationController } from "../engine/consolidation/index.js"
import { policies as builtInPolicies } from "../engine/migration/policies/index.js"
import type { PolicyDefinition } from "../engine/migration/policy.js"
import { writers as builtInWriters, type WriterDefinition } from "../engine/migration/writers.js"
import { placements as builtInPlacements, type Placement } from "../domain/placement/index.js"

export interface Extensions {
  /** Pre-copy policies a scenario may name (`policy`), besides the built-ins. */
  readonly policies?: ReadonlyArray<PolicyDefinition>
  /** Consolidation controllers a scenario's `consolidate` operation may name with `controller`. */
  readonly consolidationControllers?: ReadonlyArray<ConsolidationController>
  /** Placements a scenario's or trace header's `placement` may name, besides `xapi-default`. */
  readonly placements?: ReadonlyArray<Placement>
  /** Page writers a `pages` workload's `writer` may name, besides `uniform` and `hot-cold`. */
  readonly writers?: ReadonlyArray<WriterDefinition>
}

/** Every controller a run may use: the built-ins, then the user's. */
export const allControllers = (extensions: Extensions = {}): ReadonlyArray<ConsolidationController> => [
  ...consolidationControllers,
  ...(extensions.consolidationControllers ?? [])
]

/** A name given twice (a user's extension named like a built-in, or two of theirs), or undefined. */
export const duplicateName = (extensions: Extensions = {}): string | undefined =>
  firstRepeat("consolidation controller", allControllers(extensions)) ??
  firstRepeat("policy", [...builtInPolicies, ...(extensions.policies ?? [])]) ??
  firstRepeat("placement", [...builtInPlacements, ...(extensions.placements ?? [])]) ??
  firstRepeat("page writer", [...builtInWriters, ...(extensions.writers ?? [])])

/** `kind name` of the first name given twice in `list`, or undefined. */
const firstRepeat = (kind: string, list: ReadonlyArray<{ readonly name: string }>): string | undefined => {
  const seen = new Set<string>()
  for (const { name } of list) {
    if (seen.has(name)) return `${kind} ${name}`
    seen.add(name)
  }
  return undefined
}

/** What a field naming an extension expected, when its name is none of `known`: one wording for every kind. */
export const expectedOneOf = (kind: string, known: ReadonlyArray<string>, name: string): string =>
  `one of ${known.join(", ")} (a ${kind} of your own is registered through the API), got '${name}'`
