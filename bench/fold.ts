/**
 * `projection.fold.1M`: events per second of folding a realistic, already-decoded log of 1,000,000 events
 * with `evolve` from `initialState` (DESIGN.md §4: the fold behind every projection and time-travel answer).
 *
 * The log is generated through `decide`, so every event is one the pool would accept: 64 hosts, 2,000 VMs
 * created and started, then live migrations, up to 16 in flight and interleaved, each one a reservation,
 * 1-5 live rounds, stop-and-copy, the paused round and the commit. Only the fold is timed.
 */
import { Either } from "effect"
import type { PoolCommand } from "../domain/commands.js"
import { decide } from "../domain/decide.js"
import type { PoolEvent } from "../domain/events.js"
import { evolve, foldEvents } from "../domain/evolve.js"
import { hostId, migrationId, poolId, vmId, type HostId, type VmId } from "../domain/ids.js"
import { checkInvariants } from "../domain/invariants.js"
import { getHost, getVm, initialState, type PoolState } from "../domain/state.js"
import { Prng } from "../engine/prng.js"
import { timeMs, type Benchmark, type BenchResult } from "./harness.js"

const SEED = 20_240_601
const EVENTS_COUNT = 1_000_000
const HOSTS_COUNT = 64
const VMS_COUNT = 2_000
const MIGRATIONS_IN_FLIGHT_MAX = 16
const LIVE_ROUNDS_MAX = 5
const PAGE_SIZE_BYTES = 4096
/** 64 GiB hosts with 1 GiB for Xen and dom0; VMs of 512 MiB to 2 GiB: about 60 % of guest memory used. */
const HOST_MEMORY_PAGES = 16 * 1_048_576
const HOST_OVERHEAD_PAGES = 262_144
const VM_MEMORY_UNIT_PAGES = 131_072
const FOLD_RUNS = 3

interface Log {
  readonly events: PoolEvent[]
  state: PoolState
  atUs: number
}

const apply = (log: Log, command: PoolCommand): boolean => {
  const decision = decide(log.state, command)
  if (Either.isLeft(decision)) return false
  for (const event of decision.right) {
    log.events.push(event)
    log.state = evolve(log.state, event)
  }
  return true
}

const mustApply = (log: Log, command: PoolCommand): void => {
  if (!apply(log, command)) {
    const decision = decide(log.state, command)
    throw new Error(`bench setup: ${command._tag} refused: ${Either.isLeft(decision) ? decision.left.message : ""}`)
  }
}

const tick = (log: Log, prng: Prng, maxUs: number): number => (log.atUs += 1 + prng.nextInt(maxUs))

const buildPool = (log: Log, prng: Prng): ReadonlyArray<VmId> => {
  mustApply(log, {
    _tag: "CreatePool",
    atUs: 0,
    pool: poolId("bench"),
    pageSizeBytes: PAGE_SIZE_BYTES,
    linkLatencyUs: 200
  })
  for (let i = 0; i < HOSTS_COUNT; i++) {
    mustApply(log, {
      _tag: "JoinHost",
      atUs: tick(log, prng, 1000),
      host: hostId(`host-${String(i).padStart(3, "0")}`),
      memoryTotalPages: HOST_MEMORY_PAGES,
      memoryOverheadPages: HOST_OVERHEAD_PAGES,
      nicBandwidthBytesPerS: 1_250_000_000,
      cpus: 32
    })
  }
  const vms: VmId[] = []
  for (let i = 0; i < VMS_COUNT; i++) {
    const id = vmId(`vm-${String(i).padStart(4, "0")}`)
    const pages = VM_MEMORY_UNIT_PAGES * prng.nextIntBetween(1, 4)
    mustApply(log, {
      _tag: "CreateVm",
      atUs: tick(log, prng, 1000),
      vm: id,
      vcpus: prng.nextIntBetween(1, 4),
      memoryStaticMinPages: pages,
      memoryDynamicMinPages: pages,
      memoryTargetPages: pages,
      memoryDynamicMaxPages: pages,
      memoryStaticMaxPages: pages
    })
    vms.push(id)
  }
  for (const vm of vms) mustApply(log, { _tag: "StartVm", atUs: tick(log, prng, 1000), vm })
  return vms
}

/** The remaining steps of one migration, decided one at a time as the pool moves on around it. */
const migrationSteps = (prng: Prng, migration: ReturnType<typeof migrationId>, vmPages: number) => {
  const liveRounds = prng.nextIntBetween(1, LIVE_ROUNDS_MAX)
  const steps: Array<(atUs: number) => PoolCommand> = []
  let dirty = vmPages
  for (let round = 1; round <= liveRounds; round++) {
    const sent = dirty
    dirty = Math.max(10, Math.floor(sent / prng.nextIntBetween(4, 12)))
    const pagesDirtied = dirty
    steps.push((atUs) => ({
      _tag: "CompleteMigrationRound",
      atUs,
      migration,
      round,
      live: true,
      pagesSent: sent,
      pagesSkipped: 0,
      bytesSent: sent * PAGE_SIZE_BYTES,
      pagesDirtied,
      durationUs: Math.ceil((sent * PAGE_SIZE_BYTES) / 1250)
    }))
  }
  const finalPages = dirty
  steps.push((atUs) => ({ _tag: "BeginStopAndCopy", atUs, migration, reason: "dirty pages below 50 or 5 rounds" }))
  steps.push((atUs) => ({
    _tag: "CompleteMigrationRound",
    atUs,
    migration,
    round: liveRounds + 1,
    live: false,
    pagesSent: finalPages,
    pagesSkipped: 0,
    bytesSent: finalPages * PAGE_SIZE_BYTES,
    pagesDirtied: 0,
    durationUs: Math.ceil((finalPages * PAGE_SIZE_BYTES) / 1250)
  }))
  steps.push((atUs) => ({ _tag: "CommitMigration", atUs, migration }))
  return steps
}

