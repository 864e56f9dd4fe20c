/**
 * XAPI's HA planner (domain/ha.ts) and the decisions it guards: given a small pool, when an operation
 * comes, then the plan's state and the refusals are XAPI's (ocaml/xapi/xapi_ha_vm_failover.ml,
 * ocaml/xapi/binpack.ml; docs/ha.md).
 */
import { Either } from "effect"
import { describe, expect, it } from "vitest"
import type { PoolCommand } from "../../domain/commands.js"
import { decide } from "../../domain/decide.js"
import type { PoolEvent } from "../../domain/events.js"
import {
  biggestFitDecreasing,
  chooseHeuristic,
  computeRestartPlan,
  maxFailuresToTolerate,
  planForNFailures,
  vmHaPages,
  xapiPlanner
} from "../../domain/ha.js"
import { hostId, migrationId, vmId, type HostId, type VmId } from "../../domain/ids.js"
import { getVm, type PoolState } from "../../domain/state.js"
import { andThen, fold, smallPool, T } from "../domain/spec.js"

const h1 = hostId("h1")
const h2 = hostId("h2")
const h3 = hostId("h3")
const [a, b, c, d] = ["a", "b", "c", "d"].map(vmId) as [VmId, VmId, VmId, VmId]

const protect = (vm: VmId, order = 0, atUs = T / 8): PoolCommand => ({
  _tag: "SetVmHa",
  atUs,
  vm,
  restartPriority: "restart",
  order,
  alwaysRun: true
})
const enableHa = (ntol: number, atUs = T / 4): PoolCommand => ({ _tag: "EnableHa", atUs, hostFailuresToTolerate: ntol })

/**
 * Hosts of 1000 pages (100 of overhead: 900 for guests); each VM has static max 512 and overhead 10
 * (test/domain/spec.ts), so the planner counts 522 pages a VM: one per host.
 */
const pool = (
  hosts: ReadonlyArray<HostId>,
  vms: ReadonlyArray<{ id: VmId; on?: HostId; staticMaxPages?: number; overheadPages?: number }>
) =>
  smallPool({
    hosts: [...hosts],
    vms: vms.map((vm) => ({
      id: vm.id,
      ...(vm.on === undefined ? {} : { startOn: vm.on }),
      ...(vm.staticMaxPages === undefined
        ? {}
        : { staticMaxPages: vm.staticMaxPages, dynamicMaxPages: Math.min(400, vm.staticMaxPages) }),
      ...(vm.overheadPages === undefined ? {} : { overheadPages: vm.overheadPages })
    }))
  })

const decided = (events: ReadonlyArray<PoolEvent>, command: PoolCommand) => decide(fold(events), command)

describe("binpack.ml", () => {
  it("biggest fit decreasing: the largest VM into the roomiest host; a VM the roomiest cannot take is left out", () => {
    const plan = biggestFitDecreasing(
      [
        [a, 300],
        [b, 500],
        [c, 200],
        [d, 900]
      ],
      [
        { host: h1, freePages: 600 },
        { host: h2, freePages: 700 }
      ]
    )
    // b (500) → h2 (700 → 200); a (300) → h1 (600 → 300); c (200) → h1 (300 → 100); d fits nowhere
    expect(new Map(plan)).toEqual(
      new Map([
        [b, h2],
        [a, h1],
        [c, h1]
      ])
    )
  })

  it("choose_heuristic: exhaustive while C(n, r) × r! < 3500 and n ≤ 32, else the approximation", () => {
    expect(chooseHeuristic(16, 3)).toBe("exhaustive") // 16·15·14 = 3360
    expect(chooseHeuristic(16, 4)).toBe("approximate") // 43680
    expect(chooseHeuristic(32, 2)).toBe("exhaustive") // 992
    expect(chooseHeuristic(33, 1)).toBe("approximate")
  })
})

