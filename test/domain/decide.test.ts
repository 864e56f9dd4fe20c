/**
 * Decider specs: XAPI's rules as `decide` applies them (XEN.md §6), each read as given / when / then.
 * Every spec also proves that the state after the decided events satisfies every invariant.
 */
import { Either, Schema } from "effect"
import { describe, expect, it } from "vitest"
import type { CreateVm, PoolCommand } from "../../domain/commands.js"
import * as Errors from "../../domain/errors.js"
import * as E from "../../domain/events.js"
import type { PowerState } from "../../domain/events.js"
import { hostId, migrationId, vmId } from "../../domain/ids.js"
import { hostPhysicalFreePages, hostPlacementFreePages, defaultVmOverheadPages } from "../../domain/memory.js"
import {
  allowedOperations,
  allowedPowerStates,
  checkVmOperation,
  isAllowedConcurrently,
  powerStates,
  vmOperations,
  type VmOperation
} from "../../domain/operations.js"
import { checkInvariants } from "../../domain/invariants.js"
import { planEvacuationWithHa } from "../../domain/ha.js"
import { xapiDefault } from "../../domain/placement/index.js"
import { getHost, getMigration, getVm, type PoolState, type Vm } from "../../domain/state.js"
import {
  andThen,
  cmd,
  createVmCommand,
  fold,
  given,
  h1,
  h2,
  h3,
  HOST_GUEST_PAGES,
  m1,
  m2,
  migrationToPointOfNoReturn,
  P,
  smallPool,
  T,
  VM_FOOTPRINT_PAGES,
  vm1,
  vm2,
  vm3,
  type ErrorTag
} from "./spec.js"

const h9 = hostId("h9")
const host = (state: PoolState, id: typeof h1) => getHost(state, id)!
const vm = (state: PoolState, id: typeof vm1) => getVm(state, id)!

// --- the table, transcribed from XEN.md §6 independently of operations.ts ---------------------------

const ALL: ReadonlyArray<PowerState> = ["Halted", "Paused", "Suspended", "Running"]
const xenMdTable: Record<VmOperation, ReadonlyArray<PowerState>> = {
  start: ["Halted"],
  start_on: ["Halted"],
  provision: ["Halted"],
  unpause: ["Paused"],
  resume: ["Suspended"],
  resume_on: ["Suspended"],
  pool_migrate: ["Running"],
  suspend: ["Running"],
  pause: ["Running"],
  clean_shutdown: ["Running"],
  clean_reboot: ["Running"],
  hard_reboot: ["Paused", "Running"],
  hard_shutdown: ["Paused", "Suspended", "Running"],
  checkpoint: ["Paused", "Suspended", "Running"],
  migrate_send: ["Halted", "Suspended", "Running"],
  destroy: ["Halted", "Suspended"],
  export: ["Halted", "Suspended"],
  snapshot: ALL,
  // ours: XAPI's memory_target setter is deprecated; setting a target is allowed in every power state
  set_memory_target: ALL,
  // ours: xenpaging's target acts on a domain (XEN.md §5), so Running or Paused
  set_paging_target: ["Paused", "Running"]
}

/** A VM record built by hand, for the checks that take a VM rather than a pool. */
const vmRecord = (powerState: PowerState, extra: Partial<Vm> = {}): Vm => {
  const resident = powerState === "Running" || powerState === "Paused"
  return {
    id: vm1,
    vcpus: 1,
    memory: { staticMinPages: 0, dynamicMinPages: 200, targetPages: 200, dynamicMaxPages: 400, staticMaxPages: 512 },
    overheadPages: 10,
    powerState,
    residentOn: resident ? h1 : undefined,
    scheduledToBeResidentOn: undefined,
    domid: resident ? 1 : -1,
    currentOperation: undefined,
    migration: undefined,
    guestPages: 200,
    populatedPages: 200,
    pagedOutPages: 0,
    pagingTargetPages: undefined,
    blockedOperations: [],
    ha: undefined,
    ...extra
  }
}

/** vm1 in each power state; h1 and h2 (900 guest pages each) are otherwise empty. */
const vm1In: Record<PowerState, ReadonlyArray<E.PoolEvent>> = {
  Halted: smallPool({ vms: [vm1] }),
  Running: smallPool({ vms: [{ id: vm1, startOn: h1 }] }),
  Paused: smallPool({ vms: [{ id: vm1, startOn: h1, paused: true }] }),
  Suspended: andThen(smallPool({ vms: [{ id: vm1, startOn: h1 }] }), cmd.suspend(vm1, T / 2))
}

interface CommandRow {
  readonly operation: VmOperation
  readonly command: PoolCommand
  /** The events when the power state allows the operation. */
  readonly events: (state: PowerState) => ReadonlyArray<E.PoolEvent>
}

const at = { atUs: T }
const commandRows: ReadonlyArray<CommandRow> = [
  {
    operation: "start",
    command: cmd.start(vm1),
    // h1 and h2 are equally free: the lower id wins; vm1 never ran, so h1's first domid
    events: () => [new E.VmStarted({ ...at, vm: vm1, host: h1, domid: 1, paused: false })]
  },
  {
    operation: "start_on",
    command: cmd.start(vm1, h2),
    events: () => [new E.VmStarted({ ...at, vm: vm1, host: h2, domid: 1, paused: false })]
  },
  {
    operation: "resume",
    command: cmd.resume(vm1),
    // vm1 ran on h1 as domid 1 before it was suspended: a new domain gets a new domid
    events: () => [new E.VmResumed({ ...at, vm: vm1, host: h1, domid: 2 })]
  },
  {
    operation: "resume_on",
    command: cmd.resume(vm1, h2),
    events: () => [new E.VmResumed({ ...at, vm: vm1, host: h2, domid: 1 })]
  },
  { operation: "pause", command: cmd.pause(vm1), events: () => [new E.VmPaused({ ...at, vm: vm1 })] },
  { operation: "unpause", command: cmd.unpause(vm1), events: () => [new E.VmUnpaused({ ...at, vm: vm1 })] },
  { operation: "suspend", command: cmd.suspend(vm1), events: () => [new E.VmSuspended({ ...at, vm: vm1 })] },
  {
    operation: "clean_shutdown",
    command: cmd.shutdown(vm1, "clean"),
    events: () => [new E.VmShutdown({ ...at, vm: vm1, mode: "clean" })]
  },
  {
    operation: "hard_shutdown",
    command: cmd.shutdown(vm1, "hard"),
    events: () => [new E.VmShutdown({ ...at, vm: vm1, mode: "hard" })]
  },
  { operation: "destroy", command: cmd.destroy(vm1), events: () => [new E.VmDestroyed({ ...at, vm: vm1 })] },
  {
    operation: "set_memory_target",
    command: cmd.setTarget(vm1, 300),
    events: () => [new E.VmMemoryTargetSet({ ...at, vm: vm1, targetPages: 300 })]
  },
  {
    operation: "set_paging_target",
    command: { _tag: "SetPagingTarget", atUs: T, vm: vm1, targetPages: 100 },
    events: () => [new E.VmPagingTargetSet({ ...at, vm: vm1, targetPages: 100 })]
  },
  {
    operation: "pool_migrate",
    command: cmd.migrate(m1, vm1, h2),
    events: () => [
      new E.VmMigrationStarted({
        ...at,
        migration: m1,
        vm: vm1,
        source: h1,
        destination: h2,
        policy: "xen-v2",
        reservedPages: VM_FOOTPRINT_PAGES
      })
    ]
  }
]

