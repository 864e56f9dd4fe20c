/**
 * The KurrentDB adapter against the shared contract: always through an emulation of the client (no
 * server needed: it proves the adapter's own logic), and against a real server when
 * XENPOOL_KURRENTDB_URL names one (e.g. `kurrentdb://127.0.0.1:2113?tls=false`). Also what only this
 * adapter has: writers in several processes, truncated streams, reconnection, bounded deadlines.
 */
import { randomUUID } from "node:crypto"
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Context, Effect, Fiber, Layer, Scope, Stream } from "effect"
import { EventStore, ExpectedRevision, type EventStoreShape } from "../../store/EventStore.js"
import { StoreError } from "../../store/errors.js"
import { makeKurrentStores, type KurrentClient, type KurrentOptions } from "../../store/kurrent.js"
import { catalogueStream } from "../../store/kurrentMapping.js"
import { SnapshotStore } from "../../store/SnapshotStore.js"
import { branchStoreContract } from "../branches/storeContract.js"
import { CorruptStoredEvent, eventStoreContract, readWhole, testBatch, type ContractLayer } from "./contract.js"
import { EmulatedKurrent } from "./kurrentEmulation.js"

export const kurrentUrlEnvVar = "XENPOOL_KURRENTDB_URL"
const emulatedUrl = "kurrentdb://emulated.invalid:2113?tls=false"

/** A fresh emulated server per test, with other applications' events in it that the store must not see. */
const emulatedStores = (server: EmulatedKurrent, options: KurrentOptions = {}) =>
  makeKurrentStores(emulatedUrl, {
    streamPrefix: "t-",
    connect: async () => server,
    pollInterval: "10 millis",
    ...options
  })

const emulatedLayer = (): ContractLayer =>
  Layer.scopedContext(
    Effect.gen(function* () {
      const server = new EmulatedKurrent()
      server.seedForeign()
      // Small server appends, so that the contract's runs (appendBatches) take the several-appends path.
      const { events, snapshots } = yield* emulatedStores(server, { maxAppendBytes: 4096 })
      const corrupt = (stream: string, revision: number, data: string) =>
        Effect.sync(() => server.corrupt(`t-${stream}`, revision, data))
      return Context.make(EventStore, events).pipe(
        Context.add(SnapshotStore, snapshots),
        Context.add(CorruptStoredEvent, corrupt)
      )
    })
  )

eventStoreContract("kurrentdb, emulated client (no server)", emulatedLayer)
branchStoreContract("kurrentdb, emulated client (no server)", emulatedLayer)

// --- against a real server ------------------------------------------------------------------------

/**
 * Each test gets its own stream prefix on the shared server. A stored event cannot be changed in
 * KurrentDB, so "corrupting" one copies the test's events, in `$all` order, under a new prefix with that
 * one event's data replaced (as bytes that need not be JSON), and the store moves to the new prefix.
 */
const serverLayer = (url: string) => (): ContractLayer =>
  Layer.scopedContext(
    Effect.gen(function* () {
      const run = randomUUID().slice(0, 8)
      const prefixOf = (generation: number) => `xenpool-contract-${run}-${generation}-`
      let generation = 0
      const scope = yield* Effect.scope
      let current = yield* makeKurrentStores(url, { streamPrefix: prefixOf(0) })
      const { KurrentDBClient } = yield* Effect.promise(() => import("@kurrent/kurrentdb-client"))
      const raw = yield* Effect.acquireRelease(
        Effect.sync(() => KurrentDBClient.connectionString(url.replace(/^esdb/, "kurrentdb"))),
        (client) => Effect.promise(() => client.dispose())
      )
      const copyWithCorruption = async (from: string, to: string, stream: string, revision: number, data: string) => {
        const escaped = from.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
        for await (const resolved of raw.readAll({
          filter: { filterOn: "streamName", regex: `^${escaped}`, checkpointInterval: 1 }
        })) {
          const event = resolved.event!
          const local = event.streamId.slice(from.length)
          const hit = local === stream && BigInt(event.revision) === BigInt(revision)
          const eventData = hit
            ? {
                id: event.id,
                contentType: "application/octet-stream" as const,
                type: event.type,
                data: new Uint8Array(Buffer.from(data, "utf8")),
                metadata: undefined
              }
            : event.isJson
              ? {
                  id: event.id,
                  contentType: "application/json" as const,
                  type: event.type,
                  data: event.data as Record<string, unknown>,
                  metadata: undefined
                }
              : {
                  id: event.id,
                  contentType: "application/octet-stream" as const,
                  type: event.type,
                  data: event.data as Uint8Array,
                  metadata: undefined
                }
          await raw.appendToStream(to + local, [eventData])
        }
      }
      const corrupt = (stream: string, revision: number, data: string) =>
        Effect.gen(function* () {
          const from = prefixOf(generation)
          generation++
          yield* Effect.promise(() => copyWithCorruption(from, prefixOf(generation), stream, revision, data))
          current = yield* makeKurrentStores(url, { streamPrefix: prefixOf(generation) }).pipe(Scope.extend(scope))
        }).pipe(Effect.orDie)
      const events: EventStoreShape = {
        get url() {
          return current.events.url
        },
        append: (...args) => Effect.suspend(() => current.events.append(...args)),
        appendBatches: (...args) => Effect.suspend(() => current.events.appendBatches(...args)),
        read: (...args) => Effect.suspend(() => current.events.read(...args)),
        readAll: (...args) => Effect.suspend(() => current.events.readAll(...args)),
        subscribe: (...args) => Stream.suspend(() => current.events.subscribe(...args)),
        streams: () => Effect.suspend(() => current.events.streams()),
        lastRevision: (stream) => Effect.suspend(() => current.events.lastRevision(stream)),
        fork: (...args) => Effect.suspend(() => current.events.fork(...args)),
        branchOf: (stream) => Effect.suspend(() => current.events.branchOf(stream))
      }
      return Context.make(EventStore, events).pipe(
        Context.add(SnapshotStore, current.snapshots),
        Context.add(CorruptStoredEvent, corrupt)
      )
    })
  )