describe("plan_for_n_failures", () => {
  it("one protected VM that every other host can take: a plan for 1 failure, not for 2 of 2 hosts", () => {
    const state = fold(andThen(pool([h1, h2], [{ id: a, on: h1 }]), protect(a)))
    expect(planForNFailures(state, 0)).toBe(true)
    expect(planForNFailures(state, 1)).toBe(true)
    expect(planForNFailures(state, 2)).toBe(false) // plan_trivially_never_possible: as many failures as hosts
    expect(maxFailuresToTolerate(state)).toBe(1)
  })

  it("counts static max + overhead, not dynamic min: two 522-page VMs do not fit a 900-page host", () => {
    const state = fold(
      andThen(
        pool(
          [h1, h2, h3],
          [
            { id: a, on: h1 },
            { id: b, on: h2 }
          ]
        ),
        protect(a),
        protect(b)
      )
    )
    expect(vmHaPages(getVm(state, a)!)).toBe(522)
    // h3 takes one; when h3 and another fail, nothing is left for the other two: 1 failure yes, 2 no
    expect(planForNFailures(state, 1)).toBe(true)
    expect(planForNFailures(state, 2)).toBe(false)
    // without the overhead (a mutant's view) 512 + 512 > 900 still: it is the binpacking that says no
    expect(planForNFailures(state, 2, {}, { ...xapiPlanner, vmPages: (vm) => vm.memory.staticMaxPages })).toBe(false)
  })

  it("the overhead decides: a VM of 445 + 10 pages is planned for only if the overhead is forgotten", () => {
    // a (445 + 10) protected on h1, c (445 + 10) on h2: h2 has 900 − 455 = 445 left, a needs 455: no plan
    // for 1 failure; forgetting the overhead, a needs 445 and h2 has 455
    const state = fold(
      andThen(
        pool(
          [h1, h2],
          [
            { id: a, on: h1, staticMaxPages: 445 },
            { id: c, on: h2, staticMaxPages: 445 }
          ]
        ),
        protect(a)
      )
    )
    expect(planForNFailures(state, 1)).toBe(false)
    expect(planForNFailures(state, 1, {}, { ...xapiPlanner, vmPages: (vm) => vm.memory.staticMaxPages })).toBe(true)
  })

  it("compute_restart_plan: protected VMs running nowhere live are packed first; what does not fit is not restarted", () => {
    const state: PoolState = fold(
      andThen(pool([h1, h2], [{ id: a, on: h1 }, { id: b }, { id: c }]), protect(a), protect(b), protect(c))
    )
    const { plan, notRestarted } = computeRestartPlan(state, 0)
    // h2 (900 free) takes b; h1 (378 left beside a) and h2 (378 after b) cannot take c
    expect(plan).toEqual([[b, h2]])
    expect(notRestarted).toEqual([c])
    expect(planForNFailures(state, 0)).toBe(false)
  })
})

describe("the approximation (pools of more than 32 hosts)", () => {
  /** `hostCount` hosts; 32 tiny protected VMs (1 + 10 pages) on h1, one of 522 pages on h2. */
  const crowded = (hostCount: number) => {
    const hosts = Array.from({ length: hostCount }, (_, i) => hostId(`h${i + 1}`))
    const tiny = Array.from({ length: 32 }, (_, i) => vmId(`t${String(i).padStart(2, "0")}`))
    const events = andThen(
      smallPool({
        hosts,
        vms: [
          ...tiny.map((id) => ({
            id,
            staticMinPages: 0,
            dynamicMinPages: 1,
            targetPages: 1,
            dynamicMaxPages: 1,
            staticMaxPages: 1,
            startOn: h1
          })),
          { id: a, startOn: h2 }
        ]
      }),
      ...[...tiny, a].map((vm) => protect(vm))
    )
    return fold(events)
  }

  it("is conservative: every VM as big as the biggest, so h1's 32 tiny VMs need 32 hosts' room", () => {
    expect(chooseHeuristic(33, 1)).toBe("approximate")
    expect(chooseHeuristic(32, 1)).toBe("exhaustive")
    // 33 hosts: h1 and the 31 empty ones hold one 522-page VM each; the largest fails: 31 < 32 VMs to move
    expect(planForNFailures(crowded(33), 1)).toBe(false)
    // 32 hosts, exhaustive: h1's tiny VMs fit anywhere, a fits any empty host
    expect(planForNFailures(crowded(32), 1)).toBe(true)
  })
})

