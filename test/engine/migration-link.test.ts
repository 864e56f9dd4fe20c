/**
 * The machine on a fluid-model link: byte progress and round ends are exact integers across rate
 * changes, `nextEventUs` is the exact round end at any rate (xen-legacy's look-ahead included), and
 * the constant-bandwidth runner (`migrate-model`) reports DESIGN.md §7's shape on the same machine.
 */
import { describe, expect, it } from "vitest"
import {
  createPrecopy,
  type DirtyModelSpec,
  driveAtConstantRate,
  estimatedDowntimeUs,
  maxDowntimePolicy,
  type Precopy,
  type PrecopyPolicy,
  pagesPerS,
  runSingleMigration,
  QEMU_ZERO_PAGE_BYTES,
  transferFactory,
  uniformWriter,
  xenDefaultPolicy,
  xenLegacyPolicy
} from "../../engine/migration/index.js"
import { Prng } from "../../engine/prng.js"
import { machine, PAGE, PAGE_PER_MS, rateModel, traceModel } from "./migrationHelpers.js"

const MiB = 2 ** 20
const GiB = 2 ** 30

/** Σ rate × Δt over segments, as BigInt micro-bytes: the exact piecewise computation. */
const microBytes = (segments: ReadonlyArray<readonly [rateBytesPerS: number, elapsedUs: number]>): bigint =>
  segments.reduce((sum, [rate, us]) => sum + BigInt(rate) * BigInt(us), 0n)

const ceilDiv = (n: bigint, d: bigint): bigint => (n + d - 1n) / d

describe("rate segments", () => {
  it("a round advanced over three rates delivers floor(Σ R·Δt / 10^6) bytes and ends at the exact piecewise time", () => {
    const r1 = 3_000_001
    const r2 = 1_234_567
    const r3 = 9_999_999
    const totalMicro = BigInt(1000 * PAGE) * 1_000_000n
    const expectedEndUs =
      250_000n +
      ceilDiv(
        totalMicro -
          microBytes([
            [r1, 100_000],
            [r2, 150_000]
          ]),
        BigInt(r3)
      )
    for (const model of [rateModel(0, 1000), traceModel([])]) {
      const precopy = machine({ memoryPages: 1000, policy: xenDefaultPolicy(), model })
      precopy.advance(100_000, r1)
      expect(precopy.currentRound()!.bytesSent).toBe(300_000) // floor(300,000.1)
      precopy.advance(250_000, r2)
      const bytesAt250ms = Number(
        microBytes([
          [r1, 100_000],
          [r2, 150_000]
        ]) / 1_000_000n
      )
      expect(precopy.currentRound()!.bytesSent).toBe(bytesAt250ms)
      expect(precopy.currentRound()!.pagesSent).toBe(Math.floor(bytesAt250ms / PAGE))
      expect(precopy.currentRound()!.bytesRemaining).toBe(1000 * PAGE - bytesAt250ms)
      const endUs = precopy.nextEventUs(r3)!
      expect(endUs).toBe(Number(expectedEndUs))
      precopy.advance(endUs, r3)
      expect(precopy.roundDone()).toBe(true)
      expect(precopy.completeRound(endUs).durationUs).toBe(Number(expectedEndUs))
    }
  })

  it("a rate of 0 moves no bytes and has no round end; the round resumes where it stopped", () => {
    const precopy = machine({ memoryPages: 10, policy: xenDefaultPolicy(), model: traceModel([]) })
    precopy.advance(5_500, PAGE_PER_MS)
    precopy.advance(1_000_000, 0)
    expect(precopy.nextEventUs(0)).toBeUndefined()
    expect(precopy.currentRound()!.pagesSent).toBe(5)
    expect(precopy.nextEventUs(PAGE_PER_MS)).toBe(1_000_000 + 4_500)
  })

  it("16 GiB at 10 Gbit/s: 17,179,869,184 × 10^6 passes 2^53 and the round still takes exactly ceil(…) µs", () => {
    const report = runSingleMigration({
      memoryBytes: 16 * GiB,
      bandwidthBytesPerS: 1_250_000_000,
      model: "rate",
      phases: "none"
    })
    // ceil(17,179,869,184 × 10^6 / 1.25 × 10^9) = ceil(13,743,895.347…)
    expect(report.rounds[0]!.durationUs).toBe(13_743_896)
    expect(report.totalUs).toBe(13_743_896)
  })

  it("nextEventUs is the exact round end under random rate changes, for every policy and model (look-ahead included)", () => {
    for (let seed = 1; seed <= 40; seed++) {
      const prng = Prng.fromSeed(seed)
      const memoryPages = prng.nextIntBetween(20, 1500)
      const policies: ReadonlyArray<PrecopyPolicy> = [
        xenDefaultPolicy(),
        xenLegacyPolicy({ peekBatchPages: prng.nextIntBetween(1, 40) }),
        maxDowntimePolicy({ maxDowntimeUs: 5_000, roundsMax: 40 })
      ]
      for (const policy of policies) {
        for (const kind of ["pages", "rate"] as const) {
          const model: DirtyModelSpec =
            kind === "rate"
              ? rateModel(prng.nextIntBetween(0, 800) * PAGE, prng.nextIntBetween(1, memoryPages))
              : {
                  kind,
                  writer: uniformWriter({
                    prng: prng.fork("w"),
                    rate: pagesPerS(prng.nextIntBetween(0, 800)),
                    memoryPages,
                    workingSetPages: prng.nextIntBetween(1, memoryPages),
                    startUs: 0
                  })
                }
          const precopy = machine({ memoryPages, policy, model, latencyUs: prng.nextIntBetween(0, 3) * 700 })
          const where = `seed ${seed}, ${policy.name}, ${kind}`
          driveWithRandomRates(precopy, prng, where)
          if (kind === "pages") expect(precopy.checkDestination(), where).toEqual({ ok: true })
        }
      }
    }
  })

  it("chopping a constant-rate run into random steps changes nothing", () => {
    for (let seed = 1; seed <= 20; seed++) {
      for (const policy of [xenDefaultPolicy(), xenLegacyPolicy({ peekBatchPages: 3 })]) {
        const make = () =>
          machine({
            memoryPages: 700,
            policy,
            model: {
              kind: "pages",
              writer: uniformWriter({
                prng: Prng.fromSeed(seed),
                rate: pagesPerS(600),
                memoryPages: 700,
                workingSetPages: 300,
                startUs: 0
              })
            },
            latencyUs: 300
          })
        const whole = make()
        driveAtConstantRate(whole, PAGE_PER_MS, 1000)
        const chopped = make()
        const prng = Prng.fromSeed(seed).fork("chop")
        for (let step = 0; chopped.outcome() === undefined; step++) {
          expect(step).toBeLessThan(100_000)
          const endUs = chopped.nextEventUs(PAGE_PER_MS)!
          const now = chopped.nowUs()
          if (endUs > now && prng.chance(3, 4)) chopped.advance(now + prng.nextInt(endUs - now), PAGE_PER_MS)
          else {
            chopped.advance(endUs, PAGE_PER_MS)
            chopped.completeRound(endUs)
          }
        }
        expect(chopped.rounds(), `seed ${seed}`).toEqual(whole.rounds())
        expect(chopped.outcome()).toEqual(whole.outcome())
      }
    }
  })
})

