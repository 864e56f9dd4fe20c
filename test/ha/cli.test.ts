/**
 * HA from the command line (the built binary): `simulate --json` reports HA's restarts, `at` shows the
 * pool's HA state and each VM's protection, `history --vm` the restart; a malformed HA field is a
 * one-line error naming file and field, with nothing appended.
 */
import { writeFileSync, readFileSync } from "node:fs"
import { join, resolve } from "node:path"
import { describe, expect, it } from "vitest"
import { isCleanError, tempDir, xenpool } from "../cli/run.js"

const scenario = resolve(import.meta.dirname, "../../simulations/scenarios/ha-failover.json")

describe("xenpool with HA", () => {
  const store = `sqlite:${join(tempDir(), "ha.db")}`
  const run = xenpool(["simulate", scenario, "--store", store, "--json"])

  it("simulate --json reports the restarts and the pool's HA", () => {
    expect(run.status).toBe(0)
    const o = JSON.parse(run.stdout)
    expect(o.ha).toMatchObject({ enabled: true, hostFailuresToTolerate: 1 })
    const restarts = o.ha.restarts as Array<{ vm: string; priority: string; ok: boolean; atUs: number }>
    expect(restarts.filter((r) => r.priority === "restart").map((r) => [r.vm, r.ok, r.atUs])).toEqual([
      ["db-3", true, 160_000_000],
      ["web-3", true, 160_000_000]
    ])
    expect(restarts.some((r) => r.priority === "best-effort")).toBe(true)
  })

  it("at shows HA's state then, and each VM's protection; history --vm the restart", () => {
    const at = xenpool(["at", "2m41s", "--pool", "ha-failover-1", "--store", store, "--json"])
    expect(at.status).toBe(0)
    const answer = JSON.parse(at.stdout)
    expect(answer.ha).toMatchObject({ enabled: true, hostFailuresToTolerate: 1 })
    expect(answer.master).toBe("h1")
    expect(answer.vms.find((v: { id: string }) => v.id === "db-3")).toMatchObject({
      powerState: "Running",
      residentOn: "h1",
      ha: { restartPriority: "restart", order: 1, alwaysRun: true }
    })
    const text = xenpool(["at", "2m41s", "--pool", "ha-failover-1", "--store", store])
    expect(text.stdout).toMatch(/^HA on: ha-host-failures-to-tolerate 1, ha-plan-exists-for \d/m)
    const history = xenpool(["history", "--pool", "ha-failover-1", "--vm", "db-3", "--store", store])
    expect(history.stdout).toMatch(/shutdown .*mode host-failed/)
    expect(history.stdout).toMatch(/2m40s +started +Running +h1/)
  })

  it("a malformed HA field: one line naming the file and the field, nothing appended", () => {
    const dir = tempDir()
    const bad = join(dir, "bad.json")
    const json = JSON.parse(readFileSync(scenario, "utf8"))
    json.pool.ha.livenessTimeout = "a minute"
    writeFileSync(bad, JSON.stringify(json))
    const badStore = `sqlite:${join(dir, "bad.db")}`
    const r = xenpool(["simulate", bad, "--store", badStore])
    expect(isCleanError(r)).toBe(true)
    expect(r.stderr).toContain("bad.json")
    expect(r.stderr).toContain("pool.ha.livenessTimeout")
    const pools = xenpool(["pools", "--store", badStore, "--json"])
    expect(pools.stdout.trim() === "" ? [] : JSON.parse(pools.stdout)).toEqual([])
  })
})
