/**
 * The three pre-copy loops on hand-computed cases, one per stop condition. Link: one 4 KiB page per ms
 * (migrationHelpers.ts), so every duration below is pages × 1000 µs (+ latency).
 */
import { describe, expect, it } from "vitest"
import {
  estimatedDowntimeUs,
  maxDowntimePolicy,
  type PrecopyDecision,
  type PrecopyStats,
  policyByName,
  ROUNDS_MAX_DEFAULT,
  simplePrecopyPolicy,
  xenDefaultPolicy,
  xenLegacyPolicy,
  xenPolicy
} from "../../engine/migration/index.js"
import { PAGE, PAGE_PER_MS, rateModel, roundTuples, run, traceModel } from "./migrationHelpers.js"

/** The xen default policy, recording every stats value the loop shows it. */
const spiedXen = () => {
  const seen: PrecopyStats[] = []
  const inner = xenDefaultPolicy()
  const policy = {
    ...inner,
    decide: (stats: PrecopyStats): PrecopyDecision => {
      seen.push(stats)
      return simplePrecopyPolicy(stats)
    }
  }
  return { policy, seen }
}

const stats = (iteration: number, totalWrittenPages: number, dirtyCount: number): PrecopyStats => ({
  iteration,
  totalWrittenPages,
  dirtyCount
})