describe("the allowed-operations table (XEN.md §6, xapi_vm_lifecycle.ml allowed_power_states)", () => {
  it("operations.ts holds exactly the rows of XEN.md §6 (plus set_memory_target)", () => {
    expect(new Set(vmOperations)).toEqual(new Set(Object.keys(xenMdTable)))
    for (const operation of vmOperations) {
      expect([...allowedPowerStates[operation]].sort(), operation).toEqual([...xenMdTable[operation]].sort())
    }
  })

  describe.each(vmOperations)("checkVmOperation(%s)", (operation) => {
    it.each(powerStates)(`in %s: allowed iff the row lists the state, else VmBadPowerState with the row`, (state) => {
      const result = checkVmOperation(vmRecord(state), operation)
      if (xenMdTable[operation].includes(state)) {
        expect(Either.isRight(result)).toBe(true)
      } else {
        expect(Either.isLeft(result) && result.left).toEqual(
          new Errors.VmBadPowerState({
            vm: vm1,
            operation,
            expected: [...allowedPowerStates[operation]],
            actual: state
          })
        )
      }
    })
  })

  it.each(powerStates)("allowedOperations in %s lists exactly the operations whose row names the state", (state) => {
    const expected = vmOperations.filter((op) => xenMdTable[op].includes(state))
    expect(allowedOperations(vmRecord(state))).toEqual(expected)
  })

  describe.each(commandRows)("the command for $operation", (row) => {
    it.each(powerStates)("with vm1 %s", (state) => {
      const when = given(...vm1In[state]).when(row.command)
      if (allowedPowerStates[row.operation].some((s) => s === state)) {
        when.then(...row.events(state))
      } else {
        when.thenFails(Errors.VmBadPowerState, {
          vm: vm1,
          operation: row.operation,
          expected: [...allowedPowerStates[row.operation]],
          actual: state
        })
      }
    })
  })

  it("every operation with a command is covered by the rows above", () => {
    const withCommands: ReadonlyArray<VmOperation> = [
      "start",
      "start_on",
      "resume",
      "resume_on",
      "pause",
      "unpause",
      "suspend",
      "clean_shutdown",
      "hard_shutdown",
      "destroy",
      "set_memory_target",
      "set_paging_target",
      "pool_migrate"
    ]
    expect(commandRows.map((r) => r.operation).sort()).toEqual([...withCommands].sort())
  })

  it("a paused start leaves the VM Paused on its host", () => {
    const after = given(...vm1In.Halted)
      .when(cmd.startPaused(vm1, h1))
      .then(new E.VmStarted({ ...at, vm: vm1, host: h1, domid: 1, paused: true }))
    expect(vm(after, vm1)).toMatchObject({ powerState: "Paused", residentOn: h1, domid: 1 })
  })
})

describe("check order: blocked, then power state, then operation in progress, then the rest (XEN.md §6)", () => {
  const migrating = andThen(
    smallPool({ vms: [{ id: vm1, startOn: h1, blockedOperations: ["pause"] }] }),
    cmd.migrate(m1, vm1, h2, T / 2)
  )

  it("an unknown VM is reported before anything about the operation", () => {
    given(...vm1In.Running)
      .when(cmd.resume(vm3, h9))
      .thenFails(Errors.VmUnknown, { vm: vm3 })
  })

  it("blocked beats a bad power state (pause is blocked and vm1 is Halted)", () => {
    given(...smallPool({ vms: [{ id: vm1, blockedOperations: ["pause"] }] }))
      .when(cmd.pause(vm1))
      .thenFails(Errors.OperationBlocked, { vm: vm1, operation: "pause" })
  })

  it("blocked beats an operation in progress (pause is blocked and vm1 is migrating)", () => {
    given(...migrating)
      .when(cmd.pause(vm1))
      .thenFails(Errors.OperationBlocked, { vm: vm1, operation: "pause" })
  })

  it("a bad power state beats an operation in progress (resume while migrating)", () => {
    given(...migrating)
      .when(cmd.resume(vm1))
      .thenFails(Errors.VmBadPowerState, { operation: "resume", expected: ["Suspended"], actual: "Running" })
  })

  it("a bad power state beats an operation in progress (destroy while migrating)", () => {
    given(...migrating)
      .when(cmd.destroy(vm1))
      .thenFails(Errors.VmBadPowerState, { operation: "destroy", expected: ["Halted", "Suspended"], actual: "Running" })
  })

  it("an operation in progress beats the host checks (a second migration to a disabled host)", () => {
    given(...andThen(migrating, cmd.host("DisableHost", h2, T / 2 + 1)))
      .when(cmd.migrate(m2, vm1, h2))
      .thenFails(Errors.OtherOperationInProgress, { vm: vm1, operation: "pool_migrate", inProgress: "pool_migrate" })
  })

  it("a bad power state beats an unknown or disabled destination", () => {
    const disabled = andThen(vm1In.Paused, cmd.host("DisableHost", h2, T / 2))
    given(...disabled)
      .when(cmd.migrate(m1, vm1, h9))
      .thenFails(Errors.VmBadPowerState, { actual: "Paused" })
    given(...disabled)
      .when(cmd.migrate(m1, vm1, h2))
      .thenFails(Errors.VmBadPowerState, { actual: "Paused" })
    given(...andThen(vm1In.Running, cmd.host("DisableHost", h2, T / 2)))
      .when(cmd.start(vm1, h2))
      .thenFails(Errors.VmBadPowerState, { operation: "start_on", actual: "Running" })
  })

  it("blocked beats an unknown host", () => {
    given(...smallPool({ vms: [{ id: vm1, blockedOperations: ["start_on"] }] }))
      .when(cmd.start(vm1, h9))
      .thenFails(Errors.OperationBlocked, { operation: "start_on" })
  })

  it("a blocked operation blocks only itself: start_on blocked, start allowed", () => {
    given(...smallPool({ vms: [{ id: vm1, blockedOperations: ["start_on"] }] }))
      .when(cmd.start(vm1))
      .then(new E.VmStarted({ ...at, vm: vm1, host: h1, domid: 1, paused: false }))
  })
})

