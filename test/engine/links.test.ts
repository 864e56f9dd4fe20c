/**
 * Max-min fair sharing of the hosts' NICs (engine/links.ts), checked by its characterisation rather than
 * by the algorithm: the rates are feasible (no NIC direction carries more than its capacity), and every
 * flow has a bottleneck, a NIC direction it uses that is full (to within the rounding down of each rate)
 * and on which no other flow gets more. Added after mutation testing showed that only the engine's
 * scenarios exercised the progressive filling, never with several unequal bottlenecks.
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { maxMinFairRates, type Flow } from "../../engine/links.js"

const resourcesOf = (flow: Flow) => [`${flow.source}:tx`, `${flow.destination}:rx`]

const poolArb = fc
  .record({
    capacities: fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 2_000_000_000 })), {
      minLength: 2,
      maxLength: 6
    }),
    pairs: fc.array(fc.tuple(fc.nat(), fc.nat()), { minLength: 1, maxLength: 10 })
  })
  .map(({ capacities, pairs }) => {
    const hosts = capacities.map((_, i) => `h${i}`)
    const flows: Flow[] = pairs.map(([a, b], i) => {
      const source = a % hosts.length
      const destination = (source + 1 + (b % (hosts.length - 1))) % hosts.length
      return { id: `m${i}`, source: hosts[source]!, destination: hosts[destination]! }
    })
    const capacity = new Map(hosts.map((h, i) => [h, capacities[i]!]))
    return { flows, capacityBytesPerS: (host: string) => capacity.get(host)! }
  })

describe("maxMinFairRates", () => {
  it("two equal flows through one host each get half of it; a flow alone gets all of it", () => {
    const links = { capacityBytesPerS: () => 1_000 }
    expect(maxMinFairRates([{ id: "a", source: "h1", destination: "h2" }], links)).toEqual([1_000])
    expect(
      maxMinFairRates(
        [
          { id: "a", source: "h1", destination: "h2" },
          { id: "b", source: "h1", destination: "h3" }
        ],
        links
      )
    ).toEqual([500, 500])
  })

  it("a flow held back by a slow link leaves the rest of a shared link to the others", () => {
    const capacity: Record<string, number> = { h1: 900, h2: 100, h3: 900 }
    const rates = maxMinFairRates(
      [
        { id: "slow", source: "h1", destination: "h2" },
        { id: "a", source: "h1", destination: "h3" },
        { id: "b", source: "h1", destination: "h3" }
      ],
      { capacityBytesPerS: (host) => capacity[host]! }
    )
    expect(rates).toEqual([100, 400, 400])
  })

  it("is feasible and max-min fair for any pool of flows (every flow has a full bottleneck it gets the most of)", () => {
    fc.assert(
      fc.property(poolArb, ({ flows, capacityBytesPerS }) => {
        const rates = maxMinFairRates(flows, { capacityBytesPerS })
        expect(rates).toHaveLength(flows.length)
        const used = new Map<string, number>()
        const users = new Map<string, number[]>()
        flows.forEach((flow, i) => {
          expect(Number.isSafeInteger(rates[i]) && rates[i]! >= 0).toBe(true)
          for (const r of resourcesOf(flow)) {
            used.set(r, (used.get(r) ?? 0) + rates[i]!)
            users.set(r, [...(users.get(r) ?? []), i])
          }
        })
        const capacityOf = (resource: string) => capacityBytesPerS(resource.slice(0, -3))
        for (const [resource, total] of used) expect(total).toBeLessThanOrEqual(capacityOf(resource))
        flows.forEach((flow, i) => {
          const bottleneck = resourcesOf(flow).find((r) => {
            const sharing = users.get(r)!
            const full = capacityOf(r) - used.get(r)! < sharing.length
            return full && sharing.every((j) => rates[j]! <= rates[i]!)
          })
          expect(bottleneck, `flow ${flow.id} (${flow.source} → ${flow.destination}) has no bottleneck`).toBeDefined()
        })
      }),
      { numRuns: 500, seed: 20261125 }
    )
  })
})
