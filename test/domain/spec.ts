/**
 * Decider specs in Emmett's given / when / then style, without a store:
 *
 *   given(...events).when(command).then(...events)
 *   given(...events).when(command).thenFails(VmBadPowerState, { expected: ["Halted"] })
 *
 * `given` folds its events with `evolve` from `initialState`; `when` calls `decide`; `then` compares the
 * decided events with the expected ones as plain objects (`Schema.encodeSync(PoolEvent)`), folds them and
 * asserts every domain invariant on the resulting state, which it returns for further checks.
 * `thenFails` asserts the error's class (or tag) and its evidence, and that the refused command left a
 * state that satisfies the invariants.
 */
import { Either, Schema } from "effect"
import { expect } from "vitest"
import type { PoolCommand } from "../../domain/commands.js"
import { decide } from "../../domain/decide.js"
import type { DomainError } from "../../domain/errors.js"
import { PoolEvent } from "../../domain/events.js"
import { evolve, foldEvents } from "../../domain/evolve.js"
import { hostId, migrationId, poolId, vmId, type HostId, type MigrationId, type VmId } from "../../domain/ids.js"
import { checkInvariants } from "../../domain/invariants.js"
import { hostList, initialState, migrationList, vmList, type PoolState } from "../../domain/state.js"

export type ErrorTag = DomainError["_tag"]
/** A `Schema.TaggedError` class of errors.ts: it carries its tag as a static `_tag`. */
interface ErrorClass {
  readonly _tag: ErrorTag
  new (...args: ReadonlyArray<any>): DomainError
}

const encodeEvent = Schema.encodeSync(PoolEvent)
const decodeEvent = Schema.decodeUnknownSync(PoolEvent)

/** Events as the store would hold them: plain objects, comparable with `toEqual`. */
const encodeEvents = (events: ReadonlyArray<PoolEvent>): ReadonlyArray<unknown> => events.map((e) => encodeEvent(e))

export const fold = (events: ReadonlyArray<PoolEvent>, from: PoolState = initialState): PoolState =>
  foldEvents(from, events)

export const expectInvariantsHold = (state: PoolState, when: string): void => {
  expect(checkInvariants(state), `invariants ${when}`).toEqual([])
}

/** The pool state as plain sorted data, so two states compare with `toEqual` whatever their maps' history. */
export const plainState = (state: PoolState) => ({
  pool: state.pool,
  hosts: hostList(state),
  vms: vmList(state),
  migrations: migrationList(state),
  atUs: state.atUs
})

interface Then {
  /** The decision, for specs that look at it themselves. */
  readonly decision: Either.Either<ReadonlyArray<PoolEvent>, DomainError>
  /** Asserts exactly these events (none for `then()`); returns the state after folding them. */
  readonly then: (...expected: ReadonlyArray<PoolEvent>) => PoolState
  /** Asserts the error's class or tag and, when given, its evidence (a subset of its fields); returns it. */
  readonly thenFails: (error: ErrorClass | ErrorTag, evidence?: Readonly<Record<string, unknown>>) => DomainError
}

export interface Given {
  readonly state: PoolState
  readonly when: (command: PoolCommand) => Then
}

const whenOn = (state: PoolState, command: PoolCommand): Then => {
  const decision = decide(state, command)
  return {
    decision,
    then: (...expected) => {
      if (Either.isLeft(decision)) {
        expect.fail(`expected events, ${command._tag} failed: ${decision.left._tag}: ${decision.left.message}`)
      }
      const actual = decision.right
      const encoded = encodeEvents(actual)
      expect(encoded, `events of ${command._tag}`).toEqual(encodeEvents(expected))
      expect(
        encoded.map((e) => decodeEvent(e)),
        "decided events survive an encode/decode round trip"
      ).toEqual(actual)
      const after = fold(actual, state)
      expectInvariantsHold(after, `after ${command._tag}`)
      return after
    },
    thenFails: (error, evidence) => {
      if (Either.isRight(decision)) {
        expect.fail(
          `expected ${typeof error === "string" ? error : error._tag}, ${command._tag} decided ${
            decision.right.map((e) => e._tag).join(", ") || "no events"
          }`
        )
      }
      const actual = decision.left
      const tag = typeof error === "string" ? error : error._tag
      expect(actual._tag, `error of ${command._tag}: ${actual.message}`).toBe(tag)
      if (typeof error !== "string") expect(actual).toBeInstanceOf(error)
      if (evidence !== undefined) {
        const fields = actual as unknown as Record<string, unknown>
        const picked = Object.fromEntries(Object.keys(evidence).map((key) => [key, fields[key]]))
        expect(picked, `evidence of ${tag}`).toEqual(evidence)
      }
      expect(actual.message.length, "an error explains itself").toBeGreaterThan(0)
      expectInvariantsHold(state, `after refusing ${command._tag}`)
      return actual
    }
  }
}