/** Random piecewise-constant rates (0 included); each step stops short of, or exactly at, the round end. */
const driveWithRandomRates = (precopy: Precopy, prng: Prng, where: string): void => {
  for (let step = 0; precopy.outcome() === undefined; step++) {
    expect(step, where).toBeLessThan(200_000)
    const rate = prng.chance(1, 8) ? 0 : prng.nextIntBetween(1, 4_000_000) * 3
    const endUs = precopy.nextEventUs(rate)
    const now = precopy.nowUs()
    if (endUs === undefined) {
      precopy.advance(now + prng.nextIntBetween(1, 5000), rate)
      continue
    }
    if (endUs > now && prng.chance(2, 3)) {
      precopy.advance(now + prng.nextInt(endUs - now), rate)
      expect(precopy.roundDone(), where).toBe(false)
      continue
    }
    precopy.advance(endUs, rate)
    expect(precopy.roundDone(), where).toBe(true)
    precopy.completeRound(endUs)
  }
}

describe("migrate-model: one migration at constant bandwidth", () => {
  it("reports exactly DESIGN.md §7's fields, and round durations add up to totalUs", () => {
    const report = runSingleMigration({
      memoryBytes: 64 * MiB,
      bandwidthBytesPerS: 125_000_000,
      dirtyRateBytesPerS: 20 * MiB,
      workingSetBytes: 8 * MiB,
      model: "pages",
      seed: 3,
      latencyUs: 100,
      phases: "none"
    })
    expect(Object.keys(report).sort()).toEqual(
      [
        "policy",
        "model",
        "memoryBytes",
        "pageSizeBytes",
        "rounds",
        "totalUs",
        "downtimeUs",
        "bytesSent",
        "pagesSent",
        "stopReason"
      ].sort()
    )
    expect(Object.keys(report.rounds[0]!).sort()).toEqual(
      ["index", "live", "pagesSent", "bytesSent", "durationUs", "dirtyPagesAfter"].sort()
    )
    expect(report.rounds[0]).toMatchObject({ index: 1, live: true, pagesSent: 16_384 })
    expect(report.rounds.at(-1)!.live).toBe(false)
    expect(report.downtimeUs).toBe(report.rounds.at(-1)!.durationUs)
    expect(report.rounds.reduce((sum, r) => sum + r.durationUs, 0)).toBe(report.totalUs)
    expect(report.rounds.reduce((sum, r) => sum + r.bytesSent, 0)).toBe(report.bytesSent)
    expect(report.bytesSent).toBe(report.pagesSent * 4096)
  })

  it("is deterministic in its seed", () => {
    const config = {
      memoryBytes: 32 * MiB,
      bandwidthBytesPerS: 50_000_000,
      dirtyRateBytesPerS: 10 * MiB,
      workingSetBytes: 4 * MiB,
      model: "pages" as const,
      policy: "xen-legacy" as const
    }
    expect(runSingleMigration({ ...config, seed: 11 })).toEqual(runSingleMigration({ ...config, seed: 11 }))
    expect(runSingleMigration({ ...config, seed: 11 }).rounds).not.toEqual(
      runSingleMigration({ ...config, seed: 12 }).rounds
    )
  })
})

