/**
 * `decide(state, command, placement)`: validates a command against the pool state with XAPI's rules and
 * returns the events it causes, or the error XAPI would raise. Never throws (but for a user's placement
 * that answers with a host it was not offered). Ids and times come in with the command; domids come
 * from the host's counter in the state; a VM started or resumed without a named host goes where the
 * placement (domain/placement, `xapi-default` unless the run names another) puts it.
 */
import { Either } from "effect"
import type * as C from "./commands.js"
import {
  CommandInvalid,
  HostAlreadyExists,
  HostNotLive,
  HostUnknown,
  MemoryConstraintViolation,
  MigrationBadPhase,
  MigrationFailed,
  MigrationUnknown,
  PoolAlreadyCreated,
  PoolNotCreated,
  VmAlreadyExists,
  VmUnknown,
  HostNotEnoughFreeMemory,
  type DomainError
} from "./errors.js"
import * as E from "./events.js"
import type { HostId, MigrationId } from "./ids.js"
import {
  checkCanBootHere,
  defaultVmOverheadPages,
  hostPhysicalFreePages,
  hostOverheadProblem,
  memoryConstraintViolation
} from "./memory.js"
import { isVcpuCount, VCPUS_EXPECTED } from "./limits.js"
import { evolveInPlace } from "./evolve.js"
import { OverlayPool } from "./tables.js"
import { chooseHost, xapiDefault, type Placement } from "./placement/index.js"
import {
  electedMaster,
  haChangeRefusal,
  haEnabled,
  haPoolStatus,
  isHaProtected,
  xapiPlanner,
  type ConfigurationChange,
  type HaPlanner
} from "./ha.js"
import { decidePaging } from "./paging.js"
import { checkVmOperation, type VmOperation } from "./operations.js"
import {
  getHost,
  getMigration,
  getVm,
  migrationList,
  vmsResidentOn,
  type Host,
  type Migration,
  type PoolRead,
  type Vm
} from "./state.js"

export type Decision = Either.Either<ReadonlyArray<E.PoolEvent>, DomainError>

// Events are built with the schema's validation off (`E.build(E.X, props)`): decide's inputs are
// already typed and checked here, and every store encodes each event with the schema before writing,
// so an invalid value still cannot reach a log. Validating twice per event was most of a run's time.

const ok = (...events: ReadonlyArray<E.PoolEvent>): Decision => Either.right(events)
/** `ok` with one event, without the rest parameter's copy. */
const one = (event: E.PoolEvent): Decision => Either.right([event])
const fail = (error: DomainError): Decision => Either.left(error)

const lookupHost = (state: PoolRead, id: HostId): Either.Either<Host, HostUnknown> => {
  const host = getHost(state, id)
  return host ? Either.right(host) : Either.left(new HostUnknown({ host: id }))
}

/** The VM, if the generic checks (blocked, power state, operation in progress) allow `operation`. */
const vmFor = (state: PoolRead, id: Vm["id"], operation: VmOperation): Either.Either<Vm, DomainError> => {
  const vm = getVm(state, id)
  if (!vm) return Either.left(new VmUnknown({ vm: id }))
  const check = checkVmOperation(vm, operation)
  return Either.isLeft(check) ? Either.left(check.left) : Either.right(vm)
}

/** The host a VM boots on: the named one if it can take it, else the placement's choice. */
const bootHost = (
  state: PoolRead,
  vm: Vm,
  named: HostId | undefined,
  placement: Placement
): Either.Either<Host, DomainError> =>
  named === undefined
    ? chooseHost(state, vm, placement)
    : Either.flatMap(lookupHost(state, named), (host) => Either.map(checkCanBootHere(host, vm), () => host))

