/**
 * `xenpool import planetlab` as a user runs it (the built binary): a scenario on stdout (our set-up or
 * CloudSim's) that `simulate` runs and summarises with hosts in use, CloudSim's SLA figures and the
 * consolidation report; bad input is one clean line.
 */
import { readFileSync, writeFileSync } from "node:fs"
import { join, resolve } from "node:path"
import { describe, expect, it } from "vitest"
import { isCleanError, tempDir, xenpool } from "../cli/run.js"

const data = resolve(import.meta.dirname, "../../simulations/data/planetlab-20110303-cpu.csv")
const bundled = resolve(import.meta.dirname, "../../simulations/scenarios/planetlab-consolidation.json")
const bundledCloudsim = resolve(import.meta.dirname, "../../simulations/scenarios/planetlab-cloudsim.json")

describe("xenpool import planetlab", () => {
  it("prints the bundled scenario for --vms 100 --hosts 20 --seed 1 (the defaults)", () => {
    const explicit = xenpool(["import", "planetlab", data, "--vms", "100", "--hosts", "20", "--seed", "1"])
    expect(explicit.status).toBe(0)
    expect(explicit.stderr).toBe("")
    expect(JSON.parse(explicit.stdout)).toEqual(JSON.parse(readFileSync(bundled, "utf8")))
    expect(xenpool(["import", "planetlab", data]).stdout).toBe(explicit.stdout)
    expect(xenpool(["import", "planetlab", data, "--setup", "xenpool"]).stdout).toBe(explicit.stdout)
  })

  it("prints the bundled CloudSim scenario for --vms 1052 --hosts 800 --setup cloudsim; an unknown set-up is a usage error", () => {
    const r = xenpool(["import", "planetlab", data, "--vms", "1052", "--hosts", "800", "--setup", "cloudsim"])
    expect(r.status).toBe(0)
    expect(r.stderr).toBe("")
    expect(JSON.parse(r.stdout)).toEqual(JSON.parse(readFileSync(bundledCloudsim, "utf8")))
    const bad = xenpool(["import", "planetlab", data, "--setup", "simgrid"])
    expect(isCleanError(bad)).toBe(true)
    expect(bad.stdout).toBe("")
    expect(bad.stderr).toMatch(/setup/)
  })

  it("a small import simulates, and simulate --json reports migration totals, hosts in use and the controller", () => {
    const dir = tempDir()
    const r = xenpool(["import", "planetlab", data, "--vms", "12", "--hosts", "4", "--seed", "3"])
    expect(r.status).toBe(0)
    const file = join(dir, "small.json")
    writeFileSync(file, r.stdout)
    const sim = xenpool(["simulate", file, "--store", "memory:", "--json"])
    expect(sim.status).toBe(0)
    const o = JSON.parse(sim.stdout)
    expect(o.stopReason).toBe("quiescent")
    expect(o.hostsInUse).toMatchObject({ min: expect.any(Number), max: 4, samples: expect.any(Array) })
    expect(o.hostsInUse.samples).toHaveLength(24)
    expect(o.migrationTotals.committed).toBe(o.migrations.filter((m: any) => m.outcome === "committed").length)
    expect(o.consolidation[0]).toMatchObject({ ticks: 288, overloadPct: 80, underloadPct: 20, packPct: 60 })
    // CloudSim's SLA figures, from the load series: host time over capacity over host time in use, and so on.
    expect(o.sla.inUseHostUs).toBe(o.hostsInUse.hostUs)
    expect(o.sla.slatah).toBe(o.sla.overCapacityHostUs / o.sla.inUseHostUs)
    expect(o.sla).toMatchObject({ vms: 12, migrationsCommitted: o.migrationTotals.committed })
    const text = xenpool(["simulate", file, "--store", "memory:"])
    expect(text.stdout).toMatch(/hosts in use \(live, with VMs\): 4 at start/)
    expect(text.stdout).toMatch(/consolidation every 5m00s .*: 288 intervals/)
    expect(text.stdout).toMatch(/CPU over capacity .*: [\d,]+ host-seconds of [\d,]+ in use \(SLATAH .* %\); .* SLAV /)
    expect(text.stdout).toMatch(/migrations per VM: \d+\.\d\d \(\d+ committed over 12 VMs; /)
  })

  const bad = (content: string) => {
    const file = join(tempDir(), "bad.csv")
    writeFileSync(file, content)
    return { file, r: xenpool(["import", "planetlab", file, "--vms", "1"]) }
  }

  it("a non-numeric cell: one line naming the file, the line and the field", () => {
    const { file, r } = bad("t_s,a,b\n0,1,2\n300,3,lots\n")
    expect(isCleanError(r)).toBe(true)
    expect(r.stdout).toBe("")
    expect(r.stderr.trim()).toBe(
      `xenpool: bad PlanetLab CSV (${file}:3, field 3 'b'): expected an integer CPU percentage from 0 to 100 (got 'lots')`
    )
  })

  it("a ragged row, a missing header: the line and what was expected", () => {
    const ragged = bad("t_s,a,b\n0,1,2\n300,3\n")
    expect(isCleanError(ragged.r)).toBe(true)
    expect(ragged.r.stderr).toContain(`(${ragged.file}:3, row): expected 3 comma-separated fields`)
    const headless = bad("0,1,2\n300,3,4\n")
    expect(isCleanError(headless.r)).toBe(true)
    expect(headless.r.stderr).toContain(`(${headless.file}:1, field 1 '0'): expected a header row starting with 't_s'`)
  })

  it("more VMs than columns, a missing file, a bad option: clean errors", () => {
    const many = xenpool(["import", "planetlab", data, "--vms", "2000"])
    expect(isCleanError(many)).toBe(true)
    expect(many.stderr).toContain(
      `${data}:1, header): expected at least 2000 VM columns for --vms 2000 (the file has 1052)`
    )
    const missing = xenpool(["import", "planetlab", join(tempDir(), "nope.csv")])
    expect(isCleanError(missing)).toBe(true)
    expect(missing.stderr).toContain("cannot read PlanetLab CSV")
    const zero = xenpool(["import", "planetlab", data, "--hosts", "0"])
    expect(isCleanError(zero)).toBe(true)
    expect(zero.stderr).toContain("--hosts 0")
  })
})
