/**
 * The tables evolve's rules write to, other than persistent maps: the live pool the engine changes in
 * place, and the overlay decide evolves on. Each must give the state `evolve` gives, and a state handed
 * out must never change afterwards.
 */
import { describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import { decide } from "../../domain/decide.js"
import { evolve, evolveInPlace } from "../../domain/evolve.js"
import { hostId } from "../../domain/ids.js"
import {
  getHost,
  getMigration,
  getVm,
  hostList,
  initialState,
  migrationList,
  persistentState,
  vmList,
  type PoolState
} from "../../domain/state.js"
import { LivePool, OverlayPool } from "../../domain/tables.js"
import { buildHistory, historyArb, plain } from "../timeTravel/helpers.js"

const foldWithEvolve = (events: ReadonlyArray<Parameters<typeof evolve>[1]>): PoolState[] => {
  const states: PoolState[] = []
  let state = initialState
  for (const event of events) states.push((state = evolve(state, event)))
  return states
}

describe("LivePool", () => {
  it("reads and hands out the state evolve gives, at any cadence, and a state handed out never changes (a property)", () => {
    fc.assert(
      fc.property(historyArb(), fc.integer({ min: 1, max: 20 }), (draw, every) => {
        const events = buildHistory(draw)
        const expected = foldWithEvolve(events)
        const live = new LivePool(initialState)
        const handedOut: Array<{ readonly index: number; readonly state: PoolState; readonly copy: unknown }> = []
        events.forEach((event, i) => {
          evolveInPlace(live, event)
          const want = expected[i]!
          // the view reads what the persistent state holds
          expect(hostList(live)).toStrictEqual(hostList(want))
          expect(vmList(live)).toStrictEqual(vmList(want))
          expect(migrationList(live)).toStrictEqual(migrationList(want))
          expect(live.pool).toStrictEqual(want.pool)
          if (i % every === 0) {
            const state = persistentState(live)
            expect(plain(state)).toStrictEqual(plain(want))
            handedOut.push({ index: i, state, copy: plain(state) })
          }
        })
        for (const { state, copy } of handedOut) expect(plain(state)).toStrictEqual(copy)
        expect(plain(live.toPoolState())).toStrictEqual(plain(expected[expected.length - 1]!))
      }),
      { numRuns: 60 }
    )
  })

  it("hands out the same object while nothing changed", () => {
    const live = new LivePool(initialState)
    expect(live.toPoolState()).toBe(initialState)
    const events = buildHistory({ hosts: 2, vms: 2, steps: [] })
    for (const event of events) evolveInPlace(live, event)
    const first = live.toPoolState()
    expect(live.toPoolState()).toBe(first)
  })
})

describe("OverlayPool", () => {
  it("reads the base with the overlay's events on top, leaves the base as it was, and converts to evolve's state (a property)", () => {
    fc.assert(
      fc.property(historyArb(), fc.nat(), (draw, split) => {
        const events = buildHistory(draw)
        const cut = split % (events.length + 1)
        const base = events.slice(0, cut).reduce(evolve, initialState)
        const before = plain(base)
        const overlay = new OverlayPool(base)
        const rest = events.slice(cut)
        for (const event of rest) evolveInPlace(overlay, event)
        const want = rest.reduce(evolve, base)
        expect(plain(base)).toStrictEqual(before)
        expect(plain(overlay.toPoolState())).toStrictEqual(plain(want))
        expect(hostList(overlay)).toStrictEqual(hostList(want))
        expect(vmList(overlay)).toStrictEqual(vmList(want))
        expect(migrationList(overlay)).toStrictEqual(migrationList(want))
        for (const vm of vmList(base)) expect(getVm(overlay, vm.id)).toStrictEqual(getVm(want, vm.id))
        for (const host of hostList(base)) expect(getHost(overlay, host.id)).toStrictEqual(getHost(want, host.id))
        for (const m of migrationList(base)) expect(getMigration(overlay, m.id)).toStrictEqual(getMigration(want, m.id))
      }),
      { numRuns: 60 }
    )
  })
})

describe("decide on a live pool", () => {
  it("decides what it decides on the persistent state, host failures included (a property)", () => {
    fc.assert(
      fc.property(historyArb(), (draw) => {
        const events = buildHistory(draw)
        const live = new LivePool(initialState)
        let state = initialState
        for (const event of events) {
          evolveInPlace(live, event)
          state = evolve(state, event)
          for (const host of hostList(state)) {
            const command = { _tag: "FailHost", atUs: state.atUs, host: hostId(host.id) } as const
            expect(decide(live, command)).toStrictEqual(decide(state, command))
          }
        }
      }),
      { numRuns: 30 }
    )
  })
})
