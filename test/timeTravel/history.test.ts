/**
 * Histories and diffs on a known run (rolling maintenance of a 4-host pool, through the engine with
 * every invariant checked): each VM change and each host point is what the fold says at its revision,
 * nothing visible changes between two host points, the migrations are the run summary's, and a diff
 * sees the evacuation. Diffs of generated histories are consistent both ways.
 */
import { Effect } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import type { PoolEvent } from "../../domain/events.js"
import { evolve } from "../../domain/evolve.js"
import { hostId, poolId, poolStreamName, vmId } from "../../domain/ids.js"
import { getHost, getVm, hostList, initialState, vmList, type PoolState } from "../../domain/state.js"
import { diff, diffStates } from "../../projections/diff.js"
import { hostHistory, vmHistory, type HostPoint } from "../../projections/history.js"
import { hostSummaries } from "../../projections/summary.js"
import { UnknownPool } from "../../projections/timeTravel.js"
import { EventStore, ExpectedRevision } from "../../store/EventStore.js"
import type { SnapshotStore } from "../../store/SnapshotStore.js"
import { compileFile, run } from "../engine/harness.js"
import { buildHistory, foldThrough, historyArb, memoryWithSnapshotsEvery } from "./helpers.js"

const scenario = compileFile("rolling-maintenance")
const { events: emitted, migrations } = run(scenario)
const log: ReadonlyArray<PoolEvent> = emitted.map((e) => e.event)
const pool = scenario.pool

/** The state after every revision, in order. */
const states: ReadonlyArray<PoolState> = log.reduce<PoolState[]>((acc, event) => {
  acc.push(evolve(acc[acc.length - 1] ?? initialState, event))
  return acc
}, [])

const inStore = <A, E>(body: Effect.Effect<A, E, EventStore | SnapshotStore>) =>
  Effect.runSync(
    Effect.gen(function* () {
      yield* (yield* EventStore).append(poolStreamName(pool), emitted, ExpectedRevision.noStream)
      return yield* body
    }).pipe(Effect.provide(memoryWithSnapshotsEvery(25)))
  )

describe("VM history", () => {
  const histories = inStore(Effect.forEach(vmList(states[states.length - 1]!), (vm) => vmHistory(pool, vm.id)))

  it("has every placement and power change of each VM, as the fold has the VM after it", () => {
    for (const history of histories) {
      const own = log.flatMap((event, revision) => ("vm" in event && event.vm === history.vm ? [revision] : []))
      expect(history.changes.map((c) => c.revision)).toStrictEqual(
        own.filter(
          (r) =>
            ![
              "VmMigrationRoundCompleted",
              "VmMigrationPhaseCompleted",
              "VmMigrationRoundInterrupted",
              "VmMigrationStopAndCopyStarted"
            ].includes(log[r]!._tag)
        )
      )
      for (const change of history.changes) {
        const vm = getVm(states[change.revision]!, history.vm)!
        expect([change.atUs, change.powerState, change.residentOn, change.domid]).toStrictEqual([
          log[change.revision]!.atUs,
          vm.powerState,
          vm.residentOn,
          vm.domid
        ])
      }
      expect(history.changes[0]!.kind).toBe("created")
    }
  })

  it("has the VM's migrations with rounds, times and downtime, as the run summary has them", () => {
    for (const history of histories)
      expect(history.migrations).toStrictEqual(migrations.filter((m) => m.vm === history.vm))
    const migrated = histories.find((h) => h.migrations.length > 0)!
    const commit = migrated.changes.find((c) => c.kind === "migrated")!
    expect(commit.detail).toMatch(/rounds.*downtime/)
    expect(commit.host).toBe(migrated.migrations[0]!.to)
  })

  it("of a VM the pool never had: no changes", () => {
    expect(inStore(vmHistory(pool, vmId("web-99"))).changes).toStrictEqual([])
  })
})