export const given = (...events: ReadonlyArray<PoolEvent>): Given => {
  const state = fold(events)
  return { state, when: (command) => whenOn(state, command) }
}

/** The state after folding; fails the test if `decide` refused something in `commands`. */
const runCommands = (
  commands: ReadonlyArray<PoolCommand>,
  from: PoolState = initialState
): { readonly events: ReadonlyArray<PoolEvent>; readonly state: PoolState } => {
  const events: PoolEvent[] = []
  let state = from
  for (const command of commands) {
    const decision = decide(state, command)
    if (Either.isLeft(decision)) {
      throw new Error(`setup: ${command._tag} at ${command.atUs} failed: ${decision.left.message}`)
    }
    for (const event of decision.right) {
      events.push(event)
      state = evolve(state, event)
    }
  }
  return { events, state }
}

// --- ids and a small pool -------------------------------------------------------------------------

export const P = poolId("p1")
export const h1 = hostId("h1")
export const h2 = hostId("h2")
export const h3 = hostId("h3")
export const vm1 = vmId("vm1")
export const vm2 = vmId("vm2")
export const vm3 = vmId("vm3")
export const m1 = migrationId("m1")
export const m2 = migrationId("m2")

/** Round numbers for hand computation: each host has 1000 pages, 100 of them for Xen and dom0. */
const HOST_TOTAL_PAGES = 1000
const HOST_OVERHEAD_PAGES = 100
export const HOST_GUEST_PAGES = HOST_TOTAL_PAGES - HOST_OVERHEAD_PAGES
/** ... and each VM pins dynamic_min = target = 200 pages with an overhead of 10: 210 pages on a host. */
const VM_TARGET_PAGES = 200
const VM_OVERHEAD_PAGES = 10
export const VM_FOOTPRINT_PAGES = VM_TARGET_PAGES + VM_OVERHEAD_PAGES

interface HostSpec {
  readonly id: HostId
  readonly memoryTotalPages?: number
  readonly memoryOverheadPages?: number
}

export interface VmSpec {
  readonly id: VmId
  readonly vcpus?: number
  readonly staticMinPages?: number
  readonly dynamicMinPages?: number
  readonly targetPages?: number
  readonly dynamicMaxPages?: number
  readonly staticMaxPages?: number
  readonly overheadPages?: number
  readonly blockedOperations?: ReadonlyArray<string>
  /** Start the VM on this host after creating every VM. */
  readonly startOn?: HostId
  readonly paused?: boolean
}

export interface PoolSpec {
  readonly hosts?: ReadonlyArray<HostSpec | HostId>
  readonly vms?: ReadonlyArray<VmSpec | VmId>
}

/** Setup commands of the small pool are at 0, 1000, 2000, ... µs; specs' own commands come later. */
const SETUP_STEP_US = 1000
export const T = 1_000_000

export const createVmCommand = (spec: VmSpec, atUs: number): PoolCommand => ({
  _tag: "CreateVm",
  atUs,
  vm: spec.id,
  vcpus: spec.vcpus ?? 1,
  memoryStaticMinPages: spec.staticMinPages ?? 0,
  memoryDynamicMinPages: spec.dynamicMinPages ?? spec.targetPages ?? VM_TARGET_PAGES,
  memoryTargetPages: spec.targetPages ?? VM_TARGET_PAGES,
  memoryDynamicMaxPages: spec.dynamicMaxPages ?? 400,
  memoryStaticMaxPages: spec.staticMaxPages ?? 512,
  memoryOverheadPages: spec.overheadPages ?? VM_OVERHEAD_PAGES,
  blockedOperations: spec.blockedOperations ?? []
})

/**
 * A small pool as given events, produced through `decide` so that they are valid: the pool, its hosts
 * (h1, h2 by default), the VMs created (Halted) and those with `startOn` started there, in order.
 */
