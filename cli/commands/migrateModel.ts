/**
 * `xenpool migrate-model`: one live migration on a link of constant bandwidth, printed round by round
 * (DESIGN.md §7). Every quantity carries a unit; a bad one is refused naming the option.
 */
import { Command, Options } from "@effect/cli"
import { Effect, Either, Option } from "effect"
import {
  DEFAULT_PAGE_SIZE_BYTES,
  formatBytes,
  formatDurationUs,
  parseDurationUs,
  parsePercent,
  parseRateBytesPerS,
  parseSizeBytes,
  type UnitError
} from "../../domain/units.js"
import { runSingleMigration, type SingleMigrationReport } from "../../engine/migration/index.js"
import { phasesChoices, type PhasesChoice } from "../../engine/migration/phases.js"
import { DEFAULT_POLICY, findPolicy, ignoredParameter, policyNames } from "../../engine/migration/policies/index.js"
import type { PolicyDefinition } from "../../engine/migration/policy.js"
import { isModulePath, loadPolicyModule } from "../../api/policyModule.js"
import { UsageFailure } from "../errors.js"
import { jsonOption, printJson, table } from "../shared.js"
import { printLine } from "../output.js"

const unitOption = (name: string, description: string) => Options.text(name).pipe(Options.withDescription(description))

const parsed = <A>(option: string, input: string, result: Either.Either<A, UnitError>) =>
  Either.isRight(result)
    ? Effect.succeed(result.right)
    : Effect.fail(
        new UsageFailure({ what: `bad --${option}`, where: input, expected: `expected ${result.left.expected}` })
      )

/** What decides whether an option is read: the policy, the model, and whether the guest writes at all. */
interface Chosen {
  readonly policy: string
  readonly model: "rate" | "pages"
  readonly dirtyRateBytesPerS: number
  readonly maxDowntime: Option.Option<string>
  readonly workingSet: Option.Option<string>
  readonly seed: Option.Option<number>
  readonly phases: PhasesChoice
  readonly state: Option.Option<string>
  readonly untouched: Option.Option<string>
}

/**
 * The options given that the chosen policy or model would ignore, each with why, naming the option that
 * makes it ignored. The policies' own list (engine/migration/policy.ts) says which reads --max-downtime;
 * an idle guest (no --dirty-rate, or 0) writes nothing, so neither its working set nor a seed for its
 * writes changes anything; the rate model draws no random numbers.
 */
export const ignoredOptions = (
  o: Chosen,
  own: ReadonlyArray<PolicyDefinition> = []
): ReadonlyArray<{ readonly option: string; readonly expected: string }> => {
  const ignored: Array<{ option: string; expected: string }> = []
  const downtime = ignoredParameter(o.policy, "maxDowntime", { parameter: "--max-downtime", policy: "--policy" }, own)
  if (Option.isSome(o.maxDowntime) && downtime !== undefined)
    ignored.push({ option: `--max-downtime ${o.maxDowntime.value}`, expected: downtime })
  const idle = o.dirtyRateBytesPerS === 0
  if (Option.isSome(o.workingSet) && idle)
    ignored.push({
      option: `--working-set ${o.workingSet.value}`,
      expected:
        "no --working-set without a --dirty-rate above 0: an idle guest writes nothing, so its working set is ignored"
    })
  if (Option.isSome(o.seed) && o.model === "rate")
    ignored.push({
      option: `--seed ${o.seed.value}`,
      expected: "no --seed with --model rate: the rate model draws no random numbers; --model pages uses it"
    })
  else if (Option.isSome(o.seed) && idle)
    ignored.push({
      option: `--seed ${o.seed.value}`,
      expected: "no --seed without a --dirty-rate above 0: the seed draws an idle guest's writes, and it writes nothing"
    })
  if (Option.isSome(o.state) && o.phases === "none")
    ignored.push({
      option: `--state ${o.state.value}`,
      expected: "no --state with --phases none: the pure model sends no vCPU or device state"
    })
  if (Option.isSome(o.untouched) && o.model === "pages" && o.policy === "max-downtime")
    ignored.push({
      option: `--untouched ${o.untouched.value}`,
      expected:
        "no --untouched with --model pages and --policy max-downtime: zero pages are modelled by the rate model only"
    })
  return ignored
}

const refuseIgnored = (ignored: ReturnType<typeof ignoredOptions>) => {
  const first = ignored[0]
  return first === undefined
    ? Effect.void
    : Effect.fail(
        new UsageFailure({ what: "option ignored", where: first.option, expected: `expected ${first.expected}` })
      )
}