describe("concurrency (is_allowed_concurrently): pool_migrate runs alone, hard_shutdown interrupts", () => {
  const migrating = andThen(smallPool({ vms: [{ id: vm1, startOn: h1 }] }), cmd.migrate(m1, vm1, h2, T / 2))

  it.each<[string, PoolCommand, VmOperation]>([
    ["pause", cmd.pause(vm1), "pause"],
    ["suspend", cmd.suspend(vm1), "suspend"],
    ["clean shutdown", cmd.shutdown(vm1, "clean"), "clean_shutdown"],
    ["set memory target", cmd.setTarget(vm1, 300), "set_memory_target"],
    ["a second migration", cmd.migrate(m2, vm1, h3), "pool_migrate"]
  ])("%s during a migration: OtherOperationInProgress", (_name, command, operation) => {
    given(...migrating)
      .when(command)
      .thenFails(Errors.OtherOperationInProgress, { vm: vm1, operation, inProgress: "pool_migrate" })
  })

  it("hard shutdown during a migration aborts the migration, then halts the VM", () => {
    const after = given(...migrating)
      .when(cmd.shutdown(vm1, "hard"))
      .then(
        new E.VmMigrationAborted({ ...at, migration: m1, vm: vm1, reason: "VM hard shutdown" }),
        new E.VmShutdown({ ...at, vm: vm1, mode: "hard" })
      )
    expect(vm(after, vm1)).toMatchObject({
      powerState: "Halted",
      residentOn: undefined,
      scheduledToBeResidentOn: undefined,
      currentOperation: undefined,
      migration: undefined,
      domid: -1
    })
    expect(getMigration(after, m1)).toBeUndefined()
    for (const id of [h1, h2]) {
      expect(host(after, id)).toMatchObject({ residentPages: 0, reservedPages: 0, placementPages: 0 })
    }
  })

  it("hard shutdown past the point of no return commits on the destination, then halts the VM there", () => {
    const committing = andThen(
      smallPool({ vms: [{ id: vm1, startOn: h1 }] }),
      ...migrationToPointOfNoReturn(m1, vm1, h2, T / 2)
    )
    const after = given(...committing)
      .when(cmd.shutdown(vm1, "hard"))
      .then(
        new E.VmMigrationCommitted({
          ...at,
          migration: m1,
          vm: vm1,
          source: h1,
          destination: h2,
          domid: 1,
          rounds: 2,
          pagesSent: 200,
          bytesSent: 200 * 4096,
          downtimeUs: T - (T / 2 + 200),
          totalUs: T - T / 2
        }),
        new E.VmShutdown({ ...at, vm: vm1, mode: "hard" })
      )
    expect(vm(after, vm1).powerState).toBe("Halted")
  })

  it.each<[VmOperation, VmOperation, boolean]>([
    ["hard_shutdown", "pool_migrate", true],
    ["hard_reboot", "pool_migrate", true],
    ["hard_shutdown", "hard_shutdown", false],
    ["hard_shutdown", "hard_reboot", true],
    ["hard_reboot", "hard_shutdown", false],
    ["hard_reboot", "hard_reboot", false],
    ["snapshot", "checkpoint", true],
    ["checkpoint", "snapshot", true],
    ["snapshot", "snapshot", true],
    ["export", "export", true],
    ["export", "snapshot", false],
    ["pool_migrate", "snapshot", false],
    ["snapshot", "pool_migrate", false],
    ["clean_shutdown", "pool_migrate", false],
    ["pool_migrate", "hard_shutdown", false]
  ])("%s while %s is in progress: allowed = %s", (operation, inProgress, allowed) => {
    expect(isAllowedConcurrently(operation, inProgress)).toBe(allowed)
    // a power state the operation allows, so that only the concurrency check can refuse it
    const state = xenMdTable[operation].includes("Running") ? "Running" : xenMdTable[operation][0]!
    const result = checkVmOperation(vmRecord(state, { currentOperation: inProgress }), operation)
    if (allowed) expect(Either.isRight(result)).toBe(true)
    else {
      expect(Either.isLeft(result) && result.left).toEqual(
        new Errors.OtherOperationInProgress({ vm: vm1, operation, inProgress })
      )
    }
  })

  it("while pool_migrate runs, only hard_shutdown and hard_reboot pass the generic checks", () => {
    expect(allowedOperations(vmRecord("Running", { currentOperation: "pool_migrate" }))).toEqual([
      "hard_reboot",
      "hard_shutdown"
    ])
  })
})

describe("placement (assert_can_boot_here, the pool's choice)", () => {
  it("a named host is used even when another is freer", () => {
    given(...smallPool({ vms: [vm1, { id: vm2, startOn: h2 }] }))
      .when(cmd.start(vm1, h2))
      .then(new E.VmStarted({ ...at, vm: vm1, host: h2, domid: 2, paused: false }))
  })

  it("the pool chooses the host with the most placement-free memory", () => {
    given(...smallPool({ vms: [vm1, { id: vm2, startOn: h1 }] }))
      .when(cmd.start(vm1))
      .then(new E.VmStarted({ ...at, vm: vm1, host: h2, domid: 1, paused: false }))
  })

  it("ties go to the lowest host id", () => {
    // h2 and h3 are equally free, h1 holds vm2
    given(...smallPool({ hosts: [h3, h2, h1], vms: [vm1, { id: vm2, startOn: h1 }] }))
      .when(cmd.start(vm1))
      .then(new E.VmStarted({ ...at, vm: vm1, host: h2, domid: 1, paused: false }))
  })

  it("the choice counts dynamic_min, not the target (placement free, not physical free)", () => {
    // vm2 on h1 has a big target but a small dynamic_min; vm3 on h2 pins 300 pages
    const events = smallPool({
      vms: [
        vm1,
        { id: vm2, dynamicMinPages: 100, targetPages: 600, dynamicMaxPages: 600, staticMaxPages: 600, startOn: h1 },
        { id: vm3, targetPages: 300, startOn: h2 }
      ]
    })
    const state = fold(events)
    expect(hostPlacementFreePages(host(state, h1))).toBeGreaterThan(hostPlacementFreePages(host(state, h2)))
    expect(hostPhysicalFreePages(host(state, h1))).toBeLessThan(hostPhysicalFreePages(host(state, h2)))
    given(...events)
      .when(cmd.start(vm1))
      .then(new E.VmStarted({ ...at, vm: vm1, host: h1, domid: 2, paused: false }))
  })

  it("a disabled host takes no new VMs, but keeps the ones it has", () => {
    const events = andThen(smallPool({ vms: [vm1, { id: vm2, startOn: h1 }] }), cmd.host("DisableHost", h2, T / 2))
    given(...events)
      .when(cmd.start(vm1))
      .then(new E.VmStarted({ ...at, vm: vm1, host: h1, domid: 2, paused: false }))
    given(...events)
      .when(cmd.start(vm1, h2))
      .thenFails(Errors.HostDisabled, { host: h2 })
    given(...andThen(events, cmd.host("DisableHost", h1, T / 2 + 1)))
      .when(cmd.pause(vm2))
      .then(new E.VmPaused({ ...at, vm: vm2 }))
  })

  it("a host that is not live takes no new VMs", () => {
    const events = andThen(smallPool({ vms: [vm1, { id: vm2, startOn: h1 }] }), cmd.host("FailHost", h2, T / 2))
    given(...events)
      .when(cmd.start(vm1))
      .then(new E.VmStarted({ ...at, vm: vm1, host: h1, domid: 2, paused: false }))
    given(...events)
      .when(cmd.start(vm1, h2))
      .thenFails(Errors.HostNotLive, { host: h2 })
  })

  it("NoHostsAvailable names every host and why it refused", () => {
    const events = andThen(
      smallPool({
        hosts: [h1, h2, h3],
        vms: [
          { id: vm1, targetPages: 500, dynamicMaxPages: 600, staticMaxPages: 600 },
          { id: vm2, targetPages: 500, dynamicMaxPages: 600, staticMaxPages: 600, startOn: h3 }
        ]
      }),
      cmd.host("DisableHost", h1, T / 2),
      cmd.host("FailHost", h2, T / 2 + 1)
    )
    given(...events)
      .when(cmd.start(vm1))
      .thenFails(Errors.NoHostsAvailable, {
        vm: vm1,
        reason:
          "h1: host h1 is disabled and takes no new VMs; h2: host h2 is not live; " +
          "h3: host h3: VM vm1 needs 510 pages, 390 free"
      })
  })

  it("NoHostsAvailable in a pool without hosts says so", () => {
    given(...smallPool({ hosts: [], vms: [vm1] }))
      .when(cmd.start(vm1))
      .thenFails(Errors.NoHostsAvailable, { vm: vm1, reason: "the pool has no hosts" })
  })

  it("resume places like start: the freest live, enabled host", () => {
    given(...andThen(vm1In.Suspended, cmd.host("DisableHost", h1, T / 2)))
      .when(cmd.resume(vm1))
      .then(new E.VmResumed({ ...at, vm: vm1, host: h2, domid: 1 }))
  })
})

