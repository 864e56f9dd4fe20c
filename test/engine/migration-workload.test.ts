/**
 * Workloads: evenly spaced writers without drift, gfns from the seeded PRNG inside the working set,
 * trace replay in order, the rate model's exact page carry and working-set cap, and the rate model as
 * the pre-copy machine drives it (writes during the latency, pages touched live or paused).
 */
import { describe, expect, it } from "vitest"
import {
  bytesPerSAsWrites,
  hotColdWriter,
  mergeWriters,
  NO_MORE_WRITES_US,
  type PageWriter,
  pagesPerS,
  RateDirtying,
  traceWriter,
  uniformWriter,
  workingSetGfn
} from "../../engine/migration/index.js"
import { xenDefaultPolicy } from "../../engine/migration/index.js"
import { Prng } from "../../engine/prng.js"
import { machine, PAGE, PAGE_PER_MS, rateModel, run, traceModel } from "./migrationHelpers.js"

const take = (writer: PageWriter, n: number): Array<{ gfn: number; atUs: number }> => {
  const out: Array<{ gfn: number; atUs: number }> = []
  for (let i = 0; i < n && writer.atUs !== NO_MORE_WRITES_US; i++) {
    out.push({ gfn: writer.gfn, atUs: writer.atUs })
    writer.next()
  }
  return out
}

describe("evenly spaced writers", () => {
  it("3 writes/s land at ceil(i × 10^6 / 3) µs after the start, with no drift after 300,000 writes", () => {
    const writer = uniformWriter({
      prng: Prng.fromSeed(1),
      rate: pagesPerS(3),
      memoryPages: 8,
      workingSetPages: 8,
      startUs: 10
    })
    expect(take(writer, 4).map((w) => w.atUs)).toEqual([333_344, 666_677, 1_000_010, 1_333_344])
    const long = uniformWriter({
      prng: Prng.fromSeed(1),
      rate: pagesPerS(3),
      memoryPages: 8,
      workingSetPages: 8,
      startUs: 0
    })
    const times = take(long, 300_000).map((w) => w.atUs)
    expect(times.at(-1)).toBe(100_000_000_000) // write 300,000 at exactly 100,000 s
  })

  it("a byte rate becomes rate / pageSize pages per second, exactly: 1,000,000 B/s of 4 KiB pages is one every 4096 µs", () => {
    const writer = uniformWriter({
      prng: Prng.fromSeed(1),
      rate: bytesPerSAsWrites(1_000_000, 4096),
      memoryPages: 8,
      workingSetPages: 8,
      startUs: 0
    })
    expect(take(writer, 3).map((w) => w.atUs)).toEqual([4096, 8192, 12_288])
  })

  it("a rate of 0 never writes", () => {
    const writer = uniformWriter({
      prng: Prng.fromSeed(1),
      rate: pagesPerS(0),
      memoryPages: 8,
      workingSetPages: 8,
      startUs: 0
    })
    expect(writer.atUs).toBe(NO_MORE_WRITES_US)
  })

  it("uniform: gfns stay in the working set, spread evenly over memory by default or at the front", () => {
    const spread = { memoryPages: 1000, workingSetPages: 100 }
    expect([0, 1, 99].map((j) => workingSetGfn(spread, j))).toEqual([0, 10, 990])
    expect(workingSetGfn({ ...spread, layout: "front" }, 99)).toBe(99)
    const writer = uniformWriter({ prng: Prng.fromSeed(5), rate: pagesPerS(1000), ...spread, startUs: 0 })
    const gfns = new Set(take(writer, 5000).map((w) => w.gfn))
    expect([...gfns].every((g) => g % 10 === 0 && g < 1000)).toBe(true)
    expect(gfns.size).toBe(100) // 5000 draws over 100 pages reach every one
  })

  it("hot/cold: about 9 in 10 writes hit the hot tenth of the working set", () => {
    const writer = hotColdWriter({
      prng: Prng.fromSeed(9),
      rate: pagesPerS(1000),
      memoryPages: 1000,
      workingSetPages: 1000,
      layout: "front",
      startUs: 0
    })
    const writes = take(writer, 20_000)
    const hot = writes.filter((w) => w.gfn < 100).length
    expect(hot / writes.length).toBeGreaterThan(0.88)
    expect(hot / writes.length).toBeLessThan(0.92)
  })

  it("the same seed gives the same writes", () => {
    const make = () =>
      uniformWriter({
        prng: Prng.fromSeed(42),
        rate: pagesPerS(77),
        memoryPages: 500,
        workingSetPages: 123,
        startUs: 0
      })
    expect(take(make(), 1000)).toEqual(take(make(), 1000))
  })
})

describe("trace writers", () => {
  it("replay explicit writes in order; merging keeps time order and the first writer first at ties", () => {
    const a = traceWriter([
      { gfn: 1, atUs: 10 },
      { gfn: 2, atUs: 30 }
    ])
    const b = traceWriter([
      { gfn: 7, atUs: 10 },
      { gfn: 8, atUs: 20 }
    ])
    expect(take(mergeWriters(a, b), 10)).toEqual([
      { gfn: 1, atUs: 10 },
      { gfn: 7, atUs: 10 },
      { gfn: 8, atUs: 20 },
      { gfn: 2, atUs: 30 }
    ])
  })

  it("refuse writes that go back in time", () => {
    expect(() =>
      traceWriter([
        { gfn: 1, atUs: 10 },
        { gfn: 2, atUs: 9 }
      ])
    ).toThrow(/goes back in time/)
  })
})

