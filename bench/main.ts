/**
 * `npm run bench [-- NAME] [-- --json]`: runs every benchmark whose name starts with NAME and prints a
 * table (or one JSON array) of `{ name, workload, value, unit, baseline?, ratio? }`.
 */
import type { Benchmark, BenchResult } from "./harness.js"
import { storeBenchmarks } from "./store.js"
import { migrationBenchmarks } from "./migration.js"
import { foldBenchmarks } from "./fold.js"
import { engineBenchmarks } from "./engine.js"
import { evacuateBenchmarks } from "./evacuate.js"
import { haBenchmarks } from "./ha.js"
import { kurrentBenchmarks } from "./kurrent.js"
import { propertyBenchmarks } from "./properties.js"
import { traceBenchmarks } from "./traces.js"
import { timeTravelBenchmarks } from "./timeTravel.js"
import { reliabilityBenchmarks } from "./reliability.js"
import { viewBenchmarks } from "./view.js"
import { branchBenchmarks } from "./branches.js"
import { planetlabBenchmarks } from "./planetlab.js"

const all: ReadonlyArray<Benchmark> = [
  ...storeBenchmarks,
  ...foldBenchmarks,
  ...migrationBenchmarks,
  ...engineBenchmarks,
  ...evacuateBenchmarks,
  ...planetlabBenchmarks,
  ...haBenchmarks,
  ...kurrentBenchmarks,
  ...propertyBenchmarks,
  ...traceBenchmarks,
  ...timeTravelBenchmarks,
  ...reliabilityBenchmarks,
  ...viewBenchmarks,
  ...branchBenchmarks
]

const formatValue = (value: number): string =>
  Number.isInteger(value) ? value.toLocaleString("en-US") : value.toLocaleString("en-US", { maximumFractionDigits: 3 })

const printTable = (results: ReadonlyArray<BenchResult>): void => {
  const rows = results.map((r) => [
    r.name,
    `${formatValue(r.value)} ${r.unit}`,
    r.baseline ? `${r.baseline.name} = ${formatValue(r.baseline.value)}` : "",
    r.ratio === undefined ? "" : `${r.ratio.toFixed(2)}x`,
    r.workload
  ])
  const header = ["name", "value", "baseline (same run)", "ratio", "workload"]
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)))
  const line = (cells: ReadonlyArray<string>) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join("  ")
      .trimEnd()
  console.log(line(header))
  console.log(line(widths.map((w) => "-".repeat(w))))
  for (const row of rows) console.log(line(row))
}

const main = async (): Promise<void> => {
  const args = process.argv.slice(2)
  const json = args.includes("--json")
  const prefixes = args.filter((a) => !a.startsWith("--"))
  const selected = all.filter(
    (b) => prefixes.length === 0 || prefixes.some((p) => b.name.startsWith(p) || p.startsWith(b.name))
  )
  const results: BenchResult[] = []
  for (const benchmark of selected) {
    if (!json) process.stderr.write(`running ${benchmark.name} ...\n`)
    const produced = await benchmark.run()
    results.push(
      ...produced.filter(
        (r) => prefixes.length === 0 || prefixes.some((p) => r.name.startsWith(p) || p.startsWith(r.name))
      )
    )
  }
  if (json) console.log(JSON.stringify(results, null, 2))
  else printTable(results)
}

main().catch((error: unknown) => {
  console.error(`bench: ${error instanceof Error ? error.message : String(error)}`)
  process.exit(1)
})
