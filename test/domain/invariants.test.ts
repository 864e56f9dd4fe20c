/**
 * Each invariant of invariants.ts passes on good states and catches a hand-made state that breaks it,
 * and only it: the state is built so that every other invariant still holds.
 */
import { HashMap } from "effect"
import { describe, expect, it } from "vitest"
import * as E from "../../domain/events.js"
import { hostId, type HostId, type VmId } from "../../domain/ids.js"
import * as Invariants from "../../domain/invariants.js"
import { checkInvariants, invariants, type Invariant } from "../../domain/invariants.js"
import type { Host, Migration, PoolState, Vm } from "../../domain/state.js"
import { andThen, cmd, fold, h1, h2, m1, migrationToPointOfNoReturn, smallPool, vm1, vm2, vm3 } from "./spec.js"

const withVm = (state: PoolState, id: VmId, change: Partial<Vm>): PoolState => {
  expect(HashMap.has(state.vms, id)).toBe(true)
  return { ...state, vms: HashMap.modify(state.vms, id, (vm) => ({ ...vm, ...change })) }
}
const withHost = (state: PoolState, id: HostId, change: (host: Host) => Partial<Host>): PoolState => {
  expect(HashMap.has(state.hosts, id)).toBe(true)
  return { ...state, hosts: HashMap.modify(state.hosts, id, (host) => ({ ...host, ...change(host) })) }
}
const withMigration = (state: PoolState, id: Migration["id"], change: Partial<Migration>): PoolState => {
  expect(HashMap.has(state.migrations, id)).toBe(true)
  return { ...state, migrations: HashMap.modify(state.migrations, id, (m) => ({ ...m, ...change })) }
}

/**
 * A good state with a bit of everything: vm1 running on h1 and migrating to h2, vm2 running on h1,
 * vm3 halted. Accounting: h1 resident 420, placement 420; h2 reserved 210, placement 210.
 */
const goodEvents = andThen(
  smallPool({ vms: [{ id: vm1, startOn: h1 }, { id: vm2, startOn: h1 }, vm3] }),
  cmd.migrate(m1, vm1, h2, 500_000),
  cmd.round(m1, 1, 500_100)
)
const good = fold(goodEvents)

describe("good states pass every invariant", () => {
  it.each([
    ["a pool with nothing running", smallPool({ vms: [vm1] })],
    ["VMs running, one migrating", goodEvents],
    [
      "past the point of no return",
      andThen(smallPool({ vms: [{ id: vm1, startOn: h1 }] }), ...migrationToPointOfNoReturn(m1, vm1, h2, 500_000))
    ],
    [
      "after a commit, a suspend and a host failure",
      andThen(
        goodEvents,
        cmd.stopAndCopy(m1, 500_200),
        cmd.round(m1, 2, 500_300, false),
        cmd.commit(m1, 500_400),
        cmd.suspend(vm2, 500_500),
        cmd.host("FailHost", h2, 500_600)
      )
    ]
  ])("%s", (_name, events) => {
    const state = fold(events)
    for (const invariant of invariants) expect(invariant.check(state), invariant.name).toBeUndefined()
    expect(checkInvariants(state)).toEqual([])
  })
})

interface Breakage {
  readonly how: string
  readonly state: PoolState
  /** A phrase the violation's description must contain. */
  readonly detail: string
}

/** vm1 resident on h1 with 100 of its 200 pages paged out: physical 110, placement 210. */
const pagedOut = fold([
  ...smallPool({ vms: [{ id: vm1, startOn: h1 }] }),
  new E.VmPagesPagedOut({ atUs: 500_000, vm: vm1, pages: 100 })
])

