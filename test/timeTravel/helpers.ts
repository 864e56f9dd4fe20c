/**
 * Generated pool histories for the time-travel tests: a random walk of commands through `decide` (every
 * event one the pool accepted), with times that often repeat (several events at one time, to test the
 * inclusive as-of), over every kind of event the domain has: hosts joining, failing and recovering,
 * VM lifecycle, memory targets, migrations with rounds that commit or abort, paging and ballooning.
 */
import { Effect, Either, HashMap, Layer } from "effect"
import fc from "fast-check"
import type { PoolCommand } from "../../domain/commands.js"
import { decide } from "../../domain/decide.js"
import type { PoolEvent } from "../../domain/events.js"
import { evolve } from "../../domain/evolve.js"
import { eventId, hostId, migrationId, poolId, poolStreamName, vmId, type PoolId } from "../../domain/ids.js"
import { hostList, initialState, migrationList, vmList, type PoolState } from "../../domain/state.js"
import { SnapshotSettings } from "../../projections/snapshots.js"
import { EventStore, ExpectedRevision, type NewEvent } from "../../store/EventStore.js"
import { layerMemory } from "../../store/memory.js"

export const testPool: PoolId = poolId("tt")

/** A state as plain data in id order, for exact comparison (`toStrictEqual`). */
export const plain = (s: PoolState) => ({
  pool: s.pool,
  atUs: s.atUs,
  hosts: hostList(s),
  vms: vmList(s),
  migrations: migrationList(s)
})

export interface StepDraw {
  readonly kind: number
  readonly vm: number
  readonly host: number
  readonly amount: number
  /** Time step in µs: mostly 0 or small, so that events share times. */
  readonly dtUs: number
}

export interface HistoryDraw {
  readonly hosts: number
  readonly vms: number
  readonly steps: ReadonlyArray<StepDraw>
}

const stepArb: fc.Arbitrary<StepDraw> = fc.record({
  kind: fc.nat(99),
  vm: fc.nat(9),
  host: fc.nat(9),
  amount: fc.integer({ min: 1, max: 100 }),
  dtUs: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 5_000 }))
})

export const historyArb = (maxSteps = 150): fc.Arbitrary<HistoryDraw> =>
  fc.record({
    hosts: fc.integer({ min: 2, max: 4 }),
    vms: fc.integer({ min: 1, max: 6 }),
    steps: fc.array(stepArb, { minLength: 10, maxLength: maxSteps, size: "max" })
  })

const VM_PAGES = 1_024
const HOST_PAGES = 4 * 1_024 * 4

interface Walk {
  state: PoolState
  atUs: number
  readonly events: PoolEvent[]
  readonly inFlight: Array<{ readonly id: ReturnType<typeof migrationId>; round: number }>
  migrations: number
}

const apply = (walk: Walk, command: PoolCommand): boolean => {
  const decision = decide(walk.state, command)
  if (Either.isLeft(decision)) return false
  for (const event of decision.right) {
    walk.events.push(event)
    walk.state = evolve(walk.state, event)
  }
  return true
}

const vmOf = (i: number) => vmId(`vm-${i}`)
const hostOf = (i: number) => hostId(`host-${i}`)

const setup = (walk: Walk, draw: HistoryDraw): void => {
  apply(walk, { _tag: "CreatePool", atUs: 0, pool: testPool, pageSizeBytes: 4096, linkLatencyUs: 100 })
  for (let h = 0; h < draw.hosts; h++) {
    apply(walk, {
      _tag: "JoinHost",
      atUs: 0,
      host: hostOf(h),
      memoryTotalPages: HOST_PAGES,
      memoryOverheadPages: 256,
      nicBandwidthBytesPerS: 125_000_000,
      cpus: 8
    })
  }
  for (let v = 0; v < draw.vms; v++) {
    apply(walk, {
      _tag: "CreateVm",
      atUs: 0,
      vm: vmOf(v),
      vcpus: 1,
      memoryStaticMinPages: VM_PAGES / 4,
      memoryDynamicMinPages: VM_PAGES / 2,
      memoryTargetPages: VM_PAGES,
      memoryDynamicMaxPages: VM_PAGES,
      memoryStaticMaxPages: VM_PAGES
    })
  }
}

