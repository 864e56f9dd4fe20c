/**
 * Every named property, a modest number of runs each, with the fixed seeds and the commit's seed
 * (printed). `xenpool check` is where the thousands run. A failure prints the property's seed, path and
 * shrunk counterexample.
 */
import { describe, expect, it } from "vitest"
import { properties, propertyNames } from "../../properties/index.js"
import { describeSeeds, MUTATION_RUN, SEEDS } from "./seeds.js"

/** Runs per seed: cheaper properties run more. */
const RUNS: Readonly<Record<string, number>> = {
  "pool-model": 60,
  "evacuation-plan": 40,
  determinism: 20,
  "replay-equivalence": 30,
  "memory-conservation": 50,
  residency: 50,
  "atomic-migration": 50,
  "migration-accounting": 50,
  "no-lost-writes": 40,
  "termination-bounds": 50,
  paging: 30,
  "time-travel": 30,
  "swarm-liveness": 50,
  "ha-failover": 60,
  resume: 40,
  "continue-equals-run": 40,
  "fork-equals-parent": 40
}

const seeds = MUTATION_RUN ? SEEDS.slice(0, 1) : SEEDS

describe("the property suite", () => {
  it("every property has a run count here, and prints its seeds", () => {
    console.log(describeSeeds())
    expect([...propertyNames].sort()).toEqual(Object.keys(RUNS).sort())
  })

  for (const property of properties) {
    describe(property.name, () => {
      for (const seed of seeds) {
        it(`holds (seed ${seed})`, () => {
          const runs = MUTATION_RUN ? Math.max(3, Math.ceil(RUNS[property.name]! / 10)) : RUNS[property.name]!
          const result = property.run({ runs, seed })
          const report = `${property.name} failed with seed ${seed}, path ${result.path}\n${result.counterexample}`
          expect(result.ok, report).toBe(true)
          expect(result.runs).toBe(runs)
        })
      }
    })
  }
})