const createVm = (state: PoolRead, c: C.CreateVm): Decision => {
  if (getVm(state, c.vm)) return fail(new VmAlreadyExists({ vm: c.vm }))
  if (!isVcpuCount(c.vcpus))
    return fail(new CommandInvalid({ command: c._tag, field: "vcpus", value: c.vcpus, expected: VCPUS_EXPECTED }))
  const violation = memoryConstraintViolation({
    staticMinPages: c.memoryStaticMinPages,
    dynamicMinPages: c.memoryDynamicMinPages,
    targetPages: c.memoryTargetPages,
    dynamicMaxPages: c.memoryDynamicMaxPages,
    staticMaxPages: c.memoryStaticMaxPages
  })
  if (violation) return fail(new MemoryConstraintViolation({ vm: c.vm, constraint: violation }))
  return ok(
    E.build(E.VmCreated, {
      atUs: c.atUs,
      vm: c.vm,
      vcpus: c.vcpus,
      memoryStaticMinPages: c.memoryStaticMinPages,
      memoryDynamicMinPages: c.memoryDynamicMinPages,
      memoryTargetPages: c.memoryTargetPages,
      memoryDynamicMaxPages: c.memoryDynamicMaxPages,
      memoryStaticMaxPages: c.memoryStaticMaxPages,
      memoryOverheadPages: c.memoryOverheadPages ?? defaultVmOverheadPages(c.vcpus, c.memoryStaticMaxPages),
      blockedOperations: [...(c.blockedOperations ?? [])]
    })
  )
}

const setMemoryTarget = (state: PoolRead, c: C.SetMemoryTarget): Decision =>
  Either.flatMap(vmFor(state, c.vm, "set_memory_target"), (vm) => {
    const violation = memoryConstraintViolation({ ...vm.memory, targetPages: c.targetPages })
    if (violation) return fail(new MemoryConstraintViolation({ vm: vm.id, constraint: violation }))
    const host = vm.residentOn ? getHost(state, vm.residentOn) : undefined
    // the balloon takes its growth from the host's free frames
    const growthPages = c.targetPages - vm.guestPages
    if (host && growthPages > hostPhysicalFreePages(host)) {
      return fail(
        new HostNotEnoughFreeMemory({
          host: host.id,
          vm: vm.id,
          requiredPages: growthPages,
          availablePages: hostPhysicalFreePages(host)
        })
      )
    }
    return ok(E.build(E.VmMemoryTargetSet, { atUs: c.atUs, vm: vm.id, targetPages: c.targetPages }))
  })

/** Ends a migration for an outside reason: committed if past the point of no return ("go" sent), else aborted. */
const endMigrationEarly = (state: PoolRead, migration: Migration, atUs: number, reason: string): E.PoolEvent =>
  migration.phase === "committing"
    ? commitEvent(state, migration, atUs)
    : E.build(E.VmMigrationAborted, { atUs, migration: migration.id, vm: migration.vm, reason })

const commitEvent = (state: PoolRead, m: Migration, atUs: number): E.VmMigrationCommitted =>
  E.build(E.VmMigrationCommitted, {
    atUs,
    migration: m.id,
    vm: m.vm,
    source: m.source,
    destination: m.destination,
    domid: getHost(state, m.destination)?.nextDomid ?? 1,
    rounds: m.rounds,
    pagesSent: m.pagesSent,
    bytesSent: m.bytesSent,
    downtimeUs: m.stopAndCopyAtUs === undefined ? 0 : atUs - m.stopAndCopyAtUs,
    totalUs: atUs - m.startedAtUs
  })

const shutdownVm = (state: PoolRead, c: C.ShutdownVm): Decision =>
  Either.flatMap(vmFor(state, c.vm, c.mode === "clean" ? "clean_shutdown" : "hard_shutdown"), (vm) => {
    const migration = vm.migration ? getMigration(state, vm.migration) : undefined
    const shutdown = E.build(E.VmShutdown, { atUs: c.atUs, vm: vm.id, mode: c.mode })
    return migration ? ok(endMigrationEarly(state, migration, c.atUs, `VM ${c.mode} shutdown`), shutdown) : ok(shutdown)
  })

/**
 * `host.declare_dead` without HA: the host is no longer live and is disabled; migrations touching it end
 * (aborted, or committed on the destination if the source failed after the point of no return); the
 * VMs still resident on it go Halted.
 */
