/**
 * `evolve`: total, pure (the same events folded twice give the same state, and folding never changes an
 * earlier state), and its running host-memory sums agree with numbers computed by hand.
 */
import { describe, expect, it } from "vitest"
import * as E from "../../domain/events.js"
import { hostId, migrationId, vmId } from "../../domain/ids.js"
import { hostPhysicalFreePages, hostPlacementFreePages } from "../../domain/memory.js"
import { evolve } from "../../domain/evolve.js"
import { checkInvariants } from "../../domain/invariants.js"
import { getHost, getVm, initialState, type PoolState } from "../../domain/state.js"
import {
  andThen,
  cmd,
  expectInvariantsHold,
  fold,
  h1,
  h2,
  h3,
  m1,
  m2,
  migrationToPointOfNoReturn,
  plainState,
  smallPool,
  T,
  vm1,
  vm2,
  vm3
} from "./spec.js"

const host = (state: PoolState, id: typeof h1) => getHost(state, id)!

/** Same state but for the clock, which every event moves. */
const expectUnchanged = (before: PoolState, event: E.PoolEvent) => {
  const after = evolve(before, event)
  expect(plainState(after), event._tag).toEqual(plainState({ ...before, atUs: event.atUs }))
}

describe("evolve is total: an event about an unknown entity leaves the state as it was", () => {
  const state = fold(smallPool({ vms: [{ id: vm1, startOn: h1 }, vm2] }))
  const ghostHost = hostId("ghost-host")
  const ghostVm = vmId("ghost-vm")
  const ghostMigration = migrationId("ghost-migration")
  const atUs = T

  const unknownOnly: ReadonlyArray<E.PoolEvent> = [
    new E.HostEnabled({ atUs, host: ghostHost }),
    new E.HostDisabled({ atUs, host: ghostHost }),
    new E.HostFailed({ atUs, host: ghostHost }),
    new E.HostRecovered({ atUs, host: ghostHost }),
    new E.VmStarted({ atUs, vm: ghostVm, host: h1, domid: 5, paused: false }),
    new E.VmPaused({ atUs, vm: ghostVm }),
    new E.VmUnpaused({ atUs, vm: ghostVm }),
    new E.VmSuspended({ atUs, vm: ghostVm }),
    new E.VmResumed({ atUs, vm: ghostVm, host: h1, domid: 5 }),
    new E.VmShutdown({ atUs, vm: ghostVm, mode: "hard" }),
    new E.VmDestroyed({ atUs, vm: ghostVm }),
    new E.VmMemoryTargetSet({ atUs, vm: ghostVm, targetPages: 10 }),
    new E.VmMigrationStarted({
      atUs,
      migration: ghostMigration,
      vm: ghostVm,
      source: h1,
      destination: h2,
      policy: "xen-v2",
      reservedPages: 10
    }),
    new E.VmMigrationRoundCompleted({
      atUs,
      migration: ghostMigration,
      vm: vm1,
      round: 1,
      live: true,
      pagesSent: 1,
      pagesSkipped: 0,
      bytesSent: 4096,
      pagesDirtied: 0,
      durationUs: 1
    }),
    new E.VmMigrationStopAndCopyStarted({ atUs, migration: ghostMigration, vm: vm1, reason: "x" }),
    new E.VmMigrationCommitted({
      atUs,
      migration: ghostMigration,
      vm: vm1,
      source: h1,
      destination: h2,
      domid: 1,
      rounds: 1,
      pagesSent: 1,
      bytesSent: 4096,
      downtimeUs: 1,
      totalUs: 2
    }),
    new E.VmMigrationAborted({ atUs, migration: ghostMigration, vm: vm1, reason: "x" }),
    new E.VmPagesPagedOut({ atUs, vm: ghostVm, pages: 1 }),
    new E.VmPagesPagedIn({ atUs, vm: ghostVm, pages: 1 }),
    new E.VmPageFaultsServed({ atUs, vm: ghostVm, faults: 1, vcpuWaitUs: 1 })
  ]

  it.each(unknownOnly.map((e) => [e._tag, e] as const))("%s naming an unknown id", (_tag, event) => {
    expectUnchanged(state, event)
  })

  // A known VM sent to a host that does not exist: the event is about an unknown entity all the same.
  const knownVmUnknownHost: ReadonlyArray<E.PoolEvent> = [
    new E.VmStarted({ atUs, vm: vm2, host: ghostHost, domid: 1, paused: false }),
    new E.VmResumed({ atUs, vm: vm2, host: ghostHost, domid: 1 }),
    new E.VmMigrationStarted({
      atUs,
      migration: m1,
      vm: vm1,
      source: h1,
      destination: ghostHost,
      policy: "xen-v2",
      reservedPages: 210
    })
  ]

  it.each(knownVmUnknownHost.map((e) => [e._tag, e] as const))(
    "%s of a known VM onto an unknown host",
    (_tag, event) => {
      expectUnchanged(state, event)
    }
  )

  // evolve.ts: "an event about an unknown entity leaves the state as it was; the invariants report such a log"
  it.each(knownVmUnknownHost.map((e) => [e._tag, e] as const))(
    "%s onto an unknown host: left out, or at least reported by an invariant",
    (_tag, event) => {
      const after = evolve(state, event)
      const changed = JSON.stringify(plainState(after)) !== JSON.stringify(plainState({ ...state, atUs: event.atUs }))
      if (changed) expect(checkInvariants(after).length, "a changed state is reported").toBeGreaterThan(0)
    }
  )

  it("evolve never throws on an empty state, whatever the event", () => {
    for (const event of [...unknownOnly, ...knownVmUnknownHost]) expectUnchanged(initialState, event)
  })
})

