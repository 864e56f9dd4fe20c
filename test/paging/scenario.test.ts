/**
 * The bundled scenario simulations/scenarios/paging-and-ballooning.json, run with debug mode on (every
 * invariant after every event), and the scenario format's paging operations and their input errors.
 */
import { Either, Schema } from "effect"
import { describe, expect, it } from "vitest"
import type { PoolEvent } from "../../domain/events.js"
import { foldEvents } from "../../domain/evolve.js"
import { vmId } from "../../domain/ids.js"
import { getVm, initialState } from "../../domain/state.js"
import { compileScenario } from "../../simulations/compile.js"
import { Scenario } from "../../simulations/scenario.js"
import { compileFile, logBytes, pool, run } from "../engine/harness.js"

const GiB = 262_144 // pages

describe("paging-and-ballooning.json", () => {
  const r = run(compileFile("paging-and-ballooning"))
  const events: ReadonlyArray<PoolEvent> = r.events.map((e) => e.event)
  const of = <Tag extends PoolEvent["_tag"]>(tag: Tag, vm: string) =>
    events.filter((e): e is Extract<PoolEvent, { _tag: Tag }> => e._tag === tag && "vm" in e && e.vm === vm)
  const vmAt = (index: number, vm: string) => getVm(foldEvents(initialState, events.slice(0, index + 1)), vmId(vm))!

  it("runs to the end with every invariant holding and nothing refused", () => {
    expect(r.result.stopReason).toBe("quiescent")
    expect(r.result.refusals).toEqual([])
  })

  it("db is paged down to its 512 MiB target, then faults on what it touches", () => {
    expect(of("VmPagesPagedOut", "db").every((e) => e.pages <= 256)).toBe(true)
    const faults = of("VmPageFaultsServed", "db")
    expect(faults.length).toBeGreaterThanOrEqual(2)
    expect(faults[0]).toMatchObject({ atUs: 18_000_200 })
    expect(faults[0]!.vcpuWaitUs).toBe(faults[0]!.faults * 200)
  })

  it("db migrates with its paged pages as markers: fewer bytes than its memory, the same paged count after", () => {
    const started = events.findIndex((e) => e._tag === "VmMigrationStarted")
    const committed = events.findIndex((e) => e._tag === "VmMigrationCommitted")
    const before = vmAt(started, "db")
    expect(before.pagedOutPages).toBe(2 * GiB - GiB / 2)
    const rounds = of("VmMigrationRoundCompleted", "db")
    expect(rounds[0]!.bytesSent).toBe((GiB / 2) * 4096)
    // the 256 pages paged back in during round 1 are re-sent with their data in round 2
    expect(rounds[1]!.pagesSent).toBeGreaterThanOrEqual(256)
    const atCommit = vmAt(committed, "db")
    const justBefore = vmAt(committed - 1, "db")
    expect(atCommit.residentOn).toBe("h2")
    expect(atCommit.pagedOutPages).toBe(justBefore.pagedOutPages)
    expect(atCommit.pagedOutPages).toBe(before.pagedOutPages - 256)
    expect(r.migrations[0]).toMatchObject({ vm: "db", outcome: "committed" })
    expect(r.migrations[0]!.bytesSent).toBeLessThan(2 * GiB * 4096)
  })

  it("batch's start is squeezed: web is ballooned down first, then batch starts on h1", () => {
    const squeeze = of("VmMemoryTargetSet", "web")[0]!
    const start = of("VmStarted", "batch")[0]!
    expect(squeeze.atUs).toBe(30_000_000)
    expect(squeeze.targetPages).toBeLessThan(8 * GiB)
    expect(squeeze.targetPages).toBeGreaterThanOrEqual(2 * GiB)
    expect(start).toMatchObject({ host: "h1" })
    expect(start.atUs).toBeGreaterThan(squeeze.atUs)
    expect(r.result.operations).toEqual([expect.objectContaining({ operation: "start batch", ok: true })])
  })

  it("web ends ballooned down to 3 GiB, at 640 pages a step", () => {
    expect(getVm(r.result.state, vmId("web"))).toMatchObject({ guestPages: 3 * GiB, populatedPages: 3 * GiB })
    expect(of("VmBalloonInflated", "web").every((e) => e.releasedPages <= 640)).toBe(true)
  })

  it("is deterministic: the same seed gives a byte-identical log", () => {
    expect(logBytes(run(compileFile("paging-and-ballooning")).events)).toBe(logBytes(r.events))
  })
})

describe("the scenario format's paging operations", () => {
  const compileJson = (schedule: unknown[]) => {
    const scenario = Schema.decodeUnknownEither(Scenario)(
      pool({ vms: [{ id: "v", memory: "256MiB", host: "h1" }], schedule })
    )
    if (Either.isLeft(scenario)) return Either.left({ path: "(schema)", expected: String(scenario.left) })
    return compileScenario("test.json", scenario.right)
  }

  it.each([
    [[{ at: "1s", op: "set-paging-target", vm: "v", target: "512MiB" }], "schedule[0].target", "static max"],
    [[{ at: "1s", op: "set-paging-target", vm: "v", target: "1GB" }], "schedule[0].target", "GiB"],
    [[{ at: "1s", op: "guest-access", vm: "v" }], "schedule[0]", "exactly one of gfns, range, random"],
    [[{ at: "1s", op: "guest-access", vm: "v", gfns: [1], random: 3 }], "schedule[0]", "exactly one of"],
    [[{ at: "1s", op: "guest-access", vm: "v", gfns: [0, 65536] }], "schedule[0].gfns[1]", "below the VM's static max"],
    [[{ at: "1s", op: "guest-access", vm: "v", range: { first: 65000, count: 600 } }], "schedule[0].range", "65536"],
    [[{ at: "1s", op: "guest-access", vm: "nope", random: 3 }], "schedule[0].vm", "no VM 'nope'"]
  ])("%j is refused at %s", (schedule, path, expected) => {
    const compiled = compileJson(schedule)
    expect(Either.isLeft(compiled)).toBe(true)
    const error = Either.getLeft(compiled)
    expect(error._tag === "Some" && error.value.path).toBe(path)
    expect(error._tag === "Some" && error.value.expected).toContain(expected)
  })

  it("a well-formed schedule runs: the target evicts, the accesses fault", () => {
    const compiled = compileJson([
      { at: "0s", op: "set-paging-target", vm: "v", target: "128MiB" },
      { at: "10s", op: "guest-access", vm: "v", range: { first: 0, count: 10 } },
      { at: "11s", op: "guest-access", vm: "v", gfns: [20, 30] },
      { at: "12s", op: "guest-access", vm: "v", random: 100 }
    ])
    const result = run(Either.getOrThrow(compiled))
    const faults = result.events.filter((e) => e.event._tag === "VmPageFaultsServed")
    expect(faults.length).toBe(3)
    expect(getVm(result.result.state, vmId("v"))).toMatchObject({ pagedOutPages: 32_768, pagingTargetPages: 32_768 })
  })
})
