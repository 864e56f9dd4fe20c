/**
 * The public API (api/index.ts, api/effect.ts) as a library user calls it: the same answers as the CLI's
 * --json, errors as tagged Error subclasses, nothing written by a refused or cancelled run.
 */
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import * as Fx from "../../api/effect.js"
import {
  calibrate,
  check,
  diff,
  events,
  exportTrace,
  history,
  importPlanetlab,
  listPools,
  minimiseMigrations,
  openStore,
  replay,
  scenarioPath,
  simulate,
  stateAt,
  StoreError,
  XenpoolError,
  migrateModel,
  xenPolicy,
  version,
  type ConsolidationController,
  type PolicyDefinition,
  type ScenarioInput
} from "../../api/index.js"
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { isCleanError, tempDir, xenpool } from "../cli/run.js"
import { resolve } from "node:path"
import { pathToFileURL } from "node:url"
import { manyMigrations } from "../../bench/workloads.js"
import { rejection } from "./rejection.js"

const rolling = scenarioPath("rolling-maintenance")

describe("the Promise API", () => {
  it("simulate then time travel: the answers the CLI's --json gives for the same pool", async () => {
    const dir = tempDir()
    const url = `sqlite:${join(dir, "api.db")}`
    const store = await openStore(url)
    try {
      const run = await simulate(rolling, { store })
      expect(run.pool).toBe("rolling-1")
      const then = await stateAt(store, run.pool, "3m10s", { vm: "db-1" })
      expect(then.vms.map((v) => [v.id, v.residentOn])).toEqual([["db-1", "h3"]])
      const cli = JSON.parse(
        xenpool(["at", "3m10s", "--pool", "rolling-1", "--vm", "db-1", "--json", "--store", url]).stdout
      )
      expect(then).toEqual(cli)
      const d = await diff(store, run.pool, "1min", { revision: then.revision })
      expect(d).toEqual(
        JSON.parse(
          xenpool(["diff", "1min", `@${then.revision}`, "--pool", "rolling-1", "--json", "--store", url]).stdout
        )
      )
      const vm = await history(store, run.pool, { vm: "db-1" })
      expect(vm.migrations.length).toBeGreaterThan(0)
      const host = await history(store, run.pool, { host: "h2" })
      expect(host.points.length).toBeGreaterThan(0)
      expect(host.pageSizeBytes).toBe(4096)
      expect(await listPools(store)).toEqual([
        {
          id: "rolling-1",
          events: run.events,
          lastAtUs: expect.any(Number),
          provenance: {
            seed: 42,
            xenpoolVersion: version,
            input: {
              kind: "scenario",
              name: "rolling-maintenance.json",
              sha256: expect.stringMatching(/^[0-9a-f]{64}$/)
            },
            parent: null
          }
        }
      ])
    } finally {
      await store.close()
    }
  })

  it("events is an async iterable over the whole log, in revision order; from/to bound it", async () => {
    const store = await openStore("memory:")
    const run = await simulate(rolling, { store })
    const revisions: number[] = []
    for await (const e of events(store, run.pool)) revisions.push(e.revision)
    expect(revisions).toEqual(Array.from({ length: run.events }, (_, i) => i))
    const some: number[] = []
    for await (const e of events(store, run.pool, { from: 10, to: 19 })) some.push(e.revision)
    expect(some).toEqual(Array.from({ length: 10 }, (_, i) => 10 + i))
    await store.close()
  })

  it("exportTrace and replay: the same events again, under another pool id", async () => {
    const store = await openStore("memory:")
    const run = await simulate(rolling, { store, seed: 5 })
    const file = join(tempDir(), "rolling.trace.jsonl")
    writeFileSync(file, await exportTrace(store, run.pool, { seed: 5 }))
    const again = await replay(file, { store, pool: "again" })
    expect(again.events).toBe(run.events)
    expect(again.records).toBeGreaterThan(0)
    const types = async (pool: string) => {
      const out: string[] = []
      for await (const e of events(store, pool)) out.push(e.event._tag)
      return out
    }
    expect(await types("again")).toEqual(await types(run.pool))
    await store.close()
  })

  it("a scenario given as a value, sizes as unit strings; a bad field is a XenpoolError naming it, nothing written", async () => {
    const store = await openStore("memory:")
    const scenario = JSON.parse(readFileSync(rolling, "utf8")) as ScenarioInput
    const run = await simulate({ ...scenario, pool: { ...scenario.pool, id: "valued" } }, { store })
    expect(run.pool).toBe("valued-1")
    const bad = { ...scenario, hosts: [{ ...scenario.hosts[0]!, memory: "64" }] }
    const error = await rejection(simulate(bad as ScenarioInput, { store }))
    expect(error).toBeInstanceOf(XenpoolError)
    expect(error).toBeInstanceOf(Error)
    expect((error as XenpoolError)._tag).toBe("XenpoolError")
    expect((error as Error).message).toMatch(/^bad scenario \(<scenario>, hosts\[0\]\.memory\): expected /)
    expect((await listPools(store)).map((p) => p.id)).toEqual(["valued-1"])
    await store.close()
  })

  it("errors are tagged Error subclasses with one-line messages: a bad URL, an unknown pool, a bad time", async () => {
    const url = await rejection(openStore("postgres://somewhere"))
    expect(url).toBeInstanceOf(StoreError)
    expect((url as StoreError)._tag).toBe("StoreError")
    const store = await openStore("memory:")
    const unknown = await rejection(stateAt(store, "nope", "1s"))
    expect(unknown).toBeInstanceOf(XenpoolError)
    expect((unknown as Error).message).toBe("unknown pool (nope in memory:): the store has no pools")
    await simulate(rolling, { store })
    const time = await rejection(stateAt(store, "rolling-1", "5 parsecs"))
    expect((time as Error).message).toMatch(/^bad time \(5 parsecs\): /)
    await store.close()
  })

  it("an aborted run stops between slices and writes nothing", async () => {
    const store = await openStore("memory:")
    const controller = new AbortController()
    // 5,000 migrations, about 50,000 events: ten slices of the engine at least.
    const long = manyMigrations(5_000) as unknown as ScenarioInput
    let slices = 0
    const running = simulate(long, {
      store,
      signal: controller.signal,
      progress: { update: () => ++slices === 2 && controller.abort(), stop: () => undefined }
    })
    expect(((await rejection(running)) as Error).name).toBe("AbortError")
    expect(slices).toBe(2)
    expect(await listPools(store)).toEqual([])
    await store.close()
  })

  it("check runs the properties in process and reports each verdict", async () => {
    const report = await check({ runs: 3, seed: 7, properties: ["evacuation-plan"] })
    expect(report.properties.map((p) => [p.name, p.ok, p.runs])).toEqual([["evacuation-plan", true, 3]])
    expect(((await rejection(check({ properties: ["nope"] }))) as Error).message).toMatch(/^unknown property \(nope\)/)
  })
})