describe("free memory counts resident AND scheduled VMs (memory_check.ml)", () => {
  // vm1 and vm2 need 510 pages each; a host has 900 for guests: one fits, two do not
  const big = { targetPages: 500, dynamicMaxPages: 600, staticMaxPages: 600 }
  const base = smallPool({
    vms: [
      { id: vm1, ...big, startOn: h1 },
      { id: vm2, ...big }
    ]
  })
  const migrating = andThen(base, cmd.migrate(m1, vm1, h2, T / 2))

  it("without the migration, vm2 fits on h2", () => {
    given(...base)
      .when(cmd.start(vm2, h2))
      .then(new E.VmStarted({ ...at, vm: vm2, host: h2, domid: 1, paused: false }))
  })

  it("a migration's reservation on the destination blocks a start that would otherwise fit", () => {
    const state = fold(migrating)
    expect(host(state, h2)).toMatchObject({ placementPages: 510, reservedPages: 510, residentPages: 0 })
    given(...migrating)
      .when(cmd.start(vm2, h2))
      .thenFails(Errors.HostNotEnoughFreeMemory, {
        host: h2,
        vm: vm2,
        requiredPages: 510,
        availablePages: HOST_GUEST_PAGES - 510
      })
  })

  it("a migrating VM still counts on its source", () => {
    given(...migrating)
      .when(cmd.start(vm2, h1))
      .thenFails(Errors.HostNotEnoughFreeMemory, { host: h1, requiredPages: 510, availablePages: 390 })
    given(...migrating)
      .when(cmd.start(vm2))
      .thenFails(Errors.NoHostsAvailable, { vm: vm2 })
  })

  it("after an abort the destination is free again; after a commit the source is", () => {
    given(...andThen(migrating, cmd.abort(m1, T / 2 + 1)))
      .when(cmd.start(vm2))
      .then(new E.VmStarted({ ...at, vm: vm2, host: h2, domid: 1, paused: false }))
    given(
      ...andThen(migrating, ...migrationToPointOfNoReturn(m1, vm1, h2, T / 2).slice(1), cmd.commit(m1, T / 2 + 400))
    )
      .when(cmd.start(vm2))
      .then(new E.VmStarted({ ...at, vm: vm2, host: h1, domid: 2, paused: false }))
  })

  it("a migration needs placement room on the destination", () => {
    given(...andThen(base, cmd.start(vm2, h2, T / 2)))
      .when(cmd.migrate(m1, vm1, h2))
      .thenFails(Errors.HostNotEnoughFreeMemory, { host: h2, vm: vm1, requiredPages: 510, availablePages: 390 })
  })

  it("placement passes but physical memory is short: HostNotEnoughFreeMemory with the physical figures", () => {
    // dynamic_min 100 (placement 110 each) but target 600 (physical 610 each)
    const elastic = { dynamicMinPages: 100, targetPages: 600, dynamicMaxPages: 600, staticMaxPages: 600 }
    given(
      ...smallPool({
        vms: [
          { id: vm1, ...elastic, startOn: h1 },
          { id: vm2, ...elastic }
        ]
      })
    )
      .when(cmd.start(vm2, h1))
      .thenFails(Errors.HostNotEnoughFreeMemory, { host: h1, vm: vm2, requiredPages: 610, availablePages: 290 })
  })

  it("a VM that needs exactly what is free fits", () => {
    // 900 - 510 = 390 free; vm2 pins 380 + 10
    given(
      ...smallPool({
        vms: [
          { id: vm1, ...big, startOn: h1 },
          { id: vm2, targetPages: 380 }
        ]
      })
    )
      .when(cmd.start(vm2, h1))
      .then(new E.VmStarted({ ...at, vm: vm2, host: h1, domid: 2, paused: false }))
  })
})

describe("domids: a new one, increasing per host, for every domain a host creates", () => {
  it("start, restart, resume and migration commit each take the host's next domid", () => {
    const s0 = smallPool({ vms: [vm1, vm2, vm3] })
    const s1 = andThen(s0, cmd.start(vm1, h1, 10), cmd.start(vm2, h1, 20), cmd.start(vm3, h2, 30))
    const after1 = fold(s1)
    expect([vm(after1, vm1).domid, vm(after1, vm2).domid, vm(after1, vm3).domid]).toEqual([1, 2, 1])

    const s2 = andThen(s1, cmd.shutdown(vm1, "clean", 40))
    given(...s2)
      .when(cmd.start(vm1, h1, T))
      .then(new E.VmStarted({ ...at, vm: vm1, host: h1, domid: 3, paused: false }))

    const s3 = andThen(s2, cmd.start(vm1, h1, 50), cmd.suspend(vm2, 60))
    given(...s3)
      .when(cmd.resume(vm2, h1))
      .then(new E.VmResumed({ ...at, vm: vm2, host: h1, domid: 4 }))

    const s4 = andThen(s3, ...migrationToPointOfNoReturn(m1, vm1, h2, 100))
    const committed = given(...s4)
      .when(cmd.commit(m1, T))
      .then(
        new E.VmMigrationCommitted({
          ...at,
          migration: m1,
          vm: vm1,
          source: h1,
          destination: h2,
          domid: 2,
          rounds: 2,
          pagesSent: 200,
          bytesSent: 200 * 4096,
          downtimeUs: T - 300,
          totalUs: T - 100
        })
      )
    expect(host(committed, h1).nextDomid).toBe(4)
    expect(host(committed, h2).nextDomid).toBe(3)
  })

  it("a reservation takes no domid: an aborted migration leaves the destination's counter alone", () => {
    const s = andThen(
      smallPool({ vms: [{ id: vm1, startOn: h1 }, vm2] }),
      cmd.migrate(m1, vm1, h2, 10),
      cmd.abort(m1, 20)
    )
    given(...s)
      .when(cmd.start(vm2, h2))
      .then(new E.VmStarted({ ...at, vm: vm2, host: h2, domid: 1, paused: false }))
  })
})