export const smallPool = (spec: PoolSpec = {}): ReadonlyArray<PoolEvent> => {
  const hosts = (spec.hosts ?? [h1, h2]).map((h) => (typeof h === "string" ? { id: h } : h))
  const vms = (spec.vms ?? []).map((v) => (typeof v === "string" ? { id: v } : v))
  let atUs = 0
  const next = () => (atUs += SETUP_STEP_US) - SETUP_STEP_US
  const commands: PoolCommand[] = [
    { _tag: "CreatePool", atUs: next(), pool: P, pageSizeBytes: 4096, linkLatencyUs: 100 }
  ]
  for (const host of hosts) {
    commands.push({
      _tag: "JoinHost",
      atUs: next(),
      host: host.id,
      memoryTotalPages: host.memoryTotalPages ?? HOST_TOTAL_PAGES,
      memoryOverheadPages: host.memoryOverheadPages ?? HOST_OVERHEAD_PAGES,
      nicBandwidthBytesPerS: 125_000_000,
      cpus: 8
    })
  }
  for (const vm of vms) commands.push(createVmCommand(vm, next()))
  for (const vm of vms) {
    if (vm.startOn) commands.push({ _tag: "StartVm", atUs: next(), vm: vm.id, host: vm.startOn, paused: vm.paused })
  }
  return runCommands(commands).events
}

/** The events of `commands` decided after `events`, appended to them (setup that goes through `decide`). */
export const andThen = (events: ReadonlyArray<PoolEvent>, ...commands: ReadonlyArray<PoolCommand>) => [
  ...events,
  ...runCommands(commands, fold(events)).events
]

// --- commands, short ------------------------------------------------------------------------------

export const cmd = {
  start: (vm: VmId, host?: HostId, atUs = T): PoolCommand => ({ _tag: "StartVm", atUs, vm, host }),
  startPaused: (vm: VmId, host?: HostId, atUs = T): PoolCommand => ({ _tag: "StartVm", atUs, vm, host, paused: true }),
  resume: (vm: VmId, host?: HostId, atUs = T): PoolCommand => ({ _tag: "ResumeVm", atUs, vm, host }),
  pause: (vm: VmId, atUs = T): PoolCommand => ({ _tag: "PauseVm", atUs, vm }),
  unpause: (vm: VmId, atUs = T): PoolCommand => ({ _tag: "UnpauseVm", atUs, vm }),
  suspend: (vm: VmId, atUs = T): PoolCommand => ({ _tag: "SuspendVm", atUs, vm }),
  destroy: (vm: VmId, atUs = T): PoolCommand => ({ _tag: "DestroyVm", atUs, vm }),
  shutdown: (vm: VmId, mode: "clean" | "hard", atUs = T): PoolCommand => ({ _tag: "ShutdownVm", atUs, vm, mode }),
  setTarget: (vm: VmId, targetPages: number, atUs = T): PoolCommand => ({
    _tag: "SetMemoryTarget",
    atUs,
    vm,
    targetPages
  }),
  migrate: (migration: MigrationId, vm: VmId, destination: HostId, atUs = T): PoolCommand => ({
    _tag: "StartMigration",
    atUs,
    migration,
    vm,
    destination,
    policy: "xen-v2"
  }),
  round: (migration: MigrationId, round: number, atUs: number, live = true, pagesSent = 100): PoolCommand => ({
    _tag: "CompleteMigrationRound",
    atUs,
    migration,
    round,
    live,
    pagesSent,
    pagesSkipped: 0,
    bytesSent: pagesSent * 4096,
    pagesDirtied: 10,
    durationUs: 1000
  }),
  stopAndCopy: (migration: MigrationId, atUs: number): PoolCommand => ({
    _tag: "BeginStopAndCopy",
    atUs,
    migration,
    reason: "dirty pages below 50"
  }),
  commit: (migration: MigrationId, atUs: number): PoolCommand => ({ _tag: "CommitMigration", atUs, migration }),
  abort: (migration: MigrationId, atUs: number, reason = "cancelled"): PoolCommand => ({
    _tag: "AbortMigration",
    atUs,
    migration,
    reason
  }),
  host: (tag: "EnableHost" | "DisableHost" | "FailHost" | "RecoverHost", host: HostId, atUs = T): PoolCommand => ({
    _tag: tag,
    atUs,
    host
  })
}

/** Runs a migration up to the point of no return: start, one live round, stop-and-copy, the paused round. */
export const migrationToPointOfNoReturn = (migration: MigrationId, vm: VmId, destination: HostId, atUs = T) => [
  cmd.migrate(migration, vm, destination, atUs),
  cmd.round(migration, 1, atUs + 100),
  cmd.stopAndCopy(migration, atUs + 200),
  cmd.round(migration, 2, atUs + 300, false)
]
