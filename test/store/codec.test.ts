/**
 * The stored form of events: the compiled encoding is the schema's encoding, text for text, for every
 * event class; decoding gives back an equal event; failures name stream, revision and path.
 */
import { assert, describe, it } from "@effect/vitest"
import { Arbitrary, Either, FastCheck, Schema } from "effect"
import {
  HostEnabled,
  HostJoined,
  PoolEvent,
  VmCreated,
  VmMigrationAborted,
  type PoolEventTag
} from "../../domain/events.js"
import { hostId, migrationId, vmId } from "../../domain/ids.js"
import {
  compiledEncodingTags,
  decodeEvent,
  encodeEvent,
  encodeEventWithSchema,
  jsonPath,
  type StoredEvent
} from "../../store/codec.js"

const stored = (type: string, data: string): StoredEvent => ({
  stream: "pool-p",
  revision: 7,
  position: 8,
  id: "00000000-0000-4000-8000-000000000001",
  type,
  data
})

const samplesOf = (member: (typeof PoolEvent.members)[number]): ReadonlyArray<PoolEvent> =>
  // effect's own fast-check (v3) with effect's Arbitrary: the two belong together.
  FastCheck.sample(Arbitrary.make(member as unknown as Schema.Schema<PoolEvent>), { numRuns: 25, seed: 42 })

