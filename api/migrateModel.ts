/**
 * One live migration on a link of constant bandwidth, round by round (`xenpool migrate-model`): a pure
 * computation, no store. Sizes, rates and times are unit strings as the CLI takes them (`"4GiB"`,
 * `"1Gbit/s"`, `"30ms"`) or plain numbers in the unit the field's name says.
 */
import { Effect, Either } from "effect"
import {
  DEFAULT_PAGE_SIZE_BYTES,
  parseDurationUs,
  parsePercent,
  parseRateBytesPerS,
  parseSizeBytes,
  type UnitError
} from "../domain/units.js"
import {
  DEFAULT_POLICY,
  findPolicy,
  ignoredParameter,
  knownPolicyNames,
  MAX_DOWNTIME_US_DEFAULT,
  runSingleMigration,
  type SingleMigrationReport
} from "../engine/migration/index.js"
import type { PhasesChoice } from "../engine/migration/phases.js"
import type { PolicyDefinition } from "../engine/migration/policy.js"
import { XenpoolError } from "./errors.js"

/** A size: `"4GiB"`, `"1048576pages"`, or a number of bytes. */
export type Size = string | number
/** A rate: `"1Gbit/s"`, `"100MiB/s"`, or a number of bytes per second. */
export type Rate = string | number
/** A duration: `"30ms"`, `"1.5s"`, or a number of microseconds. */
export type Duration = string | number

export interface MigrateModelOptions {
  /** Guest memory. */
  readonly memory: Size
  /** The link's bandwidth. */
  readonly bandwidth: Rate
  /** How fast the guest dirties memory (default 0: idle). */
  readonly dirtyRate?: Rate
  /** The memory it writes to (default: all of it but `untouched`). */
  readonly workingSet?: Size
  /** Memory never written since boot (default 0). */
  readonly untouched?: Size
  /** A built-in's name (`xen`, `xen-legacy`, `max-downtime`) or a policy of your own (default `xen`). */
  readonly policy?: string | PolicyDefinition
  /** max-downtime's target (default 30ms). */
  readonly maxDowntime?: Duration
  /** `rate` (aggregate) or `pages` (a dirty bitmap, page versions); default `rate`. */
  readonly model?: "rate" | "pages"
  readonly pageSize?: Size
  /** Added to each round (default 0). */
  readonly latency?: Duration
  /** Root seed of the pages model's writes (default 1). */
  readonly seed?: number
  /** `default` (setup and stop-and-copy parts, docs/migration.md) or `none` (the pure model). */
  readonly phases?: PhasesChoice
  /** The VM's vCPU and device-model state (default: its policy family's). */
  readonly state?: Size
}

/** The `what` of a model that failed to run (not a refused option). @internal */
export const MIGRATION_MODEL_FAILED = "migration model failed"

/**
 * How the fields are named in messages: as the API's option names (`memory`, `maxDowntime`) or as the
 * command line's flags (`--memory`, `--max-downtime`). One set of checks serves both. @internal
 */
export interface Spelling {
  readonly field: (name: keyof MigrateModelOptions) => string
}

const apiSpelling: Spelling = { field: (name) => name }