export const migrateModelCommand = Command.make(
  "migrate-model",
  {
    memory: unitOption("memory", "guest memory, e.g. 4GiB, 4096MiB, 1048576pages"),
    bandwidth: unitOption("bandwidth", "link bandwidth, e.g. 1Gbit/s, 125MiB/s"),
    dirtyRate: unitOption(
      "dirty-rate",
      "rate the guest dirties memory, e.g. 100MiB/s, 2000pages/s (default 0: idle)"
    ).pipe(Options.optional),
    workingSet: unitOption(
      "working-set",
      "writable working set: a size or a share of memory, e.g. 1GiB or 90% (default all)"
    ).pipe(Options.optional),
    policy: Options.text("policy").pipe(
      Options.withDescription(
        `pre-copy policy: ${policyNames.join(", ")} (default ${DEFAULT_POLICY}), or a module exporting a policy of your own, e.g. ./my-policy.js`
      ),
      Options.withDefault(DEFAULT_POLICY)
    ),
    maxDowntime: unitOption("max-downtime", "max-downtime policy's target, e.g. 30ms (default 30ms)").pipe(
      Options.optional
    ),
    model: Options.choice("model", ["rate", "pages"]).pipe(
      Options.withDescription("dirtying model: rate (aggregate) or pages (bitmap, page versions)"),
      Options.withDefault("rate" as const)
    ),
    pageSize: unitOption("page-size", "page size (default 4KiB)").pipe(Options.optional),
    latency: unitOption("latency", "link latency added to each round (default 0us)").pipe(Options.optional),
    seed: Options.integer("seed").pipe(
      Options.withDescription("root seed of the pages model's writes (default 1)"),
      Options.optional
    ),
    phases: Options.choice("phases", phasesChoices).pipe(
      Options.withDescription(
        "setup and the stop-and-copy parts (suspend, state, restore): default (sourced, docs/migration.md) or none (the pure model)"
      ),
      Options.withDefault("default" as const)
    ),
    state: unitOption(
      "state",
      "vCPU and device-model state sent while paused (default 1.45MiB: docs/migration.md)"
    ).pipe(Options.optional),
    untouched: unitOption(
      "untouched",
      "memory never written since boot, a size or a share: zero pages under max-downtime (default 0)"
    ).pipe(Options.optional),
    json: jsonOption
  },
  (options) =>
    Effect.gen(function* () {
      const own = isModulePath(options.policy) ? [yield* loadPolicyModule(options.policy)] : []
      if (own.length === 0 && findPolicy(options.policy) === undefined)
        return yield* new UsageFailure({
          what: "bad option",
          where: `--policy ${options.policy}`,
          expected: `one of ${policyNames.join(", ")}, or a module exporting a policy, e.g. ./my-policy.js (see xenpool migrate-model --help)`
        })
      const o = { ...options, policy: own[0]?.name ?? options.policy }
      const pageSizeBytes = Option.isSome(o.pageSize)
        ? yield* parsed("page-size", o.pageSize.value, parseSizeBytes(o.pageSize.value))
        : DEFAULT_PAGE_SIZE_BYTES
      if (pageSizeBytes <= 0)
        return yield* Effect.fail(
          new UsageFailure({ what: "bad --page-size", where: String(pageSizeBytes), expected: "a positive size" })
        )
      const memoryBytes = yield* parsed("memory", o.memory, parseSizeBytes(o.memory, pageSizeBytes))
      if (memoryBytes < pageSizeBytes) {
        return yield* Effect.fail(
          new UsageFailure({ what: "bad --memory", where: o.memory, expected: "at least one page" })
        )
      }
      const bandwidthBytesPerS = yield* parsed("bandwidth", o.bandwidth, parseRateBytesPerS(o.bandwidth, pageSizeBytes))
      if (bandwidthBytesPerS <= 0) {
        return yield* Effect.fail(
          new UsageFailure({ what: "bad --bandwidth", where: o.bandwidth, expected: "a positive rate" })
        )
      }
      const dirtyRateBytesPerS = Option.isSome(o.dirtyRate)
        ? yield* parsed("dirty-rate", o.dirtyRate.value, parseRateBytesPerS(o.dirtyRate.value, pageSizeBytes))
        : 0
      const shareOrSize = (option: string, input: string) =>
        input.trim().endsWith("%")
          ? Effect.map(
              parsed(option, input, parsePercent(input)),
              (pct) => Math.floor((memoryBytes * pct) / 100 / pageSizeBytes) * pageSizeBytes
            )
          : parsed(option, input, parseSizeBytes(input, pageSizeBytes))
      const untouchedBytes = Option.isNone(o.untouched) ? 0 : yield* shareOrSize("untouched", o.untouched.value)
      if (untouchedBytes > memoryBytes) {
        return yield* Effect.fail(
          new UsageFailure({
            what: "bad --untouched",
            where: o.untouched.pipe(Option.getOrElse(() => "")),
            expected: "at most --memory"
          })
        )
      }
      const workingSetBytes = Option.isNone(o.workingSet)
        ? memoryBytes - untouchedBytes
        : o.workingSet.value.trim().endsWith("%")
          ? Math.floor(
              (memoryBytes * (yield* parsed("working-set", o.workingSet.value, parsePercent(o.workingSet.value)))) / 100
            )
          : yield* parsed("working-set", o.workingSet.value, parseSizeBytes(o.workingSet.value, pageSizeBytes))
      if (workingSetBytes > memoryBytes) {
        return yield* Effect.fail(
          new UsageFailure({
            what: "bad --working-set",
            where: Option.getOrElse(o.workingSet, () => ""),
            expected: "at most --memory"
          })
        )
      }
      if (workingSetBytes + untouchedBytes > memoryBytes) {
        return yield* Effect.fail(
          new UsageFailure({
            what: "bad --working-set",
            where: Option.getOrElse(o.workingSet, () => ""),
            expected: "at most --memory minus --untouched: a page written by the workload is not untouched"
          })
        )
      }
      const stateBytes = Option.isSome(o.state)
        ? yield* parsed("state", o.state.value, parseSizeBytes(o.state.value, pageSizeBytes))
        : undefined
      const maxDowntimeUs = Option.isSome(o.maxDowntime)
        ? yield* parsed("max-downtime", o.maxDowntime.value, parseDurationUs(o.maxDowntime.value))
        : 30_000
      const latencyUs = Option.isSome(o.latency)
        ? yield* parsed("latency", o.latency.value, parseDurationUs(o.latency.value))
        : 0
      yield* refuseIgnored(ignoredOptions({ ...o, dirtyRateBytesPerS }, own))
      const result = runSingleMigration({
        memoryBytes,
        bandwidthBytesPerS,
        dirtyRateBytesPerS,
        workingSetBytes,
        policy: o.policy,
        extraPolicies: own,
        maxDowntimeUs,
        model: o.model,
        pageSizeBytes,
        seed: Option.getOrElse(o.seed, () => 1),
        latencyUs,
        phases: o.phases,
        untouchedBytes,
        ...(stateBytes === undefined ? {} : { stateBytes })
      })
      if (o.json) return yield* printJson(result)
      yield* printLine(
        `${result.policy} policy, ${result.model} model: ${formatBytes(result.memoryBytes)} at ${formatBytes(bandwidthBytesPerS)}/s, dirtying ${formatBytes(dirtyRateBytesPerS)}/s`
      )
      yield* printLine(roundTable(result))
      yield* printLine(summaryLine(result))
    })
).pipe(Command.withDescription("model one live migration round by round (pre-copy policy, dirtying model, link)"))

