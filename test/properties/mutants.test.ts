/**
 * A property suite that never fails proves nothing. Each targeted mutant (a realistic bug injected
 * through the engine's seams: the transfer factory and its dirty tracker and policy, the decide
 * function, the event sink) must be caught by each property named for it within a bounded number of
 * runs, with a fixed seed, so the check is deterministic.
 */
import { describe, expect, it } from "vitest"
import { findProperty, mutants } from "../../properties/index.js"

/** A mutant not caught within this many runs counts as missed. */
export const RUNS_TO_CATCH_MAX = 200
const SEED = 1

describe("targeted mutants", () => {
  it("every property a mutant names exists", () => {
    for (const m of mutants) for (const name of m.caughtBy) expect(findProperty(name), name).toBeDefined()
  })

  for (const mutant of mutants) {
    for (const name of mutant.caughtBy) {
      it(`${name} catches ${mutant.name}: ${mutant.bug}`, () => {
        const result = findProperty(name)!.run({
          runs: RUNS_TO_CATCH_MAX,
          seed: SEED,
          seams: mutant.seams,
          shrink: false
        })
        expect(result.ok, `${name} missed ${mutant.name} in ${RUNS_TO_CATCH_MAX} runs`).toBe(false)
        console.log(`${mutant.name}: caught by ${name} at run ${result.runs}`)
      })
    }
  }

  it("the unmutated engine passes the same runs (the catches are the mutants')", () => {
    for (const name of new Set(mutants.flatMap((m) => m.caughtBy))) {
      const result = findProperty(name)!.run({ runs: 30, seed: SEED })
      expect(result.ok, `${name}: ${result.counterexample}`).toBe(true)
    }
  })
})
