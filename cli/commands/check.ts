/**
 * `xenpool check [--runs N] [--seed N] [--property NAME] [--path P] [--workers N] [--out DIR] [--json]`:
 * the property suite at scale (DESIGN.md §7), on worker processes (one per core by default; the report is
 * the same for any count: api/checkWorkers.ts). Every property runs with the same root seed; a failure
 * prints the property, the seed and path that reproduce it and the shrunk counterexample in words, and
 * writes the failing case as a trace, `DIR/xenpool-check-<property>-<seed>.trace.jsonl`, that
 * `xenpool replay` runs on the engine to the same events (checked before it is offered:
 * properties/counterexample.ts). A case whose trace would not give the same events is written as the
 * scenario, `...-<seed>.json`, for `xenpool simulate`. The cases of `pool-model` (command sequences) and
 * `evacuation-plan` (pool states) are not scenarios: no file, the printed seed and path replay them. The
 * exit code is non-zero on any failure.
 */
import { Command, Options } from "@effect/cli"
import { Effect, Option } from "effect"
import { availableParallelism } from "node:os"
import { resolve } from "node:path"
import { check, CHECK_WORKERS_MAX, writeCounterexamples, type CounterexampleFiles } from "../../api/check.js"
import { findProperty, propertyNames, type CheckReport } from "../../properties/index.js"
import { printLine } from "../output.js"
import { XenpoolError, UsageFailure } from "../errors.js"
import { jsonOption, printJson, quietOption } from "../shared.js"
import { makeProgress } from "../progress.js"

const RUNS_DEFAULT = 100
const RUNS_MAX = 10_000_000
const SEED_MAX = 2 ** 31 - 1
const WORKERS_DEFAULT = Math.min(availableParallelism(), CHECK_WORKERS_MAX)

const runsOption = Options.integer("runs").pipe(
  Options.withDescription(`runs per property (default ${RUNS_DEFAULT})`),
  Options.optional
)
const seedOption = Options.integer("seed").pipe(
  Options.withDescription(`root seed, 0 to ${SEED_MAX} (default: a new one, printed)`),
  Options.optional
)
const propertyOption = Options.text("property").pipe(
  Options.withDescription(`run only this property: ${propertyNames.join(", ")}`),
  Options.optional
)
const pathOption = Options.text("path").pipe(
  Options.withDescription("replay the one case at this path (from a failure report; needs --property and --seed)"),
  Options.optional
)
const workersOption = Options.integer("workers").pipe(
  Options.withDescription(
    `worker processes sharing the properties' runs, 1 to ${CHECK_WORKERS_MAX} (default: one per core, ${WORKERS_DEFAULT} here); the same seed gives the same report for any count`
  ),
  Options.optional
)
const outOption = Options.text("out").pipe(
  Options.withDescription(
    "where to write each counterexample as a trace for xenpool replay (default: the working directory)"
  ),
  Options.optional
)

interface CheckArgs {
  readonly runs: number
  readonly seed: number
  readonly property: string | undefined
  readonly path: string | undefined
  readonly workers: number
}

const validate = (given: {
  readonly runs: Option.Option<number>
  readonly seed: Option.Option<number>
  readonly property: Option.Option<string>
  readonly path: Option.Option<string>
  readonly workers: Option.Option<number>
}) =>
  Effect.gen(function* () {
    const n = Option.getOrElse(given.runs, () => RUNS_DEFAULT)
    if (n < 1 || n > RUNS_MAX)
      return yield* new UsageFailure({
        what: "bad --runs",
        where: `--runs ${n}`,
        expected: `a count from 1 to ${RUNS_MAX}`
      })
    // The CLI is outside the deterministic core: a new root seed each run, unless one is given.
    const s = Option.getOrElse(given.seed, () => Math.floor(Math.random() * SEED_MAX))
    if (s < 0 || s > SEED_MAX)
      return yield* new UsageFailure({
        what: "bad --seed",
        where: `--seed ${s}`,
        expected: `an integer from 0 to ${SEED_MAX}`
      })
    const name = Option.getOrUndefined(given.property)
    if (name !== undefined && !findProperty(name))
      return yield* new UsageFailure({
        what: "unknown property",
        where: `--property ${name}`,
        expected: `one of ${propertyNames.join(", ")}`
      })
    const replay = Option.getOrUndefined(given.path)
    if (replay !== undefined && (name === undefined || Option.isNone(given.seed)))
      return yield* new UsageFailure({
        what: "--path needs the case it came from",
        where: `--path ${replay}`,
        expected: "--property NAME and --seed N as the failure report printed them"
      })
    const workers = Option.getOrElse(given.workers, () => WORKERS_DEFAULT)
    if (workers < 1 || workers > CHECK_WORKERS_MAX)
      return yield* new UsageFailure({
        what: "bad --workers",
        where: `--workers ${workers}`,
        expected: `a count of workers from 1 to ${CHECK_WORKERS_MAX}`
      })
    return { runs: n, seed: s, property: name, path: replay, workers } satisfies CheckArgs
  })

