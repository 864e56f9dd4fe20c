/**
 * The trie walk that finds what changed between two versions of a persistent map
 * (projections/hashMapDiff.ts) gives exactly what comparing the whole maps gives: the same changed
 * values in the same order (the new map's) and the same gone keys in the same order (the old map's),
 * for maps derived from each other by sets, removals and batches of both, small and large.
 */
import { HashMap } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { hashMapChanges } from "../../projections/hashMapDiff.js"
import { wholeMapChanges } from "../../projections/snapshotCodec.js"

interface Entity {
  readonly id: string
  readonly n: number
}

type Step =
  | { readonly _tag: "set"; readonly key: number }
  | { readonly _tag: "remove"; readonly key: number }
  | { readonly _tag: "batch"; readonly keys: ReadonlyArray<number>; readonly removing: boolean }

const stepArb = (keysMax: number): fc.Arbitrary<Step> =>
  fc.oneof(
    fc.record({ _tag: fc.constant("set" as const), key: fc.nat(keysMax) }),
    fc.record({ _tag: fc.constant("remove" as const), key: fc.nat(keysMax) }),
    fc.record({
      _tag: fc.constant("batch" as const),
      keys: fc.array(fc.nat(keysMax), { maxLength: 40 }),
      removing: fc.boolean()
    })
  )

let serial = 0
const entity = (key: number): Entity => ({ id: `vm${key}`, n: serial++ })

const apply = (map: HashMap.HashMap<string, Entity>, step: Step): HashMap.HashMap<string, Entity> => {
  switch (step._tag) {
    case "set":
      return HashMap.set(map, `vm${step.key}`, entity(step.key))
    case "remove":
      return HashMap.remove(map, `vm${step.key}`)
    case "batch":
      return HashMap.mutate(map, (m) => {
        for (const key of step.keys)
          if (step.removing && key % 2 === 0) HashMap.remove(m, `vm${key}`)
          else HashMap.set(m, `vm${key}`, entity(key))
      })
  }
}

const checkSteps = (start: HashMap.HashMap<string, Entity>, steps: ReadonlyArray<Step>) => {
  let before = start
  for (const step of steps) {
    const after = apply(before, step)
    const walked = hashMapChanges(before, after)
    expect(walked).toBeDefined()
    expect(walked).toEqual(wholeMapChanges(before, after))
    // Also between versions several steps apart, and backwards.
    expect(hashMapChanges(after, start)).toEqual(wholeMapChanges(after, start))
    before = after
  }
}

const mapOf = (size: number) => HashMap.fromIterable(Array.from({ length: size }, (_, i) => [`vm${i}`, entity(i)]))

describe("hashMapChanges", () => {
  it("equals the whole-map comparison on small maps (a property)", () => {
    fc.assert(
      fc.property(fc.nat(40), fc.array(stepArb(60), { maxLength: 30 }), (size, steps) => checkSteps(mapOf(size), steps))
    )
  })

  it("equals the whole-map comparison on large maps, where the tries are several levels deep (a property)", () => {
    const start = mapOf(5_000)
    fc.assert(
      fc.property(fc.array(stepArb(6_000), { maxLength: 12 }), (steps) => checkSteps(start, steps)),
      { numRuns: 15 }
    )
  })

  it("finds nothing between a map and itself, and everything from or to the empty map", () => {
    const map = mapOf(5_000)
    expect(hashMapChanges(map, map)).toEqual({ changed: [], gone: [] })
    expect(hashMapChanges(HashMap.empty(), map)).toEqual({ changed: Array.from(HashMap.values(map)), gone: [] })
    expect(hashMapChanges(map, HashMap.empty())).toEqual({ changed: [], gone: Array.from(HashMap.keys(map)) })
  })

  it("gives up (undefined) on a map whose layout it does not know, rather than guess", () => {
    const notATrie = { _root: { _tag: "SomethingElse" } } as unknown as HashMap.HashMap<string, Entity>
    expect(hashMapChanges(mapOf(3), notATrie)).toBeUndefined()
    expect(hashMapChanges({} as HashMap.HashMap<string, Entity>, mapOf(3))).toBeUndefined()
  })
})
