/**
 * The package as a user gets it: `npm pack`, installed into a new project, compiled there with
 * `strict: true` under `moduleResolution` node16 and bundler (no `any` leaking: consumer/no-any.ts), and
 * each program of examples/ run against it (not against the source tree). Slow (an install that builds
 * better-sqlite3), so it runs once, in one file.
 */
import { execFile } from "node:child_process"
import { cpSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { promisify } from "node:util"
import { beforeAll, describe, expect, it } from "vitest"

const run = promisify(execFile)
const root = resolve(import.meta.dirname, "../..")
const examples = join(root, "examples")
const npm = process.platform === "win32" ? "npm.cmd" : "npm"

let project = ""
let tarball = ""
let tarballFiles: ReadonlyArray<string> = []

const tsconfig = (moduleResolution: "node16" | "bundler") => ({
  compilerOptions: {
    target: "ES2022",
    module: moduleResolution === "node16" ? "node16" : "esnext",
    moduleResolution,
    strict: true,
    skipLibCheck: false,
    types: ["node"],
    outDir: `out-${moduleResolution}`,
    ...(moduleResolution === "bundler" ? { noEmit: true } : {})
  },
  include: ["*.ts"]
})

beforeAll(async () => {
  project = mkdtempSync(join(tmpdir(), "xenpool-consumer-"))
  // --ignore-scripts: `npm test` has just built dist; packing must not build it again.
  const packed = await run(npm, ["pack", "--ignore-scripts", "--json", "--pack-destination", project], { cwd: root })
  const info = JSON.parse(packed.stdout) as ReadonlyArray<{ filename: string; files: ReadonlyArray<{ path: string }> }>
  tarball = join(project, info[0]!.filename)
  tarballFiles = info[0]!.files.map((f) => f.path)
  writeFileSync(join(project, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }))
  await run(
    npm,
    ["install", "--no-audit", "--no-fund", "--prefer-offline", tarball, "typescript@~5.9.3", "@types/node@^20.19.0"],
    { cwd: project, maxBuffer: 64 * 1024 * 1024 }
  )
  for (const file of readdirSync(examples).filter((f) => f.endsWith(".ts")))
    cpSync(join(examples, file), join(project, file))
  cpSync(join(import.meta.dirname, "consumer/no-any.ts"), join(project, "no-any.ts"))
  mkdirSync(join(project, "bundler"))
}, 900_000)

const tsc = (config: string) =>
  run(process.execPath, [join(project, "node_modules/typescript/bin/tsc"), "-p", config], { cwd: project }).then(
    () => "",
    (e: { stdout?: string }) => e.stdout ?? String(e)
  )

describe("the packed package", () => {
  it("ships the API's declarations, the CLI and check's worker, the scenarios, the data, docs, LICENSE and README; no bench, no source maps", () => {
    for (const file of [
      "package.json",
      "LICENSE",
      "README.md",
      "dist/api/index.js",
      "dist/api/index.d.ts",
      "dist/api/effect.js",
      "dist/api/effect.d.ts",
      "dist/xenpool.mjs",
      "dist/xenpool-check-worker.mjs",
      "simulations/scenarios/rolling-maintenance.json",
      "simulations/data/planetlab-20110303-cpu.csv",
      "docs/time-travel.md"
    ])
      expect(tarballFiles).toContain(file)
    expect(tarballFiles.filter((f) => f.startsWith("dist/bench/") || f.endsWith(".map"))).toEqual([])
  })

  it("compiles the examples and a no-any check with strict: true under moduleResolution node16", async () => {
    writeFileSync(join(project, "tsconfig.json"), JSON.stringify(tsconfig("node16")))
    expect(await tsc("tsconfig.json")).toBe("")
  }, 300_000)

  it("compiles them under moduleResolution bundler too", async () => {
    writeFileSync(join(project, "tsconfig.bundler.json"), JSON.stringify(tsconfig("bundler")))
    expect(await tsc("tsconfig.bundler.json")).toBe("")
  }, 300_000)

  const example = async (name: string, args: ReadonlyArray<string> = []) =>
    (
      await run(process.execPath, [join(project, "out-node16", `${name}.js`), ...args], {
        cwd: project,
        timeout: 300_000
      })
    ).stdout

  it("example: a time-travel analysis (downtime per host, the busiest minute) over a stored pool", async () => {
    const out = await example("time-travel-analysis", [`sqlite:${join(project, "pools.db")}`])
    expect(out).toMatch(/^pool rolling-1: downtime of the migrations into each host$/m)
    expect(out).toMatch(/^ {2}h[1-4] {2}[0-9]+\.[0-9]{2} ms$/m)
    expect(out).toMatch(
      /^busiest minute: [0-9]+m–[0-9]+m with [0-9]+ events; halfway through it \(revision [0-9]+\):$/m
    )
    // The same store, read again with the pool named: the same analysis.
    const again = await example("time-travel-analysis", [`sqlite:${join(project, "pools.db")}`, "rolling-1"])
    expect(again).toBe(out)
  }, 300_000)

  it("example: a pre-copy policy of one's own beside xen on the write-heavy scenario, both round tables", async () => {
    const out = await example("migration-policy")
    const xen = /^xen: 6 rounds, .* downtime [0-9]+ ms$/m
    const mine = /^stop-when-outpaced: ([0-9]+) rounds, .* downtime [0-9]+ ms$/m
    expect(out).toMatch(xen)
    expect(out).toMatch(mine)
    // xen's table: five live rounds and the paused one; the policy of one's own stops sooner.
    const tables = out.split(/^(?=\S)/m)
    expect(tables[0]!.match(/^ +[0-9]+ {2}live /gm)).toHaveLength(5)
    expect(tables[0]!.match(/^ +[0-9]+ {2}paused/gm)).toHaveLength(1)
    expect(Number(mine.exec(out)![1])).toBeLessThan(6)
  }, 300_000)

  it("example: a consolidation controller of one's own beside the built-in on the PlanetLab scenario", async () => {
    const out = await example("consolidation-controller")
    const lines = out.trim().split("\n")
    expect(lines[0]).toMatch(/^minimise-migrations: [0-9]+ migrations, hosts in use min [0-9]+, max 20, mean [0-9.]+$/)
    expect(lines[2]).toMatch(/^first-fit: [0-9]+ migrations, hosts in use min [0-9]+, max 20, mean [0-9.]+$/)
    // Hosts in use every hour of the day (24 samples) for each.
    expect(lines[1]!.trim().split(" ").length).toBeGreaterThanOrEqual(24)
    expect(lines[3]!.trim().split(" ").length).toBeGreaterThanOrEqual(24)
  }, 300_000)
})