describe("extensions: a consolidation controller of one's own", () => {
  const planetlab = JSON.parse(readFileSync(scenarioPath("planetlab-consolidation"), "utf8")) as ScenarioInput
  const naming = (controller: string): ScenarioInput => ({
    ...planetlab,
    schedule: (planetlab.schedule ?? []).map((item) => (item.op === "consolidate" ? { ...item, controller } : item))
  })
  /** Plans nothing: a run with it migrates nothing the controller did not plan. */
  const idle: ConsolidationController = {
    name: "idle",
    summary: "plans nothing",
    plan: () => ({ actions: [], hostsInUse: 0, hostsEnabled: 0, overloaded: [], saturated: [], unresolved: [] })
  }

  it("runs when the scenario names it, and its report carries its name", async () => {
    const store = await openStore("memory:")
    const run = await simulate(naming("idle"), { store, extensions: { consolidationControllers: [idle] } })
    expect(run.consolidation?.map((c) => [c.controller, c.migrationsStarted])).toEqual([["idle", 0]])
    expect(run.migrations).toEqual([])
    const builtIn = await simulate(planetlab, { store })
    expect(builtIn.consolidation?.[0]?.controller).toBe(minimiseMigrations.name)
    expect(builtIn.consolidation?.[0]?.migrationsStarted).toBeGreaterThan(0)
    await store.close()
  })

  it("an unknown controller name, or one named like a built-in, is refused before anything runs", async () => {
    const store = await openStore("memory:")
    const unknown = await rejection(simulate(naming("idle"), { store }))
    expect((unknown as Error).message).toMatch(/schedule\[[0-9]+\]\.controller\): expected one of minimise-migrations/)
    const clash = await rejection(
      simulate(planetlab, {
        store,
        extensions: { consolidationControllers: [{ ...idle, name: "minimise-migrations" }] }
      })
    )
    expect((clash as Error).message).toMatch(/^extension named twice \(consolidation controller minimise-migrations\)/)
    expect(await listPools(store)).toEqual([])
    await store.close()
  })
})

describe("the Effect API", () => {
  it("the same operations as Effects over a store layer, with typed errors", async () => {
    const program = Effect.gen(function* () {
      const run = yield* Fx.simulate(rolling)
      const then = yield* Fx.stateAt(run.pool, "3m10s", { vm: "db-1" })
      const missing = yield* Effect.flip(Fx.stateAt("nope", "1s"))
      return { where: then.vms[0]?.residentOn, missing: missing._tag }
    })
    expect(await Effect.runPromise(program.pipe(Effect.provide(Fx.storeLayer("memory:"))))).toEqual({
      where: "h3",
      missing: "XenpoolError"
    })
  })
})

