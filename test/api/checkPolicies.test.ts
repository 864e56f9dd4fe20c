/**
 * `check({ policies })`: the scenario properties run with a user's own pre-copy policies in place of the
 * built-ins, so a user's policy is held to the pool's invariants; a fault in it is reported as a failing
 * property with its counterexample.
 */
import { describe, expect, it } from "vitest"
import { check, xenPolicy, type PolicyDefinition } from "../../api/index.js"
import { rejection } from "./rejection.js"

/** A definition that counts the migrations it was asked to make a policy for. */
const counted = (name: string, decide: Parameters<typeof xenPolicy>[0], roundsMax?: number) => {
  const made = { count: 0 }
  const definition: PolicyDefinition = {
    name,
    summary: name,
    parameters: [],
    make: () => {
      made.count++
      return xenPolicy(decide, name, roundsMax)
    }
  }
  return { definition, made }
}

const properties = ["memory-conservation", "no-lost-writes", "termination-bounds", "swarm-liveness"]

describe("check({ policies }): the invariants against a user's own policy", () => {
  it("a sound policy passes, and its migrations really ran it", async () => {
    const { definition, made } = counted("two-rounds", (stats) => (stats.iteration >= 2 ? "stop" : "continue"), 8)
    const report = await check({ runs: 12, seed: 5, properties, policies: [definition] })
    expect(report.properties.map((p) => [p.name, p.ok, p.runs])).toEqual(properties.map((name) => [name, true, 12]))
    expect(made.count).toBeGreaterThan(0)
  })

  it("a faulty policy fails with a counterexample whose scenario names it", async () => {
    const { definition } = counted("breaks-on-third", (stats) => {
      if (stats.iteration >= 3) throw new Error("breaks-on-third: no decision for iteration 3")
      return "continue"
    })
    const report = await check({ runs: 30, seed: 5, properties: ["termination-bounds"], policies: [definition] })
    const [verdict] = report.properties
    expect(verdict?.ok).toBe(false)
    expect(verdict?.counterexample).toMatch(/breaks-on-third: no decision for iteration 3/)
    expect(JSON.stringify(verdict?.scenario?.policy)).toMatch(/breaks-on-third/)
  })

  it("no policy, or one named like a built-in, is refused before anything runs", async () => {
    expect((await rejection(check({ policies: [] }))).message).toMatch(/^no policies/)
    const { definition } = counted("xen", () => "stop")
    expect((await rejection(check({ policies: [definition] }))).message).toMatch(
      /^extension named twice \(policy xen\)/
    )
  })
})
