/**
 * The `pages` model: page versions, the send cursor interleaved with writes in simulated time, legacy
 * skips, and the "no lost writes" property: after the paused round every page's destination version
 * equals its source version.
 */
import { describe, expect, it } from "vitest"
import {
  hotColdWriter,
  maxDowntimePolicy,
  NEVER_SENT,
  PageTracker,
  pagesPerS,
  type PrecopyPolicy,
  traceWriter,
  uniformWriter,
  xenDefaultPolicy,
  xenLegacyPolicy
} from "../../engine/migration/index.js"
import { Prng } from "../../engine/prng.js"
import { machine, PAGE, PAGE_PER_MS, roundTuples, run } from "./migrationHelpers.js"

/** A tracker over 10 pages whose first round (all pages) runs 0 … toUs at one page per ms. */
const firstRound = (writes: ReadonlyArray<{ gfn: number; atUs: number }>, peekBatchPages: number, toUs: number) => {
  const tracker = new PageTracker(10, traceWriter(writes))
  tracker.sendAll()
  tracker.beginRound(peekBatchPages)
  const progress = { bytesDelivered: 0, microRemainder: 0 }
  const doneUs = tracker.transfer(0, toUs, PAGE_PER_MS, PAGE, progress)
  return { tracker, doneUs, progress }
}

describe("page tracker: sends and writes in simulated time", () => {
  it("a write at its page's arrival µs comes after the arrival: the old version lands, the page is dirty again", () => {
    // Page k arrives at (k + 1) × 1000. gfn 3 written at 4000 (its arrival), gfn 9 at 10,000 (the last arrival).
    const { tracker, doneUs } = firstRound(
      [
        { gfn: 3, atUs: 4000 },
        { gfn: 9, atUs: 10_000 }
      ],
      0,
      10_000
    )
    expect(doneUs).toBe(10_000)
    expect([tracker.sourceVersion[3], tracker.destinationVersion[3], tracker.isDirty(3)]).toEqual([1, 0, true])
    expect([tracker.sourceVersion[9], tracker.destinationVersion[9], tracker.isDirty(9)]).toEqual([1, 0, true])
    expect(tracker.dirtyCount()).toBe(2)
  })

  it("xen: a page written before its send is sent with the new version and still re-sent next round", () => {
    const { tracker } = firstRound([{ gfn: 6, atUs: 2500 }], 0, 10_000)
    expect([tracker.sourceVersion[6], tracker.destinationVersion[6], tracker.isDirty(6)]).toEqual([1, 1, true])
    expect(tracker.roundPagesSent()).toBe(10)
    expect(tracker.clean()).toBe(1) // the next round's to-send set is {6}
    expect(tracker.isPending(6)).toBe(true)
  })

  it("legacy, a peek before every page: written before the peek → skipped (no link time); at the peek µs → sent", () => {
    // The peek for page k happens when page k − 1 arrives, at k × 1000. gfn 5 written at 5000 (= its peek,
    // the sender goes first) is sent; gfn 7 written at 6999 (before its peek at 7000) is skipped, so
    // gfns 8 and 9 arrive at 8000 and 9000 and the round ends one page early.
    const { tracker, doneUs, progress } = firstRound(
      [
        { gfn: 5, atUs: 5000 },
        { gfn: 7, atUs: 6999 }
      ],
      1,
      9000
    )
    expect(doneUs).toBe(9000)
    expect([tracker.roundPagesSent(), tracker.roundPagesSkipped()]).toEqual([9, 1])
    expect(progress.bytesDelivered).toBe(9 * PAGE)
    expect([tracker.destinationVersion[5], tracker.isDirty(5)]).toEqual([1, true])
    expect([tracker.destinationVersion[7], tracker.isDirty(7)]).toEqual([NEVER_SENT, true])
    expect(tracker.checkDestination()).toEqual({ ok: false, gfn: 7, sourceVersion: 1, destinationVersion: NEVER_SENT })
  })

  it("legacy batches: a page re-dirtied after its batch's peek is sent, not skipped", () => {
    // Batches of 4: peeks at 0, 4000 (after gfn 3) and 8000. gfn 6 written at 4500, after the peek at 4000.
    const { tracker } = firstRound([{ gfn: 6, atUs: 4500 }], 4, 10_000)
    expect([tracker.roundPagesSent(), tracker.roundPagesSkipped()]).toEqual([10, 0])
    expect([tracker.destinationVersion[6], tracker.isDirty(6)]).toEqual([1, true])
  })

  it("the check names the first page whose last version did not reach the destination", () => {
    const tracker = new PageTracker(8, traceWriter([{ gfn: 2, atUs: 50 }]))
    tracker.sendAll()
    tracker.beginRound(0)
    tracker.transfer(0, 100, 8 * PAGE * 1_000_000, PAGE, { bytesDelivered: 0, microRemainder: 0 })
    // 8 pages × 4096 B at 8 pages per µs … all arrive by 1 µs; the write at 50 comes after.
    expect(tracker.checkDestination()).toEqual({ ok: false, gfn: 2, sourceVersion: 1, destinationVersion: 0 })
  })

  it("fits a 16 GiB VM (4,194,304 pages) in about 33 MiB of typed arrays", () => {
    const before = process.memoryUsage().arrayBuffers
    const tracker = new PageTracker(4_194_304)
    const allocatedBytes = process.memoryUsage().arrayBuffers - before
    // Two Uint32Array version arrays (16 MiB each) and two bitmaps (512 KiB each).
    expect(allocatedBytes).toBeGreaterThan(32 * 2 ** 20)
    expect(allocatedBytes).toBeLessThan(35 * 2 ** 20)
    expect(tracker.memoryPages).toBe(4_194_304)
  })
})