describe("memory constraints: static_min <= dynamic_min <= target <= dynamic_max <= static_max", () => {
  const create = (
    memory: Partial<Record<"staticMin" | "dynamicMin" | "target" | "dynamicMax" | "staticMax", number>>
  ) =>
    createVmCommand(
      {
        id: vm1,
        staticMinPages: memory.staticMin ?? 100,
        dynamicMinPages: memory.dynamicMin ?? 200,
        targetPages: memory.target ?? 300,
        dynamicMaxPages: memory.dynamicMax ?? 400,
        staticMaxPages: memory.staticMax ?? 500
      },
      T
    )

  it.each([
    [{ staticMin: 201 }, "staticMin (201 pages) > dynamicMin (200 pages)"],
    [{ dynamicMin: 301 }, "dynamicMin (301 pages) > target (300 pages)"],
    [{ target: 401 }, "target (401 pages) > dynamicMax (400 pages)"],
    [{ dynamicMax: 501 }, "dynamicMax (501 pages) > staticMax (500 pages)"]
  ])("on create, %o is refused: %s", (memory, constraint) => {
    given(...smallPool())
      .when(create(memory))
      .thenFails(Errors.MemoryConstraintViolation, { vm: vm1, constraint })
  })

  it("on create, equal links are allowed, and the overhead defaults to XAPI's formula", () => {
    const command = createVmCommand(
      { id: vm1, vcpus: 2, staticMinPages: 512, targetPages: 512, dynamicMaxPages: 512, staticMaxPages: 512 },
      T
    )
    const { memoryOverheadPages: _omitted, ...withoutOverhead } = command as Extract<PoolCommand, { _tag: "CreateVm" }>
    expect(defaultVmOverheadPages(2, 512)).toBe(2 * 38 + 2)
    given(...smallPool())
      .when(withoutOverhead)
      .then(
        new E.VmCreated({
          ...at,
          vm: vm1,
          vcpus: 2,
          memoryStaticMinPages: 512,
          memoryDynamicMinPages: 512,
          memoryTargetPages: 512,
          memoryDynamicMaxPages: 512,
          memoryStaticMaxPages: 512,
          memoryOverheadPages: 78,
          blockedOperations: []
        })
      )
  })

  const base = smallPool({
    vms: [
      {
        id: vm1,
        staticMinPages: 100,
        dynamicMinPages: 200,
        targetPages: 200,
        dynamicMaxPages: 800,
        staticMaxPages: 800,
        startOn: h1
      },
      { id: vm2, targetPages: 500, dynamicMaxPages: 500, staticMaxPages: 500, startOn: h1 },
      { id: vm3, dynamicMinPages: 200, targetPages: 200, dynamicMaxPages: 800, staticMaxPages: 800 }
    ]
  })

  it.each([
    [199, "dynamicMin (200 pages) > target (199 pages)"],
    [801, "target (801 pages) > dynamicMax (800 pages)"]
  ])("on set target, %i is refused: %s", (targetPages, constraint) => {
    given(...base)
      .when(cmd.setTarget(vm1, targetPages))
      .thenFails(Errors.MemoryConstraintViolation, { vm: vm1, constraint })
  })

  // Since ballooning (domain/paging.ts): a resident VM's target moves at once, its guest pages and the
  // host's frames follow one balloon step at a time (VmBalloonDeflated / VmBalloonInflated).
  const deflate = (pages: number, atUs = T): PoolCommand => ({ _tag: "DeflateBalloon", atUs, vm: vm1, pages })
  const inflate = (pages: number, atUs = T): PoolCommand => ({
    _tag: "InflateBalloon",
    atUs,
    vm: vm1,
    releasedPages: pages,
    droppedPages: 0
  })

  it("raising a resident VM's target beyond the host's physical free fails; up to it succeeds", () => {
    // h1: 900 guest pages - (200 + 10) - (500 + 10) = 180 physically free
    expect(hostPhysicalFreePages(host(fold(base), h1))).toBe(180)
    given(...base)
      .when(cmd.setTarget(vm1, 381))
      .thenFails(Errors.HostNotEnoughFreeMemory, { host: h1, vm: vm1, requiredPages: 181, availablePages: 180 })
    const after = given(...base)
      .when(cmd.setTarget(vm1, 380))
      .then(new E.VmMemoryTargetSet({ ...at, vm: vm1, targetPages: 380 }))
    expect(hostPhysicalFreePages(host(after, h1))).toBe(180)
    expect(vm(after, vm1)).toMatchObject({ guestPages: 200, populatedPages: 200, memory: { targetPages: 380 } })
    const grown = given(...andThen(base, cmd.setTarget(vm1, 380, T / 2)))
      .when(deflate(180))
      .then(new E.VmBalloonDeflated({ ...at, vm: vm1, pages: 180 }))
    expect(hostPhysicalFreePages(host(grown, h1))).toBe(0)
    expect(vm(grown, vm1)).toMatchObject({ guestPages: 380, populatedPages: 380, memory: { targetPages: 380 } })
  })

  it("a Halted VM's target may rise up to dynamic_max whatever the hosts have", () => {
    given(...base)
      .when(cmd.setTarget(vm3, 800))
      .then(new E.VmMemoryTargetSet({ ...at, vm: vm3, targetPages: 800 }))
  })

  it("lowering a target gives the memory back to the host", () => {
    const after = given(...base)
      .when(cmd.setTarget(vm1, 200 - 0))
      .then(new E.VmMemoryTargetSet({ ...at, vm: vm1, targetPages: 200 }))
    expect(hostPhysicalFreePages(host(after, h1))).toBe(180)
    const at380 = andThen(base, cmd.setTarget(vm1, 380, T / 4), deflate(180, T / 2))
    const lowered = given(...at380)
      .when(cmd.setTarget(vm1, 250))
      .then(new E.VmMemoryTargetSet({ ...at, vm: vm1, targetPages: 250 }))
    expect(hostPhysicalFreePages(host(lowered, h1))).toBe(0)
    const ballooned = given(...andThen(at380, cmd.setTarget(vm1, 250, T - 1)))
      .when(inflate(130))
      .then(new E.VmBalloonInflated({ ...at, vm: vm1, releasedPages: 130, droppedPages: 0 }))
    expect(hostPhysicalFreePages(host(ballooned, h1))).toBe(130)
  })
})