const failHost = (state: PoolRead, c: C.HostCommand): Decision =>
  Either.flatMap(lookupHost(state, c.host), (host) => {
    if (!host.live) return ok()
    const events: E.PoolEvent[] = []
    // each event is decided on the state after the ones before it: two commits onto one host, two domids
    const after = new OverlayPool(state)
    const emit = (event: E.PoolEvent) => {
      events.push(event)
      evolveInPlace(after, event)
    }
    emit(E.build(E.HostFailed, { atUs: c.atUs, host: host.id }))
    // with HA the surviving hosts elect a new master before anything else (docs/ha.md)
    const master = haEnabled(state) && state.pool?.master === host.id ? electedMaster(after, host.id) : undefined
    if (master !== undefined) emit(E.build(E.PoolMasterElected, { atUs: c.atUs, host: master }))
    const movedAway = new Set<string>()
    for (const m of migrationList(state)) {
      if (m.source === host.id) {
        const end = endMigrationEarly(after, m, c.atUs, `source host ${host.id} failed`)
        emit(end)
        if (end._tag === "VmMigrationCommitted") movedAway.add(m.vm)
      } else if (m.destination === host.id) {
        const pastNoReturn = m.phase === "committing"
        emit(
          E.build(E.VmMigrationAborted, {
            atUs: c.atUs,
            migration: m.id,
            vm: m.vm,
            reason: pastNoReturn
              ? `destination host ${host.id} failed after the point of no return: the VM is lost`
              : `destination host ${host.id} failed`
          })
        )
        if (pastNoReturn) emit(E.build(E.VmShutdown, { atUs: c.atUs, vm: m.vm, mode: "host-failed" }))
      }
    }
    for (const vm of vmsResidentOn(state, host.id)) {
      if (!movedAway.has(vm.id)) emit(E.build(E.VmShutdown, { atUs: c.atUs, vm: vm.id, mode: "host-failed" }))
    }
    // the array itself, not ok(...events): a host of more than about 120,000 VMs overflowed the stack
    return Either.right(events)
  })

const hostCommand = (state: PoolRead, c: C.HostCommand): Decision => {
  return Either.flatMap(lookupHost(state, c.host), (host): Decision => {
    switch (c._tag) {
      case "FailHost":
        return failHost(state, c)
      case "EnableHost":
        if (!host.live) return fail(new HostNotLive({ host: host.id }))
        return host.enabled ? ok() : ok(E.build(E.HostEnabled, { atUs: c.atUs, host: host.id }))
      case "DisableHost":
        return host.enabled ? ok(E.build(E.HostDisabled, { atUs: c.atUs, host: host.id })) : ok()
      case "RecoverHost":
        return host.live ? ok() : ok(E.build(E.HostRecovered, { atUs: c.atUs, host: host.id }))
    }
  })
}

// The steps of a migration run for every migration: they test and return early rather than chain
// Either.flatMap, whose closures and intermediate results were a third of decide's allocations.

const startMigration = (state: PoolRead, c: C.StartMigration): Decision => {
  const found = vmFor(state, c.vm, "pool_migrate")
  if (Either.isLeft(found)) return fail(found.left)
  const vm = found.right
  const destination = getHost(state, c.destination)
  if (!destination) return fail(new HostUnknown({ host: c.destination }))
  const source = vm.residentOn!
  const refuse = (reason: string) =>
    fail(new MigrationFailed({ vm: vm.id, source, destination: destination.id, reason }))
  if (getMigration(state, c.migration)) return refuse(`migration id ${c.migration} is already in use`)
  if (destination.id === source) return refuse("the destination is the host the VM already runs on")
  const boot = checkCanBootHere(destination, vm)
  if (Either.isLeft(boot)) return fail(boot.left)
  return one(
    E.build(E.VmMigrationStarted, {
      atUs: c.atUs,
      migration: c.migration,
      vm: vm.id,
      source,
      destination: destination.id,
      policy: c.policy,
      reservedPages: vm.populatedPages + vm.overheadPages
    })
  )
}

/** The phases each migration step may come in (DESIGN.md §2). */
const beforeThePause: ReadonlyArray<Migration["phase"]> = ["reserved", "precopy"]
const paused: ReadonlyArray<Migration["phase"]> = ["stop-and-copy"]
const pastNoReturn: ReadonlyArray<Migration["phase"]> = ["committing"]
const abortable: ReadonlyArray<Migration["phase"]> = ["reserved", "precopy", "stop-and-copy"]

/** The migration, if `step` may come in its phase; otherwise the refusal. */
const migrationFor = (
  state: PoolRead,
  id: MigrationId,
  step: string,
  allowed: ReadonlyArray<Migration["phase"]>
): Either.Either<Migration, DomainError> => {
  const m = getMigration(state, id)
  if (m === undefined) return Either.left(new MigrationUnknown({ migration: id }))
  return allowed.includes(m.phase)
    ? Either.right(m)
    : Either.left(new MigrationBadPhase({ migration: id, step, phase: m.phase }))
}

/** A round a command names must be the migration's next one. */
const notTheNextRound = (m: Migration, round: number) =>
  new MigrationBadPhase({ migration: m.id, step: `round ${round}`, phase: `after round ${m.rounds}` })