describe("codec", () => {
  describe.each(PoolEvent.members.map((member) => [member._tag, member] as const))("%s", (_tag, member) => {
    it("encodes to the same text as the PoolEvent schema and decodes back to an equal event", () => {
      for (const event of samplesOf(member)) {
        const encoded = encodeEvent(event)
        assert.deepStrictEqual(encoded, encodeEventWithSchema(event))
        assert.strictEqual(encoded.type, _tag)
        const decoded = decodeEvent(stored(encoded.type, encoded.data))
        assert.deepStrictEqual(decoded, Either.right(event))
      }
    })
  })

  it("compiles the encoding of every event class whose fields encode to themselves (the hot ones)", () => {
    // VmCreated has a field with a decoding default: a transformation between structs with the same keys.
    const expected: ReadonlyArray<PoolEventTag> = ["VmMigrationRoundCompleted", "HostJoined", "VmStarted", "VmCreated"]
    for (const tag of expected) assert.include(compiledEncodingTags, tag)
    assert.deepStrictEqual([...compiledEncodingTags].sort(), PoolEvent.members.map((member) => member._tag).sort())
  })

  it("writes fields in schema order whatever order the constructor got them in", () => {
    const event = new HostJoined({
      cpus: 8,
      nicBandwidthBytesPerS: 1_250_000_000,
      memoryOverheadPages: 1024,
      memoryTotalPages: 4_194_304,
      host: hostId("h1"),
      atUs: 5
    })
    assert.strictEqual(encodeEvent(event).data, encodeEventWithSchema(event).data)
    assert.strictEqual(encodeEvent(event).data, JSON.stringify(Schema.encodeSync(PoolEvent)(event)))
  })

  it("writes strings that need escaping as JSON.stringify does", () => {
    const reason = 'a "quoted" \\ back\nslash, a tab\t, \u2028, an emoji 😀 and a lone \ud800 surrogate'
    const event = new VmMigrationAborted({ atUs: 3, migration: migrationId("m1"), vm: vmId("v1"), reason })
    assert.strictEqual(encodeEvent(event).data, JSON.stringify(Schema.encodeSync(PoolEvent)(event)))
    const decoded = decodeEvent(stored(event._tag, encodeEvent(event).data))
    assert.deepStrictEqual(decoded, Either.right(event))
  })

  it("drops properties the schema does not know, as the schema does", () => {
    const event = Object.assign(new HostEnabled({ atUs: 1, host: hostId("h1") }), { extra: "x" })
    assert.strictEqual(encodeEvent(event).data, '{"v":1,"atUs":1,"host":"h1","_tag":"HostEnabled"}')
  })

  it("refuses an event built with validation disabled, with the schema's error", () => {
    const invalid = new HostEnabled({ atUs: -1, host: hostId("h1") }, true)
    assert.throws(() => encodeEvent(invalid), /atUs/)
    const badId = new HostEnabled({ atUs: 1, host: hostId("not an id!") }, true)
    assert.throws(() => encodeEvent(badId), /host/)
  })

  it("treats a plain object posing as an event as the schema does", () => {
    const impostor = { _tag: "HostEnabled", v: 1, atUs: 1, host: hostId("h1") } as unknown as PoolEvent
    assert.deepStrictEqual(encodeEvent(impostor), encodeEventWithSchema(impostor))
    const invalid = { _tag: "HostEnabled", v: 1, atUs: -1, host: hostId("h1") } as unknown as PoolEvent
    assert.throws(() => encodeEvent(invalid), /atUs/)
  })

  it("encodes a field with a decoding default the constructor filled in", () => {
    const event = new VmCreated(vmCreatedFields)
    assert.include(encodeEvent(event).data, '"blockedOperations":[]')
    assert.strictEqual(encodeEvent(event).data, encodeEventWithSchema(event).data)
  })

  describe("decode failures name stream, revision and path", () => {
    const failure = (type: string, data: string) => {
      const result = decodeEvent(stored(type, data))
      if (Either.isRight(result)) return assert.fail("expected a decode failure")
      assert.strictEqual(result.left.stream, "pool-p")
      assert.strictEqual(result.left.revision, 7)
      return result.left
    }

    it("text that is not JSON", () => {
      assert.strictEqual(failure("HostEnabled", '{"v":1,').path, jsonPath)
    })

    it("a field of the wrong type", () => {
      const error = failure("HostEnabled", '{"_tag":"HostEnabled","v":1,"atUs":1,"host":3}')
      assert.strictEqual(error.path, '["host"]')
      assert.include(error.detail, "string")
    })

    it("a missing field", () => {
      assert.strictEqual(failure("HostEnabled", '{"_tag":"HostEnabled","v":1,"atUs":1}').path, '["host"]')
    })

    it("a nested element", () => {
      const data = JSON.stringify({
        ...JSON.parse(encodeEvent(new VmCreated({ ...vmCreatedFields, blockedOperations: ["a"] })).data),
        blockedOperations: ["a", 2]
      })
      assert.strictEqual(failure("VmCreated", data).path, '["blockedOperations",1]')
    })

    it("a refinement", () => {
      assert.strictEqual(failure("HostEnabled", '{"_tag":"HostEnabled","v":1,"atUs":-5,"host":"h1"}').path, '["atUs"]')
    })

    it("a schema version this code does not read", () => {
      assert.strictEqual(failure("HostEnabled", '{"_tag":"HostEnabled","v":2,"atUs":1,"host":"h1"}').path, '["v"]')
    })

    it("an unknown or missing _tag", () => {
      assert.strictEqual(failure("HostBlewUp", '{"_tag":"HostBlewUp","v":1}').path, '["_tag"]')
      assert.strictEqual(failure("HostEnabled", "42").path, '["_tag"]')
    })

    it("a stored type that disagrees with the data", () => {
      const error = failure("HostDisabled", encodeEvent(new HostEnabled({ atUs: 1, host: hostId("h1") })).data)
      assert.strictEqual(error.path, '["_tag"]')
      assert.include(error.detail, "HostDisabled")
    })
  })
})

const vmCreatedFields = {
  atUs: 0,
  vm: vmId("web-1"),
  vcpus: 2,
  memoryStaticMinPages: 1,
  memoryDynamicMinPages: 1,
  memoryTargetPages: 1,
  memoryDynamicMaxPages: 1,
  memoryStaticMaxPages: 1,
  memoryOverheadPages: 0
}
