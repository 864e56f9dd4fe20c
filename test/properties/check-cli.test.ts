/**
 * `xenpool check` as a user runs it (the built binary), and its failure report: the counterexample is
 * written as a scenario that `xenpool simulate` runs, and the printed seed and path replay the case.
 */
import { describe, expect, it } from "vitest"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { formatReport, writeCounterexamples } from "../../cli/commands/check.js"
import { mutants, propertyNames, runCheck } from "../../properties/index.js"
import { runEngine } from "../../properties/engineRun.js"
import { isCleanError, tempDir, xenpool } from "../cli/run.js"

const clock = () => 0

describe("xenpool check", () => {
  it("--json prints the seed, the runs and every property's verdict, and exits 0 when all hold", () => {
    const r = xenpool(["check", "--runs", "3", "--seed", "7", "--json"])
    expect(r.status, r.stderr).toBe(0)
    const report = JSON.parse(r.stdout) as { seed: number; runs: number; properties: Array<Record<string, unknown>> }
    expect(report.seed).toBe(7)
    expect(report.runs).toBe(3)
    expect(report.properties.map((p) => p.name)).toEqual(propertyNames)
    for (const p of report.properties) expect(p).toEqual({ name: p.name, runs: 3, ok: true, seed: 7 })
  })

  it("--property runs one property and prints a readable verdict", () => {
    const r = xenpool(["check", "--property", "memory-conservation", "--runs", "4", "--seed", "11"])
    expect(r.status, r.stderr).toBe(0)
    expect(r.stdout).toContain("seed 11, 4 runs per property")
    expect(r.stdout).toMatch(/memory-conservation\s+ok\s+4 runs/)
    expect(r.stdout).not.toContain("determinism")
  })

  it("an unknown property is a one-line error that lists the names", () => {
    const r = xenpool(["check", "--property", "no-such-thing"])
    expect(isCleanError(r)).toBe(true)
    expect(r.stderr).toContain("unknown property (--property no-such-thing)")
    for (const name of propertyNames) expect(r.stderr).toContain(name)
  })

  it("--path without the property and seed it came from is refused", () => {
    const r = xenpool(["check", "--path", "3:1:0"])
    expect(isCleanError(r)).toBe(true)
    expect(r.stderr).toContain("--path needs the case it came from")
  })

  it("--runs 0 is refused", () => {
    const r = xenpool(["check", "--runs", "0"])
    expect(isCleanError(r)).toBe(true)
    expect(r.stderr).toContain("bad --runs")
  })
})

describe("a failure report", () => {
  const mutant = mutants.find((m) => m.name === "xen-iteration-cap-off-by-one")!
  const report = runCheck({ runs: 200, seed: 1, only: ["termination-bounds"], seams: mutant.seams }, clock)
  const failed = report.properties[0]!

  it("names the property, the seed, the path and the shrunk counterexample in words", () => {
    expect(failed.ok).toBe(false)
    expect(failed.path).toMatch(/^\d+(:\d+)*$/)
    expect(failed.counterexample).toContain("xen: 6 live rounds > 5")
    expect(failed.counterexample).toMatch(/schedule:\n.*migrate v\d → h\d/)
    const text = formatReport(report, new Map())
    expect(text).toContain(`FAILED termination-bounds: seed 1, path ${failed.path}`)
    expect(text).toContain(`reproduce: xenpool check --property termination-bounds --seed 1 --path ${failed.path}`)
  })

  it("the printed seed and path replay exactly that case", () => {
    const again = runCheck(
      { runs: 200, seed: 1, only: ["termination-bounds"], path: failed.path!, seams: mutant.seams },
      clock
    )
    expect(again.properties[0]!.ok).toBe(false)
    expect(again.properties[0]!.counterexample).toBe(failed.counterexample)
  })

  it("is written as a scenario that xenpool simulate runs to the same events", () => {
    const dir = tempDir()
    const files = writeCounterexamples(report, dir)
    const file = files.get("termination-bounds")!
    expect(file).toBe(join(dir, "xenpool-check-termination-bounds-1.json"))
    const scenario = JSON.parse(readFileSync(file, "utf8"))
    expect(formatReport(report, files)).toContain(`xenpool simulate ${file} --store memory:`)
    const r = xenpool(["simulate", file, "--store", "memory:", "--json"])
    expect(r.status, r.stderr).toBe(0)
    expect(JSON.parse(r.stdout).events).toBe(runEngine(scenario).emitted.length)
  })
})