const count = (n: number) => n.toLocaleString("en-US")

/**
 * The round table. Without phases and zero pages, exactly the pure model's table; otherwise with the
 * parts (setup, suspend, restore) as rows in their place and a column for what a round sent besides pages.
 */
const roundTable = (result: SingleMigrationReport): string => {
  const roundRow = (r: SingleMigrationReport["rounds"][number]) => [
    String(r.index),
    r.live ? "live" : "paused",
    count(r.pagesSent),
    formatBytes(r.bytesSent),
    formatDurationUs(r.durationUs),
    count(r.dirtyPagesAfter)
  ]
  const header = ["round", "live", "pages sent", "bytes sent", "duration", "dirty after"]
  const phases = result.phases
  const extras = phases !== undefined || result.rounds.some((r) => r.zeroPages !== undefined)
  if (!extras) return table(header, result.rounds.map(roundRow))
  const besides = (r: SingleMigrationReport["rounds"][number]) =>
    [
      r.zeroPages === undefined ? "" : `${count(r.zeroPages)} zero pages`,
      r.stateBytes === undefined ? "" : `state ${formatBytes(r.stateBytes)}`
    ]
      .filter((s) => s !== "")
      .join(", ")
  const part = (name: string, live: boolean, us: number) => [
    name,
    live ? "live" : "paused",
    "-",
    "-",
    formatDurationUs(us),
    "-",
    ""
  ]
  const rows: string[][] = []
  if (phases !== undefined && phases.setupUs > 0) rows.push(part("setup", true, phases.setupUs))
  for (const r of result.rounds) {
    if (!r.live && phases !== undefined && phases.suspendUs > 0) rows.push(part("suspend", false, phases.suspendUs))
    rows.push([...roundRow(r), besides(r)])
  }
  if (phases !== undefined && phases.restoreUs > 0) rows.push(part("restore", false, phases.restoreUs))
  return table([...header, "besides pages"], rows)
}

/** The closing line; with phases it says what the total and the downtime are made of. */
const summaryLine = (result: SingleMigrationReport): string => {
  const sent = `sent ${formatBytes(result.bytesSent)} (${count(result.pagesSent)} pages), stopped by ${result.stopReason}`
  const phases = result.phases
  if (phases === undefined)
    return `total ${formatDurationUs(result.totalUs)}, downtime ${formatDurationUs(result.downtimeUs)}, ${sent}`
  const paused = result.rounds.find((r) => !r.live)
  const pausedUs = paused?.durationUs ?? 0
  return (
    `total ${formatDurationUs(result.totalUs)} (setup ${formatDurationUs(phases.setupUs)}), ` +
    `downtime ${formatDurationUs(result.downtimeUs)} = suspend ${formatDurationUs(phases.suspendUs)} + ` +
    `last pages and state ${formatDurationUs(pausedUs)} + restore ${formatDurationUs(phases.restoreUs)}, ${sent}`
  )
}
