/**
 * The folder layering of DESIGN.md §1 is checked by ESLint (eslint.config.js `layers`): an import of a
 * folder a folder may not use is an error naming what it may import; an allowed one passes.
 */
import { resolve } from "node:path"
import { ESLint } from "eslint"
import { describe, expect, it } from "vitest"
import { untyped } from "./untyped.js"

const root = resolve(import.meta.dirname, "../..")
const eslint = new ESLint({ cwd: root, overrideConfig: untyped })

const layeringErrors = async (file: string, from: string): Promise<ReadonlyArray<string>> => {
  const [result] = await eslint.lintText(`import "${from}"\n`, { filePath: resolve(root, file) })
  return (result?.messages ?? []).filter((m) => m.ruleId === "no-restricted-imports").map((m) => m.message)
}

describe("folder layering", () => {
  it.each([
    ["domain/x.ts", "../store/EventStore.js", "domain/ may import only nothing of ours"],
    ["engine/x.ts", "../projections/snapshots.js", "engine/ may import only domain"],
    ["engine/migration/x.ts", "../../simulations/scenario.js", "engine/ may import only domain"],
    ["store/x.ts", "../engine/prng.js", "store/ may import only domain"],
    ["projections/x.ts", "../cli/main.js", "projections/ may import only domain, store"],
    ["simulations/x.ts", "../api/index.js", "simulations/ may import only domain, engine"],
    [
      "properties/x.ts",
      "../api/index.js",
      "properties/ may import only domain, store, projections, engine, simulations"
    ],
    ["api/x.ts", "../cli/main.js", "api/ may import only"],
    ["cli/x.ts", "../bench/main.js", "cli/ may import only"]
  ])("%s may not import %s", async (file, from, message) => {
    const errors = await layeringErrors(file, from)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toContain(message)
  })

  it.each([
    ["store/x.ts", "../domain/ids.js"],
    ["engine/consolidation/x.ts", "../../domain/state.js"],
    ["simulations/trace/x.ts", "../../engine/simulation.js"],
    ["api/x.ts", "../properties/index.js"],
    ["cli/commands/x.ts", "../../api/index.js"],
    ["bench/x.ts", "../cli/main.js"],
    ["test/x.ts", "../api/index.js"]
  ])("%s may import %s", async (file, from) => {
    expect(await layeringErrors(file, from)).toEqual([])
  })
})