/** The command a step draws, given the walk so far; undefined to skip. */
const commandOf = (walk: Walk, draw: HistoryDraw, step: StepDraw): PoolCommand | undefined => {
  const atUs = walk.atUs
  const vm = vmOf(step.vm % draw.vms)
  const host = hostOf(step.host % draw.hosts)
  const flight = walk.inFlight[step.vm % Math.max(1, walk.inFlight.length)]
  const k = step.kind
  if (k < 14) return { _tag: "StartVm", atUs, vm, ...(k % 2 === 0 ? { host } : {}) }
  if (k < 30 && flight !== undefined) return migrationStep(atUs, flight, step)
  if (k < 40)
    return {
      _tag: "StartMigration",
      atUs,
      vm,
      destination: host,
      migration: migrationId(`m-${walk.migrations}`),
      policy: "xen"
    }
  if (k < 44) return { _tag: "PauseVm", atUs, vm }
  if (k < 48) return { _tag: "UnpauseVm", atUs, vm }
  if (k < 51) return { _tag: "SuspendVm", atUs, vm }
  if (k < 54) return { _tag: "ResumeVm", atUs, vm, ...(k % 2 === 0 ? { host } : {}) }
  if (k < 58) return { _tag: "ShutdownVm", atUs, vm, mode: k % 2 === 0 ? "clean" : "hard" }
  if (k < 59) return { _tag: "DestroyVm", atUs, vm }
  if (k < 63) return { _tag: "DisableHost", atUs, host }
  if (k < 67) return { _tag: "EnableHost", atUs, host }
  if (k < 69) return { _tag: "FailHost", atUs, host }
  if (k < 72) return { _tag: "RecoverHost", atUs, host }
  if (k < 78)
    return { _tag: "SetMemoryTarget", atUs, vm, targetPages: VM_PAGES / 2 + Math.floor((step.amount * VM_PAGES) / 200) }
  if (k < 83) return { _tag: "SetPagingTarget", atUs, vm, targetPages: Math.floor((step.amount * VM_PAGES) / 100) }
  if (k < 88) return { _tag: "PageOut", atUs, vm, pages: step.amount }
  if (k < 92) return { _tag: "PageIn", atUs, vm, pages: step.amount }
  if (k < 94) return { _tag: "ServePageFaults", atUs, vm, faults: step.amount, vcpuWaitUs: step.amount * 10 }
  if (k < 97) return { _tag: "InflateBalloon", atUs, vm, releasedPages: step.amount, droppedPages: 0 }
  return { _tag: "DeflateBalloon", atUs, vm, pages: step.amount }
}

const migrationStep = (
  atUs: number,
  flight: { readonly id: ReturnType<typeof migrationId>; round: number },
  step: StepDraw
): PoolCommand => {
  const pages = VM_PAGES / (flight.round + 1)
  const round = {
    _tag: "CompleteMigrationRound",
    atUs,
    migration: flight.id,
    round: flight.round + 1,
    pagesSent: pages,
    pagesSkipped: 0,
    bytesSent: pages * 4096,
    pagesDirtied: Math.floor(pages / 4),
    durationUs: 1_000
  } as const
  switch (step.amount % 6) {
    case 0:
      return { _tag: "BeginStopAndCopy", atUs, migration: flight.id, reason: "few dirty pages" }
    case 1:
      return { ...round, live: false }
    case 2:
      return { _tag: "CommitMigration", atUs, migration: flight.id }
    case 3:
      return step.kind % 3 === 0
        ? { _tag: "AbortMigration", atUs, migration: flight.id, reason: "link failed" }
        : { ...round, live: true }
    default:
      return { ...round, live: true }
  }
}

/** The events of a drawn history: all accepted by `decide`, times never going back. */
export const buildHistory = (draw: HistoryDraw): ReadonlyArray<PoolEvent> => {
  const walk: Walk = { state: initialState, atUs: 0, events: [], inFlight: [], migrations: 0 }
  setup(walk, draw)
  for (const step of draw.steps) {
    walk.atUs += step.dtUs
    const command = commandOf(walk, draw, step)
    if (command === undefined || !apply(walk, command)) continue
    if (command._tag === "StartMigration") {
      walk.inFlight.push({ id: command.migration, round: 0 })
      walk.migrations++
    }
    if (command._tag === "CompleteMigrationRound") {
      const flight = walk.inFlight.find((f) => f.id === command.migration)
      if (flight) flight.round++
    }
    // Finished migrations leave the state: forget them.
    for (let i = walk.inFlight.length - 1; i >= 0; i--)
      if (!HashMap.has(walk.state.migrations, walk.inFlight[i]!.id)) walk.inFlight.splice(i, 1)
  }
  return walk.events
}

export const withIds = (events: ReadonlyArray<PoolEvent>): ReadonlyArray<NewEvent> =>
  events.map((event, n) => ({ id: eventId(`00000000-0000-4000-8000-${n.toString(16).padStart(12, "0")}`), event }))

/** Appends the events as the pool's stream, in batches of `batch`. */
export const appendHistory = (pool: PoolId, events: ReadonlyArray<PoolEvent>, batch = 1_000) =>
  Effect.gen(function* () {
    const store = yield* EventStore
    const all = withIds(events)
    for (let i = 0; i < all.length; i += batch) {
      const expected = i === 0 ? ExpectedRevision.noStream : ExpectedRevision.at(i - 1)
      yield* store.append(poolStreamName(pool), all.slice(i, i + batch), expected)
    }
  })

/** A fresh memory store with snapshots every `everyEvents` events, a whole state every `wholeStateEvery`. */
export const memoryWithSnapshotsEvery = (everyEvents: number, wholeStateEvery?: number) =>
  Layer.merge(
    layerMemory,
    Layer.succeed(SnapshotSettings, wholeStateEvery === undefined ? { everyEvents } : { everyEvents, wholeStateEvery })
  )

/** The state the full fold gives after the events of the longest prefix all at or before `atUs`. */
export const foldUntil = (events: ReadonlyArray<PoolEvent>, atUs: number): { state: PoolState; revision: number } => {
  let state = initialState
  let revision = -1
  for (const event of events) {
    if (event.atUs > atUs) break
    state = evolve(state, event)
    revision++
  }
  return { state, revision }
}

export const foldThrough = (events: ReadonlyArray<PoolEvent>, revision: number): PoolState => {
  let state = initialState
  for (let i = 0; i <= revision && i < events.length; i++) state = evolve(state, events[i]!)
  return state
}
