/**
 * A process killed at any moment (SIGKILL: no cleanup, no flush) loses no acknowledged append and
 * leaves no partial batch. A child appends batches of varied sizes and prints each batch number after
 * its append returned; we kill it at varied moments, reopen the file and check the stream.
 */
import * as path from "node:path"
import { setTimeout as sleep } from "node:timers/promises"
import { assert, beforeAll, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import type { RecordedEvent } from "../../store/EventStore.js"
import { makeSqlite } from "../../store/sqlite.js"
import { killOnExit, requireCompiledStore, spawnFixture } from "./children.js"
import { readWhole } from "./contract.js"
import { tempDirectory, withRawDatabase } from "./sqliteFiles.js"

const stream = "pool-crash"

/** The writer's batch sizes (test/fixtures/store-crash-writer.mjs). */
const batchSize = (batch: number) => 1 + ((batch * 37) % 250)

/** Its ids encode batch-size-...-index. */
const parseId = (id: string) => {
  const [batch, size, , , index] = id.split("-").map((part) => parseInt(part, 16))
  return { batch, size, index }
}

/** Checks that the stream is batches 0, 1, 2, … each whole and in order; returns how many. */
const countWholeBatches = (events: ReadonlyArray<RecordedEvent>): number => {
  let revision = 0
  let batch = 0
  while (revision < events.length) {
    const size = batchSize(batch)
    for (let index = 0; index < size; index++) {
      const event = events[revision + index]
      if (event === undefined) assert.fail(`batch ${batch} is partial: ${index} of its ${size} events are stored`)
      assert.deepStrictEqual(parseId(event.id), { batch, size, index }, `event at revision ${revision + index}`)
      assert.strictEqual(event.revision, revision + index)
    }
    revision += size
    batch++
  }
  return batch
}

/**
 * When to kill, in ms: after the first acknowledged batch (so mid-stream), except the first run, which
 * kills 150 ms after the start, while the store may still be opening. Fixed, varied values: the runs
 * are reproducible, the moments differ.
 */
const killAfterMs: ReadonlyArray<{ readonly afterFirstAck: boolean; readonly ms: number }> = [
  { afterFirstAck: false, ms: 150 },
  { afterFirstAck: true, ms: 3 },
  { afterFirstAck: true, ms: 29 },
  { afterFirstAck: true, ms: 97 },
  { afterFirstAck: true, ms: 263 },
  { afterFirstAck: true, ms: 541 }
]

describe("SQLite store survives a killed process", () => {
  beforeAll(requireCompiledStore)

  it.scopedLive.each(killAfterMs)(
    "killed $ms ms after start (after first ack: $afterFirstAck)",
    ({ afterFirstAck, ms }) =>
      Effect.gen(function* () {
        const file = path.join(yield* tempDirectory, "crash.db")
        const writer = spawnFixture("store-crash-writer.mjs", [file, stream])
        yield* killOnExit(writer)
        if (afterFirstAck) yield* Effect.promise(() => writer.lineMatching(() => true))
        yield* Effect.promise(() => sleep(ms))
        writer.process.kill("SIGKILL")
        const exited = yield* Effect.promise(() => writer.exited)
        assert.strictEqual(exited.signal, "SIGKILL", `the writer must still be running when killed: ${exited.stderr}`)
        const acknowledged = writer.lines().map(Number)
        assert.deepStrictEqual(
          acknowledged,
          acknowledged.map((_, i) => i),
          "acknowledgements are 0, 1, 2, …"
        )

        const store = yield* makeSqlite(file)
        const batches = countWholeBatches(yield* readWhole(store, stream))
        // Every acknowledged batch is there; at most one more (committed, killed before it printed).
        assert.isAtLeast(batches, acknowledged.length)
        assert.isAtMost(batches, acknowledged.length + 1)
        const integrity = withRawDatabase(file, (db) => db.pragma("integrity_check", { simple: true }))
        assert.strictEqual(integrity, "ok")
      })
  )
})