describe("calibration against a published measurement", () => {
  // traces/precopy-iterations.csv, source_id cloud-hypervisor-pr7799: a 6144 MiB guest whose workload
  // re-dirties about 5418 MiB per iteration; iteration 0 sent 6144 MiB at 1986.83 MiB/s in 3.09 s, and
  // iteration 1 re-sent 5418 MiB with an estimated downtime of 2726 ms. It never converged.
  const bandwidthBytesPerS = Math.round(1986.83 * MiB)
  const config = {
    memoryBytes: 6144 * MiB,
    bandwidthBytesPerS,
    dirtyRateBytesPerS: 2000 * MiB, // enough to re-dirty the working set within any round
    workingSetBytes: 5418 * MiB,
    model: "rate" as const
  }

  it("round 1 takes 3.09 s (row iteration 0) and round 2 re-sends the 5418 MiB working set (row iteration 1)", () => {
    const report = runSingleMigration({ ...config, policy: "xen" })
    expect(Math.abs(report.rounds[0]!.durationUs - 3_090_000) / 3_090_000).toBeLessThan(0.01)
    expect(report.rounds[1]!.bytesSent).toBe(5418 * MiB)
    // xen does not wait for convergence: 5 live rounds, then a paused round of the whole working set.
    expect(report.rounds.map((r) => r.live)).toEqual([true, true, true, true, true, false])
    expect(report.stopReason).toBe("iteration-cap")
  })

  it("the expected downtime after round 1 is 2726 ms (row iteration 1), and max-downtime never converges", () => {
    const report = runSingleMigration({ ...config, policy: "max-downtime", roundsMax: 50 })
    const first = report.rounds[0]!
    const estimateUs = estimatedDowntimeUs(first.dirtyPagesAfter * 4096, first.bytesSent, first.durationUs)
    expect(Math.abs(estimateUs - 2_726_000) / 2_726_000).toBeLessThan(0.01)
    expect(report.stopReason).toBe("round-cap")
    expect(report.rounds.length).toBe(51)
  })
})

describe("the pool engine's seam (engine/transfer.ts)", () => {
  it("transferFactory drives the same machine: idle VM → a live round, the paused round, done", () => {
    const transfer = transferFactory({
      memoryPages: 1000,
      pageSizeBytes: PAGE,
      latencyUs: 0,
      startUs: 5_000,
      policy: { name: "xen", phases: "none" },
      workload: { model: "pages", writer: "uniform", dirtyRateBytesPerS: 0, workingSetPages: 1000 },
      prng: Prng.fromSeed(1)
    })
    expect(transfer.roundEndUs(PAGE_PER_MS)).toBe(1_005_000)
    transfer.advance(1_005_000, PAGE_PER_MS)
    const first = transfer.completeRound(1_005_000)
    expect(first.after).toEqual({ next: "paused", stopReason: "dirty-below-threshold" })
    expect(transfer.roundEndUs(PAGE_PER_MS)).toBe(1_005_000)
    expect(transfer.completeRound(1_005_000).after).toEqual({ next: "done" })
    expect(transfer.lostWrite()).toBeUndefined()
  })
})

