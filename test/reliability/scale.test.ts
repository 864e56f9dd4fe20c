/**
 * Large pools ("Trust: large pools"):
 * - the evacuation planner, now ordered by the hosts' room instead of scanning every host per VM, gives
 *   exactly the plan of the scanning planner it replaced (kept here as the oracle) on random pools;
 * - the CLI reads and prints a pool of 150,000+ events without overflowing the stack.
 * How fast is for bench/ (`npm run bench -- engine.evacuate`), never timed here.
 */
import { Effect, Either, HashMap } from "effect"
import fc from "fast-check"
import { spawn } from "node:child_process"
import { closeSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { formatAt, formatDiff, VmHistoryPrinter } from "../../cli/timeTravelOutput.js"
import { vmHistoryJson } from "../../api/timeTravel.js"
import { indentedJson, JsonArrayText } from "../../cli/output.js"
import { table } from "../../cli/shared.js"
import { columnWidths, StreamedTable, textTable } from "../../cli/textTable.js"
import { decide } from "../../domain/decide.js"
import type { PoolEvent } from "../../domain/events.js"
import { planEvacuation as planWith, xapiDefault } from "../../domain/placement/index.js"

const planEvacuation = (state: Parameters<typeof planWith>[0], host: Parameters<typeof planWith>[1]) =>
  planWith(state, host, xapiDefault)
import { HostUnknown, NoHostsAvailable } from "../../domain/errors.js"
import { foldEvents } from "../../domain/evolve.js"
import { hostId, migrationId, poolId, poolStreamName, vmId, type HostId } from "../../domain/ids.js"
import {
  hostPhysicalFreePages,
  hostPlacementFreePages,
  vmPhysicalPages,
  vmPlacementPages
} from "../../domain/memory.js"
import {
  getHost,
  hostList,
  initialState,
  vmList,
  type Host,
  type PoolRead,
  type PoolState,
  type Vm
} from "../../domain/state.js"
import { LivePool } from "../../domain/tables.js"
import { formatDurationUs, formatDurationUsWidthMax } from "../../domain/units.js"
import { diffStates, type PoolDiff } from "../../projections/diff.js"
import { HostsInUse, type HostsInUseSummary } from "../../projections/hostsInUse.js"
import { streamVmHistory, vmHistory } from "../../projections/history.js"
import type { StateAt } from "../../projections/timeTravel.js"
import { EventStore, ExpectedRevision } from "../../store/EventStore.js"
import { layerMemory } from "../../store/memory.js"
import { binary, isCleanError, tempDir, type CliResult } from "../cli/run.js"
import { compile, compileFile, run } from "../engine/harness.js"

// --- the evacuation plan -------------------------------------------------------------------------

/**
 * The planner as it was before it kept the hosts ordered (domain/evacuate.ts at 928428c), verbatim but
 * for its return type: every VM scans every target host, O(VMs × hosts).
 */
const scanningPlan = (state: PoolRead, host: HostId) => {
  if (!getHost(state, host)) return Either.left(new HostUnknown({ host }))
  const targets = hostList(state)
    .filter((h) => h.id !== host && h.live && h.enabled)
    .map((h) => ({ id: h.id, placementFree: hostPlacementFreePages(h), physicalFree: hostPhysicalFreePages(h) }))
  const movable = vmList(state)
    .filter((vm) => vm.residentOn === host)
    .filter((vm) => vm.migration === undefined)
    .sort((a, b) => vmPlacementPages(b) - vmPlacementPages(a) || (a.id < b.id ? -1 : 1))
  const plan: Array<{ vm: string; destination: string }> = []
  for (const vm of movable) {
    let best: (typeof targets)[number] | undefined
    for (const t of targets) {
      if (t.placementFree < vmPlacementPages(vm) || t.physicalFree < vmPhysicalPages(vm)) continue
      if (!best || t.placementFree > best.placementFree) best = t
    }
    if (!best) {
      const reason =
        targets.length === 0
          ? `no other live, enabled host to evacuate ${host} to`
          : `needs ${vmPlacementPages(vm)} pages; the most any other host has left is ${Math.max(...targets.map((t) => t.placementFree))}`
      return Either.left(new NoHostsAvailable({ vm: vm.id, reason }))
    }
    best.placementFree -= vmPlacementPages(vm)
    best.physicalFree -= vmPhysicalPages(vm)
    plan.push({ vm: vm.id, destination: best.id })
  }
  return Either.right(plan)
}

/** A plan or its error, as comparable data (the error's tag and every field of its evidence). */
const planData = (plan: Either.Either<ReadonlyArray<unknown>, HostUnknown | NoHostsAvailable>) =>
  Either.isLeft(plan) ? { error: { ...plan.left, tag: plan.left._tag } } : { moves: plan.right }

/** Figures on a coarse grid, so that ties (the plan breaks them by id) are common. */
const pagesArb = (max: number) => fc.integer({ min: 0, max: max / 10 }).map((n) => n * 10)

const hostArb = fc.record({
  memoryTotalPages: pagesArb(4_000),
  memoryOverheadPages: pagesArb(200),
  placementPages: pagesArb(3_000),
  residentPages: pagesArb(3_000),
  reservedPages: pagesArb(500),
  enabled: fc.oneof({ weight: 6, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
  live: fc.oneof({ weight: 8, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) })
})

const vmArb = (hosts: number) =>
  fc.record({
    /** Most VMs on the evacuated host (index 0), the others anywhere or nowhere. */
    residentOn: fc.oneof(
      { weight: 6, arbitrary: fc.constant(0) },
      { weight: 2, arbitrary: fc.integer({ min: -1, max: hosts - 1 }) }
    ),
    migrating: fc.oneof({ weight: 9, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
    dynamicMinPages: pagesArb(400),
    /** Physical and placement footprints apart (ballooned up, paged out), so the two rules disagree. */
    populatedPages: pagesArb(500),
    overheadPages: pagesArb(40)
  })

const poolArb = fc.integer({ min: 1, max: 40 }).chain((hosts) =>
  fc.record({
    hosts: fc.array(hostArb, { minLength: hosts, maxLength: hosts }),
    vms: fc.array(vmArb(hosts), { maxLength: 300 }),
    evacuated: fc.oneof(
      { weight: 9, arbitrary: fc.constant(0) },
      { weight: 1, arbitrary: fc.integer({ min: 0, max: hosts }) }
    )
  })
)

type PoolDraw = typeof poolArb extends fc.Arbitrary<infer T> ? T : never

const hostName = (i: number) => hostId(`h${String(i).padStart(3, "0")}`)

/** Host and VM records straight from the draw: the planner reads only these fields, whatever made them. */
const poolOf = (draw: PoolDraw): PoolState => {
  const hosts = draw.hosts.map((h, i): Host => ({
    id: hostName(i),
    memoryTotalPages: h.memoryTotalPages,
    memoryOverheadPages: h.memoryOverheadPages,
    nicBandwidthBytesPerS: 1_250_000_000,
    cpus: 8,
    enabled: h.enabled,
    live: h.live,
    nextDomid: 1,
    residentPages: h.residentPages,
    reservedPages: h.reservedPages,
    placementPages: h.placementPages
  }))
  const vms = draw.vms.map((v, i): Vm => ({
    id: vmId(`vm${String(i).padStart(3, "0")}`),
    vcpus: 1,
    memory: {
      staticMinPages: 0,
      dynamicMinPages: v.dynamicMinPages,
      targetPages: v.populatedPages,
      dynamicMaxPages: v.populatedPages,
      staticMaxPages: v.populatedPages
    },
    overheadPages: v.overheadPages,
    powerState: v.residentOn < 0 ? "Halted" : "Running",
    residentOn: v.residentOn < 0 ? undefined : hosts[v.residentOn]!.id,
    scheduledToBeResidentOn: undefined,
    domid: v.residentOn < 0 ? -1 : i + 1,
    currentOperation: v.migrating ? "pool_migrate" : undefined,
    migration: v.migrating ? migrationId(`m${i}`) : undefined,
    guestPages: v.populatedPages,
    populatedPages: v.populatedPages,
    pagedOutPages: 0,
    pagingTargetPages: undefined,
    blockedOperations: [],
    ha: undefined
  }))
  return {
    ...initialState,
    pool: { id: poolId("p"), pageSizeBytes: 4096, linkLatencyUs: 100, master: hosts[0]!.id, ha: undefined },
    hosts: HashMap.fromIterable(hosts.map((h) => [h.id, h] as const)),
    vms: HashMap.fromIterable(vms.map((v) => [v.id, v] as const))
  }
}

describe("evacuation plan on large pools", () => {
  it("the planner ordered by the hosts' room gives the scanning planner's plan, or its error, on random pools", () => {
    fc.assert(
      fc.property(poolArb, (draw) => {
        const state = poolOf(draw)
        const host = draw.evacuated < draw.hosts.length ? hostName(draw.evacuated) : hostId("nope")
        const expected = planData(scanningPlan(state, host))
        expect(planData(planEvacuation(state, host))).toEqual(expected)
        // the engine plans on its live pool (a view of native maps): the same plan
        expect(planData(planEvacuation(new LivePool(state), host))).toEqual(expected)
      }),
      { numRuns: 2_000, seed: 20261207 }
    )
  })

  it("plans 20,000 VMs onto 400 hosts as the scanning planner does", () => {
    const hosts = 401
    const draw: PoolDraw = {
      hosts: Array.from({ length: hosts }, (_, i) => ({
        memoryTotalPages: i === 0 ? 10_000_000 : 60_000 + (i % 7) * 1_000,
        memoryOverheadPages: 1_000,
        placementPages: (i % 5) * 500,
        residentPages: (i % 3) * 700,
        reservedPages: 0,
        enabled: true,
        live: i % 97 !== 3
      })),
      vms: Array.from({ length: 20_000 }, (_, i) => ({
        residentOn: 0,
        migrating: i % 1_000 === 7,
        dynamicMinPages: 100 + (i % 13) * 40,
        populatedPages: 100 + (i % 17) * 40,
        overheadPages: 20
      })),
      evacuated: 0
    }
    const state = poolOf(draw)
    const plan = planEvacuation(state, hostName(0))
    expect(Either.isRight(plan)).toBe(true)
    expect(planData(plan)).toEqual(planData(scanningPlan(state, hostName(0))))
  })
})

// --- stack overflows on large pools: no spread of a pool-sized array into a call -------------------

/** More VMs than a spread into a call's arguments survives (about 120,000 on Node 20's default stack). */
const MANY_VMS = 130_000

const manyVmsDraw = (hosts: number): PoolDraw => ({
  hosts: Array.from({ length: hosts }, () => ({
    memoryTotalPages: 1_000_000_000,
    memoryOverheadPages: 0,
    placementPages: 0,
    residentPages: 0,
    reservedPages: 0,
    enabled: true,
    live: true
  })),
  vms: Array.from({ length: MANY_VMS }, () => ({
    residentOn: 0,
    migrating: false,
    dynamicMinPages: 10,
    populatedPages: 10,
    overheadPages: 0
  })),
  evacuated: 0
})

describe("a pool of 130,000 VMs", () => {
  const state = poolOf(manyVmsDraw(2))

  it("failing the host they all run on halts them all (decide spread the events into a call)", () => {
    const decision = decide(state, { _tag: "FailHost", atUs: 1, host: hostName(0) })
    expect(Either.isRight(decision) && decision.right.filter((e) => e._tag === "VmShutdown").length).toBe(MANY_VMS)
  })

  it("compiles from a scenario that starts them all (compile spread the starts into a push)", () => {
    const scenario = compile({
      format: "xenpool-scenario",
      version: 1,
      name: "many",
      pool: { id: "many" },
      hosts: [{ id: "h", count: 2, memory: "1TiB", overhead: "1GiB", nic: "10Gbit/s" }],
      vms: [
        { id: "a", count: MANY_VMS / 2, vcpus: 1, memory: "4MiB", host: "h1" },
        { id: "b", count: MANY_VMS / 2, vcpus: 1, memory: "4MiB", host: "h2" }
      ],
      schedule: []
    })
    expect(scenario.setup.filter((c) => c._tag === "StartVm")).toHaveLength(MANY_VMS)
  })

  const answer = (s: PoolState, revision: number): StateAt => ({
    pool: poolId("p"),
    target: { revision },
    state: s,
    revision,
    atUs: 0,
    bound: "within",
    lastRevision: revision,
    snapshotRevision: -1,
    eventsFolded: revision + 1
  })

  it("`at` prints them as text (its tables spread the rows into Math.max)", () => {
    const text = formatAt(answer(state, 1), "@1", { _tag: "pool" })
    expect(text.split("\n").filter((line) => line.startsWith("vm")).length).toBeGreaterThanOrEqual(MANY_VMS)
  })

  it("`diff` lists them as text (its lists spread the items into a push)", () => {
    const empty: PoolState = { ...state, vms: HashMap.empty() }
    const d: PoolDiff = {
      pool: poolId("p"),
      against: poolId("p"),
      from: answer(empty, 0),
      to: answer(state, 1),
      ...diffStates(empty, state)
    }
    expect(formatDiff(d, "@0", "@1")).toContain(`VMs created (${MANY_VMS})`)
  })
})

// --- streamed output: the same text as the whole document --------------------------------------------

describe("output printed as it goes", () => {
  const jsonValueArb = fc.jsonValue({ maxDepth: 3 })

  it("a JSON array written element by element, at any depth, is JSON.stringify's text of the whole", () => {
    fc.assert(
      fc.property(fc.array(fc.array(jsonValueArb, { maxLength: 5 }), { maxLength: 5 }), fc.nat(3), (pages, depth) => {
        const array = new JsonArrayText(depth)
        const text = pages.map((page) => array.elements(page)).join("") + array.end()
        expect(text).toBe(indentedJson(pages.flat(), depth))
        expect(JSON.parse(text)).toStrictEqual(JSON.parse(JSON.stringify(pages.flat())))
      }),
      { numRuns: 300, seed: 20261207 }
    )
  })

  it("a table without spreads is the shared table's text; streamed with room planned, the same rows", () => {
    const cellArb = fc.string({ maxLength: 12 }).map((s) => s.replace(/\n/g, " "))
    fc.assert(
      fc.property(
        fc
          .integer({ min: 1, max: 5 })
          .chain((columns) =>
            fc.tuple(
              fc.array(cellArb, { minLength: columns, maxLength: columns }),
              fc.array(fc.array(cellArb, { minLength: columns, maxLength: columns }), { maxLength: 8 })
            )
          ),
        ([header, rows]) => {
          expect(textTable(header, rows)).toBe(table(header, rows))
          const streamed = new StreamedTable(header, columnWidths(header, rows))
          const lines = (streamed.head() + streamed.rows(rows.slice(0, 3)) + streamed.rows(rows.slice(3))).split("\n")
          const whole = textTable(header, rows).split("\n")
          expect([lines[0], ...lines.slice(2, -1)]).toStrictEqual([whole[0], ...whole.slice(2)])
        }
      ),
      { numRuns: 300, seed: 20261207 }
    )
  })

  it("the planned width of a time column is the longest formatDurationUs of any time up to the last", () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.integer({ min: 0, max: 100_000_000 }), fc.integer({ min: 0, max: 400_000_000_000 })),
        fc.nat(),
        (maxUs, seed) => {
          const atUs = seed % (maxUs + 1)
          expect(formatDurationUs(atUs).length).toBeLessThanOrEqual(formatDurationUsWidthMax(maxUs))
        }
      ),
      { numRuns: 2_000, seed: 20261207 }
    )
    expect(
      [0, 999, 1_000, 9_999, 999_999, 5_000_000, 59_999_999, 3_600_000_000].map(formatDurationUsWidthMax)
    ).toStrictEqual([4, 6, 7, 8, 9, 9, 9, 9])
  })

  it("history --vm's pieces, streamed page by page, make the whole history's JSON document", () => {
    const scenario = compileFile("rolling-maintenance")
    const { events } = run(scenario)
    const pool = scenario.pool
    const printed = Effect.runSync(
      Effect.gen(function* () {
        yield* (yield* EventStore).append(poolStreamName(pool), events, ExpectedRevision.noStream)
        const now = foldEvents(
          initialState,
          events.map((e) => e.event)
        )
        const vms = vmList(now).map((vm) => vm.id)
        return yield* Effect.forEach(vms, (vm) =>
          Effect.gen(function* () {
            const printer = new VmHistoryPrinter(true, pool, vm, now)
            let text = ""
            const end = yield* streamVmHistory(pool, vm, (changes, lastRevision) => {
              text += (text === "" ? printer.head(lastRevision) : "") + printer.changes(changes)
              return Effect.succeed(true)
            })
            text += printer.end(end.changes, end.migrations)
            const whole = yield* vmHistory(pool, vm)
            return { text, whole: `${JSON.stringify(vmHistoryJson(whole), null, 2)}\n` }
          })
        )
      }).pipe(Effect.provide(layerMemory))
    )
    expect(printed.length).toBeGreaterThan(0)
    for (const { text, whole } of printed) expect(text).toBe(whole)
  })
})

