/**
 * The placement extension point (domain/placement) as a library user meets it: a placement of one's own
 * named by a scenario or a trace header decides where VMs started without a host go and where an
 * evacuation sends them; bad names and bad answers are refused with the placement's name.
 */
import { describe, expect, it } from "vitest"
import { join } from "node:path"
import {
  events,
  listPools,
  openStore,
  replay,
  scenarioPath,
  simulate,
  xapiDefault,
  xenPolicy,
  type Placement,
  type PolicyDefinition,
  type ScenarioInput
} from "../../api/index.js"
import { readFileSync, writeFileSync } from "node:fs"
import { tempDir } from "../cli/run.js"
import { rejection } from "./rejection.js"

/** Packs: the first host in id order that can take the VM (XAPI's default spreads instead). */
const firstFit: Placement = {
  name: "first-fit",
  summary: "the lowest host id that can take the VM",
  choose: (candidates) => candidates[0]
}

const rolling = JSON.parse(readFileSync(scenarioPath("rolling-maintenance"), "utf8")) as ScenarioInput

/** Where each VM started, and each migration's destination, in log order. */
const placements = async (store: Awaited<ReturnType<typeof openStore>>, pool: string) => {
  const started: string[] = []
  const migrated: string[] = []
  for await (const { event } of events(store, pool)) {
    if (event._tag === "VmStarted") started.push(`${event.vm}@${event.host}`)
    if (event._tag === "VmMigrationStarted") migrated.push(`${event.vm}→${event.destination}`)
  }
  return { started, migrated }
}

describe("extensions: a placement of one's own", () => {
  it("a scenario names it: VMs start where it says and evacuations go where it says", async () => {
    const store = await openStore("memory:")
    const packed = await simulate(
      { ...rolling, placement: "first-fit" },
      { store, extensions: { placements: [firstFit] } }
    )
    const spread = await simulate(rolling, { store })
    const mine = await placements(store, packed.pool)
    const theirs = await placements(store, spread.pool)
    // 8 × 4 GiB + 4 × 8 GiB + 2 × 16 GiB = 96 GiB of VMs on 62 GiB hosts: first-fit fills h1, then h2
    expect(new Set(mine.started.map((s) => s.split("@")[1]))).toEqual(new Set(["h1", "h2"]))
    expect(new Set(theirs.started.map((s) => s.split("@")[1]))).toEqual(new Set(["h1", "h2", "h3", "h4"]))
    // evacuating h1 under first-fit: every VM to the lowest enabled host with room (h2 first)
    expect(mine.migrated.length).toBeGreaterThan(0)
    expect(mine.migrated[0]).toMatch(/→h2$/)
    expect(mine.migrated).not.toEqual(theirs.migrated)
    await store.close()
  })

  it("naming xapi-default, or nothing, gives the same log", async () => {
    const log = async (scenario: ScenarioInput) => {
      const store = await openStore("memory:")
      const run = await simulate(scenario, { store })
      const all: unknown[] = []
      // the provenance records the input's digest, and the two inputs differ by the placement field
      for await (const { id, event } of events(store, run.pool))
        all.push([id, event._tag === "PoolCreated" ? { ...event, provenance: undefined } : event])
      await store.close()
      return JSON.stringify(all)
    }
    expect(await log({ ...rolling, placement: xapiDefault.name })).toBe(await log(rolling))
  })

  it("an unknown name, a name clashing with a built-in, and an answer it was not offered are refused", async () => {
    const store = await openStore("memory:")
    const unknown = await rejection(simulate({ ...rolling, placement: "first-fit" }, { store }))
    expect(unknown.message).toMatch(/^bad scenario \(<scenario>, placement\): expected one of xapi-default \(/)
    const clash = await rejection(
      simulate(rolling, { store, extensions: { placements: [{ ...firstFit, name: "xapi-default" }] } })
    )
    expect(clash.message).toMatch(/^extension named twice \(placement xapi-default\)/)
    const rogue: Placement = {
      name: "rogue",
      summary: "answers with a host it was not offered",
      choose: (candidates) => ({ ...candidates[0]!, id: "h-elsewhere" as never })
    }
    const bad = await rejection(
      simulate({ ...rolling, placement: "rogue" }, { store, extensions: { placements: [rogue] } })
    )
    expect(bad.message).toMatch(
      /placement rogue chose h-elsewhere for \S+, which is not one of the hosts it was offered/
    )
    const none: Placement = { name: "none", summary: "refuses every host", choose: () => undefined }
    const refused = await simulate({ ...rolling, placement: "none" }, { store, extensions: { placements: [none] } })
    expect((await placements(store, refused.pool)).started).toEqual([])
    expect(refused.refusals[0]?.error ?? "").toMatch(/placement none took none of h1, h2, h3, h4/)
    expect((await listPools(store)).map((p) => p.id)).toEqual([refused.pool])
    await store.close()
  })

  it("a trace's header names it, and a migrate record names a policy of one's own, through the API", async () => {
    const store = await openStore("memory:")
    const dir = tempDir()
    const host = (id: string) => ({ id, memory: "16GiB", overhead: "1GiB", nic: "10Gbit/s", cpus: 8 })
    const vm = (id: string) => ({
      id,
      memory: "2GiB",
      workload: { model: "rate", dirtyRate: "50MiB/s", workingSet: "1GiB" }
    })
    const header = {
      format: "xenpool-trace",
      version: 1,
      placement: "first-fit",
      pool: { id: "tiny", hosts: [host("h1"), host("h2"), host("h3")], vms: [vm("a"), vm("b"), vm("c")] }
    }
    const records = [
      { atUs: 1_000_000, op: "migrate", vm: "a", to: "h3", policy: "two-rounds" },
      { atUs: 60_000_000, op: "evacuate", host: "h1" }
    ]
    const trace = join(dir, "tiny.trace.jsonl")
    writeFileSync(trace, [header, ...records].map((r) => JSON.stringify(r)).join("\n") + "\n")
    const refused = await rejection(replay(trace, { store }))
    expect(refused.message).toMatch(/placement\): expected one of xapi-default \(/)
    expect(await listPools(store)).toEqual([])
    const twoRounds: PolicyDefinition = {
      name: "two-rounds",
      summary: "stop after two live rounds",
      parameters: [],
      make: () => xenPolicy((stats) => (stats.iteration >= 2 ? "stop" : "continue"), "two-rounds")
    }
    const run = await replay(trace, { store, extensions: { placements: [firstFit], policies: [twoRounds] } })
    const seen = await placements(store, run.pool)
    // first-fit starts all three on h1; a moves to h3 with two live rounds; evacuating h1 packs b and c onto h2
    expect(seen.started).toEqual(["a@h1", "b@h1", "c@h1"])
    expect(seen.migrated).toEqual(["a→h3", "b→h2", "c→h2"])
    const policies: string[] = []
    for await (const { event } of events(store, run.pool))
      if (event._tag === "VmMigrationStarted") policies.push(`${event.vm}:${event.policy}`)
    expect(policies).toEqual(["a:two-rounds", "b:xen", "c:xen"])
    await store.close()
  })
})