/** What a completed or interrupted round sent, as its command gives it (zero pages and state default to 0). */
const roundFigures = (c: C.CompleteMigrationRound | C.InterruptMigrationRound) => ({
  round: c.round,
  live: c.live,
  pagesSent: c.pagesSent,
  pagesSkipped: c.pagesSkipped,
  zeroPages: c.zeroPages ?? 0,
  stateBytes: c.stateBytes ?? 0,
  bytesSent: c.bytesSent,
  durationUs: c.durationUs
})

const completeRound = (state: PoolRead, c: C.CompleteMigrationRound): Decision => {
  const found = migrationFor(
    state,
    c.migration,
    c.live ? "a live round" : "the paused round",
    c.live ? beforeThePause : paused
  )
  if (Either.isLeft(found)) return fail(found.left)
  const m = found.right
  if (c.round !== m.rounds + 1) return fail(notTheNextRound(m, c.round))
  return one(
    E.build(E.VmMigrationRoundCompleted, {
      atUs: c.atUs,
      migration: m.id,
      vm: m.vm,
      ...roundFigures(c),
      pagesDirtied: c.pagesDirtied
    })
  )
}

/** Where each timed part comes: setup before the first round, suspend paused before the last, restore after it. */
const phaseAllowed: Readonly<Record<E.MigrationPhaseName, ReadonlyArray<Migration["phase"]>>> = {
  setup: ["reserved"],
  suspend: paused,
  restore: pastNoReturn
}

const completePhase = (state: PoolRead, c: C.CompleteMigrationPhase): Decision => {
  const found = migrationFor(state, c.migration, c.phase, phaseAllowed[c.phase])
  if (Either.isLeft(found)) return fail(found.left)
  const m = found.right
  return one(
    E.build(E.VmMigrationPhaseCompleted, {
      atUs: c.atUs,
      migration: m.id,
      vm: m.vm,
      phase: c.phase,
      durationUs: c.durationUs
    })
  )
}

const interruptRound = (state: PoolRead, c: C.InterruptMigrationRound): Decision => {
  const found = migrationFor(state, c.migration, `interrupting round ${c.round}`, abortable)
  if (Either.isLeft(found)) return fail(found.left)
  const m = found.right
  if (c.round !== m.rounds + 1) return fail(notTheNextRound(m, c.round))
  return one(
    E.build(E.VmMigrationRoundInterrupted, {
      atUs: c.atUs,
      migration: m.id,
      vm: m.vm,
      ...roundFigures(c)
    })
  )
}

const migrationCommand = (
  state: PoolRead,
  c:
    | C.StartMigration
    | C.CompleteMigrationRound
    | C.CompleteMigrationPhase
    | C.InterruptMigrationRound
    | C.BeginStopAndCopy
    | C.CommitMigration
    | C.AbortMigration
): Decision => {
  switch (c._tag) {
    case "StartMigration":
      return startMigration(state, c)
    case "CompleteMigrationRound":
      return completeRound(state, c)
    case "CompleteMigrationPhase":
      return completePhase(state, c)
    case "InterruptMigrationRound":
      return interruptRound(state, c)
    case "BeginStopAndCopy": {
      const found = migrationFor(state, c.migration, "stop-and-copy", beforeThePause)
      if (Either.isLeft(found)) return fail(found.left)
      const m = found.right
      return one(
        E.build(E.VmMigrationStopAndCopyStarted, { atUs: c.atUs, migration: m.id, vm: m.vm, reason: c.reason })
      )
    }
    case "CommitMigration": {
      const found = migrationFor(state, c.migration, "commit", pastNoReturn)
      if (Either.isLeft(found)) return fail(found.left)
      const m = found.right
      const destination = getHost(state, m.destination)
      if (!destination?.live) {
        return fail(
          new MigrationFailed({
            vm: m.vm,
            source: m.source,
            destination: m.destination,
            reason: "destination not live"
          })
        )
      }
      return one(commitEvent(state, m, c.atUs))
    }
    case "AbortMigration": {
      const found = migrationFor(state, c.migration, "abort", abortable)
      if (Either.isLeft(found)) return fail(found.left)
      const m = found.right
      return one(E.build(E.VmMigrationAborted, { atUs: c.atUs, migration: m.id, vm: m.vm, reason: c.reason }))
    }
  }
}