/** start, migrate + commit, migrate + abort, suspend, shutdown: the sequence the accounting specs follow. */
const vms = [
  // placement 200 + 10 = 210, physical 200 + 10 = 210
  { id: vm1, targetPages: 200, overheadPages: 10 },
  // placement 100 + 20 = 120, physical 300 + 20 = 320
  { id: vm2, dynamicMinPages: 100, targetPages: 300, dynamicMaxPages: 400, overheadPages: 20 },
  // placement = physical = 150 + 5 = 155
  { id: vm3, targetPages: 150, overheadPages: 5 }
]
const pool = smallPool({ hosts: [h1, h2, h3], vms })
const started = andThen(pool, cmd.start(vm1, h1, 10_000), cmd.start(vm2, h1, 11_000), cmd.start(vm3, h2, 12_000))
const migrating = andThen(started, cmd.migrate(m1, vm2, h2, 20_000))
const committed = andThen(
  migrating,
  ...migrationToPointOfNoReturn(m1, vm2, h2, 20_000).slice(1),
  cmd.commit(m1, 20_400)
)
const abortMigrating = andThen(committed, cmd.migrate(m2, vm1, h3, 30_000), cmd.round(m2, 1, 30_100))
const aborted = andThen(abortMigrating, cmd.abort(m2, 30_200))
const suspended = andThen(aborted, cmd.suspend(vm2, 40_000))
const shutdown = andThen(suspended, cmd.shutdown(vm3, "clean", 50_000))
const sequence = shutdown

describe("projections fold the same way every time", () => {
  it("folding the same events twice gives equal states", () => {
    expect(plainState(fold(sequence))).toEqual(plainState(fold(sequence)))
  })

  it("every intermediate state of a fold is left as it was by later events and by a second fold", () => {
    const states: PoolState[] = []
    const frozen: string[] = []
    let state = initialState
    for (const event of sequence) {
      state = evolve(state, event)
      states.push(state)
      frozen.push(JSON.stringify(plainState(state)))
    }
    const again = fold(sequence)
    expect(states.map((s) => JSON.stringify(plainState(s)))).toEqual(frozen)
    expect(JSON.stringify(plainState(again))).toBe(frozen[frozen.length - 1])
  })

  it("a fold resumed from an intermediate state equals the fold from the start", () => {
    const half = Math.floor(sequence.length / 2)
    expect(plainState(fold(sequence.slice(half), fold(sequence.slice(0, half))))).toEqual(plainState(fold(sequence)))
  })

  it("the state's clock is the last event's time", () => {
    expect(fold(sequence).atUs).toBe(50_000)
  })

  it("the first host to join is the master", () => {
    expect(fold(pool).pool).toEqual({ id: "p1", pageSizeBytes: 4096, linkLatencyUs: 100, master: h1 })
  })
})