describe("xen: libxenguest's send_memory_live with simple_precopy_policy", () => {
  it("idle VM: round 1 sends all, the next pass sees 0 dirty and stops without sending, the paused round sends 0", () => {
    // Pass 1: policy({0,0,1000}) = continue, send 1000; iteration 1, policy({1,1000,-1}) = continue; CLEAN = 0.
    // Pass 2: policy({1,1000,0}) = stop (0 < 50); dirty_count 0 so nothing is sent; break. Final CLEAN = 0.
    for (const model of [rateModel(0, 1000), traceModel([])]) {
      const { policy, seen } = spiedXen()
      const precopy = run({ memoryPages: 1000, policy, model })
      expect(precopy.rounds()).toEqual([
        {
          index: 1,
          live: true,
          pagesSent: 1000,
          pagesSkipped: 0,
          zeroPages: 0,
          stateBytes: 0,
          bytesSent: 1000 * PAGE,
          durationUs: 1_000_000,
          dirtyPagesAfter: 0
        },
        {
          index: 2,
          live: false,
          pagesSent: 0,
          pagesSkipped: 0,
          zeroPages: 0,
          stateBytes: 0,
          bytesSent: 0,
          durationUs: 0,
          dirtyPagesAfter: 0
        }
      ])
      expect(seen).toEqual([stats(0, 0, 1000), stats(1, 1000, -1), stats(1, 1000, 0)])
      const outcome = precopy.outcome()!
      expect(outcome.result).toBe("committed")
      expect(outcome.stopReason).toBe("dirty-below-threshold")
      expect([outcome.totalUs, outcome.downtimeUs, outcome.pagesSent]).toEqual([1_000_000, 0, 1000])
    }
  })

  it("idle VM with 250 µs latency: every round, the empty paused one too, lasts its bytes plus the latency", () => {
    const precopy = run({ memoryPages: 1000, policy: xenDefaultPolicy(), model: rateModel(0, 1000), latencyUs: 250 })
    expect(roundTuples(precopy)).toEqual([
      [true, 1000, 0, 1_000_250, 0],
      [false, 0, 0, 250, 0]
    ])
    expect([precopy.outcome()!.totalUs, precopy.outcome()!.downtimeUs]).toEqual([1_000_500, 250])
  })

  it("0 < dirty < 50 after round 1: the stopping pass still sends those pages live, then the paused round", () => {
    // Round 1 (0 … 1,000,000): gfns 0–9 written at 20,000+k, after their sends → 10 dirty.
    // Pass 2: policy({1,1000,10}) = stop, but dirty_count 10 > 0 → round 2 sends 10 pages live (10 ms).
    // During round 2: gfn 500 and 501, and gfn 5 before its own send (arrives at 1,006,000): 3 dirty.
    // No CLEAN after a stop: the paused round sends those 3 (3 ms).
    const writes = [
      ...Array.from({ length: 10 }, (_, k) => ({ gfn: k, atUs: 20_000 + k })),
      { gfn: 500, atUs: 1_000_500 },
      { gfn: 5, atUs: 1_002_000 },
      { gfn: 501, atUs: 1_005_000 }
    ]
    const { policy, seen } = spiedXen()
    const precopy = run({ memoryPages: 1000, policy, model: traceModel(writes) })
    expect(roundTuples(precopy)).toEqual([
      [true, 1000, 0, 1_000_000, 10],
      [true, 10, 0, 10_000, 3],
      [false, 3, 0, 3_000, 0]
    ])
    expect(seen).toEqual([stats(0, 0, 1000), stats(1, 1000, -1), stats(1, 1000, 10)])
    const outcome = precopy.outcome()!
    expect(outcome.stopReason).toBe("dirty-below-threshold")
    expect([outcome.totalUs, outcome.downtimeUs, outcome.pagesSent]).toEqual([1_013_000, 3_000, 1013])
    expect(precopy.checkDestination()).toEqual({ ok: true })
  })

  it("write-heavy VM: exactly 5 live rounds and 1 paused (iteration-cap)", () => {
    // Rate model: 1000 pages, a working set of 200 pages dirtied at one page per ms (the link's rate), so
    // every CLEAN finds 200. Passes 1–5 send 1000, 200, 200, 200, 200; after pass 5, policy({5,1800,-1})
    // = stop (iteration >= 5) before any CLEAN, and the paused round sends the 200 dirtied meanwhile.
    const { policy, seen } = spiedXen()
    const precopy = run({ memoryPages: 1000, policy, model: rateModel(PAGE_PER_MS, 200) })
    expect(roundTuples(precopy)).toEqual([
      [true, 1000, 0, 1_000_000, 200],
      [true, 200, 0, 200_000, 200],
      [true, 200, 0, 200_000, 200],
      [true, 200, 0, 200_000, 200],
      [true, 200, 0, 200_000, 200],
      [false, 200, 0, 200_000, 0]
    ])
    expect(seen.at(-1)).toEqual(stats(5, 1800, -1))
    expect(seen.length).toBe(10)
    expect(precopy.outcome()!.stopReason).toBe("iteration-cap")
    expect([precopy.outcome()!.totalUs, precopy.outcome()!.downtimeUs]).toEqual([2_000_000, 200_000])
  })

  it("write-heavy VM in the pages model: also 5 live + 1 paused, and no write is lost", () => {
    const precopy = run({
      memoryPages: 4096,
      policy: xenDefaultPolicy(),
      model: traceModel(Array.from({ length: 40_000 }, (_, i) => ({ gfn: (i * 7919) % 1024, atUs: i * 300 })))
    })
    expect(precopy.rounds().map((r) => r.live)).toEqual([true, true, true, true, true, false])
    expect(precopy.outcome()!.stopReason).toBe("iteration-cap")
    expect(precopy.checkDestination()).toEqual({ ok: true })
  })

  it("a user decision function plugs into the same loop; its stops are policy-stop", () => {
    const policy = xenPolicy((s) => (s.iteration >= 2 ? "stop" : "continue"), "two-passes")
    const precopy = run({ memoryPages: 1000, policy, model: rateModel(PAGE_PER_MS, 200) })
    // Rounds 1 and 2 live; after round 2 policy({2,1200,-1}) = stop; the paused round sends 200.
    expect(roundTuples(precopy)).toEqual([
      [true, 1000, 0, 1_000_000, 200],
      [true, 200, 0, 200_000, 200],
      [false, 200, 0, 200_000, 0]
    ])
    expect(precopy.outcome()!.stopReason).toBe("policy-stop")
    expect(precopy.policy.name).toBe("two-passes")
  })

  it("passes that find nothing dirty take no time and still count iterations", () => {
    const seen: PrecopyStats[] = []
    const policy = xenPolicy((s) => {
      seen.push(s)
      return s.iteration >= 3 ? "stop" : "continue"
    }, "three")
    const precopy = run({ memoryPages: 1000, policy, model: rateModel(0, 1000) })
    expect(seen).toEqual([
      stats(0, 0, 1000),
      stats(1, 1000, -1),
      stats(1, 1000, 0),
      stats(2, 1000, -1),
      stats(2, 1000, 0),
      stats(3, 1000, -1)
    ])
    expect(roundTuples(precopy)).toEqual([
      [true, 1000, 0, 1_000_000, 0],
      [false, 0, 0, 0, 0]
    ])
  })

  it("a policy that never stops is cut by the pass bound (round-cap)", () => {
    const precopy = run({
      memoryPages: 1000,
      policy: xenPolicy(() => "continue", "forever", 7),
      model: rateModel(0, 1000)
    })
    expect(precopy.rounds().length).toBe(2)
    expect(precopy.outcome()!.stopReason).toBe("round-cap")
  })

  it("the pass bound stops before the CLEAN: the paused round sends the pages dirtied since (no lost write)", () => {
    // A guest writing a page every 10 ms: each live round leaves pages dirty; the cap after two rounds
    // must leave them in the to-send set of the paused round (it once CLEANed first and lost them).
    const precopy = run({
      memoryPages: 1000,
      policy: xenPolicy(() => "continue", "forever", 2),
      model: rateModel(PAGE_PER_MS / 10, 1000)
    })
    const rounds = precopy.rounds()
    expect(rounds.map((r) => r.live)).toEqual([true, true, false])
    expect(precopy.outcome()!.stopReason).toBe("round-cap")
    expect(rounds[2]!.pagesSent).toBe(rounds[1]!.dirtyPagesAfter)
    expect(rounds[2]!.pagesSent).toBeGreaterThan(0)
  })

  it("abort: after a send the migration fails without a paused round; at the first ask nothing is sent", () => {
    const late = run({
      memoryPages: 1000,
      policy: xenPolicy((s) => (s.iteration >= 1 ? "abort" : "continue"), "late-abort"),
      model: rateModel(0, 1000)
    })
    expect(late.rounds().map((r) => r.live)).toEqual([true])
    expect(late.outcome()).toMatchObject({ result: "aborted", stopReason: "aborted", abortReason: "policy-abort" })
    expect(late.phase()).toBe("aborted")

    const early = run({ memoryPages: 1000, policy: xenPolicy(() => "abort", "no"), model: rateModel(0, 1000) })
    expect(early.rounds()).toEqual([])
    expect(early.outcome()).toMatchObject({ result: "aborted", totalUs: 0, bytesSent: 0 })
  })
})