describe("migration phases: reserved → precopy → stop-and-copy → committing → committed", () => {
  const running = smallPool({ vms: [{ id: vm1, startOn: h1 }] })
  const t0 = 2_000_000
  const started = andThen(running, cmd.migrate(m1, vm1, h2, t0))
  const afterRound1 = andThen(started, cmd.round(m1, 1, t0 + 10_000, true, 50_000))
  const stopped = andThen(afterRound1, cmd.round(m1, 2, t0 + 12_000, true, 3_000), cmd.stopAndCopy(m1, t0 + 12_500))
  const committing = andThen(stopped, cmd.round(m1, 3, t0 + 13_000, false, 40))

  it("start reserves the VM's populated pages + overhead on the destination", () => {
    const state = fold(started)
    expect(getMigration(state, m1)).toMatchObject({
      phase: "reserved",
      rounds: 0,
      reservedPages: VM_FOOTPRINT_PAGES,
      startedAtUs: t0
    })
    expect(vm(state, vm1)).toMatchObject({
      residentOn: h1,
      scheduledToBeResidentOn: h2,
      currentOperation: "pool_migrate",
      migration: m1
    })
  })

  it("rounds are numbered from 1, one after another", () => {
    given(...started)
      .when(cmd.round(m1, 2, t0 + 1))
      .thenFails(Errors.MigrationBadPhase, { migration: m1, step: "round 2", phase: "after round 0" })
    const after = given(...started)
      .when(cmd.round(m1, 1, t0 + 10_000, true, 50_000))
      .then(
        new E.VmMigrationRoundCompleted({
          atUs: t0 + 10_000,
          migration: m1,
          vm: vm1,
          round: 1,
          live: true,
          pagesSent: 50_000,
          pagesSkipped: 0,
          bytesSent: 50_000 * 4096,
          pagesDirtied: 10,
          durationUs: 1000
        })
      )
    expect(getMigration(after, m1)).toMatchObject({ phase: "precopy", rounds: 1, pagesSent: 50_000 })
    given(...afterRound1)
      .when(cmd.round(m1, 1, t0 + 11_000))
      .thenFails(Errors.MigrationBadPhase, { step: "round 1", phase: "after round 1" })
    given(...afterRound1)
      .when(cmd.round(m1, 3, t0 + 11_000))
      .thenFails(Errors.MigrationBadPhase, { step: "round 3", phase: "after round 1" })
  })

  it("the paused round only comes after stop-and-copy; live rounds only before it", () => {
    given(...afterRound1)
      .when(cmd.round(m1, 2, t0 + 11_000, false))
      .thenFails(Errors.MigrationBadPhase, { migration: m1, step: "the paused round", phase: "precopy" })
    given(...started)
      .when(cmd.round(m1, 1, t0 + 11_000, false))
      .thenFails(Errors.MigrationBadPhase, { step: "the paused round", phase: "reserved" })
    given(...stopped)
      .when(cmd.round(m1, 3, t0 + 13_000, true))
      .thenFails(Errors.MigrationBadPhase, { step: "a live round", phase: "stop-and-copy" })
    given(...stopped)
      .when(cmd.stopAndCopy(m1, t0 + 13_000))
      .thenFails(Errors.MigrationBadPhase, { step: "stop-and-copy", phase: "stop-and-copy" })
    given(...committing)
      .when(cmd.round(m1, 4, t0 + 14_000, false))
      .thenFails(Errors.MigrationBadPhase, { step: "the paused round", phase: "committing" })
  })

  it("stop-and-copy records when the guest paused, from reserved or pre-copy", () => {
    const after = given(...started)
      .when(cmd.stopAndCopy(m1, t0 + 5))
      .then(
        new E.VmMigrationStopAndCopyStarted({ atUs: t0 + 5, migration: m1, vm: vm1, reason: "dirty pages below 50" })
      )
    expect(getMigration(after, m1)).toMatchObject({ phase: "stop-and-copy", stopAndCopyAtUs: t0 + 5 })
    expect(getMigration(fold(stopped), m1)).toMatchObject({
      phase: "stop-and-copy",
      rounds: 2,
      stopAndCopyAtUs: t0 + 12_500
    })
  })

  it("commit only after the paused round", () => {
    for (const [events, phase] of [
      [started, "reserved"],
      [afterRound1, "precopy"],
      [stopped, "stop-and-copy"]
    ] as const) {
      given(...events)
        .when(cmd.commit(m1, t0 + 20_000))
        .thenFails(Errors.MigrationBadPhase, { migration: m1, step: "commit", phase })
    }
  })

  it("commit: downtime from the pause, total from the start, rounds and bytes summed; the VM runs on the destination", () => {
    const commitAt = t0 + 13_700
    const after = given(...committing)
      .when(cmd.commit(m1, commitAt))
      .then(
        new E.VmMigrationCommitted({
          atUs: commitAt,
          migration: m1,
          vm: vm1,
          source: h1,
          destination: h2,
          domid: 1,
          rounds: 3,
          pagesSent: 50_000 + 3_000 + 40,
          bytesSent: (50_000 + 3_000 + 40) * 4096,
          downtimeUs: commitAt - (t0 + 12_500),
          totalUs: commitAt - t0
        })
      )
    expect(vm(after, vm1)).toMatchObject({
      powerState: "Running",
      residentOn: h2,
      scheduledToBeResidentOn: undefined,
      domid: 1,
      currentOperation: undefined,
      migration: undefined
    })
    expect(getMigration(after, m1)).toBeUndefined()
    expect(host(after, h1)).toMatchObject({ residentPages: 0, reservedPages: 0, placementPages: 0 })
    expect(host(after, h2)).toMatchObject({ residentPages: 210, reservedPages: 0, placementPages: 210 })
    given(...andThen(committing, cmd.commit(m1, commitAt)))
      .when(cmd.commit(m1, commitAt + 1))
      .thenFails(Errors.MigrationUnknown, { migration: m1 })
  })

  it("abort before the point of no return leaves the VM running on the source", () => {
    for (const events of [started, afterRound1, stopped]) {
      const after = given(...events)
        .when(cmd.abort(m1, t0 + 20_000, "receiver closed"))
        .then(new E.VmMigrationAborted({ atUs: t0 + 20_000, migration: m1, vm: vm1, reason: "receiver closed" }))
      expect(vm(after, vm1)).toMatchObject({
        powerState: "Running",
        residentOn: h1,
        domid: 1,
        scheduledToBeResidentOn: undefined
      })
    }
  })

  it("abort is refused past the point of no return (after the paused round)", () => {
    given(...committing)
      .when(cmd.abort(m1, t0 + 20_000))
      .thenFails(Errors.MigrationBadPhase, { migration: m1, step: "abort", phase: "committing" })
  })

  it("migrations refuse the VM's own host, a reused id, a disabled or dead destination", () => {
    given(...running)
      .when(cmd.migrate(m1, vm1, h1))
      .thenFails(Errors.MigrationFailed, {
        vm: vm1,
        source: h1,
        destination: h1,
        reason: "the destination is the host the VM already runs on"
      })
    given(
      ...andThen(
        smallPool({
          hosts: [h1, h2, h3],
          vms: [
            { id: vm1, startOn: h1 },
            { id: vm2, startOn: h1 }
          ]
        }),
        cmd.migrate(m1, vm1, h2, t0)
      )
    )
      .when(cmd.migrate(m1, vm2, h3))
      .thenFails(Errors.MigrationFailed, {
        vm: vm2,
        source: h1,
        destination: h3,
        reason: "migration id m1 is already in use"
      })
    given(...andThen(running, cmd.host("DisableHost", h2, t0)))
      .when(cmd.migrate(m1, vm1, h2))
      .thenFails(Errors.HostDisabled, { host: h2 })
    given(...andThen(running, cmd.host("FailHost", h2, t0)))
      .when(cmd.migrate(m1, vm1, h2))
      .thenFails(Errors.HostNotLive, { host: h2 })
    given(...running)
      .when(cmd.migrate(m1, vm1, h9))
      .thenFails(Errors.HostUnknown, { host: h9 })
  })

  it("commit to a destination that is no longer live fails (a log with the host failure but no abort)", () => {
    const withDeadDestination = [...committing, new E.HostFailed({ atUs: t0 + 13_500, host: h2 })]
    given(...withDeadDestination)
      .when(cmd.commit(m1, t0 + 14_000))
      .thenFails(Errors.MigrationFailed, { vm: vm1, source: h1, destination: h2, reason: "destination not live" })
  })

  it("an unknown migration id is MigrationUnknown for every step", () => {
    const unknown = migrationId("nope")
    for (const command of [
      cmd.round(unknown, 1, t0),
      cmd.stopAndCopy(unknown, t0),
      cmd.commit(unknown, t0),
      cmd.abort(unknown, t0)
    ]) {
      given(...started)
        .when(command)
        .thenFails(Errors.MigrationUnknown, { migration: unknown })
    }
  })
})

