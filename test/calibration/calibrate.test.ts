/**
 * `xenpool calibrate` (simulations/calibration.ts): every published row is translated or says why not;
 * the rows that never converged (Cloud Hypervisor, the 200-writer QEMU rows) fail to converge in the model
 * too, until the policy's limit stops it; the error of each pair is (model - measured) / measured; the
 * median is over the scored pairs only; bad data is refused naming the file, line and field.
 */
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { Either } from "effect"
import { describe, expect, it } from "vitest"
import {
  calibrate,
  ITERATIONS_FILE,
  MEASUREMENTS_FILE,
  parseCsv,
  TRANSLATIONS_FILE,
  type CalibrationReport
} from "../../simulations/calibration.js"
import { xenpool } from "../cli/run.js"

const dir = join(import.meta.dirname, "..", "..", "simulations", "data", "calibration")
const files = {
  measurementsCsv: readFileSync(join(dir, MEASUREMENTS_FILE), "utf8"),
  iterationsCsv: readFileSync(join(dir, ITERATIONS_FILE), "utf8"),
  translationsJson: readFileSync(join(dir, TRANSLATIONS_FILE), "utf8")
}
const report: CalibrationReport = Either.getOrThrow(calibrate(files))
const row = (id: string) => report.rows.find((r) => r.id === id)!

describe("the published table beside the model", () => {
  it("has every row of both files, run or said why not", () => {
    const ids = [
      ...parseCsv(MEASUREMENTS_FILE, files.measurementsCsv).map((r) => r.cells["source_id"]),
      ...new Set(parseCsv(ITERATIONS_FILE, files.iterationsCsv).map((r) => r.cells["source_id"]))
    ]
    expect(report.rows.map((r) => r.id)).toEqual(ids)
    for (const r of report.rows) expect(r.translation.length).toBeGreaterThan(20)
    expect(report.rows.filter((r) => !r.ran).map((r) => r.id)).toEqual(["clark2005-specweb", "clark2005-quake3"])
  })

  it("the Cloud Hypervisor row and the 200-writer QEMU rows do not converge: the policy's round cap stops them", () => {
    for (const id of [
      "cloud-hypervisor-pr7799",
      "rickylss-memtest200-plain",
      "rickylss-memtest200-plain-run2",
      "rickylss-memtest200-xbzrle"
    ]) {
      expect(row(id).converged, id).toBe(false)
      expect(row(id).stopReason, id).toBe("round-cap")
    }
    for (const id of ["rickylss-idle-xbzrle", "rickylss-memtest10-plain", "opnfv-dpdk-baseline"])
      expect(row(id).converged, id).toBe(true)
  })

  it("each error is (model - measured) / measured; the summary's median is over the scored pairs", () => {
    const pairs = report.rows.flatMap((r) => r.comparisons)
    for (const c of pairs) expect(c.errorPct).toBeCloseTo(((c.model - c.measured) / c.measured) * 100, 9)
    const scored = pairs.filter((c) => c.scored).map((c) => Math.abs(c.errorPct))
    expect(report.summary.pairs).toBe(scored.length)
    const sorted = [...scored].sort((a, b) => a - b)
    const mid = sorted.length / 2
    const median = sorted.length % 2 === 1 ? sorted[Math.floor(mid)]! : (sorted[mid - 1]! + sorted[mid]!) / 2
    expect(report.summary.medianAbsErrorPct).toBeCloseTo(median, 9)
    expect(report.summary.over50.length).toBe(scored.filter((e) => e > 50).length)
  })

  it("the calibration points reproduce the figures the defaults came from, and are not scored", () => {
    const idle = row("rickylss-idle-xbzrle").comparisons
    const fit = idle.filter((c) => !c.scored)
    expect(fit.map((c) => c.metric).sort()).toEqual(["downtime", "setup"])
    for (const c of fit) expect(Math.abs(c.errorPct)).toBeLessThan(0.1)
    const baseline = row("opnfv-idle-baseline").comparisons.find((c) => c.metric === "downtime")!
    expect(baseline.scored).toBe(false)
    expect(Math.abs(baseline.errorPct)).toBeLessThan(0.1)
  })

  it("an idle QEMU guest's bytes are its written pages, 9 bytes per zero page and the state (rickylss-idle-xbzrle)", () => {
    const transferred = row("rickylss-idle-xbzrle").comparisons.find((c) => c.metric === "transferred")!
    // 8209 MiB = 2,101,504 pages, 1,982,094 of them never written; 1,519,873 bytes of state
    const bytes = (2_101_504 - 1_982_094) * 4096 + 1_982_094 * 9 + 1_519_873
    expect(transferred.model).toBeCloseTo(bytes / 1024, 6)
  })

  it("a snapshot row is compared at its elapsed time: bytes by then are the link's rate times the time", () => {
    const run2 = row("rickylss-memtest200-plain-run2").comparisons
    expect(run2.map((c) => c.metric)).toEqual(["setup", "transferred", "dirty-syncs"])
    const bytes = run2.find((c) => c.metric === "transferred")!.model * 1024
    // 260.76 Mbit/s for 10,545,458 ms, less setup and the bytes-free parts: within 1 %
    expect(bytes / ((260.76e6 / 8) * 10_545.458)).toBeGreaterThan(0.99)
    expect(bytes / ((260.76e6 / 8) * 10_545.458)).toBeLessThanOrEqual(1)
  })
})

describe("bad calibration data is refused naming the file, the line and the field", () => {
  const refused = (change: Partial<typeof files>) => {
    const result = calibrate({ ...files, ...change })
    expect(Either.isLeft(result)).toBe(true)
    return Either.isLeft(result) ? result.left : undefined
  }

  it("a measurement that is not a number", () => {
    const text = files.measurementsCsv.replace(",15314,", ",fifteen,")
    expect(refused({ measurementsCsv: text })).toMatchObject({
      file: MEASUREMENTS_FILE,
      line: 8,
      field: "total_time_ms"
    })
  })

  it("a row without a translation, and a translation without a row", () => {
    const extra = `${files.measurementsCsv.trimEnd()}\nnew-row,KVM,,idle,,,completed,1,1,,,,,,\n`
    expect(refused({ measurementsCsv: extra })).toMatchObject({ file: MEASUREMENTS_FILE, line: 22, field: "source_id" })
    const json = JSON.parse(files.translationsJson)
    json.rows.push({ id: "ghost", skip: "no such row" })
    expect(refused({ translationsJson: JSON.stringify(json) })).toMatchObject({
      file: TRANSLATIONS_FILE,
      field: "rows.ghost"
    })
  })

  it("a translation whose size has no unit", () => {
    const text = files.translationsJson.replace('"memory": "1GiB"', '"memory": "1"')
    expect(refused({ translationsJson: text })).toMatchObject({
      file: TRANSLATIONS_FILE,
      field: "opnfv-idle-baseline.memory"
    })
  })
})

describe("xenpool calibrate", () => {
  it("prints the table with the median error per metric; --json the same report", () => {
    const text = xenpool(["calibrate"])
    expect(text.status).toBe(0)
    expect(text.stdout).toContain("rickylss-memtest10-plain")
    expect(text.stdout).toMatch(/median \|error\| over \d+ scored pairs/)
    const json = xenpool(["calibrate", "--json"])
    expect(json.status).toBe(0)
    expect(JSON.parse(json.stdout)).toEqual(JSON.parse(JSON.stringify(report)))
  })
})
