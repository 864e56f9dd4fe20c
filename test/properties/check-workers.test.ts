/**
 * `check` on worker threads gives the report one thread gives: the same verdicts, runs, seeds, paths and
 * shrunk counterexamples for 1 and 2 workers and on this thread, on properties that hold and on ones a
 * mutant makes fail (the mutant named across the thread: its seams are functions). Each property's runs
 * are cut into ranges (properties/runRanges.ts); the cut must not show in the report. The workers load
 * the build (`dist/xenpool-check-worker.mjs`: `npm run build` first, as `npm test` does).
 */
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { check } from "../../api/index.js"
import { checkOnWorkers } from "../../api/checkWorkers.js"
import { mutants, runCheck, type CheckReport } from "../../properties/index.js"
import { planRanges } from "../../properties/runRanges.js"
import { rejection } from "../api/rejection.js"
import { xenpool } from "../cli/run.js"

const clock = () => 0

/** The report as `--json` compares it: everything but the time each property took. */
const withoutTimes = (report: CheckReport) => ({
  ...report,
  properties: report.properties.map(({ elapsedMs: _time, ...verdict }) => verdict)
})

const seamsOf = (name: string) => mutants.find((m) => m.name === name)!.seams

describe("a property's runs cut into ranges", () => {
  it("the ranges cover every run once, in order, near-equal, never more ranges than runs", () => {
    const ranges = planRanges({ properties: ["a", "b"], runs: 10, rangesPerProperty: 4 })
    expect(ranges.map((r) => [r.property, r.firstRun, r.runs])).toEqual([
      ["a", 0, 3],
      ["a", 3, 3],
      ["a", 6, 2],
      ["a", 8, 2],
      ["b", 0, 3],
      ["b", 3, 3],
      ["b", 6, 2],
      ["b", 8, 2]
    ])
    expect(planRanges({ properties: ["a"], runs: 2, rangesPerProperty: 8 })).toEqual([
      { property: "a", firstRun: 0, runs: 1 },
      { property: "a", firstRun: 1, runs: 1 }
    ])
  })

  // Each mutant's first failing run (with these seeds) is past run 0, so with small ranges the failure
  // is in a later range: run 9 for the iteration cap and the disabled host, 3 for the HA planner, 7 for
  // the dirty bit.
  it.each([
    ["xen-iteration-cap-off-by-one", "termination-bounds", 1, 40],
    ["ha-planner-plans-for-ntol-minus-one", "ha-failover", 1, 60],
    ["dirty-bit-lost", "no-lost-writes", 1, 60],
    ["admits-to-disabled-host", "pool-model", 5, 60]
  ])(
    "%s: %s (seed %i) gives the whole run's report, cut in 3 or in ranges of one run",
    (mutant, property, seed, runs) => {
      const options = { runs, seed, only: [property], seams: seamsOf(mutant) }
      const whole = runCheck(options, clock)
      expect(whole.properties[0]!.ok).toBe(false)
      for (const rangesPerProperty of [3, runs])
        expect(runCheck({ ...options, rangesPerProperty }, clock), `${rangesPerProperty} ranges`).toEqual(whole)
    }
  )
})

describe("check on worker processes", () => {
  // With 2 workers a property's 40 runs are 8 ranges of 5: the iteration cap fails termination-bounds
  // at run 9 (seed 1), in the second range; the forgotten reservation fails pool-model at run 22 (seed
  // 5), in the fifth.
  it.each([
    ["xen-iteration-cap-off-by-one", 1, ["memory-conservation", "termination-bounds"]],
    ["reservation-forgotten", 5, ["pool-model", "memory-conservation", "residency"]]
  ])("with %s (seed %i): 1 and 2 workers give this thread's report, failures and all", async (mutant, seed, only) => {
    const options = { runs: 40, seed, only }
    const here = runCheck({ ...options, seams: seamsOf(mutant) }, clock)
    const one = await Effect.runPromise(checkOnWorkers({ ...options, workers: 1, mutant }))
    const two = await Effect.runPromise(checkOnWorkers({ ...options, workers: 2, mutant }))
    const failed = here.properties.filter((p) => !p.ok)
    expect(failed.length).toBeGreaterThan(0)
    for (const p of failed) {
      expect(p.path).toMatch(/^\d+(:\d+)+/)
      expect(p.counterexample).toBeDefined()
    }
    expect(JSON.stringify(withoutTimes(one))).toBe(JSON.stringify(withoutTimes(here)))
    expect(JSON.stringify(withoutTimes(two))).toBe(JSON.stringify(withoutTimes(here)))
    // The printed seed and path replay the case on workers too (a replay is one range).
    const [first] = failed
    const replayed = await Effect.runPromise(
      checkOnWorkers({ ...options, only: [first!.name], path: first!.path!, workers: 2, mutant })
    )
    expect(replayed.properties[0]!.ok).toBe(false)
    expect(replayed.properties[0]!.counterexample).toBe(first!.counterexample)
  })

  it("xenpool check --json prints the same report with --workers 1 and --workers 2", () => {
    const run = (workers: string) => xenpool(["check", "--runs", "4", "--seed", "9", "--workers", workers, "--json"])
    const one = run("1")
    const two = run("2")
    expect(one.status, one.stderr).toBe(0)
    expect(two.status, two.stderr).toBe(0)
    expect(two.stdout).toBe(one.stdout)
  })

  it("check({ workers }) gives the report check() gives on this thread, and tells each property's progress", async () => {
    const options = { runs: 10, seed: 3, properties: ["evacuation-plan", "residency", "ha-failover"] }
    const seen = new Map<string, number>()
    const here = await check(options)
    const two = await check({
      ...options,
      workers: 2,
      onProgress: (property, run, runs) => {
        expect(runs).toBe(10)
        seen.set(property, Math.max(seen.get(property) ?? 0, run))
      }
    })
    expect(withoutTimes(two)).toEqual(withoutTimes(here))
    expect(Object.fromEntries(seen)).toEqual({ "evacuation-plan": 10, residency: 10, "ha-failover": 10 })
  })

  it("aborting stops the workers at once", async () => {
    const controller = new AbortController()
    const started = performance.now()
    const running = check({ runs: 1_000_000, seed: 1, workers: 2, signal: controller.signal })
    setTimeout(() => controller.abort(), 500)
    expect((await rejection(running)).name).toBe("AbortError")
    expect(performance.now() - started).toBeLessThan(5_000)
  })

  it("a bad worker count, or workers with policies of one's own, is refused before anything runs", async () => {
    for (const workers of [0, 1.5, 257])
      expect((await rejection(check({ workers }))).message).toBe(`bad workers (${workers}): an integer from 1 to 256`)
    const policy = { name: "mine", summary: "mine", parameters: [], make: () => undefined as never }
    expect((await rejection(check({ workers: 2, policies: [policy] }))).message).toMatch(
      /^policies run on this thread \(workers: 2\): no workers with policies/
    )
  })

  it("xenpool check --workers takes a count of workers from 1 to 256, and --help says so", () => {
    for (const bad of ["0", "257"]) {
      const r = xenpool(["check", "--workers", bad])
      expect(r.status).toBe(2)
      expect(r.stderr).toBe(`xenpool: bad --workers (--workers ${bad}): a count of workers from 1 to 256\n`)
    }
    const notInteger = xenpool(["check", "--workers", "two"])
    expect(notInteger.status).toBe(2)
    expect(notInteger.stderr).toMatch(/^xenpool: bad option \(--workers two\): an integer/)
    expect(xenpool(["check", "--help"]).stdout).toMatch(/--workers integer[\s\S]*worker processes .* 1 to 256/)
  })
})