// --- hosts in use, counted as they change ---------------------------------------------------------

/**
 * The hosts-in-use projection as it was before it kept its count up to date (projections/hostsInUse.ts
 * at 928428c), verbatim: every placement recounted every host, O(events × hosts).
 */
class RecountingHostsInUse {
  private readonly vmHost = new Map<string, string>()
  private readonly vmsOn = new Map<string, number>()
  private readonly live = new Map<string, boolean>()
  private inUse = 0
  private readonly points: Array<{ atUs: number; hosts: number }> = []

  add(event: PoolEvent): void {
    switch (event._tag) {
      case "HostJoined":
        this.live.set(event.host, true)
        return this.record(event.atUs)
      case "HostFailed":
      case "HostRecovered":
        this.live.set(event.host, event._tag === "HostRecovered")
        return this.recount(event.atUs)
      case "VmStarted":
      case "VmResumed":
        this.place(event.vm, event.host)
        return this.recount(event.atUs)
      case "VmMigrationCommitted":
        this.place(event.vm, event.destination)
        return this.recount(event.atUs)
      case "VmShutdown":
      case "VmSuspended":
      case "VmDestroyed":
        this.place(event.vm, undefined)
        return this.recount(event.atUs)
      default:
        return
    }
  }

  private place(vm: string, host: string | undefined): void {
    const before = this.vmHost.get(vm)
    if (before !== undefined) this.vmsOn.set(before, (this.vmsOn.get(before) ?? 1) - 1)
    if (host === undefined) this.vmHost.delete(vm)
    else {
      this.vmHost.set(vm, host)
      this.vmsOn.set(host, (this.vmsOn.get(host) ?? 0) + 1)
    }
  }

