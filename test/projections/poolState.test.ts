/**
 * The pool-state projection read back through the store equals the engine's live state: one evolve,
 * two callers (DESIGN.md §4). Also at a revision in the middle, against a fold of the events up to it.
 */
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { foldEvents } from "../../domain/evolve.js"
import { poolStreamName } from "../../domain/ids.js"
import { hostList, initialState, migrationList, vmList, type PoolState } from "../../domain/state.js"
import { poolState } from "../../projections/poolState.js"
import { EventStore, ExpectedRevision } from "../../store/EventStore.js"
import { layerMemory } from "../../store/memory.js"
import { compileFile, run } from "../engine/harness.js"

/** A state as plain, ordered data, for comparison. */
const plain = (s: PoolState) => ({
  pool: s.pool,
  atUs: s.atUs,
  hosts: hostList(s),
  vms: vmList(s),
  migrations: migrationList(s)
})

describe("poolState", () => {
  it("folded from the store equals the engine's live state, at the end and at a middle revision", async () => {
    const scenario = compileFile("rolling-maintenance")
    const { events, result } = run(scenario)
    const middle = Math.floor(events.length / 2)
    const [atEnd, atMiddle] = await Effect.runPromise(
      Effect.gen(function* () {
        const store = yield* EventStore
        yield* store.append(poolStreamName(scenario.pool), events, ExpectedRevision.noStream)
        return [yield* poolState(scenario.pool), yield* poolState(scenario.pool, { toRevision: middle })] as const
      }).pipe(Effect.provide(layerMemory))
    )
    expect(atEnd.revision).toBe(events.length - 1)
    expect(plain(atEnd.state)).toEqual(plain(result.state))
    expect(atMiddle.revision).toBe(middle)
    const expected = foldEvents(
      initialState,
      events.slice(0, middle + 1).map((e) => e.event)
    )
    expect(plain(atMiddle.state)).toEqual(plain(expected))
    expect(plain(atMiddle.state)).not.toEqual(plain(result.state))
  })

  it("applying the same events twice from the initial state gives the same state (the projection is a function of the log)", () => {
    const { events } = run(compileFile("host-failure-during-evacuation"))
    const once = foldEvents(
      initialState,
      events.map((e) => e.event)
    )
    const again = foldEvents(
      initialState,
      events.map((e) => e.event)
    )
    expect(plain(again)).toEqual(plain(once))
  })

  it("an unknown pool folds to the empty state at revision -1", async () => {
    const folded = await Effect.runPromise(poolState("nope" as never).pipe(Effect.provide(layerMemory)))
    expect(folded.revision).toBe(-1)
    expect(plain(folded.state)).toEqual(plain(initialState))
  })
})
