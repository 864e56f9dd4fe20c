/**
 * The tables evolve's rules write to, other than persistent maps: the live pool the engine changes in
 * place, and the overlay decide evolves on. Each must give the state `evolve` gives, and a state handed
 * out must never change afterwards. Their indexes (the VMs by resident host, the hosts in id order and
 * by room) must answer what a scan of the persistent state answers: the same VMs, the same host chosen.
 */
import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import fc from "fast-check"
import { decide } from "../../domain/decide.js"
import { evolve, evolveInPlace } from "../../domain/evolve.js"
import type { PoolEvent } from "../../domain/events.js"
import { hostId, type HostId } from "../../domain/ids.js"
import { chooseHost, xapiDefault, type Placement } from "../../domain/placement/index.js"
import {
  getHost,
  getMigration,
  getVm,
  hostList,
  initialState,
  migrationList,
  persistentState,
  vmList,
  vmsResidentOn,
  type PoolRead,
  type PoolState
} from "../../domain/state.js"
import { LivePool, OverlayPool } from "../../domain/tables.js"
import { andThen, cmd, h1, h2, h3, m1, m2, migrationToPointOfNoReturn, smallPool, T, vm1, vm2, vm3 } from "./spec.js"
import { buildHistory, historyArb, plain } from "../timeTravel/helpers.js"

/** The residents by the definition, a scan of every VM of the persistent state: what an index must agree with. */
const residentsByScan = (state: PoolState, host: HostId) => vmList(state).filter((vm) => vm.residentOn === host)

/** xapi-default as a user's placement would be: `choose` over every host that passes the checks, no index. */
const checkingEveryHost: Placement = {
  name: xapiDefault.name,
  summary: xapiDefault.summary,
  choose: xapiDefault.choose
}

/** The host chosen for each VM of `want` under each rule: from `pool`'s index, and by checking every host. */
const expectChoicesAgree = (pool: PoolRead, want: PoolState, when: string) => {
  const chosen = (e: ReturnType<typeof chooseHost>) => (Either.isRight(e) ? e.right.id : e.left.message)
  for (const vm of vmList(want))
    for (const rule of ["boot", "placement"] as const)
      expect(chosen(chooseHost(pool, vm, xapiDefault, rule)), `host for ${vm.id} (${rule}) ${when}`).toBe(
        chosen(chooseHost(want, vm, checkingEveryHost, rule))
      )
}

/** A host no event names: nothing is resident there. */
const nowhere = hostId("no-such-host")

/** `vmsResidentOn` of `pool` against the scan of `want`, for each of want's hosts and one it lacks. */
const expectResidentsAgree = (pool: PoolRead, want: PoolState, when: string) => {
  for (const host of [...hostList(want).map((h) => h.id), nowhere])
    expect(vmsResidentOn(pool, host), `VMs resident on ${host} ${when}`).toStrictEqual(residentsByScan(want, host))
}

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
          expectResidentsAgree(live, want, `after event ${i} (${event._tag})`)
          // the room index is brought up to date when asked: after one change or after several
          if (i % every === 0) expectChoicesAgree(live, want, `after event ${i} (${event._tag})`)
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

  it("indexes the VMs of a state it starts from as it indexes those its events bring (a property)", () => {
    fc.assert(
      fc.property(historyArb(), fc.nat(), (draw, split) => {
        const events = buildHistory(draw)
        const expected = foldWithEvolve(events)
        const cut = split % events.length
        const live = new LivePool(expected[cut]!)
        expectResidentsAgree(live, expected[cut]!, `from the state after event ${cut}`)
        for (let i = cut + 1; i < events.length; i++) {
          evolveInPlace(live, events[i]!)
          expectResidentsAgree(live, expected[i]!, `after event ${i} (${events[i]!._tag})`)
        }
      }),
      { numRuns: 40 }
    )
  })

  it("keeps its index of residents through creates, starts, a committed and an aborted migration, a shutdown, a host failure and a destroy", () => {
    const setup = smallPool({ hosts: [h1, h2, h3], vms: [{ id: vm1, startOn: h1 }, { id: vm2, startOn: h1 }, vm3] })
    const events: ReadonlyArray<PoolEvent> = andThen(
      setup,
      cmd.start(vm3, h2, T),
      ...migrationToPointOfNoReturn(m1, vm1, h2, 2 * T),
      cmd.commit(m1, 3 * T),
      cmd.migrate(m2, vm2, h3, 4 * T),
      cmd.round(m2, 1, 4 * T + 100),
      cmd.abort(m2, 5 * T),
      cmd.shutdown(vm3, "clean", 6 * T),
      cmd.start(vm3, h1, 7 * T),
      cmd.host("FailHost", h1, 8 * T),
      cmd.destroy(vm2, 9 * T)
    )
    const tags = new Set(events.map((e) => e._tag))
    for (const tag of [
      "VmCreated",
      "VmStarted",
      "VmMigrationCommitted",
      "VmMigrationAborted",
      "VmShutdown",
      "HostFailed",
      "VmDestroyed"
    ])
      expect(tags, "the history has each kind of change").toContain(tag)
    const live = new LivePool(initialState)
    let want = initialState
    events.forEach((event, i) => {
      evolveInPlace(live, event)
      want = evolve(want, event)
      expectResidentsAgree(live, want, `after event ${i} (${event._tag})`)
    })
    // by hand: vm1 moved to h2, vm2 stayed on h1 until h1 failed and was destroyed, vm3 halted with h1
    expect(vmsResidentOn(live, h2).map((vm) => vm.id)).toStrictEqual([vm1])
    expect(vmsResidentOn(live, h1)).toStrictEqual([])
    expect(vmsResidentOn(live, h3)).toStrictEqual([])
  })

  it("hands out its hosts in id order as a copy a later change leaves alone, a host joining later included", () => {
    const events = smallPool({ hosts: [h3, h1], vms: [vm1] })
    const live = new LivePool(initialState)
    for (const event of events) evolveInPlace(live, event)
    const before = hostList(live)
    expect(before.map((h) => h.id)).toStrictEqual([h1, h3])
    const later = andThen(events, cmd.host("DisableHost", h3, T), {
      _tag: "JoinHost",
      atUs: 2 * T,
      host: h2,
      memoryTotalPages: 1000,
      memoryOverheadPages: 100,
      nicBandwidthBytesPerS: 125_000_000,
      cpus: 8
    }).slice(events.length)
    evolveInPlace(live, later[0]!)
    expect(hostList(live).map((h) => [h.id, h.enabled])).toStrictEqual([
      [h1, true],
      [h3, false]
    ])
    expect(
      before.map((h) => [h.id, h.enabled]),
      "the array handed out before"
    ).toStrictEqual([
      [h1, true],
      [h3, true]
    ])
    evolveInPlace(live, later[1]!)
    expect(hostList(live).map((h) => h.id)).toStrictEqual([h1, h2, h3])
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
        expectResidentsAgree(overlay, want, "on the overlay")
        expectChoicesAgree(overlay, want, "on the overlay")
        // decide's overlay over the engine's live pool: the base's index, the overlay's changes on top
        const liveBase = new LivePool(base)
        const overLive = new OverlayPool(liveBase)
        for (const event of rest) evolveInPlace(overLive, event)
        expectResidentsAgree(overLive, want, "on the overlay over a live pool")
        expectChoicesAgree(overLive, want, "on the overlay over a live pool")
        expectResidentsAgree(liveBase, base, "on the live pool under the overlay")
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