const breakages: Record<string, ReadonlyArray<Breakage>> = {
  hostMemoryNotOvercommitted: [
    {
      how: "physical free below zero: h1 shrinks to 300 pages (200 for guests) under 420 resident",
      state: withHost(good, h1, () => ({ memoryTotalPages: 300 })),
      detail: "host h1: physical free is -220 pages"
    },
    {
      how: "placement over the guest pages while physical fits (vm1 paged out, h1 shrunk to 300 pages)",
      state: withHost(pagedOut, h1, () => ({ memoryTotalPages: 300 })),
      detail: "host h1: placement sum 210 > 200 pages"
    }
  ],
  hostAccountingMatchesVms: [
    {
      how: "h1's resident sum one page short",
      state: withHost(good, h1, (h) => ({ residentPages: h.residentPages - 1 })),
      detail: "host h1: resident 419 pages, VMs say 420"
    },
    {
      how: "h2's reservation one page over",
      state: withHost(good, h2, (h) => ({ reservedPages: h.reservedPages + 1 })),
      detail: "host h2: reserved 211 pages, migrations say 210"
    },
    {
      how: "h2's placement sum forgets the incoming VM",
      state: withHost(good, h2, () => ({ placementPages: 0 })),
      detail: "host h2: placement 0 pages, VMs say 210"
    }
  ],
  runningVmResidentOnExactlyOneHost: [
    {
      how: "a Running VM resident nowhere",
      state: withVm(good, vm3, { powerState: "Running" }),
      detail: "VM vm3 is Running but resident nowhere"
    },
    {
      how: "a Paused VM resident on a host that is not in the pool",
      state: withVm(good, vm3, { powerState: "Paused", residentOn: hostId("h9"), domid: 1 }),
      detail: "VM vm3 is resident on unknown host h9"
    },
    {
      how: "a domid the host has not handed out yet",
      state: withVm(good, vm2, { domid: 7 }),
      detail: "VM vm2 has domid 7 on h1"
    },
    {
      how: "a Running VM without a domain",
      state: withVm(good, vm2, { domid: -1 }),
      detail: "VM vm2 has domid -1 on h1"
    }
  ],
  haltedVmResidentNowhere: [
    {
      how: "a Halted VM that kept its domid",
      state: withVm(good, vm3, { domid: 4 }),
      detail: "VM vm3 is Halted but resident_on=undefined scheduled=undefined domid=4"
    },
    {
      how: "a Suspended VM still scheduled on a host",
      state: withVm(good, vm3, { powerState: "Suspended", scheduledToBeResidentOn: h2 }),
      detail: "VM vm3 is Suspended but resident_on=undefined scheduled=h2"
    }
  ],
  memoryConstraintsHold: [
    {
      // a running VM: a Halted one's guest pages are its target, so ballooningWithinLimits would object too
      how: "a target above dynamic_max",
      state: withVm(good, vm2, {
        memory: { staticMinPages: 0, dynamicMinPages: 200, targetPages: 401, dynamicMaxPages: 400, staticMaxPages: 512 }
      }),
      detail: "VM vm2: target (401 pages) > dynamicMax (400 pages)"
    },
    {
      how: "static_min above dynamic_min",
      state: withVm(good, vm3, {
        memory: {
          staticMinPages: 201,
          dynamicMinPages: 200,
          targetPages: 200,
          dynamicMaxPages: 400,
          staticMaxPages: 512
        }
      }),
      detail: "VM vm3: staticMin (201 pages) > dynamicMin (200 pages)"
    }
  ],
  atMostOneOperationInProgress: [
    {
      how: "an operation in progress without its migration",
      state: withVm(good, vm3, { currentOperation: "snapshot" }),
      detail: "VM vm3: operation snapshot vs migration undefined"
    },
    {
      how: "a VM naming another VM's migration",
      state: withVm(good, vm3, { currentOperation: "pool_migrate", migration: m1 }),
      detail: "VM vm3 names migration m1, which is not its own"
    }
  ],
  migratingVmCountedOnBothHosts: [
    {
      how: "a migrating VM no longer scheduled on the destination",
      state: withVm(good, vm1, { scheduledToBeResidentOn: undefined }),
      detail: "migration m1: VM vm1 resident_on=h1 scheduled=undefined, expected h1 → h2"
    },
    {
      how: "a migration whose source is not where the VM runs",
      state: withMigration(good, m1, { source: h2 }),
      detail: "migration m1: VM vm1 resident_on=h1 scheduled=h2, expected h2 → h2"
    },
    {
      how: "a migrating VM whose operation is not pool_migrate",
      state: withVm(good, vm1, { currentOperation: "snapshot" }),
      detail: "migration m1: VM vm1 operation snapshot"
    }
  ],
  domidsUniquePerHost: [
    {
      how: "two domains with domid 1 on h1",
      state: withVm(good, vm2, { domid: 1 }),
      detail: "domid 1 used twice on host h1"
    }
  ],
  vmPagesAccounted: [
    {
      how: "populated + paged out one page short of the guest's pages",
      state: withVm(pagedOut, vm1, { pagedOutPages: 99 }),
      detail: "VM vm1: populated 100 + paged out 99 ≠ guest 200 pages"
    },
    {
      how: "a Halted VM that kept paged-out pages",
      state: withVm(good, vm3, { populatedPages: 195, pagedOutPages: 5 }),
      detail: "VM vm3 has no domain but guest 200 (target 200), paged out 5"
    },
    {
      how: "a paging target above static max",
      state: withVm(good, vm2, { pagingTargetPages: 513 }),
      detail: "VM vm2: paging target 513 > static max 512 pages"
    }
  ],
  ballooningWithinLimits: [
    {
      // the range moves under the guest; h1's placement sum follows the new dynamic_min
      how: "a guest below dynamic_min",
      state: withHost(
        withVm(good, vm2, {
          memory: {
            staticMinPages: 0,
            dynamicMinPages: 250,
            targetPages: 250,
            dynamicMaxPages: 400,
            staticMaxPages: 512
          }
        }),
        h1,
        (h) => ({ placementPages: h.placementPages + 50 })
      ),
      detail: "VM vm2: guest 200 pages outside [250, 400]"
    },
    {
      how: "a guest above dynamic_max",
      state: withHost(
        withVm(good, vm2, {
          memory: {
            staticMinPages: 0,
            dynamicMinPages: 100,
            targetPages: 150,
            dynamicMaxPages: 150,
            staticMaxPages: 512
          }
        }),
        h1,
        (h) => ({ placementPages: h.placementPages - 100 })
      ),
      detail: "VM vm2: guest 200 pages outside [100, 150]"
    }
  ]
}