describe("no lost writes: every page's last version reaches the destination", () => {
  const policies: ReadonlyArray<PrecopyPolicy> = [
    xenDefaultPolicy(),
    xenLegacyPolicy(),
    xenLegacyPolicy({ peekBatchPages: 1 }),
    xenLegacyPolicy({ peekBatchPages: 7 }),
    // A workload that never converges runs into the round cap: keep it small here.
    maxDowntimePolicy({ maxDowntimeUs: 2_000, roundsMax: 60 })
  ]

  it("across 60 seeds × 5 policies, uniform and hot/cold writers, random links and latencies", () => {
    for (let seed = 1; seed <= 60; seed++) {
      const prng = Prng.fromSeed(seed)
      const memoryPages = prng.nextIntBetween(40, 3000)
      const workingSetPages = prng.nextIntBetween(1, memoryPages)
      const rateBytesPerS = prng.nextIntBetween(200, 5000) * PAGE
      const writesPerS = prng.nextIntBetween(0, Math.floor(((rateBytesPerS / PAGE) * 3) / 2))
      const latencyUs = prng.chance(1, 2) ? 0 : prng.nextIntBetween(1, 5000)
      for (const policy of policies) {
        const writerConfig = {
          prng: prng.fork(`writer:${policy.name}`),
          rate: pagesPerS(writesPerS),
          memoryPages,
          workingSetPages,
          layout: prng.chance(1, 2) ? ("spread" as const) : ("front" as const),
          startUs: 0
        }
        const writer = prng.chance(1, 2) ? uniformWriter(writerConfig) : hotColdWriter(writerConfig)
        const precopy = run({ memoryPages, policy, model: { kind: "pages", writer }, rateBytesPerS, latencyUs })
        const where = `seed ${seed}, policy ${policy.name}/${"peekBatchPages" in policy ? policy.peekBatchPages : ""}`
        expect(precopy.checkDestination(), where).toEqual({ ok: true })
        expect(precopy.outcome()!.result, where).toBe("committed")
        const durations = precopy.rounds().reduce((sum, r) => sum + r.durationUs, 0)
        expect(durations, where).toBe(precopy.outcome()!.totalUs)
      }
    }
  })

  it("writes landing exactly on arrival times, peek times and round ends", () => {
    // One page per ms: every multiple of 1000 µs is some page's arrival (and the next page's peek).
    const writes = Array.from({ length: 3000 }, (_, i) => ({ gfn: (i * 37) % 64, atUs: (i + 1) * 1000 }))
    for (const policy of [xenDefaultPolicy(), xenLegacyPolicy({ peekBatchPages: 1 }), maxDowntimePolicy()]) {
      const precopy = run({ memoryPages: 64, policy, model: { kind: "pages", writer: traceWriter(writes) } })
      expect(precopy.checkDestination(), policy.name).toEqual({ ok: true })
    }
  })

  it("legacy: each page written at the very µs of its own peek is sent, not skipped, and re-sent next round", () => {
    // Round 1 peeks gfn k at k × 1000 (when gfn k − 1 arrives); each gfn k ≥ 1 is written right then.
    // Each round's end is first asked at half the rate, so the look-ahead has already queued those writes.
    const writes = Array.from({ length: 63 }, (_, k) => ({ gfn: k + 1, atUs: (k + 1) * 1000 }))
    const precopy = machine({
      memoryPages: 64,
      policy: xenLegacyPolicy({ peekBatchPages: 1 }),
      model: { kind: "pages", writer: traceWriter(writes) }
    })
    for (let round = 0; precopy.outcome() === undefined; round++) {
      expect(round).toBeLessThan(10)
      precopy.nextEventUs(PAGE_PER_MS / 2)
      const endUs = precopy.nextEventUs(PAGE_PER_MS)!
      precopy.advance(endUs, PAGE_PER_MS)
      precopy.completeRound(endUs)
    }
    expect(roundTuples(precopy)[0]).toEqual([true, 64, 0, 64_000, 63])
    expect(roundTuples(precopy)[1]).toEqual([true, 63, 0, 63_000, 0])
    expect(precopy.checkDestination()).toEqual({ ok: true })
  })
})