const vmLifecycle = (state: PoolRead, c: C.StartVm | C.VmCommand | C.ResumeVm, placement: Placement): Decision => {
  switch (c._tag) {
    case "StartVm":
      return Either.flatMap(vmFor(state, c.vm, c.host ? "start_on" : "start"), (vm) =>
        Either.map(bootHost(state, vm, c.host, placement), (host) => [
          E.build(E.VmStarted, {
            atUs: c.atUs,
            vm: vm.id,
            host: host.id,
            domid: host.nextDomid,
            paused: c.paused ?? false
          })
        ])
      )
    case "ResumeVm":
      return Either.flatMap(vmFor(state, c.vm, c.host ? "resume_on" : "resume"), (vm) =>
        Either.map(bootHost(state, vm, c.host, placement), (host) => [
          E.build(E.VmResumed, { atUs: c.atUs, vm: vm.id, host: host.id, domid: host.nextDomid })
        ])
      )
    case "PauseVm":
      return Either.map(vmFor(state, c.vm, "pause"), (vm) => [E.build(E.VmPaused, { atUs: c.atUs, vm: vm.id })])
    case "UnpauseVm":
      return Either.map(vmFor(state, c.vm, "unpause"), (vm) => [E.build(E.VmUnpaused, { atUs: c.atUs, vm: vm.id })])
    case "SuspendVm":
      return Either.map(vmFor(state, c.vm, "suspend"), (vm) => [E.build(E.VmSuspended, { atUs: c.atUs, vm: vm.id })])
    case "DestroyVm":
      return Either.map(vmFor(state, c.vm, "destroy"), (vm) => [E.build(E.VmDestroyed, { atUs: c.atUs, vm: vm.id })])
  }
}

/** Fields that must be at least 1 (the events' PositiveInt); every other number must be a non-negative integer. */
const positiveFields: ReadonlySet<string> = new Set([
  "pageSizeBytes",
  "memoryTotalPages",
  "nicBandwidthBytesPerS",
  "cpus",
  "vcpus",
  "memoryStaticMaxPages",
  "round"
])

/** The first number the events could not carry: events are built unvalidated, so this is their only check. */
const invalidNumber = (command: C.PoolCommand): CommandInvalid | undefined => {
  for (const field in command) {
    const value = (command as unknown as Record<string, unknown>)[field]
    if (typeof value !== "number") continue
    const min = positiveFields.has(field) ? 1 : 0
    if (!Number.isSafeInteger(value) || value < min) {
      const expected = min === 1 ? "a positive integer" : "a non-negative integer"
      return new CommandInvalid({ command: command._tag, field, value, expected })
    }
  }
  return undefined
}

/** XAPI's HA settings commands: the pool's HA fields and a VM's protection. */
const haCommand = (
  state: PoolRead,
  c: C.EnableHa | C.DisableHa | C.SetHaFailuresToTolerate | C.SetVmHa | C.RecordHaRestartFailure
): Decision => {
  const ha = state.pool?.ha
  switch (c._tag) {
    case "EnableHa":
      return ha?.enabled
        ? ok()
        : one(E.build(E.PoolHaEnabled, { atUs: c.atUs, hostFailuresToTolerate: c.hostFailuresToTolerate }))
    case "DisableHa":
      return ha?.enabled ? one(E.build(E.PoolHaDisabled, { atUs: c.atUs })) : ok()
    case "SetHaFailuresToTolerate":
      return one(
        E.build(E.PoolHaFailuresToTolerateSet, { atUs: c.atUs, hostFailuresToTolerate: c.hostFailuresToTolerate })
      )
    case "SetVmHa": {
      const vm = getVm(state, c.vm)
      if (!vm) return fail(new VmUnknown({ vm: c.vm }))
      return one(
        E.build(E.VmHaSettingsSet, {
          atUs: c.atUs,
          vm: vm.id,
          restartPriority: c.restartPriority,
          order: c.order,
          alwaysRun: c.alwaysRun
        })
      )
    }
    case "RecordHaRestartFailure": {
      const vm = getVm(state, c.vm)
      if (!vm) return fail(new VmUnknown({ vm: c.vm }))
      return one(
        E.build(E.VmHaRestartFailed, {
          atUs: c.atUs,
          vm: vm.id,
          reason: c.reason,
          retryAtUs: c.retryAtUs ?? null
        })
      )
    }
  }
}