/** The options given that the chosen policy or model would ignore, each with why. */
const ignoredOptions = (
  options: MigrateModelOptions,
  policy: string,
  dirtyRateBytesPerS: number,
  own: ReadonlyArray<PolicyDefinition>,
  spell: Spelling["field"]
): ReadonlyArray<{ readonly option: string; readonly expected: string }> => {
  const ignored: Array<{ option: string; expected: string }> = []
  const given = (name: keyof MigrateModelOptions, value: unknown) => `${spell(name)} ${String(value)}`
  const downtime = ignoredParameter(
    policy,
    "maxDowntime",
    { parameter: spell("maxDowntime"), policy: spell("policy") },
    own
  )
  if (options.maxDowntime !== undefined && downtime !== undefined)
    ignored.push({ option: given("maxDowntime", options.maxDowntime), expected: downtime })
  const idle = dirtyRateBytesPerS === 0
  const model = options.model ?? "rate"
  if (options.workingSet !== undefined && idle)
    ignored.push({
      option: given("workingSet", options.workingSet),
      expected: `no ${spell("workingSet")} without a ${spell("dirtyRate")} above 0: an idle guest writes nothing, so its working set is ignored`
    })
  if (options.seed !== undefined && model === "rate")
    ignored.push({
      option: given("seed", options.seed),
      expected: `no ${spell("seed")} with ${spell("model")} rate: the rate model draws no random numbers; ${spell("model")} pages uses it`
    })
  else if (options.seed !== undefined && idle)
    ignored.push({
      option: given("seed", options.seed),
      expected: `no ${spell("seed")} without a ${spell("dirtyRate")} above 0: the seed draws an idle guest's writes, and it writes nothing`
    })
  if (options.state !== undefined && options.phases === "none")
    ignored.push({
      option: given("state", options.state),
      expected: `no ${spell("state")} with ${spell("phases")} none: the pure model sends no vCPU or device state`
    })
  if (options.untouched !== undefined && model === "pages" && policy === "max-downtime")
    ignored.push({
      option: given("untouched", options.untouched),
      expected: `no ${spell("untouched")} with ${spell("model")} pages and ${spell("policy")} max-downtime: zero pages are modelled by the rate model only`
    })
  return ignored
}

/**
 * Models one live migration and returns its rounds, total time, downtime, bytes and stop reason: the
 * document `xenpool migrate-model --json` prints. An option the chosen policy or model would ignore is
 * refused rather than silently dropped.
 *
 * @example
 * const run = yield* migrateModel({ memory: "4GiB", bandwidth: "1Gbit/s", dirtyRate: "50MiB/s" })
 * run.rounds.length, run.downtimeUs
 */
export const migrateModel = (options: MigrateModelOptions): Effect.Effect<SingleMigrationReport, XenpoolError> =>
  Effect.map(migrateModelSpelled(options, apiSpelling), (run) => run.report)

/** The report, with the link's and the guest's rates as parsed (the CLI's title line prints them). @internal */
export interface ModelRun {
  readonly report: SingleMigrationReport
  readonly bandwidthBytesPerS: number
  readonly dirtyRateBytesPerS: number
}