describe("host failure (declare_dead without HA)", () => {
  const tf = 5_000_000

  it("the host is no longer live nor enabled; its VMs are halted, in id order", () => {
    const after = given(
      ...smallPool({
        vms: [
          { id: vm2, startOn: h1 },
          { id: vm1, startOn: h1, paused: true },
          { id: vm3, startOn: h2 }
        ]
      })
    )
      .when(cmd.host("FailHost", h1, tf))
      .then(
        new E.HostFailed({ atUs: tf, host: h1 }),
        new E.VmShutdown({ atUs: tf, vm: vm1, mode: "host-failed" }),
        new E.VmShutdown({ atUs: tf, vm: vm2, mode: "host-failed" })
      )
    expect(host(after, h1)).toMatchObject({ live: false, enabled: false, residentPages: 0, placementPages: 0 })
    expect(vm(after, vm1)).toMatchObject({ powerState: "Halted", residentOn: undefined, domid: -1 })
    expect(vm(after, vm3)).toMatchObject({ powerState: "Running", residentOn: h2 })
  })

  it("a migration to the failed host is aborted and the VM stays on its source", () => {
    const before = andThen(
      smallPool({ vms: [{ id: vm1, startOn: h1 }] }),
      cmd.migrate(m1, vm1, h2, T),
      cmd.round(m1, 1, T + 1)
    )
    const after = given(...before)
      .when(cmd.host("FailHost", h2, tf))
      .then(
        new E.HostFailed({ atUs: tf, host: h2 }),
        new E.VmMigrationAborted({ atUs: tf, migration: m1, vm: vm1, reason: "destination host h2 failed" })
      )
    expect(vm(after, vm1)).toMatchObject({
      powerState: "Running",
      residentOn: h1,
      scheduledToBeResidentOn: undefined,
      domid: 1
    })
    expect(host(after, h1)).toEqual(host(fold(smallPool({ vms: [{ id: vm1, startOn: h1 }] })), h1))
  })

  it("a migration to the failed host past the point of no return loses the VM", () => {
    const before = andThen(
      smallPool({ vms: [{ id: vm1, startOn: h1 }] }),
      ...migrationToPointOfNoReturn(m1, vm1, h2, T)
    )
    given(...before)
      .when(cmd.host("FailHost", h2, tf))
      .then(
        new E.HostFailed({ atUs: tf, host: h2 }),
        new E.VmMigrationAborted({
          atUs: tf,
          migration: m1,
          vm: vm1,
          reason: "destination host h2 failed after the point of no return: the VM is lost"
        }),
        new E.VmShutdown({ atUs: tf, vm: vm1, mode: "host-failed" })
      )
  })

  it("a migration from the failed host before the point of no return is aborted, and the VM halted", () => {
    const before = andThen(
      smallPool({ vms: [{ id: vm1, startOn: h1 }] }),
      cmd.migrate(m1, vm1, h2, T),
      cmd.round(m1, 1, T + 1),
      cmd.stopAndCopy(m1, T + 2)
    )
    const after = given(...before)
      .when(cmd.host("FailHost", h1, tf))
      .then(
        new E.HostFailed({ atUs: tf, host: h1 }),
        new E.VmMigrationAborted({ atUs: tf, migration: m1, vm: vm1, reason: "source host h1 failed" }),
        new E.VmShutdown({ atUs: tf, vm: vm1, mode: "host-failed" })
      )
    expect(host(after, h2)).toMatchObject({ residentPages: 0, reservedPages: 0, placementPages: 0 })
  })

  it("a migration from the failed host past the point of no return is committed on the destination", () => {
    const before = andThen(
      smallPool({
        vms: [
          { id: vm1, startOn: h1 },
          { id: vm2, startOn: h1 }
        ]
      }),
      ...migrationToPointOfNoReturn(m1, vm1, h2, T)
    )
    const after = given(...before)
      .when(cmd.host("FailHost", h1, tf))
      .then(
        new E.HostFailed({ atUs: tf, host: h1 }),
        new E.VmMigrationCommitted({
          atUs: tf,
          migration: m1,
          vm: vm1,
          source: h1,
          destination: h2,
          domid: 1,
          rounds: 2,
          pagesSent: 200,
          bytesSent: 200 * 4096,
          downtimeUs: tf - (T + 200),
          totalUs: tf - T
        }),
        new E.VmShutdown({ atUs: tf, vm: vm2, mode: "host-failed" })
      )
    expect(vm(after, vm1)).toMatchObject({ powerState: "Running", residentOn: h2, domid: 1 })
  })

  it("two migrations from the failed host past the point of no return get distinct domids on their destination", () => {
    const before = andThen(
      smallPool({
        vms: [
          { id: vm1, startOn: h1 },
          { id: vm2, startOn: h1 }
        ]
      }),
      ...migrationToPointOfNoReturn(m1, vm1, h2, T),
      ...migrationToPointOfNoReturn(m2, vm2, h2, T + 1000)
    )
    const decision = given(...before).when(cmd.host("FailHost", h1, tf)).decision
    const commits = Either.getOrThrow(decision).filter(
      (e): e is E.VmMigrationCommitted => e._tag === "VmMigrationCommitted"
    )
    expect(commits.map((c) => [c.vm, c.destination])).toEqual([
      [vm1, h2],
      [vm2, h2]
    ])
    // one host, two new domains: two domids (domidsUniquePerHost)
    expect(checkInvariants(fold(Either.getOrThrow(decision), fold(before)))).toEqual([])
    expect(new Set(commits.map((c) => c.domid)).size, `domids ${commits.map((c) => c.domid).join(", ")}`).toBe(2)
  })

  it("failing a host twice changes nothing the second time", () => {
    given(...andThen(smallPool({ vms: [{ id: vm1, startOn: h1 }] }), cmd.host("FailHost", h1, T)))
      .when(cmd.host("FailHost", h1, tf))
      .then()
  })
})

describe("enable, disable, recover: idempotent; a host that is not live cannot be enabled", () => {
  const pool = smallPool({ vms: [vm1] })
  const disabled = andThen(pool, cmd.host("DisableHost", h1, T / 2))
  const failed = andThen(pool, cmd.host("FailHost", h1, T / 2))

  it("disable an enabled host, then again: nothing more", () => {
    given(...pool)
      .when(cmd.host("DisableHost", h1))
      .then(new E.HostDisabled({ ...at, host: h1 }))
    given(...disabled)
      .when(cmd.host("DisableHost", h1))
      .then()
  })

  it("enable a disabled host, then again: nothing more", () => {
    const after = given(...disabled)
      .when(cmd.host("EnableHost", h1))
      .then(new E.HostEnabled({ ...at, host: h1 }))
    expect(host(after, h1).enabled).toBe(true)
    given(...pool)
      .when(cmd.host("EnableHost", h1))
      .then()
  })

  it("recover a live host: nothing; recover a failed host: live again but still disabled", () => {
    given(...pool)
      .when(cmd.host("RecoverHost", h1))
      .then()
    const after = given(...failed)
      .when(cmd.host("RecoverHost", h1))
      .then(new E.HostRecovered({ ...at, host: h1 }))
    expect(host(after, h1)).toMatchObject({ live: true, enabled: false })
    const recovered = andThen(failed, cmd.host("RecoverHost", h1, T / 2 + 1))
    given(...recovered)
      .when(cmd.host("RecoverHost", h1))
      .then()
    given(...recovered)
      .when(cmd.start(vm1, h1))
      .thenFails(Errors.HostDisabled, { host: h1 })
    given(...andThen(recovered, cmd.host("EnableHost", h1, T / 2 + 2)))
      .when(cmd.start(vm1, h1))
      .then(new E.VmStarted({ ...at, vm: vm1, host: h1, domid: 1, paused: false }))
  })

  it("enable a host that is not live: HostNotLive; disable it: already disabled, nothing", () => {
    given(...failed)
      .when(cmd.host("EnableHost", h1))
      .thenFails(Errors.HostNotLive, { host: h1 })
    given(...failed)
      .when(cmd.host("DisableHost", h1))
      .then()
  })

  it.each(["EnableHost", "DisableHost", "FailHost", "RecoverHost"] as const)(
    "%s of an unknown host: HostUnknown",
    (tag) => {
      given(...pool)
        .when(cmd.host(tag, h9))
        .thenFails(Errors.HostUnknown, { host: h9 })
    }
  )
})

describe("decide never returns an event its own schema refuses (events are built without validation)", () => {
  const migrating = andThen(smallPool({ vms: [{ id: vm1, startOn: h1 }] }), cmd.migrate(m1, vm1, h2, T / 2))
  const encodes = (event: E.PoolEvent) => Either.isRight(Schema.encodeEither(E.PoolEvent)(event))

  it.each<[string, ReadonlyArray<E.PoolEvent>, PoolCommand]>([
    ["a VM with no vCPU", smallPool(), { ...(createVmCommand({ id: vm1 }, T) as CreateVm), vcpus: 0 }],
    ["a target of 250.5 pages", smallPool({ vms: [vm1] }), cmd.setTarget(vm1, 250.5)],
    ["a round that sent -3 pages", migrating, cmd.round(m1, 1, T, true, -3)],
    ["a start at -1 µs", smallPool({ vms: [vm1] }), cmd.start(vm1, h1, -1)]
  ])("%s: refused, or only encodable events", (_what, events, command) => {
    const decision = given(...events).when(command).decision
    if (Either.isRight(decision)) {
      const bad = decision.right.filter((e) => !encodes(e)).map((e) => e._tag)
      expect(bad, "events the store could not encode").toEqual([])
    }
  })
})

