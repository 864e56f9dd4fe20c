/**
 * Paging and ballooning through trace replay (simulations/trace/): faults and page-ins from a trace's
 * access records, recorded pager and balloon steps replayed as they are, and the bundled paging scenario
 * through run → export → replay, event for event.
 */
import { Schema } from "effect"
import { describe, expect, it } from "vitest"
import { PoolEvent } from "../../domain/events.js"
import { compileFile, run } from "../engine/harness.js"
import { exportLog, replay, smallPool, trace } from "../traces/helpers.js"

const encode = Schema.encodeSync(PoolEvent)
const typeAndData = (events: ReadonlyArray<{ event: PoolEvent }>) => events.map((e) => encode(e.event))
const ofTag = <Tag extends PoolEvent["_tag"]>(events: ReadonlyArray<{ event: PoolEvent }>, tag: Tag) =>
  events.map((e) => e.event).filter((e): e is Extract<PoolEvent, { _tag: Tag }> => e._tag === tag)

/** One 256 MiB VM (65,536 pages) on h1, paged down to 64 MiB by 1 s. */
const pagedVm = trace(smallPool([{ id: "v", memory: "256MiB", host: "h1" }]), [
  { atUs: 0, op: "set-paging-target", vm: "v", target: "64MiB" },
  { atUs: 2_000_000, op: "access", vm: "v", gfns: [0, 1, 2, 60_000] },
  { atUs: 3_000_000, op: "access", vm: "v", ranges: [[100, 109]] }
])

describe("faults and page-ins from a trace", () => {
  it("set-paging-target evicts; access records to paged gfns fault and come back in after the page-in latency", () => {
    const r = replay(pagedVm)
    expect(r.result.stopReason).toBe("quiescent")
    expect(ofTag(r.events, "VmPagingTargetSet")).toEqual([expect.objectContaining({ vm: "v", targetPages: 16_384 })])
    expect(ofTag(r.events, "VmPageFaultsServed")).toEqual([
      expect.objectContaining({ atUs: 2_000_200, faults: 3, vcpuWaitUs: 600 }),
      expect.objectContaining({ atUs: 3_000_200, faults: 10, vcpuWaitUs: 2_000 })
    ])
    expect(ofTag(r.events, "VmPagesPagedIn")).toEqual([
      expect.objectContaining({ atUs: 2_000_200, pages: 3 }),
      expect.objectContaining({ atUs: 3_000_200, pages: 10 })
    ])
  })

  it("an access beyond the VM's memory is an input error naming the field", () => {
    const bad = trace(smallPool([{ id: "v", memory: "256MiB", host: "h1" }]), [
      { atUs: 0, op: "access", vm: "v", gfns: [1, 65_536] }
    ])
    expect(() => replay(bad)).toThrow("gfns[1]")
  })
})

describe("recorded pager and balloon steps", () => {
  it("replay as they are: the engine's pager and balloon leave the VM to the records", () => {
    const recorded = trace(
      smallPool([{ id: "v", memory: { dynamicMin: "128MiB", target: "256MiB", dynamicMax: "256MiB" }, host: "h1" }]),
      [
        { atUs: 0, op: "set-paging-target", vm: "v", target: "64MiB" },
        { atUs: 10_000, op: "pages-paged-out", vm: "v", pages: 100 },
        { atUs: 20_000, op: "set-memory-target", vm: "v", target: "200MiB" },
        { atUs: 20_000, op: "balloon-inflated", vm: "v", releasedPages: 1_000, droppedPages: 0 },
        { atUs: 30_000, op: "page-faults-served", vm: "v", faults: 2, vcpuWaitUs: 400 },
        { atUs: 30_000, op: "pages-paged-in", vm: "v", pages: 2 }
      ]
    )
    const r = replay(recorded)
    expect(r.result.refusals).toEqual([])
    const tags = r.events.map((e) => e.event._tag).filter((t) => t.startsWith("VmPag") || t.startsWith("VmBalloon"))
    expect(tags).toEqual([
      "VmPagingTargetSet",
      "VmPagesPagedOut",
      "VmBalloonInflated",
      "VmPageFaultsServed",
      "VmPagesPagedIn"
    ])
  })
})

describe("run → export → replay", () => {
  it("paging-and-ballooning: the same events, types, data, order and ids", () => {
    const scenario = compileFile("paging-and-ballooning")
    const original = run(scenario)
    const text = exportLog(
      original.events.map((e) => e.event),
      { seed: scenario.seed }
    )
    const again = replay(text, { pool: scenario.pool })
    expect(again.events.length).toBe(original.events.length)
    expect(typeAndData(again.events)).toEqual(typeAndData(original.events))
    expect(again.events.map((e) => e.id)).toEqual(original.events.map((e) => e.id))
  })
})