  private recount(atUs: number): void {
    let n = 0
    for (const [host, vms] of this.vmsOn) if (vms > 0 && this.live.get(host) === true) n++
    this.inUse = n
    this.record(atUs)
  }

  private record(atUs: number): void {
    const last = this.points[this.points.length - 1]
    if (last && last.hosts === this.inUse) return
    if (last && last.atUs === atUs) {
      last.hosts = this.inUse
      // Collapsing may make it equal to the point before: drop it.
      const previous = this.points[this.points.length - 2]
      if (previous && previous.hosts === last.hosts) this.points.pop()
      return
    }
    this.points.push({ atUs, hosts: this.inUse })
  }

  /** The summary over [0, endUs]; samples every `sampleEveryUs` (default one hour). */
  summary(endUs: number, sampleEveryUs = 3_600_000_000): HostsInUseSummary {
    if (!(Number.isInteger(sampleEveryUs) && sampleEveryUs > 0)) throw new RangeError("sampleEveryUs must be > 0")
    const series = this.points.map((p) => ({ ...p }))
    let hostUs = 0
    for (let i = 0; i < series.length; i++) {
      const from = Math.min(series[i]!.atUs, endUs)
      const to = Math.min(series[i + 1]?.atUs ?? endUs, endUs)
      hostUs += series[i]!.hosts * Math.max(0, to - from)
    }
    const samples: number[] = []
    let next = 0
    let value = 0
    for (let t = 0; t <= endUs && samples.length < 100_000; t += sampleEveryUs) {
      while (next < series.length && series[next]!.atUs <= t) value = series[next++]!.hosts
      samples.push(value)
    }
    const counts = series.map((p) => p.hosts)
    return {
      series,
      min: counts.reduce((a, b) => Math.min(a, b), counts[0] ?? 0),
      max: counts.reduce((a, b) => Math.max(a, b), 0),
      final: this.inUse,
      mean: endUs > 0 ? hostUs / endUs : this.inUse,
      hostUs,
      sampleEveryUs,
      samples
    }
  }
}

