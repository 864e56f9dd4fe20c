/**
 * The bundled PlanetLab consolidation scenario, 100 VMs on 20 hosts over 24 simulated hours, end to end
 * in engine debug mode (every domain invariant asserted after every event), and the hosts-in-use
 * projection it reports.
 */
import { beforeAll, describe, expect, it } from "vitest"
import { transferFactory } from "../../engine/migration/index.js"
import type { EmittedEvent } from "../../engine/simulation.js"
import { HostsInUse } from "../../projections/hostsInUse.js"
import { migrationTotals } from "../../projections/migrationTotals.js"
import { MigrationSummaries } from "../../projections/summary.js"
import { runScenario } from "../../simulations/run.js"
import { compileFile, logBytes } from "../engine/harness.js"

const DAY_US = 86_400_000_000

const runBundled = (debug: boolean) => {
  const events: EmittedEvent[] = []
  const summaries = new MigrationSummaries()
  const inUse = new HostsInUse()
  const out = runScenario(compileFile("planetlab-consolidation"), {
    transferFactory,
    debug,
    sink: (batch) => {
      for (const e of batch) {
        events.push(e)
        summaries.add(e.event)
        inUse.add(e.event)
      }
    }
  })
  return { ...out, events, migrations: summaries.list(), hostsInUse: inUse.summary(out.result.simulatedUs) }
}

describe("planetlab-consolidation.json", () => {
  let debugRun: ReturnType<typeof runBundled>
  beforeAll(() => {
    debugRun = runBundled(true)
  })

  it("runs the whole day in debug mode: quiescent, nothing refused, every migration committed", () => {
    const { result, migrations } = debugRun
    expect(result.stopReason).toBe("quiescent")
    expect(result.simulatedUs).toBeGreaterThan(DAY_US - 300_000_000)
    expect(result.simulatedUs).toBeLessThan(DAY_US)
    expect(result.refusals).toEqual([])
    expect(migrations.length).toBeGreaterThan(50)
    expect(migrations.every((m) => m.outcome === "committed")).toBe(true)
  })

  it("the controller ticks every 300 s for 24 h, within its bound, and consolidates the pool", () => {
    const report = debugRun.consolidation[0]!
    expect(report.ticks).toBe(288)
    expect(report.samples.map((s) => s.atUs)).toEqual(Array.from({ length: 288 }, (_, i) => i * 300_000_000))
    expect(Math.max(...report.samples.map((s) => s.migrationsStarted))).toBeLessThanOrEqual(10)
    expect(report.migrationsStarted).toBe(debugRun.migrations.length)
    expect(report.migrationsRefused).toBe(0)
    const h = debugRun.hostsInUse
    expect(h.series[0]).toEqual({ atUs: 0, hosts: 20 })
    expect(h.mean).toBeLessThan(10) // the day's ~37 CPUs of demand fit on 6–8 hosts of 8 CPUs
    expect(h.min).toBeGreaterThanOrEqual(5)
  })

  it("reports migration totals consistent with the migrations", () => {
    const totals = migrationTotals(debugRun.migrations)
    expect(totals.committed).toBe(debugRun.migrations.length)
    expect(totals.totalUs).toBe(debugRun.migrations.reduce((n, m) => n + m.totalUs, 0))
    expect(totals.downtimeUs).toBeGreaterThan(0)
    expect(totals.downtimeUsMax).toBeLessThan(totals.totalUsMax)
  })

  it("is deterministic: a second run (debug off) gives a byte-identical log", () => {
    expect(logBytes(runBundled(false).events)).toBe(logBytes(debugRun.events))
  })

  it("hosts in use is a projection: feeding each event twice changes nothing", () => {
    const twice = new HostsInUse()
    for (const { event } of debugRun.events) {
      twice.add(event)
      twice.add(event)
    }
    expect(twice.summary(debugRun.result.simulatedUs)).toEqual(debugRun.hostsInUse)
  })
})
