/**
 * The snapshot codec: the fast encoders and decoder agree with the schemas (`PoolStateSnapshot`,
 * `PoolStateChangesSnapshot`) on every generated state and pair of states, a whole state round-trips,
 * changes applied to the earlier state give the later one, and text that does not fit is refused.
 */
import { Either, HashMap, Schema } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { foldEvents } from "../../domain/evolve.js"
import { hostId, poolId } from "../../domain/ids.js"
import { initialState, type PoolState } from "../../domain/state.js"
import {
  applyChanges,
  decodeSnapshot,
  decodeSnapshotData,
  encodeChanges,
  encodeSnapshot,
  PoolStateChangesSnapshot,
  PoolStateSnapshot,
  SnapshotData
} from "../../projections/snapshotCodec.js"
import { buildHistory, historyArb, plain } from "./helpers.js"

const encodeWithSchema = (state: PoolState) => JSON.stringify(Schema.encodeSync(PoolStateSnapshot)(state))
const decodeWithSchema = (text: string) => Schema.decodeUnknownEither(PoolStateSnapshot)(JSON.parse(text))

/** States along a generated history: every one its prefix folds to. */
const statesArb = historyArb(80).map((draw) => {
  const events = buildHistory(draw)
  return events.map((_, i) => foldEvents(initialState, events.slice(0, i + 1)))
})

describe("snapshot codec", () => {
  it("encodes as the schema does, and decodes to the same state as the schema (a property)", () => {
    fc.assert(
      fc.property(statesArb, (states) => {
        for (const state of states) {
          const text = encodeSnapshot(state)
          expect(text).toBe(encodeWithSchema(state))
          const fast = decodeSnapshot(text)
          const reference = decodeWithSchema(text)
          if (Either.isLeft(fast) || Either.isLeft(reference)) throw new Error(`does not decode: ${text}`)
          expect(plain(fast.right)).toStrictEqual(plain(state))
          expect(plain(reference.right)).toStrictEqual(plain(state))
        }
      }),
      { numRuns: 40 }
    )
  })

  it("changes between two states, applied to the earlier, give the later; encoded and decoded as the schema does (a property)", () => {
    fc.assert(
      fc.property(
        statesArb,
        fc.array(fc.tuple(fc.nat(), fc.nat()), { minLength: 1, maxLength: 10 }),
        (states, pairs) => {
          const all = [initialState, ...states]
          for (const [i, j] of pairs) {
            const [from, to] = [Math.min(i, j) % all.length, Math.max(i, j) % all.length]
            const text = encodeChanges(all[from]!, all[to]!, from)
            const fast = decodeSnapshotData(text)
            if (Either.isLeft(fast) || fast.right._tag !== "changes") throw new Error(`does not decode: ${text}`)
            expect(fast.right.changes.base).toBe(from)
            expect(plain(applyChanges(all[from]!, fast.right.changes))).toStrictEqual(plain(all[to]!))
            expect(JSON.stringify(Schema.encodeSync(PoolStateChangesSnapshot)(fast.right.changes))).toBe(text)
            const reference = Schema.decodeUnknownEither(SnapshotData)(JSON.parse(text))
            if (Either.isLeft(reference) || !("base" in reference.right)) throw new Error(`the schema refuses ${text}`)
            expect(reference.right).toStrictEqual(fast.right.changes)
          }
        }
      ),
      { numRuns: 40 }
    )
  })

  it("changes hold only what changed: none between a state and itself", () => {
    const state = foldEvents(initialState, buildHistory(fc.sample(historyArb(100), { seed: 5, numRuns: 1 })[0]!))
    expect(JSON.parse(encodeChanges(state, state, 7))).toMatchObject({
      base: 7,
      hosts: [],
      vms: [],
      migrations: [],
      gone: [[], [], []]
    })
    expect(Either.isLeft(decodeSnapshot(encodeChanges(state, state, 7)))).toBe(true)
  })

  it("the empty pool round-trips", () => {
    const decoded = decodeSnapshot(encodeSnapshot(initialState))
    expect(Either.isRight(decoded) && plain(decoded.right)).toStrictEqual(plain(initialState))
  })

  it("reuses the text of unchanged entities and still encodes changed ones afresh", () => {
    const state: PoolState = {
      ...initialState,
      pool: { id: poolId("p"), pageSizeBytes: 4096, linkLatencyUs: 0, master: undefined, ha: undefined },
      hosts: HashMap.make([
        hostId("h1"),
        {
          id: hostId("h1"),
          memoryTotalPages: 100,
          memoryOverheadPages: 1,
          nicBandwidthBytesPerS: 1,
          cpus: 1,
          enabled: true,
          live: true,
          nextDomid: 1,
          residentPages: 0,
          reservedPages: 0,
          placementPages: 0
        }
      ])
    }
    const first = encodeSnapshot(state)
    const changed: PoolState = {
      ...state,
      hosts: HashMap.modify(state.hosts, hostId("h1"), (h) => ({ ...h, enabled: false }))
    }
    expect(encodeSnapshot(state)).toBe(first)
    expect(encodeSnapshot(changed)).toBe(encodeWithSchema(changed))
    expect(encodeSnapshot(changed)).not.toBe(first)
  })

  it.each([
    ["not JSON", "{"],
    ["not an object", "[]"],
    ["changes without what is gone", '{"base":3,"atUs":0,"pool":null,"hosts":[],"vms":[],"migrations":[]}'],
    ["a field it does not know", '{"atUs":0,"pool":null,"hosts":[],"vms":[],"migrations":[],"extra":1}'],
    ["a missing field", '{"atUs":0,"pool":null,"hosts":[],"vms":[]}'],
    ["a host of the wrong length", '{"atUs":0,"pool":null,"hosts":[["h1",1]],"vms":[],"migrations":[]}'],
    ["a bad id", '{"atUs":0,"pool":["bad id!",4096,0,null],"hosts":[],"vms":[],"migrations":[]}'],
    ["a fractional count", '{"atUs":0.5,"pool":null,"hosts":[],"vms":[],"migrations":[]}'],
    [
      "an unknown power state",
      '{"atUs":0,"pool":null,"hosts":[],"vms":[["v",1,1,1,1,1,1,1,"Dancing",null,null,-1,null,null,1,1,0,null,[]]],"migrations":[]}'
    ]
  ])("refuses %s, as the schema does", (_, text) => {
    expect(Either.isLeft(decodeSnapshot(text))).toBe(true)
    if (text !== "{") expect(Either.isLeft(decodeWithSchema(text))).toBe(true)
  })
})