describe("host history", () => {
  const hosts = hostList(states[states.length - 1]!).map((h) => h.id)
  const histories = inStore(Effect.forEach(hosts, (host) => hostHistory(pool, host)))

  const figures = (state: PoolState, host: string) => {
    const summary = hostSummaries(state).find((h) => h.id === host)!
    const record = getHost(state, hostId(host))!
    const vms = vmList(state)
    return {
      enabled: summary.enabled,
      live: summary.live,
      memoryFreePages: summary.memoryFreePages,
      memoryPlacementFreePages: summary.memoryPlacementFreePages,
      memoryReservedPages: summary.memoryReservedPages,
      memoryUsedPages: record.memoryOverheadPages + record.residentPages,
      vms: summary.vms,
      incoming: vms.filter((v) => v.scheduledToBeResidentOn === host).map((v) => v.id)
    }
  }
  const pointFigures = (p: HostPoint) => ({
    enabled: p.enabled,
    live: p.live,
    memoryFreePages: p.memoryFreePages,
    memoryPlacementFreePages: p.memoryPlacementFreePages,
    memoryReservedPages: p.memoryReservedPages,
    memoryUsedPages: p.memoryUsedPages,
    vms: p.vms,
    incoming: p.incoming
  })

  it("at every revision from the host's joining, the last point at or before it is what the fold says", () => {
    for (const history of histories) {
      let next = 0
      let current: HostPoint | undefined
      states.forEach((state, revision) => {
        while (next < history.points.length && history.points[next]!.revision <= revision)
          current = history.points[next++]
        if (getHost(state, history.host) === undefined) return expect(current).toBeUndefined()
        expect(pointFigures(current!)).toStrictEqual(figures(state, history.host))
      })
      expect(history.points[0]!.event).toBe("HostJoined")
    }
  })

  it("the evacuated host empties, is disabled, and comes back enabled", () => {
    const h1 = histories.find((h) => h.host === "h1")!
    const disabled = h1.points.find((p) => !p.enabled)!
    expect(disabled.event).toBe("HostDisabled")
    const emptied = h1.points.find((p) => p.revision > disabled.revision && p.vms.length === 0)!
    expect(emptied.memoryUsedPages).toBe(getHost(states[0 + emptied.revision]!, hostId("h1"))!.memoryOverheadPages)
    expect(h1.points.some((p) => p.revision > emptied.revision && p.enabled)).toBe(true)
  })

  it("of an unknown pool is an error", () => {
    const error = Effect.runSync(
      Effect.flip(hostHistory(poolId("nope"), hostId("h1"))).pipe(Effect.provide(memoryWithSnapshotsEvery(5)))
    )
    expect(error).toBeInstanceOf(UnknownPool)
  })
})

describe("diff", () => {
  it("sees h1's evacuation: its VMs moved elsewhere, h1 disabled with its memory freed", () => {
    const disabledAt = log.findIndex((e) => e._tag === "HostDisabled" && e.host === "h1")
    const emptiedAt = states.findIndex((s, r) => r > disabledAt && !vmList(s).some((v) => v.residentOn === "h1"))
    const result = inStore(diff(pool, { revision: disabledAt - 1 }, { revision: emptiedAt }))
    const wasOnH1 = vmList(states[disabledAt - 1]!)
      .filter((v) => v.residentOn === "h1")
      .map((v) => v.id)
    expect(result.vmsMoved.map((m) => m.vm)).toStrictEqual(wasOnH1)
    for (const move of result.vmsMoved) {
      expect(move.from).toBe("h1")
      expect(getVm(states[emptiedAt]!, move.vm)!.residentOn).toBe(move.to)
    }
    const h1 = result.hostsChanged.find((h) => h.host === "h1")!
    expect(h1.changed).toEqual(expect.arrayContaining(["enabled", "memoryFreePages", "vms"]))
    expect([h1.before!.enabled, h1.after!.enabled]).toStrictEqual([true, false])
    expect(h1.vmsLeft).toStrictEqual(wasOnH1)
    expect([result.vmsStarted, result.vmsStopped, result.vmsCreated, result.vmsDestroyed]).toStrictEqual([
      [],
      [],
      [],
      []
    ])
  })

  it("from the empty pool to the end: everything created and started", () => {
    const result = inStore(diff(pool, { revision: -1 }, { atUs: Number.MAX_SAFE_INTEGER }))
    const final = states[states.length - 1]!
    expect(result.from.bound).toBe("before-first")
    expect(result.to.bound).toBe("after-last")
    expect(result.vmsCreated).toStrictEqual(vmList(final).map((v) => v.id))
    expect(result.vmsStarted.map((s) => s.vm)).toStrictEqual(vmList(final).map((v) => v.id))
    expect(result.hostsChanged.map((h) => [h.host, h.before])).toStrictEqual(
      hostList(final).map((h) => [h.id, undefined])
    )
  })

  it("is empty from a point to itself, and the same changes the other way round (generated histories)", () => {
    fc.assert(
      fc.property(historyArb(), fc.nat(), fc.nat(), (draw, i, j) => {
        const events = buildHistory(draw)
        const a = foldThrough(events, i % events.length)
        const b = foldThrough(events, j % events.length)
        const same = diffStates(a, a)
        expect(Object.values(same).every((list) => list.length === 0)).toBe(true)
        const forth = diffStates(a, b)
        const back = diffStates(b, a)
        expect(back.vmsMoved).toStrictEqual(forth.vmsMoved.map((m) => ({ vm: m.vm, from: m.to, to: m.from })))
        expect(back.vmsStopped.map((s) => [s.vm, s.host])).toStrictEqual(forth.vmsStarted.map((s) => [s.vm, s.host]))
        expect(back.vmsDestroyed).toStrictEqual(forth.vmsCreated)
        expect(back.hostsChanged.map((h) => [h.host, h.changed])).toStrictEqual(
          forth.hostsChanged.map((h) => [h.host, h.changed])
        )
      }),
      { numRuns: 100 }
    )
  })
})