const shellQuote = (s: string) => (/^[\w./:-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`)

const filesInWords = (files: CounterexampleFiles | undefined): ReadonlyArray<string> => {
  if (files === undefined) return []
  const lines: string[] = []
  if (files.trace !== undefined)
    lines.push(
      `trace written to ${files.trace} (its replay gives the failing run's ${files.events} events)`,
      `replay it: xenpool replay ${shellQuote(files.trace)} --store memory:`
    )
  if (files.note !== undefined) lines.push(files.note)
  if (files.scenario !== undefined)
    lines.push(
      `scenario written to ${files.scenario}`,
      `run it:    xenpool simulate ${shellQuote(files.scenario)} --store memory:`
    )
  return lines.map((line) => `  ${line}`)
}

const formatSeconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`

export const formatReport = (report: CheckReport, files: ReadonlyMap<string, CounterexampleFiles>): string => {
  const width = Math.max(...report.properties.map((p) => p.name.length))
  const lines = [`xenpool check: seed ${report.seed}, ${report.runs} runs per property`, ""]
  for (const p of report.properties) {
    const verdict = p.ok ? `ok    ${p.runs} runs` : `FAIL  after ${p.runs} runs`
    lines.push(`  ${p.name.padEnd(width)}  ${verdict}  (${formatSeconds(p.elapsedMs)})`)
  }
  for (const p of report.properties.filter((q) => !q.ok)) {
    lines.push("", `FAILED ${p.name}: seed ${p.seed}${p.path === undefined ? "" : `, path ${p.path}`}`)
    lines.push(...(p.counterexample ?? "").split("\n").map((l) => `  ${l}`))
    const replay = `xenpool check --property ${p.name} --seed ${p.seed}${p.path === undefined ? "" : ` --path ${shellQuote(p.path)}`}`
    lines.push(`  reproduce: ${replay}`)
    lines.push(...filesInWords(files.get(p.name)))
  }
  const failed = report.properties.filter((p) => !p.ok).length
  lines.push(
    "",
    failed === 0
      ? `all ${report.properties.length} properties hold`
      : `${failed} of ${report.properties.length} properties failed`
  )
  return lines.join("\n")
}

export const checkCommand = Command.make(
  "check",
  {
    runs: runsOption,
    seed: seedOption,
    property: propertyOption,
    path: pathOption,
    workers: workersOption,
    out: outOption,
    json: jsonOption,
    quiet: quietOption
  },
  ({ runs, seed, property, path, workers, out, json, quiet }) =>
    Effect.gen(function* () {
      const args = yield* validate({ runs, seed, property, path, workers })
      const progress = makeProgress(!json && !quiet)
      // Progress over runs × properties: each property's runs count once (shrinking adds none).
      const selected = args.property === undefined ? propertyNames.length : 1
      const done = new Map<string, number>()
      let doneTotal = 0
      // Always on worker processes, even one: a run is synchronous, and only then is Ctrl-C heard at once.
      const report = yield* check({
        runs: args.runs,
        seed: args.seed,
        workers: args.workers,
        ...(args.property === undefined ? {} : { properties: [args.property] }),
        ...(args.path === undefined ? {} : { path: args.path }),
        onProgress: (name, run, total) => {
          const runs = Math.min(run, total)
          doneTotal += runs - (done.get(name) ?? 0)
          done.set(name, runs)
          const label = `checking ${name}: ${run <= total ? `run ${run} of ${total}` : `shrinking (${run - total})`}`
          progress.update(label, doneTotal, args.runs * selected)
        }
      })
      progress.stop()
      const files = writeCounterexamples(report, resolve(Option.getOrElse(out, () => ".")))
      if (json) {
        yield* printJson({
          seed: report.seed,
          runs: report.runs,
          properties: report.properties.map((p) => ({
            name: p.name,
            runs: p.runs,
            ok: p.ok,
            seed: p.seed,
            ...(p.path === undefined ? {} : { path: p.path }),
            ...(p.counterexample === undefined ? {} : { counterexample: p.counterexample }),
            ...files.get(p.name)
          }))
        })
      } else yield* printLine(formatReport(report, files))
      const failed = report.properties.filter((p) => !p.ok).map((p) => p.name)
      if (failed.length > 0)
        return yield* new XenpoolError({
          what: `${failed.length} ${failed.length === 1 ? "property" : "properties"} failed`,
          where: failed.join(", "),
          expected: `every property to hold (reproduce with --seed ${report.seed})`
        })
    })
).pipe(
  Command.withDescription(
    "run the property suite at scale: generated pools, workloads and faults against the pool's invariants; on failure, the seed, path and shrunk counterexample, written as a trace that xenpool replay reproduces"
  )
)