describe("host memory sums match hand-computed numbers", () => {
  /** [resident, reserved, placement] per host; each host has 1000 - 100 = 900 pages for guests. */
  const sums = (events: ReadonlyArray<E.PoolEvent>) => {
    const state = fold(events)
    expectInvariantsHold(state, "in the accounting sequence")
    return [h1, h2, h3].map((id) => {
      const h = host(state, id)
      return [h.residentPages, h.reservedPages, h.placementPages]
    })
  }

  it.each([
    [
      "created: nothing on any host",
      pool,
      [
        [0, 0, 0],
        [0, 0, 0],
        [0, 0, 0]
      ]
    ],
    [
      "started vm1, vm2 on h1 and vm3 on h2",
      started,
      [
        [210 + 320, 0, 210 + 120],
        [155, 0, 155],
        [0, 0, 0]
      ]
    ],
    [
      "vm2 migrating h1 → h2: counted on both",
      migrating,
      [
        [530, 0, 330],
        [155, 320, 155 + 120],
        [0, 0, 0]
      ]
    ],
    [
      "committed: vm2 only on h2",
      committed,
      [
        [210, 0, 210],
        [155 + 320, 0, 275],
        [0, 0, 0]
      ]
    ],
    [
      "vm1 migrating h1 → h3",
      abortMigrating,
      [
        [210, 0, 210],
        [475, 0, 275],
        [0, 210, 210]
      ]
    ],
    [
      "aborted: vm1 only on h1",
      aborted,
      [
        [210, 0, 210],
        [475, 0, 275],
        [0, 0, 0]
      ]
    ],
    [
      "vm2 suspended",
      suspended,
      [
        [210, 0, 210],
        [155, 0, 155],
        [0, 0, 0]
      ]
    ],
    [
      "vm3 shut down",
      shutdown,
      [
        [210, 0, 210],
        [0, 0, 0],
        [0, 0, 0]
      ]
    ]
  ] as const)("%s", (_step, events, expected) => {
    expect(sums(events)).toEqual(expected)
  })

  it("free memory follows: physical counts populated pages and reservations, placement counts dynamic_min", () => {
    const state = fold(migrating)
    expect(hostPhysicalFreePages(host(state, h1))).toBe(900 - 530)
    expect(hostPlacementFreePages(host(state, h1))).toBe(900 - 330)
    expect(hostPhysicalFreePages(host(state, h2))).toBe(900 - 155 - 320)
    expect(hostPlacementFreePages(host(state, h2))).toBe(900 - 275)
  })

  it("paging out frees the host's physical memory, paging in takes it back; placement does not move", () => {
    const pagedOut = [...started, new E.VmPagesPagedOut({ atUs: 60_000, vm: vm2, pages: 50 })]
    expect(sums(pagedOut)[0]).toEqual([530 - 50, 0, 330])
    expect(getVm(fold(pagedOut), vm2)).toMatchObject({ populatedPages: 250, pagedOutPages: 50 })
    const pagedIn = [...pagedOut, new E.VmPagesPagedIn({ atUs: 61_000, vm: vm2, pages: 20 })]
    expect(sums(pagedIn)[0]).toEqual([530 - 30, 0, 330])
    expect(getVm(fold(pagedIn), vm2)).toMatchObject({ populatedPages: 270, pagedOutPages: 30 })
  })

  it("paging counts belong to a domain: a VM started again after a shutdown has its target populated, nothing paged out", () => {
    // XEN.md §5: paged pages are a domain's p2m entries; destroying the domain drops them
    const restarted = andThen(
      [...started, new E.VmPagesPagedOut({ atUs: 60_000, vm: vm2, pages: 50 })],
      cmd.shutdown(vm2, "clean", 61_000),
      cmd.start(vm2, h1, 62_000)
    )
    expect(getVm(fold(restarted), vm2)).toMatchObject({ populatedPages: 300, pagedOutPages: 0 })
    expect(sums(restarted)[0]).toEqual([530, 0, 330])
  })

  it("a target change moves the host's physical use by the difference, one balloon step at a time", () => {
    // since ballooning: the target moves at once, the populated pages follow the balloon's steps
    const resized = andThen(started, cmd.setTarget(vm2, 350, 60_000))
    expect(sums(resized)[0]).toEqual([530, 0, 330])
    const stepped = [
      ...resized,
      new E.VmBalloonDeflated({ atUs: 60_010, vm: vm2, pages: 30 }),
      new E.VmBalloonDeflated({ atUs: 60_020, vm: vm2, pages: 20 })
    ]
    expect(sums(stepped.slice(0, -1))[0]).toEqual([530 + 30, 0, 330])
    expect(sums(stepped)[0]).toEqual([530 + 50, 0, 330])
    expect(getVm(fold(stepped), vm2)).toMatchObject({ guestPages: 350, populatedPages: 350 })
  })
})

describe("an abort leaves the source's accounting exactly as before the migration", () => {
  const before = fold(committed)

  it.each([
    ["right after the reservation", [cmd.migrate(m2, vm1, h3, 30_000)]],
    ["after two live rounds", [cmd.migrate(m2, vm1, h3, 30_000), cmd.round(m2, 1, 30_100), cmd.round(m2, 2, 30_150)]],
    ["during stop-and-copy", [cmd.migrate(m2, vm1, h3, 30_000), cmd.round(m2, 1, 30_100), cmd.stopAndCopy(m2, 30_150)]]
  ])("%s", (_when, steps) => {
    const after = fold(andThen(committed, ...steps, cmd.abort(m2, 30_200)))
    expect(host(after, h1)).toEqual(host(before, h1))
    expect(host(after, h3)).toEqual(host(before, h3))
    expect(getVm(after, vm1)).toEqual(getVm(before, vm1))
    expect(plainState(after)).toEqual(plainState({ ...before, atUs: 30_200 }))
  })
})