describe("phases: setup, suspend, the paused round with its state, restore (engine/migration/phases.ts)", () => {
  const phases = { setupUs: 40_000, suspendUs: 3_000, stateBytes: 2 * PAGE, restoreUs: 7_000 }

  it("the machine runs setup before round 1 and suspend and restore around the paused round; the parts add up", () => {
    const precopy = createPrecopy({
      memoryPages: 1000,
      pageSizeBytes: PAGE,
      policy: xenDefaultPolicy(),
      model: rateModel(0, 1000),
      latencyUs: 0,
      startUs: 5_000,
      phases
    })
    // setup: nothing on the link, a part of fixed length
    expect(precopy.inPart()).toBe(true)
    expect(precopy.nextEventUs(PAGE_PER_MS)).toBe(45_000)
    precopy.advance(45_000, PAGE_PER_MS)
    expect(precopy.completePart(45_000)).toEqual({ name: "setup", startUs: 5_000, durationUs: 40_000 })
    // round 1: 1000 pages at a page per ms
    expect(precopy.nextEventUs(PAGE_PER_MS)).toBe(1_045_000)
    precopy.advance(1_045_000, PAGE_PER_MS)
    precopy.completeRound(1_045_000)
    // idle: the policy stops; the guest is paused and suspend runs
    expect(precopy.stopAndCopy()).toEqual({ atUs: 1_045_000, stopReason: "dirty-below-threshold" })
    expect(precopy.nextEventUs(PAGE_PER_MS)).toBe(1_048_000)
    precopy.advance(1_048_000, PAGE_PER_MS)
    expect(precopy.completePart(1_048_000).name).toBe("suspend")
    // the paused round: no dirty pages, the 2 pages' worth of state
    expect(precopy.nextEventUs(PAGE_PER_MS)).toBe(1_050_000)
    precopy.advance(1_050_000, PAGE_PER_MS)
    expect(precopy.completeRound(1_050_000)).toMatchObject({
      live: false,
      pagesSent: 0,
      stateBytes: 2 * PAGE,
      bytesSent: 2 * PAGE
    })
    precopy.advance(1_057_000, PAGE_PER_MS)
    expect(precopy.completePart(1_057_000).name).toBe("restore")
    const outcome = precopy.outcome()!
    expect(outcome.result).toBe("committed")
    expect(outcome.totalUs).toBe(40_000 + 1_000_000 + 3_000 + 2_000 + 7_000)
    expect(outcome.downtimeUs).toBe(3_000 + 2_000 + 7_000)
    expect(outcome.bytesSent).toBe(1000 * PAGE + 2 * PAGE)
  })

  it("the engine's seam: setup, a live round, paused (suspend follows), the paused round, restore, then commit now", () => {
    const transfer = transferFactory({
      memoryPages: 1000,
      pageSizeBytes: PAGE,
      latencyUs: 0,
      startUs: 0,
      policy: { name: "xen" },
      workload: { model: "rate", writer: "uniform", dirtyRateBytesPerS: 0, workingSetPages: 1000, stateBytes: PAGE },
      prng: Prng.fromSeed(1)
    })
    const steps: string[] = []
    // Bounded: a handful of steps.
    for (let i = 0; i < 10; i++) {
      const endUs = transfer.roundEndUs(PAGE_PER_MS)!
      transfer.advance(endUs, PAGE_PER_MS)
      const done = transfer.inPart!() ? transfer.completePart!(endUs) : transfer.completeRound(endUs)
      steps.push("part" in done ? `${done.part.name}:${done.after.next}` : `round:${done.after.next}`)
      if (done.after.next === "commit" || done.after.next === "done") break
    }
    expect(steps).toEqual(["setup:live", "round:paused", "suspend:step", "round:step", "restore:commit"])
  })

  it("a round cut short reports what it sent so far, and a round's bytes are its pages, zero pages and state", () => {
    const precopy = createPrecopy({
      memoryPages: 100,
      pageSizeBytes: PAGE,
      policy: maxDowntimePolicy(),
      model: rateModel(0, 10),
      latencyUs: 0,
      startUs: 0,
      untouchedPages: 90
    })
    precopy.advance(4_500, PAGE_PER_MS)
    expect(precopy.partialRound()).toMatchObject({ index: 1, pagesSent: 4, zeroPages: 0, durationUs: 4_500 })
    precopy.advance(precopy.nextEventUs(PAGE_PER_MS)!, PAGE_PER_MS)
    // 10 full pages and 90 zero-page markers of QEMU_ZERO_PAGE_BYTES each
    expect(precopy.completeRound(precopy.nowUs())).toMatchObject({
      pagesSent: 10,
      zeroPages: 90,
      bytesSent: 10 * PAGE + 90 * QEMU_ZERO_PAGE_BYTES
    })
  })
})

it("createPrecopy starts at startUs: the first round's clock is relative to it", () => {
  const precopy = createPrecopy({
    memoryPages: 10,
    pageSizeBytes: PAGE,
    policy: xenDefaultPolicy(),
    model: rateModel(0, 10),
    latencyUs: 0,
    startUs: 7_000_000
  })
  expect(precopy.nextEventUs(PAGE_PER_MS)).toBe(7_010_000)
})
