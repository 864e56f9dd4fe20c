/**
 * An engine at rest with migrations in flight (issue 14): cut anywhere after its last input (at every
 * moment a happening comes, and between two happenings of one moment), its rest taken through JSON, an
 * engine built from that rest and the pool's state decides the rest of the log, byte for byte.
 */
import { describe, expect, it } from "vitest"
import type { PoolState } from "../../domain/state.js"
import { makeTransferFactory, transferFactory } from "../../engine/migration/index.js"
import type { EmittedEvent, EngineRest } from "../../engine/simulation.js"
import type { CompiledScenario } from "../../simulations/compile.js"
import { prepareScenario, type RestInRun } from "../../simulations/run.js"
import { compile, compileFile, logBytes, pool } from "./harness.js"

const NO_LIMIT = { eventsMax: Number.MAX_SAFE_INTEGER, simulatedUsMax: Number.MAX_SAFE_INTEGER }

/**
 * Four migrations on shared links (h1's NIC carries them all, at rates that leave remainders of bytes),
 * with writers and zero pages; c and d are alike and start together, so their rounds end at the same µs.
 */
const overlapping = (policy: unknown, nic = "999Mbit/s", pagesWriter?: string) =>
  compile({
    ...pool({
      hosts: 3,
      latency: "100us",
      policy,
      vms: [
        {
          id: "a",
          vcpus: 2,
          memory: "256MiB",
          host: "h1",
          workload:
            pagesWriter === undefined
              ? { model: "rate", dirtyRate: "20MiB/s", workingSet: "64MiB" }
              : { model: "pages", writer: pagesWriter, dirtyRate: "20MiB/s", workingSet: "64MiB" }
        },
        {
          id: "b",
          vcpus: 2,
          memory: "128MiB",
          host: "h1",
          workload:
            pagesWriter === undefined
              ? { model: "rate", dirtyRate: "100MiB/s", workingSet: "16MiB", untouched: "64MiB" }
              : { model: "pages", writer: pagesWriter, dirtyRate: "100MiB/s", workingSet: "16MiB" }
        },
        { id: "c", vcpus: 1, memory: "64MiB", host: "h1" },
        { id: "d", vcpus: 1, memory: "64MiB", host: "h1" }
      ],
      schedule: [
        { at: "0s", op: "migrate", vm: "a", to: "h2" },
        { at: "200ms", op: "migrate", vm: "b", to: "h3" },
        { at: "250ms", op: "migrate", vm: "c", to: "h2" },
        { at: "250ms", op: "migrate", vm: "d", to: "h3" }
      ]
    }),
    hosts: [{ id: "h", count: 3, memory: "64GiB", overhead: "2GiB", nic }]
  })

const started = (scenario: CompiledScenario) => {
  const events: EmittedEvent[] = []
  const prepared = prepareScenario(scenario, { transferFactory, debug: true, sink: (b) => events.push(...b) })
  prepared.schedule(scenario.schedule)
  return { sim: prepared.sim, events }
}

/** The engine from a rest as a store gives it back: data only, through JSON. */
const resumed = (scenario: CompiledScenario, rest: EngineRest, state: PoolState) => {
  const events: EmittedEvent[] = []
  const data = JSON.parse(JSON.stringify(rest)) as EngineRest
  const prepared = prepareScenario(scenario, {
    transferFactory,
    debug: true,
    sink: (b) => events.push(...b),
    from: { state, rest: data }
  })
  prepared.schedule([])
  const { refusals, operations } = prepared.sim.run(NO_LIMIT)
  return { events, rest: prepared.sim.rest(), outcomes: outcomesOf(refusals, operations) }
}

/** What a run reports beside its log: the operations refused, and how long operations ended. */
const outcomesOf = (refusals: ReadonlyArray<unknown>, operations: ReadonlyArray<unknown>) =>
  JSON.stringify({ refusals, operations })

const lastInputUs = (scenario: CompiledScenario) => Math.max(...scenario.schedule.map((t) => t.atUs))