describe("every error class of errors.ts, with its evidence", () => {
  const produced = new Set<string>()
  const fails = (
    events: ReadonlyArray<E.PoolEvent>,
    command: PoolCommand,
    error: { readonly _tag: ErrorTag } & (new (...args: any) => Errors.DomainError),
    evidence: Record<string, unknown>
  ) => {
    given(...events)
      .when(command)
      .thenFails(error, evidence)
    produced.add(error._tag)
  }
  const running = smallPool({ vms: [{ id: vm1, startOn: h1 }, vm2] })

  it("PoolNotCreated", () => {
    fails(
      [],
      {
        _tag: "JoinHost",
        atUs: 0,
        host: h1,
        memoryTotalPages: 1,
        memoryOverheadPages: 0,
        nicBandwidthBytesPerS: 1,
        cpus: 1
      },
      Errors.PoolNotCreated,
      {}
    )
    fails([], cmd.start(vm1), Errors.PoolNotCreated, {})
  })
  it("PoolAlreadyCreated", () => {
    fails(
      running,
      { _tag: "CreatePool", atUs: T, pool: P, pageSizeBytes: 4096, linkLatencyUs: 0 },
      Errors.PoolAlreadyCreated,
      { pool: P }
    )
  })
  it("CommandInvalid", () => {
    fails(running, { ...cmd.start(vm2), atUs: -1 }, Errors.CommandInvalid, {
      command: "StartVm",
      field: "atUs",
      value: -1,
      expected: "a non-negative integer"
    })
    fails(running, { _tag: "SetMemoryTarget", atUs: T, vm: vm1, targetPages: 250.5 }, Errors.CommandInvalid, {
      field: "targetPages",
      expected: "a non-negative integer"
    })
  })
  it("HostUnknown", () => fails(running, cmd.start(vm2, h9), Errors.HostUnknown, { host: h9 }))
  it("HostAlreadyExists", () => {
    fails(
      running,
      {
        _tag: "JoinHost",
        atUs: T,
        host: h2,
        memoryTotalPages: 1,
        memoryOverheadPages: 0,
        nicBandwidthBytesPerS: 1,
        cpus: 1
      },
      Errors.HostAlreadyExists,
      { host: h2 }
    )
  })
  it("VmUnknown", () => fails(running, cmd.setTarget(vmId("ghost"), 1), Errors.VmUnknown, { vm: "ghost" }))
  it("VmAlreadyExists", () => fails(running, createVmCommand({ id: vm2 }, T), Errors.VmAlreadyExists, { vm: vm2 }))
  it("OperationBlocked", () => {
    fails(
      smallPool({ vms: [{ id: vm1, startOn: h1, blockedOperations: ["suspend"] }] }),
      cmd.suspend(vm1),
      Errors.OperationBlocked,
      { vm: vm1, operation: "suspend" }
    )
  })
  it("VmBadPowerState", () => {
    fails(running, cmd.unpause(vm1), Errors.VmBadPowerState, {
      vm: vm1,
      operation: "unpause",
      expected: ["Paused"],
      actual: "Running"
    })
  })
  it("OtherOperationInProgress", () => {
    fails(andThen(running, cmd.migrate(m1, vm1, h2, T / 2)), cmd.suspend(vm1), Errors.OtherOperationInProgress, {
      vm: vm1,
      operation: "suspend",
      inProgress: "pool_migrate"
    })
  })
  it("HostNotEnoughFreeMemory", () => {
    fails(
      smallPool({ vms: [{ id: vm1, targetPages: 891, dynamicMaxPages: 900, staticMaxPages: 900 }] }),
      cmd.start(vm1, h1),
      Errors.HostNotEnoughFreeMemory,
      { host: h1, vm: vm1, requiredPages: 901, availablePages: 900 }
    )
  })
  it("HostDisabled", () =>
    fails(andThen(running, cmd.host("DisableHost", h2, T / 2)), cmd.start(vm2, h2), Errors.HostDisabled, { host: h2 }))
  it("HostNotLive", () =>
    fails(andThen(running, cmd.host("FailHost", h2, T / 2)), cmd.host("EnableHost", h2), Errors.HostNotLive, {
      host: h2
    }))
  it("MemoryConstraintViolation", () => {
    fails(running, cmd.setTarget(vm2, 401), Errors.MemoryConstraintViolation, {
      vm: vm2,
      constraint: "target (401 pages) > dynamicMax (400 pages)"
    })
  })
  it("NoHostsAvailable", () => {
    fails(
      andThen(running, cmd.host("FailHost", h1, T / 2), cmd.host("DisableHost", h2, T / 2 + 1)),
      cmd.start(vm2),
      Errors.NoHostsAvailable,
      {
        vm: vm2,
        reason: "h1: host h1 is not live; h2: host h2 is disabled and takes no new VMs"
      }
    )
  })
  it("MigrationFailed", () => {
    fails(running, cmd.migrate(m1, vm1, h1), Errors.MigrationFailed, {
      vm: vm1,
      source: h1,
      destination: h1,
      reason: "the destination is the host the VM already runs on"
    })
  })
  it("MigrationUnknown", () => fails(running, cmd.commit(m1, T), Errors.MigrationUnknown, { migration: m1 }))
  it("MigrationBadPhase", () => {
    fails(andThen(running, cmd.migrate(m1, vm1, h2, T / 2)), cmd.commit(m1, T), Errors.MigrationBadPhase, {
      migration: m1,
      step: "commit",
      phase: "reserved"
    })
  })

  it("PagingStepInvalid", () => {
    // a pager step needs a paging target; a page-in needs paged-out pages
    fails(running, { _tag: "PageOut", atUs: T, vm: vm1, pages: 1 }, Errors.PagingStepInvalid, {
      vm: vm1,
      step: "page-out",
      reason: "the VM has no paging target"
    })
    fails(running, { _tag: "PageIn", atUs: T, vm: vm1, pages: 1 }, Errors.PagingStepInvalid, {
      vm: vm1,
      step: "page-in",
      reason: "1 pages, the VM has 0 paged out"
    })
  })

  // HA (domain/ha.ts): vm1 (static max 512 + overhead 10) protected on h1, h2 empty: a plan for one failure
  const protectedPool = andThen(
    smallPool({ vms: [{ id: vm1, startOn: h1 }, vm2] }),
    { _tag: "SetVmHa", atUs: T / 4, vm: vm1, restartPriority: "restart", order: 0, alwaysRun: true },
    { _tag: "EnableHa", atUs: T / 2, hostFailuresToTolerate: 1 }
  )
  it("HaOperationWouldBreakFailoverPlan", () =>
    fails(protectedPool, cmd.start(vm2, h2), Errors.HaOperationWouldBreakFailoverPlan, {
      operation: `start of VM ${vm2} on ${h2}`,
      planExistsFor: 1
    }))
  it("HostEvacuateVmNotHaProtected (evacuate's plan with HA on, not a command)", () => {
    // vm2 (the larger, planned first) unprotected on h1 beside vm1; h2 is disabled, so nothing can take it
    const state = fold(
      andThen(
        smallPool({
          vms: [
            { id: vm1, startOn: h1 },
            { id: vm2, startOn: h1, targetPages: 300 }
          ]
        }),
        { _tag: "SetVmHa", atUs: T / 4, vm: vm1, restartPriority: "restart", order: 0, alwaysRun: true },
        { _tag: "EnableHa", atUs: T / 2, hostFailuresToTolerate: 0 },
        cmd.host("DisableHost", h2, T)
      )
    )
    const plan = planEvacuationWithHa(state, h1, xapiDefault)
    expect(Either.isLeft(plan) && plan.left).toBeInstanceOf(Errors.HostEvacuateVmNotHaProtected)
    produced.add("HostEvacuateVmNotHaProtected")
  })

  it("covers every class (runs last)", () => {
    const classes = Object.values(Errors).filter(
      (value): value is typeof Errors.PoolNotCreated =>
        typeof value === "function" && typeof (value as { _tag?: unknown })._tag === "string"
    )
    expect(classes.length).toBeGreaterThanOrEqual(17)
    expect([...produced].sort()).toEqual(classes.map((c) => c._tag).sort())
  })
})
