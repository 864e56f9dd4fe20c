import { describe, expect, it } from "vitest"
import { Schema } from "effect"
import { writeFileSync } from "node:fs"
import { join, resolve } from "node:path"
import { isCleanError, tempDir, xenpool } from "../cli/run.js"
import * as E from "../../domain/events.js"
import { PoolEvent } from "../../domain/events.js"
import { hostId, poolId, vmId } from "../../domain/ids.js"
import { compileFile, logBytes, run } from "../engine/harness.js"
import { exportLog, replay } from "./helpers.js"

const encode = Schema.encodeSync(PoolEvent)
const typeAndData = (events: ReadonlyArray<{ event: PoolEvent }>) => events.map((e) => encode(e.event))

describe("trace round trip: run → export → replay gives the same events", () => {
  for (const name of [
    "idle-migration",
    "rolling-maintenance",
    "host-failure-during-evacuation",
    "write-heavy",
    "ha-failover"
  ]) {
    it(`${name}: same types, data and order; same ids with the same pool id and seed`, () => {
      const scenario = compileFile(name)
      const original = run(scenario)
      const text = exportLog(
        original.events.map((e) => e.event),
        { seed: scenario.seed }
      )
      const again = replay(text, { pool: scenario.pool })
      expect(typeAndData(again.events)).toEqual(typeAndData(original.events))
      expect(again.events.map((e) => e.id)).toEqual(original.events.map((e) => e.id))
    })
  }
})

describe("xenpool export and replay, as a user runs them", () => {
  const dir = tempDir()
  const first = `sqlite:${join(dir, "first.db")}`
  const second = `sqlite:${join(dir, "second.db")}`
  const scenario = resolve(import.meta.dirname, "../../simulations/scenarios/host-failure-during-evacuation.json")
  const eventsOf = (store: string, pool: string) =>
    JSON.parse(xenpool(["events", "--pool", pool, "--store", store, "--json"]).stdout) as Array<{
      id: string
      type: string
      data: unknown
    }>
  /**
   * The events with the creation event's provenance set aside: it says how each pool was made (from the
   * scenario, or from the exported trace), which is the one thing that differs, and is checked on its own.
   */
  const withoutProvenance = (events: ReturnType<typeof eventsOf>) =>
    events.map((e) => {
      if (e.type !== "PoolCreated") return e
      const { provenance: _made, ...data } = e.data as Record<string, unknown>
      return { ...e, data }
    })
  const provenanceOf = (events: ReturnType<typeof eventsOf>) =>
    (events[0]!.data as { provenance: Record<string, unknown> }).provenance

  it("simulate → export → replay into another store with the same pool id: the same events, ids included", () => {
    expect(xenpool(["simulate", scenario, "--store", first]).status).toBe(0)
    const exported = xenpool(["export", "--pool", "failover-1", "--seed", "3", "--store", first])
    expect(exported.status).toBe(0)
    const file = join(dir, "failover.jsonl")
    writeFileSync(file, exported.stdout)
    expect(JSON.parse(exported.stdout.split("\n")[0]!)).toMatchObject({ format: "xenpool-trace", version: 1, seed: 3 })
    const replayed = xenpool(["replay", file, "--pool", "failover-1", "--store", second, "--json"])
    expect(replayed.status).toBe(0)
    const summary = JSON.parse(replayed.stdout)
    expect(summary).toMatchObject({ pool: "failover-1", stopReason: "quiescent" })
    const original = eventsOf(first, "failover-1")
    expect(summary.events).toBe(original.length)
    const again = eventsOf(second, "failover-1")
    expect(withoutProvenance(again)).toEqual(withoutProvenance(original))
    expect(provenanceOf(original)).toMatchObject({ _tag: "run", seed: 3, input: "scenario" })
    expect(provenanceOf(again)).toMatchObject({ _tag: "run", seed: 3, input: "trace", inputName: "failover.jsonl" })
  })

  it("replayed as a new pool (the default id): the same types, data and order, new ids", () => {
    const file = join(dir, "failover.jsonl")
    const replayed = xenpool(["replay", file, "--store", first, "--json"])
    expect(replayed.status).toBe(0)
    const pool = JSON.parse(replayed.stdout).pool as string
    expect(pool).toBe("failover-1-1")
    const original = eventsOf(first, "failover-1")
    const again = eventsOf(first, pool)
    expect(withoutProvenance(again).map((e) => [e.type, e.data])).toEqual(
      withoutProvenance(original).map((e) => [e.type, e.data])
    )
    expect(again[0]!.id).not.toBe(original[0]!.id)
  })

  it("the text summary is simulate's, with the records replayed", () => {
    const r = xenpool(["replay", join(dir, "failover.jsonl"), "--store", "memory:"])
    expect(r.status).toBe(0)
    expect(r.stdout).toMatch(/^pool failover-1-1: 72 events over .* simulated \(quiescent\)/)
    expect(r.stdout).toContain("4 migrations: 3 committed, 1 aborted")
    expect(r.stdout).toContain("67 trace records replayed from")
  })

  it("export of an unknown pool, or with a seed the pool was not run with, is a one-line error", () => {
    const unknown = xenpool(["export", "--pool", "nope", "--store", first])
    expect(isCleanError(unknown)).toBe(true)
    expect(unknown.stderr).toContain("unknown pool")
    const wrongSeed = xenpool(["export", "--pool", "failover-1", "--seed", "4", "--store", first])
    expect(isCleanError(wrongSeed)).toBe(true)
    expect(wrongSeed.stderr).toContain("wrong seed")
  })
})

describe("replay is deterministic", () => {
  it("the same trace twice gives byte-identical logs; another seed, other ids but the same events", () => {
    const scenario = compileFile("rolling-maintenance")
    const text = exportLog(run(scenario).events.map((e) => e.event))
    const a = replay(text, { pool: "p" })
    const b = replay(text, { pool: "p" })
    expect(logBytes(b.events)).toBe(logBytes(a.events))
    const c = replay(text, { pool: "p", seed: 99 })
    expect(typeAndData(c.events)).toEqual(typeAndData(a.events))
    expect(c.events[0]!.id).not.toBe(a.events[0]!.id)
  })
})

describe("the exporter", () => {
  const created = new E.PoolCreated({ atUs: 0, pool: poolId("x"), pageSizeBytes: 4096, linkLatencyUs: 0 })
  const joined = new E.HostJoined({
    atUs: 0,
    host: hostId("h1"),
    memoryTotalPages: 1 << 20,
    memoryOverheadPages: 1 << 10,
    nicBandwidthBytesPerS: 1_250_000_000,
    cpus: 4
  })

  it("refuses a log with an event no record yields, naming its revision", () => {
    const halted = new E.VmShutdown({ atUs: 1, vm: vmId("v"), mode: "host-failed" })
    expect(() => exportLog([created, joined, halted])).toThrow(/revision 2: no trace record yields VmShutdown/)
    expect(() => exportLog([joined])).toThrow(/starts with HostJoined, not PoolCreated/)
  })

  it("refuses a log whose event decide would not make from its record", () => {
    const enabledTwice = new E.HostEnabled({ atUs: 1, host: hostId("h1") })
    expect(() => exportLog([created, joined, enabledTwice])).toThrow(
      /revision 2: the record for .* does not replay into it/
    )
  })
})
