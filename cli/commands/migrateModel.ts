/**
 * `xenpool migrate-model`: one live migration on a link of constant bandwidth, printed round by round
 * (DESIGN.md §7). Every quantity carries a unit; a bad one is refused naming the option.
 */
import { Command, Options } from "@effect/cli"
import { Effect, Option } from "effect"
import { formatBytes, formatDurationUs } from "../../domain/units.js"
import type { SingleMigrationReport } from "../../engine/migration/index.js"
import { phasesChoices } from "../../engine/migration/phases.js"
import { DEFAULT_POLICY, findPolicy, policyNames } from "../../engine/migration/policies/index.js"
import { MIGRATION_MODEL_FAILED, migrateModelSpelled, type Spelling } from "../../api/migrateModel.js"
import type { XenpoolError } from "../../api/errors.js"
import { isModulePath, loadPolicyModule } from "../../api/policyModule.js"
import { UsageFailure } from "../errors.js"
import { jsonOption, printJson, table } from "../shared.js"
import { printLine } from "../output.js"

const unitOption = (name: string, description: string) => Options.text(name).pipe(Options.withDescription(description))

/** The API's field names as this command's flags: `maxDowntime` is `--max-downtime`. */
const flags: Spelling = { field: (name) => `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}` }

/** The API's refusal of an option is this command's usage error (exit 2); a failed model is not. */
const asUsage = (e: XenpoolError) =>
  e.what === MIGRATION_MODEL_FAILED ? e : new UsageFailure({ what: e.what, where: e.where, expected: e.expected })

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
      const o = options
      const given = <A>(option: Option.Option<A>): A | undefined => Option.getOrUndefined(option)
      const run = yield* migrateModelSpelled(
        {
          memory: o.memory,
          bandwidth: o.bandwidth,
          dirtyRate: given(o.dirtyRate),
          workingSet: given(o.workingSet),
          untouched: given(o.untouched),
          policy: own[0] ?? o.policy,
          maxDowntime: given(o.maxDowntime),
          model: o.model,
          pageSize: given(o.pageSize),
          latency: given(o.latency),
          seed: given(o.seed),
          phases: o.phases,
          state: given(o.state)
        },
        flags
      ).pipe(Effect.mapError(asUsage))
      const result = run.report
      if (o.json) return yield* printJson(result)
      yield* printLine(
        `${result.policy} policy, ${result.model} model: ${formatBytes(result.memoryBytes)} at ${formatBytes(run.bandwidthBytesPerS)}/s, dirtying ${formatBytes(run.dirtyRateBytesPerS)}/s`
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
