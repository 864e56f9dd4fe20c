import { Arbitrary, Equal, FastCheck, Schema } from "effect"
import { assert, describe, it } from "vitest"
import { build, PoolEvent, VmCreated } from "../../domain/events.js"
import { vmId } from "../../domain/ids.js"
import { encodeEvent } from "../../store/codec.js"

type Member = (typeof PoolEvent.members)[number]

const samplesOf = (member: Member): ReadonlyArray<PoolEvent> =>
  // effect's own fast-check (v3) with effect's Arbitrary: the two belong together.
  FastCheck.sample(Arbitrary.make(member as unknown as Schema.Schema<PoolEvent>), { numRuns: 25, seed: 7 })

/** The fields a constructor is given: everything but the defaults it fills in. */
const fieldsOf = (event: PoolEvent): Record<string, unknown> => {
  const { _tag, v, ...fields } = event as unknown as Record<string, unknown>
  void _tag
  void v
  return fields
}

describe("build, the fast event constructor", () => {
  describe.each(PoolEvent.members.map((member) => [member._tag, member] as const))("%s", (_tag, member) => {
    it("gives the event new Class(fields, true) gives: same class, same fields, same defaults, same encoding", () => {
      for (const sample of samplesOf(member)) {
        const fields = fieldsOf(sample)
        const Class = member as unknown as new (fields: unknown, disableValidation: true) => PoolEvent
        const expected = new Class(fields, true)
        const actual = build(member, fields as never)
        assert.isTrue(actual instanceof member, `${_tag}: not an instance of its class`)
        assert.isTrue(Equal.equals(actual, expected), `${_tag}: build differs from the constructor`)
        assert.deepStrictEqual(Object.keys(actual).sort(), Object.keys(expected).sort())
        assert.strictEqual(actual._tag, member._tag)
        // Every event is at schema v1 but PoolCreated, at v2 since it records its provenance.
        assert.strictEqual(actual.v, member._tag === "PoolCreated" ? 2 : 1)
        assert.strictEqual(encodeEvent(actual).data, encodeEvent(expected).data)
        // its own keys come in the order of its stored form: the store writes it as it is
        assert.deepStrictEqual(Object.keys(actual), Object.keys(JSON.parse(encodeEvent(expected).data)))
      }
    })
  })

  it("fills a decoding default the fields leave out, and keeps one they give", () => {
    const fields = {
      atUs: 0,
      vm: vmId("v1"),
      vcpus: 1,
      memoryStaticMinPages: 1,
      memoryDynamicMinPages: 1,
      memoryTargetPages: 1,
      memoryDynamicMaxPages: 1,
      memoryStaticMaxPages: 1,
      memoryOverheadPages: 0
    }
    assert.deepStrictEqual(build(VmCreated, fields).blockedOperations, [])
    assert.deepStrictEqual(build(VmCreated, { ...fields, blockedOperations: ["start"] }).blockedOperations, ["start"])
  })
})