interface InFlight {
  readonly vm: VmId
  readonly steps: ReadonlyArray<(atUs: number) => PoolCommand>
  next: number
}

const startOne = (log: Log, prng: Prng, vms: ReadonlyArray<VmId>, hosts: ReadonlyArray<HostId>, serial: number) => {
  const vm = getVm(log.state, vms[prng.nextInt(vms.length)]!)!
  if (vm.migration !== undefined) return undefined
  const destination = hosts[prng.nextInt(hosts.length)]!
  if (destination === vm.residentOn || !getHost(log.state, destination)) return undefined
  const migration = migrationId(`mig-${serial}`)
  const ok = apply(log, {
    _tag: "StartMigration",
    atUs: tick(log, prng, 5_000),
    migration,
    vm: vm.id,
    destination,
    policy: "xen-v2"
  })
  return ok ? { vm: vm.id, steps: migrationSteps(prng, migration, vm.populatedPages), next: 0 } : undefined
}

/**
 * A valid log of exactly `eventsCount` events (the tail of the last step is cut off), handed over in
 * batches of `batchEvents` so that a caller writing it to a store need not hold it all (10,000,000
 * decoded events would not fit in the default heap). Returns the number of committed migrations.
 */
export function* generateFoldLogBatches(
  eventsCount: number,
  batchEvents: number
): Generator<ReadonlyArray<PoolEvent>, number, undefined> {
  if (!(Number.isInteger(eventsCount) && eventsCount > 0 && Number.isInteger(batchEvents) && batchEvents > 0))
    throw new Error(`bench setup: eventsCount ${eventsCount} and batchEvents ${batchEvents} must be positive integers`)
  const prng = Prng.fromSeed(SEED).fork("bench.fold")
  const log: Log = { events: [], state: initialState, atUs: 0 }
  const vms = buildPool(log, prng)
  const hosts = Array.from({ length: HOSTS_COUNT }, (_, i) => hostId(`host-${String(i).padStart(3, "0")}`))
  const inFlight: InFlight[] = []
  // Generation gives up rather than loop forever if the pool ever refuses every migration.
  const generationStepsMax = 4 * eventsCount
  let handedOver = 0
  let serial = 0
  let committed = 0
  for (let step = 0; handedOver + log.events.length < eventsCount; step++) {
    if (step >= generationStepsMax) throw new Error(`bench setup: stuck at ${handedOver + log.events.length} events`)
    if (log.events.length >= batchEvents) {
      yield log.events.splice(0, batchEvents)
      handedOver += batchEvents
    }
    if (inFlight.length < MIGRATIONS_IN_FLIGHT_MAX) {
      const started = startOne(log, prng, vms, hosts, serial)
      if (started) {
        inFlight.push(started)
        serial++
      }
      continue
    }
    const index = prng.nextInt(inFlight.length)
    const migration = inFlight[index]!
    mustApply(log, migration.steps[migration.next]!(tick(log, prng, 20_000)))
    migration.next++
    if (migration.next === migration.steps.length) {
      inFlight.splice(index, 1)
      committed++
    }
  }
  const violations = checkInvariants(log.state)
  if (violations.length > 0) throw new Error(`bench setup: invariants broken: ${JSON.stringify(violations)}`)
  const rest = log.events.slice(0, eventsCount - handedOver)
  for (let first = 0; first < rest.length; first += batchEvents) yield rest.slice(first, first + batchEvents)
  return committed
}

/** A valid log of exactly `EVENTS_COUNT` events, in memory. */
export const generateFoldLog = (): { readonly events: ReadonlyArray<PoolEvent>; readonly migrations: number } => {
  const events: PoolEvent[] = []
  const batches = generateFoldLogBatches(EVENTS_COUNT, EVENTS_COUNT)
  for (let next = batches.next(); ; next = batches.next()) {
    if (next.done === true) return { events, migrations: next.value }
    for (const event of next.value) events.push(event)
  }
}

const median = (values: ReadonlyArray<number>): number =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!

export const foldBenchmarks: ReadonlyArray<Benchmark> = [
  {
    name: "projection.fold",
    run: async (): Promise<ReadonlyArray<BenchResult>> => {
      const { events, migrations } = generateFoldLog()
      let last: PoolState = initialState
      last = foldEvents(initialState, events) // warm-up: let the JIT settle before timing
      const runsMs: number[] = []
      for (let run = 0; run < FOLD_RUNS; run++) {
        runsMs.push(await timeMs(() => (last = foldEvents(initialState, events))))
      }
      if (last.atUs !== events[events.length - 1]!.atUs) throw new Error("bench: the fold did not reach the last event")
      const ms = median(runsMs)
      return [
        {
          name: "projection.fold.1M",
          workload:
            `${events.length.toLocaleString("en-US")} decoded events from initialState: ${HOSTS_COUNT} hosts, ` +
            `${VMS_COUNT} VMs started, ${migrations.toLocaleString("en-US")} live migrations ` +
            `(≤${MIGRATIONS_IN_FLIGHT_MAX} in flight, 1-${LIVE_ROUNDS_MAX} live rounds); median of ${FOLD_RUNS} folds`,
          value: Math.round(events.length / (ms / 1000)),
          unit: "events/s"
        }
      ]
    }
  }
]
