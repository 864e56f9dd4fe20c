/**
 * A property suite that never fails proves nothing. Each targeted mutant (a realistic bug injected
 * through the engine's seams: the transfer factory and its dirty tracker and policy, the pager's page
 * states, the decide function, the event sink) must be caught by each property named for it within a
 * bounded number of runs, with a fixed seed, so the check is deterministic.
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { scenarioArb } from "../../properties/arbitraries.js"
import { runEngine } from "../../properties/engineRun.js"
import { findProperty, mutants } from "../../properties/index.js"
import { monitorLog, pageMoveObserver, pagingMonitor } from "../../properties/oracles.js"

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

  it("page-in-from-paged escapes the engine's own checks: only the paging checker's move table sees it", () => {
    const mutant = mutants.find((m) => m.name === "page-in-from-paged")!
    const scenarios = fc.sample(scenarioArb({ faults: ["paging"], pageOutFirst: true }), { seed: SEED, numRuns: 40 })
    let seen = 0
    for (const scenario of scenarios) {
      const plain = runEngine(scenario, { seams: mutant.seams })
      expect(plain.defect, "the engine's edge assertion fired: the mutant would be caught for free").toBeUndefined()
      expect(monitorLog(plain.emitted, [pagingMonitor()], true)).toBeUndefined()
      const moves: string[] = []
      runEngine(scenario, { seams: mutant.seams, observePageStates: pageMoveObserver(moves) })
      if (moves.length > 0) seen++
    }
    expect(seen, "the mutant never paged a page in within these scenarios").toBeGreaterThan(0)
    console.log(`page-in-from-paged: ${seen} of ${scenarios.length} scenarios make an illegal move, no defect`)
  })

  it("the unmutated engine passes the same runs (the catches are the mutants')", () => {
    for (const name of new Set(mutants.flatMap((m) => m.caughtBy))) {
      const result = findProperty(name)!.run({ runs: 30, seed: SEED })
      expect(result.ok, `${name}: ${result.counterexample}`).toBe(true)
    }
  })
})
