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
import { runSingleMigration } from "../../engine/migration/index.js"
import { CliFailure } from "../errors.js"
import { jsonOption, printJson, table } from "../shared.js"
import { printLine } from "../output.js"

const unitOption = (name: string, description: string) => Options.text(name).pipe(Options.withDescription(description))

const parsed = <A>(option: string, input: string, result: Either.Either<A, UnitError>) =>
  Either.isRight(result)
    ? Effect.succeed(result.right)
    : Effect.fail(
        new CliFailure({ what: `bad --${option}`, where: input, expected: `expected ${result.left.expected}` })
      )

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
    policy: Options.choice("policy", ["xen", "xen-legacy", "max-downtime"]).pipe(
      Options.withDescription("pre-copy policy (default xen)"),
      Options.withDefault("xen" as const)
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
    seed: Options.integer("seed").pipe(Options.withDescription("root seed (default 1)"), Options.withDefault(1)),
    json: jsonOption
  },
  (o) =>
    Effect.gen(function* () {
      const pageSizeBytes = Option.isSome(o.pageSize)
        ? yield* parsed("page-size", o.pageSize.value, parseSizeBytes(o.pageSize.value))
        : DEFAULT_PAGE_SIZE_BYTES
      if (pageSizeBytes <= 0)
        return yield* Effect.fail(
          new CliFailure({ what: "bad --page-size", where: String(pageSizeBytes), expected: "a positive size" })
        )
      const memoryBytes = yield* parsed("memory", o.memory, parseSizeBytes(o.memory, pageSizeBytes))
      if (memoryBytes < pageSizeBytes) {
        return yield* Effect.fail(
          new CliFailure({ what: "bad --memory", where: o.memory, expected: "at least one page" })
        )
      }
      const bandwidthBytesPerS = yield* parsed("bandwidth", o.bandwidth, parseRateBytesPerS(o.bandwidth, pageSizeBytes))
      if (bandwidthBytesPerS <= 0) {
        return yield* Effect.fail(
          new CliFailure({ what: "bad --bandwidth", where: o.bandwidth, expected: "a positive rate" })
        )
      }
      const dirtyRateBytesPerS = Option.isSome(o.dirtyRate)
        ? yield* parsed("dirty-rate", o.dirtyRate.value, parseRateBytesPerS(o.dirtyRate.value, pageSizeBytes))
        : 0
      const workingSetBytes = Option.isNone(o.workingSet)
        ? memoryBytes
        : o.workingSet.value.trim().endsWith("%")
          ? Math.floor(
              (memoryBytes * (yield* parsed("working-set", o.workingSet.value, parsePercent(o.workingSet.value)))) / 100
            )
          : yield* parsed("working-set", o.workingSet.value, parseSizeBytes(o.workingSet.value, pageSizeBytes))
      if (workingSetBytes > memoryBytes) {
        return yield* Effect.fail(
          new CliFailure({
            what: "bad --working-set",
            where: Option.getOrElse(o.workingSet, () => ""),
            expected: "at most --memory"
          })
        )
      }
      const maxDowntimeUs = Option.isSome(o.maxDowntime)
        ? yield* parsed("max-downtime", o.maxDowntime.value, parseDurationUs(o.maxDowntime.value))
        : 30_000
      const latencyUs = Option.isSome(o.latency)
        ? yield* parsed("latency", o.latency.value, parseDurationUs(o.latency.value))
        : 0
      const result = runSingleMigration({
        memoryBytes,
        bandwidthBytesPerS,
        dirtyRateBytesPerS,
        workingSetBytes,
        policy: o.policy,
        maxDowntimeUs,
        model: o.model,
        pageSizeBytes,
        seed: o.seed,
        latencyUs
      })
      if (o.json) return yield* printJson(result)
      yield* printLine(
        `${result.policy} policy, ${result.model} model: ${formatBytes(result.memoryBytes)} at ${formatBytes(bandwidthBytesPerS)}/s, dirtying ${formatBytes(dirtyRateBytesPerS)}/s`
      )
      yield* printLine(
        table(
          ["round", "live", "pages sent", "bytes sent", "duration", "dirty after"],
          result.rounds.map((r) => [
            String(r.index),
            r.live ? "live" : "paused",
            r.pagesSent.toLocaleString("en-US"),
            formatBytes(r.bytesSent),
            formatDurationUs(r.durationUs),
            r.dirtyPagesAfter.toLocaleString("en-US")
          ])
        )
      )
      yield* printLine(
        `total ${formatDurationUs(result.totalUs)}, downtime ${formatDurationUs(result.downtimeUs)}, sent ${formatBytes(result.bytesSent)} (${result.pagesSent.toLocaleString("en-US")} pages), stopped by ${result.stopReason}`
      )
    })
).pipe(Command.withDescription("model one live migration round by round (pre-copy policy, dirtying model, link)"))