describe("determinism", () => {
  const runSeed = (seed: number, policy: PrecopyPolicy) => {
    const writer = uniformWriter({
      prng: Prng.fromSeed(seed).fork("writer"),
      rate: pagesPerS(900),
      memoryPages: 2048,
      workingSetPages: 512,
      startUs: 0
    })
    return run({ memoryPages: 2048, policy, model: { kind: "pages", writer } })
  }

  it("the same seed gives identical rounds and outcome; another seed gives other rounds", () => {
    for (const policy of [xenDefaultPolicy(), xenLegacyPolicy({ peekBatchPages: 16 })]) {
      const a = runSeed(7, policy)
      const b = runSeed(7, policy)
      expect(a.rounds()).toEqual(b.rounds())
      expect(a.outcome()).toEqual(b.outcome())
      expect(roundTuples(runSeed(8, policy))).not.toEqual(roundTuples(a))
    }
  })
})

describe("the page tracker refuses what cannot happen", () => {
  it("a size outside [1, 2^31] pages", () => {
    for (const pages of [0, -1, 1.5, 2 ** 31 + 1]) {
      expect(() => new PageTracker(pages)).toThrow(/memoryPages must be in \[1, 2\^31\]/)
    }
    expect(new PageTracker(1).memoryPages).toBe(1)
  })

  it("a write or a touch outside the guest's gfns, and a write while the guest is paused", () => {
    const tracker = new PageTracker(100)
    for (const gfn of [-1, 100, 2.5]) {
      expect(() => tracker.write(gfn)).toThrow(/out of range/)
      expect(() => tracker.touch(gfn)).toThrow(/out of range/)
    }
    tracker.write(99)
    tracker.touch(0)
    expect(tracker.dirtyCount()).toBe(2)
    tracker.pause()
    expect(() => tracker.write(1)).toThrow(/a paused guest does not write/)
  })

  it("a writer's write outside the guest, when the tracker settles it", () => {
    const tracker = new PageTracker(100, traceWriter([{ gfn: 100, atUs: 5 }]))
    expect(() => tracker.settleBefore(10)).toThrow(/write to gfn 100 out of range/)
  })
})