/** `migrateModel`, its messages naming the fields as `spelling` says (the CLI's flags). @internal */
export const migrateModelSpelled = (
  options: MigrateModelOptions,
  spelling: Spelling
): Effect.Effect<ModelRun, XenpoolError> =>
  Effect.gen(function* () {
    const spell = spelling.field
    const bad = (field: keyof MigrateModelOptions, input: string | number, expected: string) =>
      new XenpoolError({ what: `bad ${spell(field)}`, where: String(input), expected })
    const unit = (
      field: keyof MigrateModelOptions,
      input: string | number,
      parse: (text: string) => Either.Either<number, UnitError>
    ) =>
      typeof input === "number"
        ? Number.isSafeInteger(input) && input >= 0
          ? Effect.succeed(input)
          : Effect.fail(bad(field, input, "expected an integer >= 0"))
        : Either.match(parse(input), {
            onLeft: (e) => Effect.fail(bad(field, input, `expected ${e.expected}`)),
            onRight: Effect.succeed
          })
    const policy = options.policy ?? DEFAULT_POLICY
    const own = typeof policy === "string" ? [] : [policy]
    const name = typeof policy === "string" ? policy : policy.name
    if (findPolicy(name, own) === undefined)
      return yield* new XenpoolError({
        what: `bad ${spell("policy")}`,
        where: name,
        expected: `one of ${knownPolicyNames().join(", ")}, or a policy of your own`
      })
    const pageSizeBytes =
      options.pageSize === undefined
        ? DEFAULT_PAGE_SIZE_BYTES
        : yield* unit("pageSize", options.pageSize, (t) => parseSizeBytes(t))
    if (pageSizeBytes <= 0) return yield* bad("pageSize", options.pageSize ?? "", "a positive size")
    const size = (field: keyof MigrateModelOptions, input: Size) =>
      unit(field, input, (t) => parseSizeBytes(t, pageSizeBytes))
    const rate = (field: keyof MigrateModelOptions, input: Rate) =>
      unit(field, input, (t) => parseRateBytesPerS(t, pageSizeBytes))
    const memoryBytes = yield* size("memory", options.memory)
    if (memoryBytes < pageSizeBytes) return yield* bad("memory", options.memory, "at least one page")
    const bandwidthBytesPerS = yield* rate("bandwidth", options.bandwidth)
    if (bandwidthBytesPerS <= 0) return yield* bad("bandwidth", options.bandwidth, "a positive rate")
    const dirtyRateBytesPerS = options.dirtyRate === undefined ? 0 : yield* rate("dirtyRate", options.dirtyRate)
    const isShare = (input: Size): input is string => typeof input === "string" && input.trim().endsWith("%")
    // --untouched as a share is whole pages; --working-set as a share is bytes, as the rate model takes it
    const untouchedBytes =
      options.untouched === undefined
        ? 0
        : isShare(options.untouched)
          ? Math.floor(
              (memoryBytes * (yield* unit("untouched", options.untouched, parsePercent))) / 100 / pageSizeBytes
            ) * pageSizeBytes
          : yield* size("untouched", options.untouched)
    if (untouchedBytes > memoryBytes)
      return yield* bad("untouched", options.untouched ?? "", `at most ${spell("memory")}`)
    const workingSetBytes =
      options.workingSet === undefined
        ? memoryBytes - untouchedBytes
        : isShare(options.workingSet)
          ? Math.floor((memoryBytes * (yield* unit("workingSet", options.workingSet, parsePercent))) / 100)
          : yield* size("workingSet", options.workingSet)
    if (workingSetBytes > memoryBytes)
      return yield* bad("workingSet", options.workingSet ?? "", `at most ${spell("memory")}`)
    if (workingSetBytes + untouchedBytes > memoryBytes)
      return yield* bad(
        "workingSet",
        options.workingSet ?? "",
        `at most ${spell("memory")} minus ${spell("untouched")}: a page written by the workload is not untouched`
      )
    const stateBytes = options.state === undefined ? undefined : yield* size("state", options.state)
    const maxDowntimeUs =
      options.maxDowntime === undefined
        ? MAX_DOWNTIME_US_DEFAULT
        : yield* unit("maxDowntime", options.maxDowntime, parseDurationUs)
    const latencyUs = options.latency === undefined ? 0 : yield* unit("latency", options.latency, parseDurationUs)
    const ignored = ignoredOptions(options, name, dirtyRateBytesPerS, own, spell)[0]
    if (ignored !== undefined)
      return yield* new XenpoolError({
        what: "option ignored",
        where: ignored.option,
        expected: `expected ${ignored.expected}`
      })
    const config = {
      extraPolicies: own,
      memoryBytes,
      bandwidthBytesPerS,
      dirtyRateBytesPerS,
      workingSetBytes,
      untouchedBytes,
      policy: name,
      maxDowntimeUs,
      model: options.model ?? "rate",
      pageSizeBytes,
      seed: options.seed ?? 1,
      latencyUs,
      phases: options.phases ?? "default",
      ...(stateBytes === undefined ? {} : { stateBytes })
    }
    return yield* Effect.try({
      try: () => ({ report: runSingleMigration(config), bandwidthBytesPerS, dirtyRateBytesPerS }),
      catch: (e) =>
        new XenpoolError({
          what: MIGRATION_MODEL_FAILED,
          where: name,
          expected: e instanceof Error ? e.message : String(e)
        })
    })
  })