/** A valid run's placement events: the hosts join, then VMs start, move, stop and hosts fail and recover. */
const placementsArb = fc
  .record({
    hosts: fc.integer({ min: 1, max: 6 }),
    vms: fc.integer({ min: 1, max: 12 }),
    steps: fc.array(fc.record({ kind: fc.nat(7), vm: fc.nat(11), host: fc.nat(5), dtUs: fc.nat(3) }), {
      maxLength: 200
    })
  })
  .map(({ hosts, vms, steps }) => {
    const events: Array<Record<string, unknown>> = []
    const on = new Map<string, string>()
    const live = new Set<string>()
    let atUs = 0
    for (let h = 0; h < hosts; h++) {
      events.push({ _tag: "HostJoined", atUs, host: `h${h}` })
      live.add(`h${h}`)
    }
    for (const step of steps) {
      atUs += step.dtUs
      const vm = `v${step.vm % vms}`
      const host = `h${step.host % hosts}`
      const where = on.get(vm)
      if (step.kind === 6 && live.has(host)) {
        // as decide does: the host fails, then each VM on it is halted
        events.push({ _tag: "HostFailed", atUs, host })
        for (const [v, h] of [...on]) {
          if (h !== host) continue
          events.push({ _tag: "VmShutdown", atUs, vm: v })
          on.delete(v)
        }
        live.delete(host)
      } else if (step.kind === 7 && !live.has(host)) {
        events.push({ _tag: "HostRecovered", atUs, host })
        live.add(host)
      } else if (where === undefined && live.has(host)) {
        events.push({ _tag: step.kind % 2 === 0 ? "VmStarted" : "VmResumed", atUs, vm, host })
        on.set(vm, host)
      } else if (where !== undefined && step.kind < 3 && live.has(host) && host !== where) {
        events.push({ _tag: "VmMigrationCommitted", atUs, vm, source: where, destination: host })
        on.set(vm, host)
      } else if (where !== undefined) {
        events.push({ _tag: ["VmShutdown", "VmSuspended", "VmDestroyed"][step.kind % 3]!, atUs, vm })
        on.delete(vm)
      }
    }
    return { events: events as unknown as ReadonlyArray<PoolEvent>, endUs: atUs + 1 }
  })

