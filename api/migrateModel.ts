/**
 * One live migration on a link of constant bandwidth, round by round (`xenpool migrate-model`): a pure
 * computation, no store. Sizes, rates and times are unit strings as the CLI takes them (`"4GiB"`,
 * `"1Gbit/s"`, `"30ms"`) or plain numbers in the unit the field's name says.
 */
import { Effect, Either } from "effect"
import {
  DEFAULT_PAGE_SIZE_BYTES,
  parseDurationUs,
  parseRateBytesPerS,
  parseSizeBytes,
  type UnitError
} from "../domain/units.js"
import {
  findPolicy,
  knownPolicyNames,
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

const bad = (field: string, input: string | number, expected: string) =>
  new XenpoolError({ what: `bad ${field}`, where: String(input), expected })

const unit = (field: string, input: string | number, parse: (text: string) => Either.Either<number, UnitError>) =>
  typeof input === "number"
    ? Number.isSafeInteger(input) && input >= 0
      ? Effect.succeed(input)
      : Effect.fail(bad(field, input, "an integer >= 0"))
    : Either.match(parse(input), {
        onLeft: (e) => Effect.fail(bad(field, input, `expected ${e.expected}`)),
        onRight: Effect.succeed
      })

/**
 * Models one live migration and returns its rounds, total time, downtime, bytes and stop reason: the
 * document `xenpool migrate-model --json` prints.
 *
 * @example
 * const run = yield* migrateModel({ memory: "4GiB", bandwidth: "1Gbit/s", dirtyRate: "50MiB/s" })
 * run.rounds.length, run.downtimeUs
 */
export const migrateModel = (options: MigrateModelOptions): Effect.Effect<SingleMigrationReport, XenpoolError> =>
  Effect.gen(function* () {
    const pageSizeBytes =
      options.pageSize === undefined
        ? DEFAULT_PAGE_SIZE_BYTES
        : yield* unit("pageSize", options.pageSize, (t) => parseSizeBytes(t))
    if (pageSizeBytes <= 0) return yield* bad("pageSize", options.pageSize ?? "", "a positive size")
    const size = (field: string, input: Size) => unit(field, input, (t) => parseSizeBytes(t, pageSizeBytes))
    const rate = (field: string, input: Rate) => unit(field, input, (t) => parseRateBytesPerS(t, pageSizeBytes))
    const memoryBytes = yield* size("memory", options.memory)
    if (memoryBytes < pageSizeBytes) return yield* bad("memory", options.memory, "at least one page")
    const bandwidthBytesPerS = yield* rate("bandwidth", options.bandwidth)
    if (bandwidthBytesPerS <= 0) return yield* bad("bandwidth", options.bandwidth, "a positive rate")
    const untouchedBytes = options.untouched === undefined ? 0 : yield* size("untouched", options.untouched)
    const workingSetBytes =
      options.workingSet === undefined ? memoryBytes - untouchedBytes : yield* size("workingSet", options.workingSet)
    if (workingSetBytes + untouchedBytes > memoryBytes)
      return yield* bad("workingSet", options.workingSet ?? "", "at most memory minus untouched")
    const policy = options.policy ?? "xen"
    const extraPolicies = typeof policy === "string" ? [] : [policy]
    const name = typeof policy === "string" ? policy : policy.name
    if (findPolicy(name, extraPolicies) === undefined)
      return yield* bad("policy", name, `one of ${knownPolicyNames().join(", ")}, or a PolicyDefinition of your own`)
    const dirtyRateBytesPerS = options.dirtyRate === undefined ? 0 : yield* rate("dirtyRate", options.dirtyRate)
    const maxDowntimeUs =
      options.maxDowntime === undefined ? 30_000 : yield* unit("maxDowntime", options.maxDowntime, parseDurationUs)
    const latencyUs = options.latency === undefined ? 0 : yield* unit("latency", options.latency, parseDurationUs)
    const stateBytes = options.state === undefined ? undefined : yield* size("state", options.state)
    const config = {
      extraPolicies,
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
      try: () => runSingleMigration(config),
      catch: (e) =>
        new XenpoolError({
          what: "migration model failed",
          where: name,
          expected: e instanceof Error ? e.message : String(e)
        })
    })
  })