const serverUrl = process.env[kurrentUrlEnvVar]
if (serverUrl !== undefined && serverUrl !== "") {
  eventStoreContract(`kurrentdb server at ${kurrentUrlEnvVar}`, serverLayer(serverUrl))
  branchStoreContract(`kurrentdb server at ${kurrentUrlEnvVar}`, serverLayer(serverUrl))
} else {
  describe("EventStore contract: kurrentdb server", () => {
    it.skip(`skipped: ${kurrentUrlEnvVar} is not set, so no KurrentDB server to run the contract against (the emulated-client run above still ran)`, () => {})
  })
}

// --- what only this adapter has -------------------------------------------------------------------

const storeError = (error: unknown): StoreError => {
  if (!(error instanceof StoreError)) return assert.fail(`expected a StoreError, got ${String(error)}`)
  return error
}

describe("KurrentDB adapter (emulated client)", () => {
  it.scoped("writers in two processes: a stale view reads what the other wrote and decides again", () =>
    Effect.gen(function* () {
      const server = new EmulatedKurrent()
      const a = (yield* emulatedStores(server)).events
      const b = (yield* emulatedStores(server)).events
      yield* a.append("pool-a", testBatch(0, 2), ExpectedRevision.noStream)
      yield* b.append("pool-a", testBatch(2, 2), ExpectedRevision.at(1))
      // a last saw revision 1: its compare-and-set fails on the server, it re-reads and refuses with the truth.
      const conflict = yield* Effect.flip(a.append("pool-a", testBatch(10, 1), ExpectedRevision.at(1)))
      assert.deepStrictEqual([conflict._tag, (conflict as { actual?: string }).actual], ["WrongExpectedVersion", "3"])
      const any = yield* a.append("pool-a", testBatch(4, 1), ExpectedRevision.any)
      assert.strictEqual(any.nextExpectedRevision, 4)
      // b retries its own batch (say its acknowledgement was lost): acknowledged, not written twice.
      const again = yield* b.append("pool-a", testBatch(2, 2), ExpectedRevision.at(1))
      assert.deepStrictEqual([again.nextExpectedRevision, again.written], [3, false])
      assert.deepStrictEqual(
        (yield* readWhole(b, "pool-a")).map((r) => r.id),
        testBatch(0, 5).map((e) => e.id)
      )
    })
  )

  it.scoped("appends send the engine's event ids and compare-and-set states, never the client's defaults", () =>
    Effect.gen(function* () {
      const server = new EmulatedKurrent()
      const sent: Array<unknown> = []
      const spy: KurrentClient = {
        appendToStream: (stream, events, options) => {
          sent.push({ stream, ids: events.map((e) => e.id), state: options.streamState })
          return server.appendToStream(stream, events, options)
        },
        readStream: (stream, options) => server.readStream(stream, options),
        readAll: (options) => server.readAll(options),
        getStreamMetadata: (stream) => server.getStreamMetadata(stream),
        dispose: () => server.dispose()
      }
      const store = (yield* emulatedStores(server, { connect: async () => spy })).events
      yield* store.append("pool-a", testBatch(0, 2), ExpectedRevision.any)
      yield* store.append("pool-a", testBatch(2, 1), ExpectedRevision.streamExists)
      const batches = sent.filter((s) => (s as { stream: string }).stream === "t-pool-a")
      assert.deepStrictEqual(batches, [
        { stream: "t-pool-a", ids: testBatch(0, 2).map((e) => e.id), state: "no_stream" },
        { stream: "t-pool-a", ids: testBatch(2, 1).map((e) => e.id), state: 1n }
      ])
    })
  )

  it.scoped("a truncated stream is an error naming its first readable revision, never a shorter history", () =>
    Effect.gen(function* () {
      const server = new EmulatedKurrent()
      const store = (yield* emulatedStores(server)).events
      yield* store.append("pool-a", testBatch(0, 5), ExpectedRevision.noStream)
      server.truncatedBefore.set("t-pool-a", 2)
      for (const read of [store.read("pool-a"), store.read("pool-a", { direction: "backwards" })]) {
        const error = storeError(yield* Effect.flip(read))
        assert.include(error.detail, "pool-a is truncated: its first readable revision is 2, not 0")
        assert.notInclude(error.message, "\n")
      }
      // Another process appending reads the stream from revision 0 first, and refuses too.
      const other = (yield* emulatedStores(server)).events
      const error = storeError(yield* Effect.flip(other.append("pool-a", testBatch(5, 1), ExpectedRevision.any)))
      assert.include(error.detail, "truncated")
    })
  )

  it.scoped("a stream with $maxCount or $maxAge is refused before anything is appended to it", () =>
    Effect.gen(function* () {
      const server = new EmulatedKurrent()
      server.metadata.set("t-pool-a", { maxCount: 100, maxAge: 3600 })
      const store = (yield* emulatedStores(server)).events
      const error = storeError(yield* Effect.flip(store.append("pool-a", testBatch(0, 1), ExpectedRevision.any)))
      assert.include(error.detail, "$maxAge=3600, $maxCount=100")
      assert.strictEqual(server.appends, 0)
    })
  )

  it.scopedLive("a subscription survives dropped connections: it reads again from the last delivered position", () =>
    Effect.gen(function* () {
      const server = new EmulatedKurrent()
      const store = (yield* emulatedStores(server)).events
      // Another process, whose appends this one hears of only by reading.
      const other = (yield* emulatedStores(server)).events
      yield* store.append("pool-a", testBatch(0, 10), ExpectedRevision.noStream)
      const subscriber = yield* store.subscribe().pipe(Stream.take(30), Stream.runCollect, Effect.fork)
      yield* Effect.sleep("30 millis")
      server.failNextCalls = 3
      yield* Effect.sleep("30 millis")
      yield* other.append("pool-a", testBatch(10, 10), ExpectedRevision.at(9)).pipe(Effect.retry({ times: 5 }))
      server.failNextCalls = 2
      yield* other.append("pool-b", testBatch(20, 10), ExpectedRevision.noStream).pipe(Effect.retry({ times: 5 }))
      const delivered = Chunk.toReadonlyArray(yield* Fiber.join(subscriber).pipe(Effect.timeout("10 seconds")))
      assert.deepStrictEqual(
        delivered.map((r) => r.id),
        testBatch(0, 30).map((e) => e.id)
      )
    })
  )

  it.scoped("streams() lists what the catalogue names, not other applications' or system streams", () =>
    Effect.gen(function* () {
      const server = new EmulatedKurrent()
      server.seedForeign()
      const { events, snapshots } = yield* emulatedStores(server)
      yield* events.append("pool-b", testBatch(0, 2), ExpectedRevision.noStream)
      yield* events.append("pool-a", testBatch(2, 1), ExpectedRevision.noStream)
      yield* snapshots.save([{ stream: "pool-a", projectionVersion: "v1", revision: 0, atUs: 20, data: "{}" }])
      assert.deepStrictEqual(
        (yield* events.streams()).map((s) => [s.stream, s.events, s.lastAtUs]),
        [
          ["pool-a", 1, 20],
          ["pool-b", 2, 10]
        ]
      )
      assert.isTrue(server.streams.has(`t-${catalogueStream}`))
      assert.isTrue(server.streams.has("t-snapshots-pool-a"))
      assert.strictEqual((yield* events.readAll()).length, 3)
    })
  )

  it.live("a server that never answers fails the open within the URL's deadline, in one line", () =>
    Effect.gen(function* () {
      const silent: KurrentClient = {
        appendToStream: () => new Promise(() => {}),
        readStream: () => ({
          next: () => new Promise(() => {}),
          [Symbol.asyncIterator]() {
            return this
          }
        }),
        readAll: () => ({
          next: () => new Promise(() => {}),
          [Symbol.asyncIterator]() {
            return this
          }
        }),
        getStreamMetadata: () => new Promise(() => {}),
        dispose: () => Promise.resolve()
      }
      const started = Date.now()
      const error = yield* Effect.flip(
        Effect.scoped(
          makeKurrentStores("kurrentdb://silent.invalid:2113?tls=false&defaultDeadline=200", {
            connect: async () => silent
          })
        )
      )
      assert.isBelow(Date.now() - started, 5_000)
      assert.strictEqual(error.operation, "open")
      assert.include(error.detail, "no answer from silent.invalid:2113 within 0.2 s")
    })
  )
})