describe("hosts in use", () => {
  it("counted host by host as events change them, the series is the recounting projection's", () => {
    fc.assert(
      fc.property(placementsArb, fc.integer({ min: 1, max: 5 }), ({ events, endUs }, sampleEveryUs) => {
        const counted = new HostsInUse()
        const recounted = new RecountingHostsInUse()
        for (const event of events) {
          counted.add(event)
          recounted.add(event)
        }
        expect(counted.summary(endUs, sampleEveryUs)).toStrictEqual(recounted.summary(endUs, sampleEveryUs))
      }),
      { numRuns: 1_000, seed: 20261207 }
    )
  })
})

// --- the CLI on a pool of 150,000+ events ------------------------------------------------------------

/** VM v1 paused and unpaused this many times (one event each); v2 migrated between the hosts meanwhile. */
const FLIPS = 150_000
const MIGRATIONS = 20
const FLIP_EVERY_MS = 10

const longScenario = {
  format: "xenpool-scenario",
  version: 1,
  name: "long-history",
  seed: 7,
  pool: { id: "long", linkLatency: "100us" },
  hosts: [{ id: "h", count: 2, memory: "16GiB", overhead: "1GiB", nic: "10Gbit/s" }],
  vms: [
    { id: "v1", vcpus: 1, memory: "64MiB", host: "h1" },
    { id: "v2", vcpus: 1, memory: "64MiB", host: "h1" }
  ],
  schedule: [
    ...Array.from({ length: FLIPS }, (_, i) => ({
      at: `${(i + 1) * FLIP_EVERY_MS}ms`,
      op: i % 2 === 0 ? "pause-vm" : "unpause-vm",
      vm: "v1"
    })),
    ...Array.from({ length: MIGRATIONS }, (_, i) => ({
      at: `${(i + 1) * 60_000 + 5}ms`,
      op: "migrate",
      vm: "v2",
      to: i % 2 === 0 ? "h2" : "h1"
    }))
  ],
  limits: { simulatedTime: "1d" }
}