describe("rate model", () => {
  it("carries fractions of a page exactly: 1 B/s dirties one 4 KiB page after exactly 4096 s", () => {
    const dirtying = new RateDirtying({ dirtyRateBytesPerS: 1, workingSetPages: 10, pageSizeBytes: 4096 })
    for (let s = 0; s < 4095; s++) dirtying.run(1_000_000)
    expect(dirtying.dirtyCount()).toBe(0)
    dirtying.run(999_999)
    expect(dirtying.dirtyCount()).toBe(0)
    dirtying.run(1)
    expect(dirtying.dirtyCount()).toBe(1)
  })

  it("caps the pages dirtied since the last CLEAN at the working set; CLEAN starts afresh", () => {
    const dirtying = new RateDirtying({ dirtyRateBytesPerS: 4096 * 1000, workingSetPages: 50, pageSizeBytes: 4096 })
    dirtying.run(1_000_000)
    expect(dirtying.clean()).toBe(50)
    dirtying.run(20_000)
    expect(dirtying.dirtyCount()).toBe(20)
  })

  it("stays exact when rate × time passes 2^53", () => {
    const dirtying = new RateDirtying({
      dirtyRateBytesPerS: 10_000_000_000,
      workingSetPages: 2 ** 40,
      pageSizeBytes: 4096
    })
    dirtying.run(3_600_000_000) // one hour at 10 GB/s = 3.6 × 10^13 B
    expect(dirtying.dirtyCount()).toBe(Math.floor(36_000_000_000_000 / 4096))
  })
})

describe("rate model in the pre-copy machine", () => {
  // 100 pages of 4 KiB at one page per ms; the guest dirties one page per 10 ms (409,600 B/s).
  const tenthOfAPagePerMs = PAGE_PER_MS / 10

  it("keeps dirtying during a round's latency, whether time passes in one step or two: those pages go in the next round", () => {
    // round 1: 100 ms of data + 50 ms of latency = 150 ms of writes = 15 pages (10 without the latency)
    const c = {
      memoryPages: 100,
      policy: xenDefaultPolicy(),
      model: rateModel(tenthOfAPagePerMs, 100),
      latencyUs: 50_000
    }
    const [first, second] = run(c).rounds()
    expect(first!.durationUs).toBe(150_000)
    expect(first!.dirtyPagesAfter).toBe(15)
    expect(second!.pagesSent).toBe(15)
    // the same round with another happening at the last byte: the latency passes on its own
    const precopy = machine(c)
    precopy.advance(100_000, PAGE_PER_MS)
    expect(precopy.currentRound()!.phase).toBe("latency")
    precopy.advance(precopy.nextEventUs(PAGE_PER_MS)!, PAGE_PER_MS)
    expect(precopy.completeRound(precopy.nowUs()).dirtyPagesAfter).toBe(15)
  })

  it("so does the pages model: a write during the latency is dirty after the round, in one step or two", () => {
    // a trace writer is consumed as it writes: each machine gets its own
    const c = () => ({
      memoryPages: 100,
      policy: xenDefaultPolicy(),
      model: traceModel([{ gfn: 7, atUs: 120_000 }]),
      latencyUs: 50_000
    })
    expect(run(c()).rounds()[0]!.dirtyPagesAfter).toBe(1)
    const precopy = machine(c())
    precopy.advance(100_000, PAGE_PER_MS)
    precopy.advance(precopy.nextEventUs(PAGE_PER_MS)!, PAGE_PER_MS)
    expect(precopy.completeRound(precopy.nowUs()).dirtyPagesAfter).toBe(1)
  })

  it("ignores pages touched while the guest is paused: the paused round sends what it began with", () => {
    const precopy = machine({ memoryPages: 100, policy: xenDefaultPolicy(), model: rateModel(0, 100) })
    precopy.advance(precopy.nextEventUs(PAGE_PER_MS)!, PAGE_PER_MS)
    precopy.completeRound(precopy.nowUs())
    expect(precopy.phase()).toBe("stop-and-copy")
    precopy.pageTouched(7)
    precopy.advance(precopy.nextEventUs(PAGE_PER_MS)!, PAGE_PER_MS)
    const last = precopy.completeRound(precopy.nowUs())
    expect(last.live).toBe(false)
    expect(last.dirtyPagesAfter).toBe(0)
  })

  it("counts a page touched during a live round for the next round", () => {
    const precopy = machine({ memoryPages: 100, policy: xenDefaultPolicy(), model: rateModel(0, 100) })
    precopy.pageTouched(7)
    precopy.advance(precopy.nextEventUs(PAGE_PER_MS)!, PAGE_PER_MS)
    expect(precopy.completeRound(precopy.nowUs()).dirtyPagesAfter).toBe(1)
  })

  it("an abort mid-round counts the round's partial progress and the time from the machine's start", () => {
    const precopy = machine({ memoryPages: 100, policy: xenDefaultPolicy(), model: rateModel(0, 100), startUs: 7_000 })
    precopy.advance(7_000 + 40_000, PAGE_PER_MS) // 40 of the 100 pages delivered
    precopy.abort("link failed")
    expect(precopy.outcome()).toMatchObject({
      result: "aborted",
      abortReason: "link failed",
      rounds: 0,
      pagesSent: 40,
      bytesSent: 40 * PAGE,
      startUs: 7_000,
      endUs: 47_000,
      totalUs: 40_000,
      downtimeUs: 0
    })
  })

  it("refuses a working set larger than the memory", () => {
    expect(() => machine({ memoryPages: 100, policy: xenDefaultPolicy(), model: rateModel(PAGE, 101) })).toThrow(
      /workingSetPages must be in \[0, memoryPages\]/
    )
  })
})