/**
 * What a command would change that XAPI's planner is asked about before it is allowed
 * (`assert_*_preserves_ha_plan`), or undefined when XAPI asks nothing.
 */
const haChangeOf = (
  state: PoolRead,
  command: C.PoolCommand,
  placement: Placement
): { change: ConfigurationChange; operation: string } | undefined => {
  switch (command._tag) {
    case "StartVm":
    case "ResumeVm": {
      const vm = getVm(state, command.vm)
      const host = vm === undefined ? undefined : bootHost(state, vm, command.host, placement)
      if (vm === undefined || host === undefined || Either.isLeft(host)) return undefined
      const operation = `start of VM ${vm.id} on ${host.right.id}`
      // message_forwarding.ml check_vm_preserves_ha_plan: a VM that becomes protected as it starts is a new one
      return vm.ha?.restartPriority === "restart" && !vm.ha.alwaysRun
        ? { change: { newVmsToProtect: [vm] }, operation }
        : { change: { arriving: [{ host: host.right.id, vm }] }, operation }
    }
    case "StartMigration": {
      const vm = getVm(state, command.vm)
      return vm === undefined
        ? undefined
        : {
            change: { arriving: [{ host: command.destination, vm }] },
            operation: `migration of VM ${vm.id} to ${command.destination}`
          }
    }
    case "DisableHost":
      return getHost(state, command.host)?.enabled
        ? { change: { hostsToDisable: [command.host] }, operation: `disabling host ${command.host}` }
        : undefined
    case "SetHaFailuresToTolerate":
      // xapi_pool.ml: "Don't block changes if we have no plan at all"
      return (state.pool?.ha?.planExistsFor ?? 0) > 0
        ? {
            change: { numFailures: command.hostFailuresToTolerate },
            operation: `setting ha-host-failures-to-tolerate to ${command.hostFailuresToTolerate}`
          }
        : undefined
    case "SetVmHa": {
      const vm = getVm(state, command.vm)
      const becomesProtected =
        command.restartPriority === "restart" && command.alwaysRun && vm !== undefined && !isHaProtected(vm)
      return becomesProtected && vm.powerState !== "Halted"
        ? { change: { newVmsToProtect: [vm] }, operation: `protecting VM ${vm.id}` }
        : undefined
    }
    // XAPI asks the planner nothing before these (those that change the pool replan after: `replanAfter`)
    case "CreatePool":
    case "JoinHost":
    case "EnableHost":
    case "FailHost":
    case "RecoverHost":
    case "CreateVm":
    case "PauseVm":
    case "UnpauseVm":
    case "SuspendVm":
    case "DestroyVm":
    case "ShutdownVm":
    case "SetMemoryTarget":
    case "CompleteMigrationRound":
    case "CompleteMigrationPhase":
    case "InterruptMigrationRound":
    case "BeginStopAndCopy":
    case "CommitMigration":
    case "AbortMigration":
    case "SetPagingTarget":
    case "PageOut":
    case "PageIn":
    case "ServePageFaults":
    case "InflateBalloon":
    case "DeflateBalloon":
    case "EnableHa":
    case "DisableHa":
    case "RecordHaRestartFailure":
      return undefined
  }
}

/** Commands after which XAPI's plan is recomputed (they change hosts, placements or protection). */
const replanAfter: ReadonlySet<C.PoolCommand["_tag"]> = new Set<C.PoolCommand["_tag"]>([
  "JoinHost",
  "EnableHost",
  "DisableHost",
  "FailHost",
  "RecoverHost",
  "CreateVm",
  "StartVm",
  "ResumeVm",
  "SuspendVm",
  "ShutdownVm",
  "DestroyVm",
  "StartMigration",
  "CommitMigration",
  "AbortMigration",
  "EnableHa",
  "SetHaFailuresToTolerate",
  "SetVmHa"
])

/** The events, and after them `PoolHaPlanChanged` if the planner's answer on the state they leave changed. */
const withPlanStatus = (
  state: PoolRead,
  events: ReadonlyArray<E.PoolEvent>,
  atUs: number,
  planner: HaPlanner
): ReadonlyArray<E.PoolEvent> => {
  const after = new OverlayPool(state)
  for (const event of events) evolveInPlace(after, event)
  const ha = after.pool?.ha
  if (ha === undefined || !ha.enabled) return events
  const status = haPoolStatus(after, ha, planner)
  if (status.planExistsFor === ha.planExistsFor && status.overcommitted === ha.overcommitted) return events
  return [...events, E.build(E.PoolHaPlanChanged, { atUs, ...status })]
}