describe("decide with HA on", () => {
  const protectedOnH1 = andThen(pool([h1, h2], [{ id: a, on: h1 }, { id: b }]), protect(a), enableHa(1))

  it("enabling HA records the plan: ha-plan-exists-for 1, not overcommitted", () => {
    const state = fold(protectedOnH1)
    expect(state.pool?.ha).toEqual({ enabled: true, hostFailuresToTolerate: 1, planExistsFor: 1, overcommitted: false })
  })

  it("ntol beyond what the pool can plan for: overcommitted, ha-plan-exists-for the most it can", () => {
    const state = fold(andThen(pool([h1, h2], [{ id: a, on: h1 }]), protect(a), enableHa(2)))
    expect(state.pool?.ha).toEqual({ enabled: true, hostFailuresToTolerate: 2, planExistsFor: 1, overcommitted: true })
  })

  it("a start that would leave no room for the protected VM is refused: HA_OPERATION_WOULD_BREAK_FAILOVER_PLAN", () => {
    const decision = decided(protectedOnH1, { _tag: "StartVm", atUs: T, vm: b, host: h2 })
    expect(Either.isLeft(decision) && decision.left._tag).toBe("HaOperationWouldBreakFailoverPlan")
  })

  it("disabling the only other host is refused; so is raising ntol past the plan", () => {
    const disable = decided(protectedOnH1, { _tag: "DisableHost", atUs: T, host: h2 })
    expect(Either.isLeft(disable) && disable.left._tag).toBe("HaOperationWouldBreakFailoverPlan")
    const raise = decided(protectedOnH1, { _tag: "SetHaFailuresToTolerate", atUs: T, hostFailuresToTolerate: 2 })
    expect(Either.isLeft(raise) && raise.left._tag).toBe("HaOperationWouldBreakFailoverPlan")
  })

  it("a migration is checked as the VM arriving on its destination (it still counts on its source)", () => {
    // a (522 HA pages) protected on h1; b (210) on h2, c (410) on h3: h2 has 690 free, h3 490
    const three = andThen(
      pool(
        [h1, h2, h3],
        [
          { id: a, on: h1 },
          { id: b, on: h2, staticMaxPages: 200 },
          { id: c, on: h3, staticMaxPages: 400 }
        ]
      ),
      protect(a),
      enableHa(1)
    )
    expect(fold(three).pool?.ha?.planExistsFor).toBe(1)
    const migrate = (vm: VmId, destination: HostId): PoolCommand => ({
      _tag: "StartMigration",
      atUs: T,
      migration: migrationId("m1"),
      vm,
      destination,
      policy: "xen"
    })
    // c onto h2 leaves 280 there and 490 on h3: no host for a when h1 fails
    const refused = decided(three, migrate(c, h2))
    expect(Either.isLeft(refused) && refused.left._tag).toBe("HaOperationWouldBreakFailoverPlan")
    // b onto h3 leaves h2 its 690: a still has a host
    expect(Either.isRight(decided(three, migrate(b, h3)))).toBe(true)
  })

  it("with no plan for ntol, ha-plan-exists-for is what is guarded: ntol may rise, the plan for 0 still holds", () => {
    const overcommitted = andThen(
      pool(
        [h1, h2],
        [
          { id: a, on: h1 },
          { id: b, on: h2 }
        ]
      ),
      protect(a),
      protect(b),
      enableHa(1)
    )
    expect(fold(overcommitted).pool?.ha).toMatchObject({ planExistsFor: 0, overcommitted: true })
    // xapi_pool.ml: "Don't block changes if we have no plan at all"
    const raise = decided(overcommitted, { _tag: "SetHaFailuresToTolerate", atUs: T, hostFailuresToTolerate: 2 })
    expect(Either.isRight(raise)).toBe(true)
    // disabling h2 would leave b nowhere to run even with no failure
    const disable = decided(overcommitted, { _tag: "DisableHost", atUs: T, host: h2 })
    expect(Either.isLeft(disable) && disable.left._tag).toBe("HaOperationWouldBreakFailoverPlan")
  })

  it("the plan's state changes by an event after the command's own: a host joins an overcommitted pool", () => {
    const overcommitted = andThen(
      pool(
        [h1, h2],
        [
          { id: a, on: h1 },
          { id: b, on: h2 }
        ]
      ),
      protect(a),
      protect(b),
      enableHa(1)
    )
    const join: PoolCommand = {
      _tag: "JoinHost",
      atUs: T,
      host: h3,
      memoryTotalPages: 1000,
      memoryOverheadPages: 100,
      nicBandwidthBytesPerS: 125_000_000,
      cpus: 8
    }
    const decision = decided(overcommitted, join)
    expect(Either.isRight(decision) && decision.right.map((e) => e._tag)).toEqual(["HostJoined", "PoolHaPlanChanged"])
    expect(fold([...overcommitted, ...Either.getOrThrow(decision)]).pool?.ha).toMatchObject({
      planExistsFor: 1,
      overcommitted: false
    })
  })

  it("an operation that leaves the plan as it was adds no event", () => {
    const decision = decided(protectedOnH1, { _tag: "ShutdownVm", atUs: T, vm: a, mode: "clean" })
    expect(Either.isRight(decision) && decision.right.map((e) => e._tag)).toEqual(["VmShutdown"])
  })

  it("the master fails: a new master is elected first, before the VMs halt", () => {
    const decision = decided(protectedOnH1, { _tag: "FailHost", atUs: T, host: h1 })
    const tags = Either.isRight(decision) ? decision.right.map((e) => e._tag) : []
    expect(tags.slice(0, 3)).toEqual(["HostFailed", "PoolMasterElected", "VmShutdown"])
    expect(fold([...protectedOnH1, ...Either.getOrThrow(decision)]).pool?.master).toBe(h2)
  })

  it("HA off: a failure of the master elects nobody and no plan event is made", () => {
    const off = andThen(pool([h1, h2], [{ id: a, on: h1 }]), protect(a))
    const decision = decided(off, { _tag: "FailHost", atUs: T, host: h1 })
    expect(Either.isRight(decision) && decision.right.map((e) => e._tag)).toEqual(["HostFailed", "VmShutdown"])
  })
})