/** Cuts at every moment after the last input and at every event count there; compares each resumption. */
const everyCut = (scenario: CompiledScenario, skips: { readonly allowed: number } = { allowed: 0 }) => {
  const whole = started(scenario)
  const { refusals, operations } = whole.sim.run(NO_LIMIT)
  const expected = whole.events
  const after = lastInputUs(scenario)
  // the last input's moment too (it may make no event of its own), and each whole second to the end:
  // happenings that make no event (the squeezer's checks) may come between two events far apart
  const endUs = expected[expected.length - 1]!.event.atUs
  const seconds = Array.from({ length: Math.floor((endUs - after) / 1e6) }, (_, i) => after + (i + 1) * 1e6 - 1)
  const times = [...new Set([after, ...seconds, ...expected.map((e) => e.event.atUs)])].filter((t) => t >= after)
  const cuts = [
    ...times.map((t) => ({ eventsMax: Number.MAX_SAFE_INTEGER, simulatedUsMax: t })),
    ...expected
      .map((_, i) => i)
      // after an event past the last input: every input has run (one may make no event)
      .filter((i) => i > 0 && expected[i - 1]!.event.atUs > after)
      .map((i) => ({ eventsMax: i, simulatedUsMax: Number.MAX_SAFE_INTEGER }))
  ]
  const seen = {
    inFlight: 0,
    paused: 0,
    parts: 0,
    commits: 0,
    overlapping: 0,
    evacuating: 0,
    maintaining: 0,
    haWaiting: 0,
    retrying: 0,
    skipped: 0,
    pages: 0,
    restartPasses: 0,
    pagingOut: 0,
    pagingIn: 0,
    faultsWaiting: 0,
    held: 0,
    readsStalled: 0,
    balloonSteps: 0,
    balloonsStalled: 0,
    squeezing: 0,
    migrationSqueezing: 0,
    haSqueezing: 0
  }
  for (const limits of cuts) {
    const cut = started(scenario)
    const before = cut.sim.run(limits)
    const rest = cut.sim.rest()
    if (typeof rest === "string") {
      if (++seen.skipped > skips.allowed) throw new Error(`no rest at ${JSON.stringify(limits)}: ${rest}`)
      continue
    }
    const machines = rest.transfers.map((t) => t.machine)
    if (machines.length > 0) seen.inFlight++
    if (machines.some((m) => m.round?.live === false)) seen.paused++
    if (machines.some((m) => m.part !== undefined)) seen.parts++
    if (rest.happenings.some((h) => h._tag === "Commit")) seen.commits++
    if (machines.filter((m) => m.ending === undefined).length > 1) seen.overlapping++
    if (rest.evacuations.length > 0) seen.evacuating++
    if (machines.some((m) => "kind" in m.model)) seen.pages++
    if (rest.ha.unnoticed.length > 0 || rest.ha.retryAtUs !== undefined) seen.haWaiting++
    if (rest.happenings.some((h) => h._tag === "HaRetry")) seen.retrying++
    if (rest.maintenances.length > 0 && rest.transfers.length === 0) seen.maintaining++
    if (rest.ha.passes.length > 0) seen.restartPasses++
    const pagers = rest.memory.pagers
    if (pagers.some((p) => p.batch.length > 0)) seen.pagingOut++
    if (pagers.some((p) => p.reads.length > 0)) seen.pagingIn++
    if (pagers.some((p) => p.waiters.length > 0)) seen.faultsWaiting++
    if (pagers.some((p) => p.heldPagingIn > 0)) seen.held++
    if (pagers.some((p) => p.stalled)) seen.readsStalled++
    if (rest.happenings.some((h) => h._tag === "BalloonStep")) seen.balloonSteps++
    if (rest.memory.stalledBalloons.length > 0) seen.balloonsStalled++
    const waiting = rest.memory.squeezes.flatMap(([, queue]) => queue)
    if (waiting.length > 0) seen.squeezing++
    if (waiting.some((w) => w.then?._tag === "StartTransfer")) seen.migrationSqueezing++
    if (waiting.some((w) => w.then?._tag === "HaRestart")) seen.haSqueezing++
    const again = resumed(scenario, rest, cut.sim.state)
    const suffix = expected.slice(cut.events.length)
    expect(logBytes([...cut.events, ...again.events]), `resumed after ${JSON.stringify(limits)}`).toBe(
      logBytes(expected)
    )
    expect(again.events.length).toBe(suffix.length)
    expect(JSON.stringify(again.rest)).toBe(JSON.stringify(whole.sim.rest()))
    // and the same report: refusals and outcomes without an event (a squeeze given up) included
    const [refusedBefore, endedBefore] = [before.refusals.length, before.operations.length]
    expect(again.outcomes).toBe(outcomesOf(refusals.slice(refusedBefore), operations.slice(endedBefore)))
  }
  return { cuts: cuts.length, seen }
}