/**
 * `decide` with XAPI's HA rules on top (domain/ha.ts), the planner given: with HA off it is the plain
 * decision, event for event; with HA on, an allowed operation that would break the failover plan is
 * refused (HA_OPERATION_WOULD_BREAK_FAILOVER_PLAN), and the plan's state is recomputed after any change
 * to hosts, placements or protection. The properties' planner mutants come in here.
 */
export const decideWith =
  (planner: HaPlanner) =>
  (state: PoolRead, command: C.PoolCommand, placement: Placement = xapiDefault): Decision => {
    const decision = decideCommand(state, command, placement)
    const haCommandTag =
      command._tag === "EnableHa" || command._tag === "SetHaFailuresToTolerate" || command._tag === "SetVmHa"
    if (Either.isLeft(decision) || (!haEnabled(state) && !haCommandTag)) return decision
    const asked = haEnabled(state) ? haChangeOf(state, command, placement) : undefined
    const refusal = asked && haChangeRefusal(state, asked.change, asked.operation, planner)
    if (refusal) return fail(refusal)
    return replanAfter.has(command._tag) && decision.right.length > 0
      ? Either.right(withPlanStatus(state, decision.right, command.atUs, planner))
      : decision
  }

/**
 * The pool's decision function: XAPI's rules, HA with XAPI's planner; a VM started or resumed without
 * a named host goes where `placement` puts it.
 */
export const decide = (state: PoolRead, command: C.PoolCommand, placement: Placement = xapiDefault): Decision =>
  decideWithXapiPlanner(state, command, placement)

const decideCommand = (state: PoolRead, command: C.PoolCommand, placement: Placement): Decision => {
  const invalid = invalidNumber(command)
  if (invalid) return fail(invalid)
  if (command._tag === "CreatePool") {
    return state.pool
      ? fail(new PoolAlreadyCreated({ pool: state.pool.id }))
      : ok(
          E.build(E.PoolCreated, {
            atUs: command.atUs,
            pool: command.pool,
            pageSizeBytes: command.pageSizeBytes,
            linkLatencyUs: command.linkLatencyUs
          })
        )
  }
  if (!state.pool) return fail(new PoolNotCreated())
  switch (command._tag) {
    case "JoinHost": {
      if (getHost(state, command.host)) return fail(new HostAlreadyExists({ host: command.host }))
      const overhead = hostOverheadProblem(command.memoryTotalPages, command.memoryOverheadPages)
      if (overhead !== undefined)
        return fail(
          new CommandInvalid({
            command: command._tag,
            field: "memoryOverheadPages",
            value: command.memoryOverheadPages,
            expected: overhead
          })
        )
      return ok(
        E.build(E.HostJoined, {
          atUs: command.atUs,
          host: command.host,
          memoryTotalPages: command.memoryTotalPages,
          memoryOverheadPages: command.memoryOverheadPages,
          nicBandwidthBytesPerS: command.nicBandwidthBytesPerS,
          cpus: command.cpus
        })
      )
    }
    case "EnableHost":
    case "DisableHost":
    case "FailHost":
    case "RecoverHost":
      return hostCommand(state, command)
    case "CreateVm":
      return createVm(state, command)
    case "StartVm":
    case "ResumeVm":
    case "PauseVm":
    case "UnpauseVm":
    case "SuspendVm":
    case "DestroyVm":
      return vmLifecycle(state, command, placement)
    case "ShutdownVm":
      return shutdownVm(state, command)
    case "SetMemoryTarget":
      return setMemoryTarget(state, command)
    case "StartMigration":
    case "CompleteMigrationRound":
    case "CompleteMigrationPhase":
    case "InterruptMigrationRound":
    case "BeginStopAndCopy":
    case "CommitMigration":
    case "AbortMigration":
      return migrationCommand(state, command)
    case "SetPagingTarget":
    case "PageOut":
    case "PageIn":
    case "ServePageFaults":
    case "InflateBalloon":
    case "DeflateBalloon":
      return decidePaging(state, command)
    case "EnableHa":
    case "DisableHa":
    case "SetHaFailuresToTolerate":
    case "SetVmHa":
    case "RecordHaRestartFailure":
      return haCommand(state, command)
  }
}

const decideWithXapiPlanner = decideWith(xapiPlanner)