describe("xen-legacy: xc_domain_save's loop", () => {
  it("iteration cap: 29 live rounds, then the paused 30th", () => {
    // 1000 pages, working set 60 re-dirtied every round: sends 1000, then 60 × 28; total 2680 ≤ 3 × 1000,
    // 60 ≥ 50, so only iter >= 29 stops it.
    const precopy = run({ memoryPages: 1000, policy: xenLegacyPolicy(), model: rateModel(PAGE_PER_MS, 60) })
    const rounds = roundTuples(precopy)
    expect(rounds.length).toBe(30)
    expect(rounds[0]).toEqual([true, 1000, 0, 1_000_000, 60])
    expect(rounds.slice(1, 29)).toEqual(Array.from({ length: 28 }, () => [true, 60, 0, 60_000, 60]))
    expect(rounds[29]).toEqual([false, 60, 0, 60_000, 0])
    expect(precopy.outcome()!.stopReason).toBe("iteration-cap")
    expect(precopy.outcome()!.totalUs).toBe(1_000_000 + 29 * 60_000)
  })

  it("max factor: stops once more than 3 × memory has been sent", () => {
    // Working set 200: total after round k = 1000 + 200 (k − 1); 3000 after round 11 is not > 3000,
    // 3200 after round 12 is.
    const precopy = run({ memoryPages: 1000, policy: xenLegacyPolicy(), model: rateModel(PAGE_PER_MS, 200) })
    const rounds = roundTuples(precopy)
    expect(rounds.length).toBe(13)
    expect(rounds.slice(1, 12)).toEqual(Array.from({ length: 11 }, () => [true, 200, 0, 200_000, 200]))
    expect(rounds[12]).toEqual([false, 200, 0, 200_000, 0])
    expect(precopy.outcome()!.stopReason).toBe("max-factor")
    expect(precopy.outcome()!.pagesSent).toBe(3400)
  })

  it("< 50 rule counts sent + skipped: 40 sent + 20 skipped goes on, 20 sent stops", () => {
    // 200 pages, a peek before every page. Round 1: gfns 100–159 written at 1000 µs, before their peeks
    // → skipped; 140 sent by 140,000. Round 2 sends 100–159; gfns 140–159 rewritten at 140,001, before
    // their peeks → 40 sent, 20 skipped (60 ≥ 50: go on). Round 3 sends 140–159 (20 < 50: stop).
    const writes = [
      ...Array.from({ length: 60 }, (_, k) => ({ gfn: 100 + k, atUs: 1000 })),
      ...Array.from({ length: 20 }, (_, k) => ({ gfn: 140 + k, atUs: 140_001 }))
    ]
    const precopy = run({ memoryPages: 200, policy: xenLegacyPolicy({ peekBatchPages: 1 }), model: traceModel(writes) })
    expect(roundTuples(precopy)).toEqual([
      [true, 140, 60, 140_000, 60],
      [true, 40, 20, 40_000, 20],
      [true, 20, 0, 20_000, 0],
      [false, 0, 0, 0, 0]
    ])
    expect(precopy.outcome()).toMatchObject({ stopReason: "sent-below-threshold", totalUs: 200_000, pagesSkipped: 80 })
    expect(precopy.checkDestination()).toEqual({ ok: true })
  })

  it("with Xen's 1024-page batches the same writes land after the only peek of a 200-page round: nothing skipped", () => {
    // Round 1 is one batch peeked at 0: all 200 sent (100–159 with their new versions, dirty again).
    // Round 2 re-sends those 60 (≥ 50: go on); round 3 finds nothing (0 < 50: stop); paused round empty.
    const writes = [
      ...Array.from({ length: 60 }, (_, k) => ({ gfn: 100 + k, atUs: 1000 })),
      ...Array.from({ length: 20 }, (_, k) => ({ gfn: 140 + k, atUs: 140_001 }))
    ]
    const precopy = run({ memoryPages: 200, policy: xenLegacyPolicy(), model: traceModel(writes) })
    expect(roundTuples(precopy)).toEqual([
      [true, 200, 0, 200_000, 60],
      [true, 60, 0, 60_000, 0],
      [true, 0, 0, 0, 0],
      [false, 0, 0, 0, 0]
    ])
    expect(precopy.checkDestination()).toEqual({ ok: true })
  })

  it("the rate model has no page identities, so nothing is ever skipped", () => {
    const precopy = run({
      memoryPages: 1000,
      policy: xenLegacyPolicy({ peekBatchPages: 1 }),
      model: rateModel(PAGE_PER_MS, 200)
    })
    expect(precopy.rounds().every((r) => r.pagesSkipped === 0)).toBe(true)
  })
})