describe("extensions: a pre-copy policy of one's own", () => {
  /** libxenguest's loop with a decision that stops after the second live round. */
  const twoRounds: PolicyDefinition = {
    name: "two-rounds",
    summary: "stop after two live rounds",
    parameters: [],
    make: () => xenPolicy((stats) => (stats.iteration >= 2 ? "stop" : "continue"), "two-rounds")
  }

  it("migrateModel takes unit strings or numbers, and a built-in's name or a definition of one's own", async () => {
    const base = { memory: "1GiB", bandwidth: "1Gbit/s", dirtyRate: "100MiB/s" }
    const byText = await migrateModel({ ...base, policy: "xen" })
    const byNumber = await migrateModel({ memory: 2 ** 30, bandwidth: 125_000_000, dirtyRate: 100 * 2 ** 20 })
    expect(byNumber).toEqual(byText)
    const cli = xenpool([
      "migrate-model",
      "--memory",
      "1GiB",
      "--bandwidth",
      "1Gbit/s",
      "--dirty-rate",
      "100MiB/s",
      "--json"
    ])
    expect(byText).toEqual(JSON.parse(cli.stdout))
    const mine = await migrateModel({ ...base, policy: twoRounds })
    expect(mine.policy).toBe("two-rounds")
    expect(mine.rounds.filter((r) => r.live)).toHaveLength(2)
    const bad = await rejection(migrateModel({ ...base, policy: "nope" }))
    expect((bad as Error).message).toMatch(/^bad policy \(nope\): one of xen, xen-legacy, max-downtime/)
    expect(((await rejection(migrateModel({ ...base, memory: "1 parsec" }))) as Error).message).toMatch(/^bad memory/)
  })

  it("a scenario names it; the run's migrations use it; an unknown name is refused naming the field", async () => {
    const store = await openStore("memory:")
    const scenario = JSON.parse(readFileSync(scenarioPath("write-heavy"), "utf8")) as ScenarioInput
    const run = await simulate({ ...scenario, policy: "two-rounds" }, { store, extensions: { policies: [twoRounds] } })
    const rounds: boolean[] = []
    let policy = ""
    for await (const { event } of events(store, run.pool)) {
      if (event._tag === "VmMigrationStarted") policy = event.policy
      if (event._tag === "VmMigrationRoundCompleted") rounds.push(event.live)
    }
    expect(policy).toBe("two-rounds")
    expect(rounds).toEqual([true, true, false])
    const unknown = await rejection(simulate({ ...scenario, policy: "two-rounds" }, { store }))
    expect((unknown as Error).message).toMatch(
      /^bad scenario \(<scenario>, policy\): expected one of xen, xen-legacy, max-downtime/
    )
    await store.close()
  })

  it("the CLI loads one from a module path (--policy ./mine.mjs); a module without one is a clean error", () => {
    const dir = tempDir()
    const api = pathToFileURL(resolve(import.meta.dirname, "../../dist/api/index.js")).href
    writeFileSync(
      join(dir, "mine.mjs"),
      `import { xenPolicy } from ${JSON.stringify(api)}\nexport default { name: "two-rounds", summary: "", parameters: [], make: () => xenPolicy((s) => (s.iteration >= 2 ? "stop" : "continue"), "two-rounds") }\n`
    )
    writeFileSync(join(dir, "empty.mjs"), "export const nothing = 1\n")
    const ok = xenpool(
      [
        "migrate-model",
        "--memory",
        "1GiB",
        "--bandwidth",
        "1Gbit/s",
        "--dirty-rate",
        "100MiB/s",
        "--policy",
        "./mine.mjs",
        "--json"
      ],
      { cwd: dir }
    )
    expect(ok.status).toBe(0)
    const report = JSON.parse(ok.stdout) as { policy: string; rounds: ReadonlyArray<{ live: boolean }> }
    expect(report.policy).toBe("two-rounds")
    expect(report.rounds.filter((r) => r.live)).toHaveLength(2)
    const none = xenpool(["migrate-model", "--memory", "1GiB", "--bandwidth", "1Gbit/s", "--policy", "./empty.mjs"], {
      cwd: dir
    })
    expect(isCleanError(none)).toBe(true)
    expect(none.stderr).toMatch(/^xenpool: no policy in the module \(\.\/empty\.mjs\): /)
    const missing = xenpool(["migrate-model", "--memory", "1GiB", "--bandwidth", "1Gbit/s", "--policy", "./gone.mjs"], {
      cwd: dir
    })
    expect(isCleanError(missing)).toBe(true)
    expect(missing.stderr).toMatch(/^xenpool: cannot load the policy module \(\.\/gone\.mjs\)/)
    const unknown = xenpool(["migrate-model", "--memory", "1GiB", "--bandwidth", "1Gbit/s", "--policy", "nope"])
    expect(unknown.status).toBe(2)
  })
})

describe("calibrate and importPlanetlab: the CLI's answers, through the API", () => {
  it("calibrate() is the report calibrate --json prints; importPlanetlab's text is what import planetlab prints", async () => {
    const report = await calibrate()
    expect(report).toEqual(JSON.parse(xenpool(["calibrate", "--json"]).stdout))
    const csv = resolve(import.meta.dirname, "../../simulations/data/planetlab-20110303-cpu.csv")
    const imported = await importPlanetlab(csv, { vms: 5, hosts: 2, seed: 3 })
    const cli = xenpool(["import", "planetlab", csv, "--vms", "5", "--hosts", "2", "--seed", "3"])
    expect(`${imported.text}\n`).toBe(cli.stdout)
    expect(((await rejection(importPlanetlab(csv, { vms: 0 }))) as Error).message).toMatch(/^bad vms \(0\)/)
  })
})
