/**
 * The replay's event spool and its appends: a run longer than the spool's memory bound goes to disk,
 * comes back in order, and lands in the store in several batches with the same events as one batch.
 */
import { describe, expect, it } from "vitest"
import { Effect, Schema } from "effect"
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { replayIntoStore } from "../../api/replay.js"
import { EventSpool } from "../../api/eventSpool.js"
import { PoolEvent } from "../../domain/events.js"
import { poolId, poolStreamName } from "../../domain/ids.js"
import { fileInput, type TraceRecordInput } from "../../simulations/trace.js"
import { EventStore } from "../../store/EventStore.js"
import { layerMemory } from "../../store/memory.js"
import { tempDir } from "../cli/run.js"
import { replay, smallPool, trace } from "./helpers.js"

const encode = Schema.encodeSync(PoolEvent)

const header = smallPool([{ id: "b", memory: "64MiB", host: "h2" }])
const records: TraceRecordInput[] = Array.from({ length: 2_500 }, (_, i) => ({
  atUs: 100 * i,
  op: i % 2 === 0 ? "pause-vm" : "unpause-vm",
  vm: "b"
}))

describe("the event spool", () => {
  it("holds events in memory, then on disk, and gives them back in order and in batches", () => {
    const { events } = replay(trace(header, records))
    const spool = new EventSpool(100)
    for (let i = 0; i < events.length; i += 7) spool.add(events.slice(i, i + 7))
    expect(spool.spilled).toBe(true)
    expect(spool.count).toBe(events.length)
    const batches = [...spool.batches(1_000)]
    spool.close()
    expect(batches.every((b) => b.length <= 1_000)).toBe(true)
    const back = batches.flat()
    expect(back.map((e) => e.id)).toEqual(events.map((e) => e.id))
    expect(back.map((e) => encode(e.event))).toEqual(events.map((e) => encode(e.event)))
  })

  it("replayIntoStore past the memory bound appends the same events as the run, in several batches", async () => {
    const file = join(tempDir(), "long.jsonl")
    writeFileSync(file, trace(header, records))
    const { events } = replay(trace(header, records), { pool: "long" })
    const input = fileInput(file)
    const stored = await Effect.runPromise(
      Effect.gen(function* () {
        const output = yield* replayIntoStore(input, {
          pool: poolId("long"),
          spoolMemoryEventsMax: 300
        })
        const store = yield* EventStore
        const read = yield* store.read(poolStreamName(poolId("long")), { maxCount: 100_000 })
        return { output, read }
      }).pipe(Effect.provide(layerMemory))
    )
    input.close()
    expect(stored.output.events).toBe(events.length)
    expect(stored.output.records).toBe(records.length)
    expect(stored.read.map((r) => r.id)).toEqual(events.map((e) => e.id))
    expect(stored.read.map((r) => encode(r.event))).toEqual(events.map((e) => encode(e.event)))
  })
})
