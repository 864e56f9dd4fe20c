/**
 * What a user adds to xenpool's built-ins for one run: their own pre-copy policies, consolidation
 * controllers and placements. A scenario names one by its `name`; a user's value with the
 * name of a built-in is refused rather than silently shadowing it.
 */
import { consolidationControllers, type ConsolidationController } from "../engine/consolidation/index.js"
import { policies as builtInPolicies } from "../engine/migration/policies/index.js"
import type { PolicyDefinition } from "../engine/migration/policy.js"
import { placements as builtInPlacements, type Placement } from "../domain/placement/index.js"

export interface Extensions {
  /** Pre-copy policies a scenario may name (`policy`), besides the built-ins. */
  readonly policies?: ReadonlyArray<PolicyDefinition>
  /** Consolidation controllers a scenario's `consolidate` operation may name with `controller`. */
  readonly consolidationControllers?: ReadonlyArray<ConsolidationController>
  /** Placements a scenario's or trace header's `placement` may name, besides `xapi-default`. */
  readonly placements?: ReadonlyArray<Placement>
}

/** Every controller a run may use: the built-ins, then the user's. */
export const allControllers = (extensions: Extensions = {}): ReadonlyArray<ConsolidationController> => [
  ...consolidationControllers,
  ...(extensions.consolidationControllers ?? [])
]

/** A name given twice (a user's extension named like a built-in, or two of theirs), or undefined. */
export const duplicateName = (extensions: Extensions = {}): string | undefined => {
  const seen = new Set<string>()
  for (const c of allControllers(extensions)) {
    if (seen.has(c.name)) return `consolidation controller ${c.name}`
    seen.add(c.name)
  }
  const policyNames = new Set<string>()
  for (const p of [...builtInPolicies, ...(extensions.policies ?? [])]) {
    if (policyNames.has(p.name)) return `policy ${p.name}`
    policyNames.add(p.name)
  }
  const placementNames = new Set<string>()
  for (const p of [...builtInPlacements, ...(extensions.placements ?? [])]) {
    if (placementNames.has(p.name)) return `placement ${p.name}`
    placementNames.add(p.name)
  }
  return undefined
}