describe(`xenpool on a pool of ${FLIPS.toLocaleString("en-US")}+ events`, () => {
  const directory = tempDir()
  const store = `sqlite:${join(directory, "long.db")}`
  const pool = "long-1"
  let events = 0
  /** Up to three minutes a command: each reads the whole history, on a machine that may be busy. */
  const slow = 180_000
  /**
   * The binary with the store's option before the arguments (a time after them may start with "-"),
   * its stdout in a file (the outputs here are tens of megabytes), waited for without blocking the
   * test runner's event loop.
   */
  const cli = async (args: ReadonlyArray<string>): Promise<CliResult> => {
    const out = join(directory, "stdout.txt")
    const fd = openSync(out, "w")
    try {
      const child = spawn(process.execPath, [binary, args[0]!, "--store", store, ...args.slice(1)], {
        env: { ...process.env, XENPOOL_STORE: "", XENPOOL_DEBUG: "" },
        stdio: ["ignore", fd, "pipe"],
        timeout: slow
      })
      let stderr = ""
      child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk))
      const status = await new Promise<number>((resolve) => child.on("close", (code) => resolve(code ?? -1)))
      return { status, stdout: readFileSync(out, "utf8"), stderr }
    } finally {
      closeSync(fd)
    }
  }
  const ok = async (args: ReadonlyArray<string>) => {
    const r = await cli(args)
    // a command that takes over 5 s (a loaded machine) writes its progress line every 5 s, by design
    // (cli/progress.ts); anything else on stderr is a failure
    const other = r.stderr.split("\n").filter((line) => line !== "" && !/^xenpool: .* [0-9]+ %(, .* left)?$/.test(line))
    expect(other, `xenpool ${args.join(" ")}`).toEqual([])
    expect(r.status, `xenpool ${args.join(" ")}`).toBe(0)
    return r.stdout
  }

  beforeAll(async () => {
    const file = join(directory, "long.json")
    writeFileSync(file, JSON.stringify(longScenario))
    const summary = JSON.parse(await ok(["simulate", file, "--json"])) as { pool: string; events: number }
    expect(summary.pool).toBe(pool)
    events = summary.events
    expect(events).toBeGreaterThan(FLIPS)
  }, slow)
  afterAll(() => rmSync(directory, { recursive: true, force: true }))

  it(
    "`events` prints every event in revision order: a table, and one JSON array",
    async () => {
      const lines = (await ok(["events", "--pool", pool])).split("\n")
      expect(lines[0]).toMatch(/^rev +at +type +data$/)
      expect(lines.slice(2, -1).map((line) => Number(line.split(" ")[0]))).toStrictEqual(
        Array.from({ length: events }, (_, i) => i)
      )
      expect(lines[lines.length - 1]).toBe("")
      const array = JSON.parse(await ok(["events", "--pool", pool, "--json"])) as ReadonlyArray<{
        revision: number
        type: string
      }>
      expect(array.map((e) => e.revision)).toStrictEqual(Array.from({ length: events }, (_, i) => i))
      expect(array.filter((e) => e.type === "VmPaused")).toHaveLength(FLIPS / 2)
      // a window across a page boundary is the same slice of the whole
      const window = JSON.parse(await ok(["events", "--pool", pool, "--json", "--from", "4090", "--limit", "10"]))
      expect(window).toStrictEqual(array.slice(4090, 4100))
    },
    slow
  )

  it(
    "`history --vm` of a VM with 150,000 changes: a table, and one JSON document",
    async () => {
      const text = (await ok(["history", "--pool", pool, "--vm", "v1"])).split("\n")
      const changes = FLIPS + 2 // created, started, then every pause and unpause
      expect(text[0]).toBe(`VM v1 in pool ${pool} (to revision ${(events - 1).toLocaleString("en-US")}):`)
      expect(text.filter((line) => /^\d+ /.test(line))).toHaveLength(changes)
      expect(text).toContain(`${changes.toLocaleString("en-US")} changes, 0 migrations`)
      const history = JSON.parse(await ok(["history", "--pool", pool, "--vm", "v1", "--json"])) as {
        lastRevision: number
        changes: ReadonlyArray<{ revision: number; kind: string }>
        migrations: ReadonlyArray<unknown>
      }
      expect(history.lastRevision).toBe(events - 1)
      expect(history.changes).toHaveLength(changes)
      expect(history.changes.every((c, i) => i === 0 || c.revision > history.changes[i - 1]!.revision)).toBe(true)
      expect(history.changes.filter((c) => c.kind === "paused")).toHaveLength(FLIPS / 2)
      expect(history.migrations).toStrictEqual([])
      const v2 = JSON.parse(await ok(["history", "--pool", pool, "--vm", "v2", "--json"])) as {
        migrations: ReadonlyArray<{ outcome: string }>
      }
      expect(v2.migrations.map((m) => m.outcome)).toStrictEqual(Array.from({ length: MIGRATIONS }, () => "committed"))
      expect(await ok(["history", "--pool", pool, "--vm", "v2"])).toMatch(/downtime/)
    },
    slow
  )

  it(
    "`history --host`, `at`, `diff`, `export` and `pools` answer on it",
    async () => {
      expect(await ok(["history", "--pool", pool, "--host", "h2"])).toMatch(/^host h2 in pool long-1: \d+ changes/)
      const latest = JSON.parse(await ok(["at", `@${events - 1}`, "--pool", pool, "--json"])) as {
        revision: number
        vms: ReadonlyArray<{ id: string; powerState: string }>
      }
      expect(latest.revision).toBe(events - 1)
      expect(latest.vms.map((v) => [v.id, v.powerState])).toStrictEqual([
        ["v1", "Running"],
        ["v2", "Running"]
      ])
      // half-way through the flips, v1 was paused for a moment (between events n and n+1 of the flips)
      expect(await ok(["at", `${(FLIPS / 2) * FLIP_EVERY_MS + 5}ms`, "--pool", pool, "--vm", "v1"])).toMatch(/Running/)
      expect(await ok(["diff", "--pool", pool, "@0", `@${events - 1}`])).toContain("VMs created (2)")
      const trace = (await ok(["export", "--pool", pool])).split("\n")
      expect(trace.filter((line) => line.includes('"op":"pause-vm"')).length).toBe(FLIPS / 2)
      const pools = JSON.parse(await ok(["pools", "--json"])) as ReadonlyArray<{ id: string; events: number }>
      expect(pools).toStrictEqual([expect.objectContaining({ id: pool, events })])
    },
    slow
  )

  it("a negative --limit or --from is refused in one line, and --limit 0 prints no event", async () => {
    for (const [option, value] of [
      ["--limit", "-1"],
      ["--from", "-1"],
      ["--limit", "-7"]
    ] as const) {
      const r = await cli(["events", "--pool", pool, option, value])
      expect(isCleanError(r), r.stderr).toBe(true)
      expect(r.stderr).toBe(`xenpool: bad option (${option} ${value}): an integer >= 0\n`)
      expect(r.stdout).toBe("")
    }
    expect(JSON.parse(await ok(["events", "--pool", pool, "--limit", "0", "--json"]))).toStrictEqual([])
    expect((await ok(["events", "--pool", pool, "--limit", "0"])).trimEnd().split("\n")).toHaveLength(2)
  })

  it("a negative time after the options is refused in one line", async () => {
    for (const args of [
      ["at", "--pool", pool, "-5s"],
      ["diff", "--pool", pool, "1s", "-5s"]
    ]) {
      const r = await cli(args)
      expect(isCleanError(r), r.stderr).toBe(true)
      expect(r.stderr).toMatch(/^xenpool: bad time \(-5s\): .*not negative/)
      expect(r.stdout).toBe("")
    }
  })

  // @effect/cli would read a leading `-5s` as the short flags -5 -s; cli/main.ts sees a time there first.
  it("`at -5s` (the time first) is refused in one line naming the time, exit 2", async () => {
    const r = await cli(["at", "-5s", "--pool", pool])
    expect(isCleanError(r), r.stderr).toBe(true)
    expect(r.status).toBe(2)
    expect(r.stderr).toContain("xenpool: bad time (-5s): ")
    expect(r.stderr).toContain("not negative")
  })
})
