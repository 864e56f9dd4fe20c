/**
 * `migrate-model --phases none` is the pure model: its output, text and JSON, is byte for byte what
 * xenpool printed before phases existed. The fixtures were captured from the previous build (main's
 * dist, commit 0c6ca29) on twelve option sets covering every policy, both dirtying models, latency, page
 * size, idle and non-converging guests (test/fixtures/migrate-model-pure/cases.json).
 */
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { xenpool } from "./run.js"

const dir = join(import.meta.dirname, "..", "fixtures", "migrate-model-pure")
const cases = JSON.parse(readFileSync(join(dir, "cases.json"), "utf8")) as ReadonlyArray<ReadonlyArray<string>>

describe("migrate-model --phases none prints exactly what the pure model printed before phases", () => {
  cases.forEach((args, i) => {
    it(`case ${i}: ${args.join(" ")}`, () => {
      for (const json of [false, true]) {
        const r = xenpool(["migrate-model", ...args, "--phases", "none", ...(json ? ["--json"] : [])])
        expect(r.status).toBe(0)
        expect(r.stdout).toBe(readFileSync(join(dir, `case${i}.${json ? "json" : "txt"}`), "utf8"))
      }
    })
  })

  it("without --phases none the same options print another story (the fixtures can tell them apart)", () => {
    const r = xenpool(["migrate-model", ...cases[0]!])
    expect(r.stdout).not.toBe(readFileSync(join(dir, "case0.txt"), "utf8"))
    expect(r.stdout).toContain("setup")
  })
})