describe("an engine at rest with migrations in flight", () => {
  for (const [name, policy] of [
    ["xen, with setup and the stop-and-copy parts", "xen"],
    ["xen without phases (a commit one link latency after the paused round)", { name: "xen", phases: "none" }],
    ["xen-legacy", "xen-legacy"],
    ["max-downtime, with zero pages", "max-downtime"],
    ["max-downtime without phases", { name: "max-downtime", phases: "none" }]
  ] as const)
    it(`goes on from any moment as the engine itself would: ${name}`, () => {
      const { cuts, seen } = everyCut(overlapping(policy))
      expect(cuts).toBeGreaterThan(20)
      // the cuts are not vacuous: migrations were in flight, some overlapping, some paused or in a part
      expect(seen.inFlight).toBeGreaterThan(10)
      expect(seen.overlapping).toBeGreaterThan(2)
      expect(seen.paused + seen.parts).toBeGreaterThan(2)
      if (typeof policy === "object") expect(seen.commits).toBeGreaterThan(0)
    })

  for (const [name, policy, writer] of [
    ["xen", "xen", "uniform"],
    ["xen-legacy, its peeks looking ahead at the writer", "xen-legacy", "uniform"],
    ["max-downtime without phases, a hot-cold writer", { name: "max-downtime", phases: "none" }, "hot-cold"]
  ] as const)
    it(`goes on from any moment with pages-model migrations in flight (page versions, bitmaps, the writer's place): ${name}`, () => {
      const { seen } = everyCut(overlapping(policy, "999Mbit/s", writer))
      expect(seen.inFlight).toBeGreaterThan(10)
      expect(seen.pages).toBeGreaterThan(10)
    })

  it("goes on from any moment on a link slower than a byte per µs, where a round's carried part of a byte decides its end", () => {
    const { seen } = everyCut(overlapping("xen", "7Mbit/s"))
    expect(seen.inFlight).toBeGreaterThan(10)
  })

  it("goes on from any moment of an evacuation and of a rolling maintenance: their batches, waits and plans as data", () => {
    const vms = Array.from({ length: 14 }, (_, i) => ({
      id: `v${i}`,
      vcpus: 1,
      memory: "64MiB",
      host: `h${(i % 3) + 1}`,
      ...(i % 2 === 0 ? { workload: { model: "rate", dirtyRate: "16MiB/s", workingSet: "32MiB" } } : {})
    }))
    const scenario = compile({
      ...pool({
        hosts: 4,
        latency: "100us",
        vms,
        schedule: [
          { at: "0s", op: "evacuate", host: "h1" },
          { at: "10ms", op: "rolling-maintenance", hosts: ["h2", "h3", "h4"], maintenance: "500ms" }
        ]
      }),
      hosts: [{ id: "h", count: 4, memory: "4GiB", overhead: "1GiB", nic: "999Mbit/s" }]
    })
    const { seen } = everyCut(scenario)
    expect(seen.inFlight).toBeGreaterThan(10)
    expect(seen.evacuating).toBeGreaterThan(10)
    // between a host emptied and enabled again, nothing is in flight but the maintenance
    expect(seen.maintaining).toBeGreaterThan(2)
  })

  it("goes on from moments a consolidation controller's migrations are in flight (their ends heard by name), with the same report", () => {
    const scenario = compileFile("planetlab-consolidation")
    const rests: RestInRun[] = []
    const events: EmittedEvent[] = []
    const whole = prepareScenario(scenario, { transferFactory, sink: (b) => events.push(...b) })
    whole.schedule(scenario.schedule, undefined, { everyEvents: 1, take: (rest) => rests.push(rest) })
    whole.sim.run(NO_LIMIT)
    const inFlight = rests.filter((r) => r.engine.transfers.some((t) => t.listener !== undefined))
    expect(inFlight.length).toBeGreaterThan(20)
    for (const rest of inFlight.filter((_, i) => i % Math.ceil(inFlight.length / 12) === 0)) {
      const data = JSON.parse(JSON.stringify(rest)) as RestInRun
      const after: EmittedEvent[] = []
      const again = prepareScenario(scenario, {
        transferFactory,
        sink: (b) => after.push(...b),
        from: { state: rest.state, rest: data.engine, loadsRun: data.loadsRun, controllers: data.controllers }
      })
      again.schedule(scenario.schedule.slice(data.scheduleRun))
      again.sim.run(NO_LIMIT)
      expect(logBytes(after), `resumed after ${rest.engine.events} events`).toBe(
        logBytes(events.slice(rest.engine.events))
      )
      expect(again.consolidation()).toEqual(whole.consolidation())
    }
  })

  it("goes on from any moment of HA's liveness timeout and restarts after a host failure (its timers and restart passes as data)", () => {
    const { cuts, seen } = everyCut(compileFile("ha-failover"))
    expect(cuts).toBeGreaterThan(50)
    expect(seen.haWaiting).toBeGreaterThan(2)
    // cuts between a restart pass's order groups
    expect(seen.restartPasses).toBeGreaterThan(0)
  })

  it("goes on from any moment of paging, ballooning and squeezing: page-outs, page-ins, faults waiting, balloon steps, operations waiting for memory", () => {
    // h1 holds web (ballooning down from 1 GiB), db (paged down by xenpaging), small and little room; h2
    // is nearly full of fill (balloonable). Around 1 s, all at once: h3 fails (HA restarts p, 900 MiB, a
    // second later: the restart waits for the squeezer); db's pager pages out further while db's guest
    // touches paged pages (page-ins on their way, faults waiting); batch starts on h1 and waits for the
    // squeezer; web's target rises past what h1 can give (refused); db and small migrate to h2, both
    // waiting for the squeezer: db, grown by its page-ins meanwhile, is refused when the balloons made no
    // progress for 5 s; small, behind it, is admitted then and migrates.
    const scenario = compile({
      ...pool({
        hosts: 3,
        latency: "100us",
        vms: [
          { id: "web", vcpus: 1, memory: { dynamicMin: "128MiB", target: "1GiB", dynamicMax: "1GiB" }, host: "h1" },
          {
            id: "db",
            vcpus: 1,
            memory: "64MiB",
            host: "h1",
            workload: { model: "pages", writer: "hot-cold", dirtyRate: "4MiB/s", workingSet: "16MiB" }
          },
          { id: "batch", vcpus: 1, memory: "1100MiB", start: false },
          {
            id: "small",
            vcpus: 1,
            memory: "32MiB",
            host: "h1",
            workload: { model: "rate", dirtyRate: "8MiB/s", workingSet: "8MiB" }
          },
          {
            id: "fill",
            vcpus: 1,
            memory: { dynamicMin: "256MiB", target: "1780MiB", dynamicMax: "1780MiB" },
            host: "h2"
          },
          {
            id: "p",
            vcpus: 1,
            memory: "900MiB",
            host: "h3",
            ha: { restartPriority: "restart" }
          }
        ],
        schedule: [
          { at: "0s", op: "set-paging-target", vm: "db", target: "16MiB" },
          { at: "5ms", op: "set-memory-target", vm: "web", target: "256MiB" },
          { at: "500ms", op: "guest-access", vm: "db", random: 400 },
          { at: "990ms", op: "set-paging-target", vm: "db", target: "8MiB" },
          { at: "990ms", op: "fail-host", host: "h3" },
          { at: "995ms", op: "guest-access", vm: "db", range: { first: 0, count: 2048 } },
          { at: "1s", op: "start-vm", vm: "batch", host: "h1" },
          { at: "1s", op: "set-memory-target", vm: "web", target: "1GiB" },
          { at: "1s", op: "migrate", vm: "db", to: "h2" },
          { at: "1s", op: "migrate", vm: "small", to: "h2" },
          { at: "1s", op: "guest-access", vm: "db", random: 200 }
        ]
      }),
      pool: { id: "memory", linkLatency: "100us", ha: { hostFailuresToTolerate: 0, livenessTimeout: "1s" } },
      hosts: [{ id: "h", count: 3, memory: "2GiB", overhead: "256MiB", nic: "1Gbit/s" }]
    })
    const { cuts, seen } = everyCut(scenario)
    expect(cuts).toBeGreaterThan(200)
    // the cuts are not vacuous: each kind of the memory model's work was in flight at some of them
    const kinds = [
      "pagingOut",
      "pagingIn",
      "faultsWaiting",
      "balloonSteps",
      "migrationSqueezing",
      "haSqueezing"
    ] as const
    for (const kind of kinds) expect(seen[kind], kind).toBeGreaterThan(0)
    // and the migration admitted after the squeeze, the restart pass waiting on its start
    expect(seen.inFlight).toBeGreaterThan(10)
    expect(seen.restartPasses).toBeGreaterThan(10)
  })

  it("goes on from any moment of page-ins and a balloon stalled for frames, and pages touched while paging out", () => {
    // h1 is short of frames: hog's balloon deflates by 236 MiB; as it nears its target, db's guest touches
    // all its memory, paged out and paging out (a batch nominated 5 ms before), so page-ins and the
    // balloon wait for frames, which db's pager frees as it pages out again, and cold's pager, on steps
    // of its own.
    const scenario = compile({
      ...pool({
        hosts: 1,
        latency: "100us",
        vms: [
          { id: "db", vcpus: 1, memory: "128MiB", host: "h1" },
          { id: "hog", vcpus: 1, memory: { dynamicMin: "64MiB", target: "128MiB", dynamicMax: "400MiB" }, host: "h1" },
          { id: "cold", vcpus: 1, memory: "16MiB", host: "h1" }
        ],
        schedule: [
          { at: "0s", op: "set-paging-target", vm: "db", target: "64MiB" },
          { at: "1s", op: "set-paging-target", vm: "db", target: "16MiB" },
          { at: "1100ms", op: "set-memory-target", vm: "hog", target: "364MiB" },
          { at: "1995ms", op: "set-paging-target", vm: "db", target: "8MiB" },
          { at: "1997ms", op: "set-paging-target", vm: "cold", target: "12MiB" },
          { at: "2s", op: "guest-access", vm: "db", range: { first: 0, count: 32768 } }
        ]
      }),
      hosts: [{ id: "h", count: 1, memory: "512MiB", overhead: "64MiB", nic: "1Gbit/s" }]
    })
    const { cuts, seen } = everyCut(scenario)
    expect(cuts).toBeGreaterThan(100)
    for (const kind of ["pagingOut", "pagingIn", "faultsWaiting", "held", "readsStalled", "balloonsStalled"] as const)
      expect(seen[kind], kind).toBeGreaterThan(0)
  })

  it("goes on from the wait for HA's retry of a restart that failed", () => {
    // p (protected, 3 GiB) on h1, u (6 GiB) on h2: no room for p when h1 fails until u is shut down
    const haVm = (id: string, memory: string, host: string, ha?: unknown) => ({
      id,
      vcpus: 1,
      memory,
      host,
      ...(ha === undefined ? {} : { ha })
    })
    const scenario = compile({
      ...pool({
        hosts: 2,
        vms: [haVm("p", "3GiB", "h1", { restartPriority: "restart" }), haVm("u", "6GiB", "h2")],
        schedule: [
          { at: "1s", op: "fail-host", host: "h1" },
          { at: "100s", op: "shutdown-vm", vm: "u" }
        ]
      }),
      pool: { id: "ha", linkLatency: "0us", ha: { hostFailuresToTolerate: 1 } },
      hosts: [{ id: "h", count: 2, memory: "8GiB", overhead: "1GiB", nic: "10Gbit/s" }]
    })
    const { seen } = everyCut(scenario)
    expect(seen.retrying).toBeGreaterThan(0)
  })

  it("is not at rest while a migration whose page writer keeps no rest is in flight (a trace's, one's own), and says why", () => {
    const scenario = compile(
      pool({
        hosts: 2,
        vms: [
          {
            id: "p",
            vcpus: 1,
            memory: "256MiB",
            host: "h1",
            workload: { model: "pages", dirtyRate: "8MiB/s", workingSet: "64MiB" }
          }
        ],
        schedule: [{ at: "0s", op: "migrate", vm: "p", to: "h2" }]
      })
    )
    // a writer wrapped as a trace replay wraps it: the wrapper has no rest
    const wrapped = makeTransferFactory({
      wrapWriter: (writer) => ({
        get atUs() {
          return writer.atUs
        },
        get gfn() {
          return writer.gfn
        },
        next: () => writer.next()
      })
    })
    const prepared = prepareScenario(scenario, { transferFactory: wrapped })
    prepared.schedule(scenario.schedule)
    prepared.sim.run({ eventsMax: Number.MAX_SAFE_INTEGER, simulatedUsMax: 100_000 })
    expect(prepared.sim.rest()).toMatch(/migration m1's transfer keeps no rest \(its page writer has none/)
    // the built-in writer has one
    const cut = started(scenario)
    cut.sim.run({ eventsMax: Number.MAX_SAFE_INTEGER, simulatedUsMax: 100_000 })
    expect(typeof cut.sim.rest()).toBe("object")
  })
})