describe("max-downtime: QEMU's and SimGrid's loop", () => {
  it("converges: stops when the dirty bytes fit in 30 ms at the round's measured bandwidth", () => {
    // 100 pages/s dirtied. Round 1: 1 s → 100 dirty → 100 ms at the measured 1 page/ms > 30 ms: go on.
    // Round 2: 100 ms → 10 dirty → 10 ms ≤ 30 ms: pause and send them.
    const precopy = run({ memoryPages: 1000, policy: maxDowntimePolicy(), model: rateModel(100 * PAGE, 1000) })
    expect(roundTuples(precopy)).toEqual([
      [true, 1000, 0, 1_000_000, 100],
      [true, 100, 0, 100_000, 10],
      [false, 10, 0, 10_000, 0]
    ])
    expect(precopy.outcome()).toMatchObject({
      stopReason: "downtime-within-limit",
      totalUs: 1_110_000,
      downtimeUs: 10_000
    })
  })

  it("the measured bandwidth includes the latency, and dirtying carries fractions of a page", () => {
    // Latency 10 ms. Round 1: 1,010,000 µs → 101 dirty → 101 × 4096 B at 4,096,000 B / 1,010,000 µs
    // = 102,010 µs > 30 ms. Round 2: 101 pages + latency = 111,000 µs → 11.1 → 11 dirty → 12,090 µs ≤ 30 ms.
    const precopy = run({
      memoryPages: 1000,
      policy: maxDowntimePolicy(),
      model: rateModel(100 * PAGE, 1000),
      latencyUs: 10_000
    })
    expect(roundTuples(precopy)).toEqual([
      [true, 1000, 0, 1_010_000, 101],
      [true, 101, 0, 111_000, 11],
      [false, 11, 0, 21_000, 0]
    ])
    expect(estimatedDowntimeUs(101 * PAGE, 1000 * PAGE, 1_010_000)).toBe(102_010)
    expect(estimatedDowntimeUs(11 * PAGE, 101 * PAGE, 111_000)).toBe(12_090)
  })

  it("never converges: the round cap stops it (20 live rounds + 1 paused)", () => {
    // The whole memory is re-dirtied at the link's rate: every round has 1000 dirty pages, 1 s to send.
    const precopy = run({
      memoryPages: 1000,
      policy: maxDowntimePolicy({ roundsMax: 20 }),
      model: rateModel(PAGE_PER_MS, 1000)
    })
    const rounds = roundTuples(precopy)
    expect(rounds.length).toBe(21)
    expect(rounds.slice(0, 20)).toEqual(Array.from({ length: 20 }, () => [true, 1000, 0, 1_000_000, 1000]))
    expect(rounds[20]).toEqual([false, 1000, 0, 1_000_000, 0])
    expect(precopy.outcome()).toMatchObject({ stopReason: "round-cap", downtimeUs: 1_000_000, totalUs: 21_000_000 })
  })

  it("defaults: 30 ms and 10,000 rounds, so a non-converging run has 10,001 rounds", () => {
    const policy = policyByName("max-downtime")
    expect(policy).toMatchObject({ maxDowntimeUs: 30_000, roundsMax: ROUNDS_MAX_DEFAULT })
    expect(ROUNDS_MAX_DEFAULT).toBe(10_000)
    const precopy = run({ memoryPages: 100, policy, model: rateModel(PAGE_PER_MS, 100) })
    expect(precopy.rounds().length).toBe(10_001)
    expect(precopy.outcome()!.stopReason).toBe("round-cap")
  })
})

