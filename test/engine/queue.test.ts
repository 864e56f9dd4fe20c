/**
 * The agenda: earliest first; at the same µs, lower rank first (outside inputs before the engine's own
 * happenings); at the same µs and rank, the order of scheduling.
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { EventQueue } from "../../engine/queue.js"

const drain = <T>(queue: EventQueue<T>): T[] => {
  const out: T[] = []
  for (let next = queue.pop(); next !== undefined; next = queue.pop()) out.push(next.item)
  return out
}

describe("EventQueue", () => {
  it("pops by time, then rank, then scheduling order", () => {
    const queue = new EventQueue<string>()
    queue.push(5, "engine at 5", 1)
    queue.push(5, "input at 5", 0)
    queue.push(3, "engine at 3", 1)
    queue.push(5, "second input at 5", 0)
    queue.push(5, "second engine at 5", 1)
    expect(drain(queue)).toEqual([
      "engine at 3",
      "input at 5",
      "second input at 5",
      "engine at 5",
      "second engine at 5"
    ])
  })

  it("pops any schedule in (time, rank, order) order", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(20), fc.nat(2)), { maxLength: 200 }), (entries) => {
        const queue = new EventQueue<number>()
        entries.forEach(([atUs, rank], i) => queue.push(atUs, i, rank))
        const expected = entries
          .map(([atUs, rank], i) => ({ atUs, rank, i }))
          .sort((a, b) => a.atUs - b.atUs || a.rank - b.rank || a.i - b.i)
          .map((e) => e.i)
        expect(drain(queue)).toEqual(expected)
      })
    )
  })

  it("refuses a time that is not a non-negative integer µs", () => {
    const queue = new EventQueue<string>()
    expect(() => queue.push(-1, "x")).toThrow(RangeError)
    expect(() => queue.push(1.5, "x")).toThrow(RangeError)
  })
})
