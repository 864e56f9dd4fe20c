/**
 * Provenance (issue 14): each pool records in its creation event the seed, the xenpool version and the
 * sha256 of its input; `listPools` shows it, `export` uses its seed by default, and a log written before
 * (PoolCreated v1) reads as `unrecorded` through the upcaster.
 */
import { createHash } from "node:crypto"
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { Chunk, Effect, Either, Stream } from "effect"
import { describe, expect, it } from "vitest"
import * as Fx from "../../api/effect.js"
import { version } from "../../api/version.js"
import { provenanceText } from "../../api/provenance.js"
import { decodeEvent } from "../../store/codec.js"
import { EventStore } from "../../store/EventStore.js"
import { makeMemory } from "../../store/memory.js"
import { layerMemorySnapshots } from "../../store/memorySnapshots.js"
import { tempDir } from "../cli/run.js"

const sha256 = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex")
const inMemory = <A, E>(program: Effect.Effect<A, E, Fx.Store>) =>
  Effect.runPromise(program.pipe(Effect.provide(Fx.storeLayer("memory:"))))

/** The ids of a pool's events, in revision order. */
const collectIds = (pool: string) =>
  Effect.map(Stream.runCollect(Fx.events(pool)), (events) => Chunk.toReadonlyArray(events).map((e) => e.id))

const exportText = (pool: string, options: { seed?: number } = {}) =>
  Effect.gen(function* () {
    const parts: string[] = []
    yield* Fx.exportTrace(pool, (text) => Effect.succeed(parts.push(text) > 0), options)
    return parts.join("")
  })

describe("provenance", () => {
  it("a simulated pool records its seed, xenpool's version and its scenario's name and sha256", async () => {
    const scenario = Fx.scenarioPath("idle-migration")
    const pools = await inMemory(
      Effect.gen(function* () {
        yield* Fx.simulate(scenario, { seed: 11 })
        return yield* Fx.listPools
      })
    )
    expect(pools).toHaveLength(1)
    expect(pools[0]!.provenance).toEqual({
      seed: 11,
      xenpoolVersion: version,
      input: { kind: "scenario", name: "idle-migration.json", sha256: sha256(scenario) },
      parent: null
    })
  })

  it("export writes the pool's own seed by default, and replaying it gives the same ids under the same pool id", async () => {
    const dir = tempDir()
    const trace = join(dir, "idle.jsonl")
    const { text, originalIds, pool } = await inMemory(
      Effect.gen(function* () {
        const run = yield* Fx.simulate(Fx.scenarioPath("idle-migration"), { seed: 23 })
        const text = yield* exportText(run.pool)
        const ids = yield* collectIds(run.pool)
        return { text, originalIds: ids, pool: run.pool }
      })
    )
    expect(JSON.parse(text.split("\n")[0]!)).toMatchObject({ seed: 23 })
    writeFileSync(trace, text)
    const { replayedIds, provenance } = await inMemory(
      Effect.gen(function* () {
        const run = yield* Fx.replay(trace, { pool })
        const pools = yield* Fx.listPools
        return { replayedIds: yield* collectIds(run.pool), provenance: pools[0]!.provenance }
      })
    )
    expect(replayedIds).toEqual(originalIds)
    expect(provenance).toMatchObject({ seed: 23, input: { kind: "trace", name: "idle.jsonl", sha256: sha256(trace) } })
  })

  it("a PoolCreated written at v1 reads as v2 with its provenance unrecorded", () => {
    const v1 = '{"v":1,"atUs":0,"pool":"tt","pageSizeBytes":4096,"linkLatencyUs":100,"_tag":"PoolCreated"}'
    const decoded = decodeEvent({ stream: "pool-tt", revision: 0, position: 1, id: "x", type: "PoolCreated", data: v1 })
    expect(Either.isRight(decoded)).toBe(true)
    const event = Either.getOrThrow(decoded)
    expect(event).toMatchObject({ _tag: "PoolCreated", v: 2, pool: "tt", provenance: { _tag: "unrecorded" } })
  })

  it("a pool written before provenance (PoolCreated v1 in the store) lists as unrecorded, and exports without a seed", async () => {
    const { pools, header } = await Effect.runPromise(
      Effect.gen(function* () {
        const store = yield* makeMemory
        const run = yield* Fx.simulate(Fx.scenarioPath("idle-migration"), { seed: 5 }).pipe(
          Effect.provideService(EventStore, store)
        )
        // As an older xenpool wrote it: v1, no provenance.
        const v1 = '{"v":1,"atUs":0,"pool":"idle","pageSizeBytes":4096,"linkLatencyUs":100,"_tag":"PoolCreated"}'
        yield* store.unsafeReplaceStoredData(`pool-${run.pool}`, 0, v1)
        const pools = yield* Fx.listPools.pipe(Effect.provideService(EventStore, store))
        const text = yield* exportText(run.pool).pipe(Effect.provideService(EventStore, store))
        return { pools, header: JSON.parse(text.split("\n")[0]!) as Record<string, unknown> }
      }).pipe(Effect.provide(layerMemorySnapshots))
    )
    expect(pools[0]!.provenance).toEqual({ seed: null, xenpoolVersion: null, input: null, parent: null })
    expect(provenanceText(pools[0]!.provenance)).toBe("provenance not recorded")
    expect(header["seed"]).toBeUndefined()
  })

  it("a v2 PoolCreated without provenance is refused, not guessed", () => {
    const bad = '{"v":2,"atUs":0,"pool":"tt","pageSizeBytes":4096,"linkLatencyUs":100,"_tag":"PoolCreated"}'
    const decoded = decodeEvent({
      stream: "pool-tt",
      revision: 0,
      position: 1,
      id: "x",
      type: "PoolCreated",
      data: bad
    })
    expect(Either.isLeft(decoded)).toBe(true)
  })
})