describe("policies are plain values", () => {
  it("policyByName gives the documented constants", () => {
    expect(policyByName("xen")).toMatchObject({ kind: "xen", name: "xen", roundsMax: 10_000 })
    expect(policyByName("xen-legacy")).toMatchObject({
      maxIterations: 29,
      maxFactor: 3,
      sentThresholdPages: 50,
      peekBatchPages: 1024
    })
    expect(policyByName("max-downtime", { maxDowntimeUs: 5_000 })).toMatchObject({ maxDowntimeUs: 5_000 })
  })

  it("simple_precopy_policy: stop iff (dirty >= 0 and < 50) or iteration >= 5", () => {
    expect(simplePrecopyPolicy(stats(0, 0, 1000))).toBe("continue")
    expect(simplePrecopyPolicy(stats(1, 1000, -1))).toBe("continue")
    expect(simplePrecopyPolicy(stats(1, 1000, 49))).toBe("stop")
    expect(simplePrecopyPolicy(stats(1, 1000, 50))).toBe("continue")
    expect(simplePrecopyPolicy(stats(1, 1000, 0))).toBe("stop")
    expect(simplePrecopyPolicy(stats(5, 1000, -1))).toBe("stop")
    expect(simplePrecopyPolicy(stats(4, 1000, 1000))).toBe("continue")
  })

  it("refuses policy settings outside their ranges, naming the setting", () => {
    const decide = () => "continue" as const
    expect(() => xenPolicy(decide, "mine", 0)).toThrow(/roundsMax must be >= 1/)
    expect(() => xenPolicy(decide, "mine", 1.5)).toThrow(/roundsMax must be >= 1/)
    expect(xenPolicy(decide, "mine", 1).roundsMax).toBe(1)
    expect(() => xenLegacyPolicy({ maxIterations: 0 })).toThrow(/maxIterations must be >= 1/)
    expect(() => xenLegacyPolicy({ maxIterations: 2.5 })).toThrow(/maxIterations must be >= 1/)
    expect(() => xenLegacyPolicy({ maxFactor: 0 })).toThrow(/maxFactor must be >= 1/)
    expect(() => xenLegacyPolicy({ maxFactor: 1.5 })).toThrow(/maxFactor must be >= 1/)
    expect(() => xenLegacyPolicy({ peekBatchPages: 0 })).toThrow(/peekBatchPages must be >= 1/)
    expect(() => xenLegacyPolicy({ peekBatchPages: 0.5 })).toThrow(/peekBatchPages must be >= 1/)
    expect(xenLegacyPolicy({ maxIterations: 1, maxFactor: 1, peekBatchPages: 1 })).toMatchObject({ maxIterations: 1 })
    expect(() => maxDowntimePolicy({ maxDowntimeUs: -1 })).toThrow(/maxDowntimeUs must be >= 0/)
    expect(() => maxDowntimePolicy({ maxDowntimeUs: 0.5 })).toThrow(/maxDowntimeUs must be >= 0/)
    expect(maxDowntimePolicy({ maxDowntimeUs: 0 }).maxDowntimeUs).toBe(0)
    expect(() => maxDowntimePolicy({ roundsMax: 0 })).toThrow(/roundsMax must be >= 1/)
    expect(() => maxDowntimePolicy({ roundsMax: 1.5 })).toThrow(/roundsMax must be >= 1/)
    expect(maxDowntimePolicy({ roundsMax: 1 }).roundsMax).toBe(1)
  })

  it("estimatedDowntimeUs: nothing dirty takes no time; a round that sent nothing measured no bandwidth", () => {
    expect(estimatedDowntimeUs(0, 0, 0)).toBe(0)
    expect(estimatedDowntimeUs(1, 0, 1_000)).toBe(Number.MAX_SAFE_INTEGER)
    expect(estimatedDowntimeUs(1_000, 2_000, 1_000)).toBe(500)
    expect(estimatedDowntimeUs(1, 3, 1_000)).toBe(334)
  })
})