describe("each invariant catches a state that breaks it, and only it", () => {
  it("every exported invariant is in `invariants` and has breakages here", () => {
    const exported = Object.values(Invariants).filter(
      (value): value is Invariant =>
        typeof value === "object" &&
        value !== null &&
        "name" in value &&
        "check" in value &&
        typeof value.check === "function"
    )
    expect(exported.map((i) => i.name).sort()).toEqual(invariants.map((i) => i.name).sort())
    expect(Object.keys(breakages).sort()).toEqual(invariants.map((i) => i.name).sort())
  })

  describe.each(invariants.map((i) => [i.name, i] as const))("%s", (name, invariant) => {
    it("passes on the good state", () => {
      expect(invariant.check(good)).toBeUndefined()
    })

    it.each((breakages[name] ?? []).map((b) => [b.how, b] as const))("catches %s", (_how, breakage) => {
      const detail = invariant.check(breakage.state)
      expect(detail).toBeDefined()
      expect(detail).toContain(breakage.detail)
      expect(checkInvariants(breakage.state)).toEqual([{ invariant: name, detail }])
    })
  })
})

it("the hand-made states are built from a good one (none of the breakages is in it)", () => {
  expect(checkInvariants(good)).toEqual([])
  expect(checkInvariants(pagedOut)).toEqual([])
  expect(HashMap.size(good.migrations)).toBe(1)
})
