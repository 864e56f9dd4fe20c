import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import { EventStore, ExpectedRevision } from "../../store/EventStore.js"
import {
  defaultStoreUrl,
  layerFromUrl,
  parseStoreUrl,
  redactUrl,
  resolveStoreUrl,
  storeUrlEnvVar,
  type StoreUrl
} from "../../store/url.js"
import { testBatch } from "./contract.js"
import { tempDirectory } from "./sqliteFiles.js"

const parsed = (text: string): StoreUrl => {
  const result = parseStoreUrl(text)
  if (Either.isLeft(result)) return assert.fail(`${text} should parse: ${result.left.message}`)
  return result.right
}

const refused = (text: string) => {
  const result = parseStoreUrl(text)
  if (Either.isRight(result)) return assert.fail(`${text} should be refused`)
  assert.strictEqual(result.left._tag, "StoreError")
  return result.left
}

describe("store URLs", () => {
  it("memory: is the memory store", () => {
    assert.deepStrictEqual(parsed("memory:"), { _tag: "memory" })
  })

  it("sqlite:PATH takes relative and absolute paths as written", () => {
    assert.deepStrictEqual(parsed("sqlite:xenpool.db"), { _tag: "sqlite", path: "xenpool.db" })
    assert.deepStrictEqual(parsed("sqlite:data/pools.db"), { _tag: "sqlite", path: "data/pools.db" })
    assert.deepStrictEqual(parsed("sqlite:/var/lib/xenpool/x.db"), { _tag: "sqlite", path: "/var/lib/xenpool/x.db" })
  })

  it("sqlite: without a path is an error saying what to write", () => {
    assert.include(refused("sqlite:").detail, "sqlite:xenpool.db")
    assert.include(refused("sqlite://host/x.db").detail, "sqlite:PATH")
  })

  it("KurrentDB and EventStoreDB connection strings are recognised", () => {
    for (const url of [
      "kurrentdb://localhost:2113?tls=false",
      "kurrentdb+discover://cluster.example:2113",
      "esdb://a:2113,b:2113,c:2113?tls=false"
    ]) {
      assert.deepStrictEqual(parsed(url), { _tag: "kurrentdb", connectionString: url })
    }
  })

  it("anything else is an error listing the accepted forms", () => {
    for (const bad of ["", "xenpool.db", "postgres://localhost/x", "memory", "MEMORY:x"]) {
      const error = refused(bad)
      for (const form of ["memory:", "sqlite:PATH", "kurrentdb://"]) assert.include(error.detail, form)
    }
  })

  it("passwords never reach an error message", () => {
    assert.strictEqual(redactUrl("kurrentdb://admin:changeit@h:2113"), "kurrentdb://admin:***@h:2113")
    assert.notInclude(refused("postgres://u:secret@h/db").url, "secret")
  })

  it("the default store is sqlite:xenpool.db, overridden by XENPOOL_STORE, overridden by an explicit URL", () => {
    assert.strictEqual(storeUrlEnvVar, "XENPOOL_STORE")
    assert.strictEqual(defaultStoreUrl, "sqlite:xenpool.db")
    assert.strictEqual(resolveStoreUrl(undefined, {}), "sqlite:xenpool.db")
    assert.strictEqual(resolveStoreUrl(undefined, { XENPOOL_STORE: "" }), "sqlite:xenpool.db")
    assert.strictEqual(resolveStoreUrl(undefined, { XENPOOL_STORE: "memory:" }), "memory:")
    assert.strictEqual(resolveStoreUrl("sqlite:a.db", { XENPOOL_STORE: "memory:" }), "sqlite:a.db")
  })

  describe("layerFromUrl", () => {
    const appendOne = Effect.flatMap(EventStore, (store) =>
      Effect.map(store.append("pool-a", testBatch(0, 1), ExpectedRevision.noStream), () => store.url)
    )
    /** The layer's failure: building it must fail with a StoreError. */
    const layerError = (url: string) => Effect.flip(Effect.provide(Effect.orDie(appendOne), layerFromUrl(url)))

    it.effect("memory: gives a working memory store", () =>
      Effect.gen(function* () {
        assert.strictEqual(yield* appendOne.pipe(Effect.provide(layerFromUrl("memory:"))), "memory:")
      })
    )

    it.scoped("sqlite:PATH gives a working SQLite store at that path", () =>
      Effect.gen(function* () {
        const file = path.join(yield* tempDirectory, "url.db")
        assert.strictEqual(yield* appendOne.pipe(Effect.provide(layerFromUrl(`sqlite:${file}`))), `sqlite:${file}`)
      })
    )

    it.live(
      "kurrentdb:// opens the KurrentDB adapter: a server that is not there is a StoreError without the password",
      () =>
        Effect.gen(function* () {
          const error = yield* layerError("kurrentdb://u:pw@127.0.0.1:1?tls=false")
          assert.strictEqual(error._tag, "StoreError")
          assert.strictEqual(error.operation, "open")
          assert.include(error.detail, "connection refused at 127.0.0.1:1")
          assert.strictEqual(error.url, "kurrentdb://u:***@127.0.0.1:1?tls=false")
        })
    )

    it.effect("a bad URL fails the layer with the parse error", () =>
      Effect.gen(function* () {
        const error = yield* layerError("nope")
        assert.include(error.detail, "sqlite:PATH")
      })
    )
  })
})
