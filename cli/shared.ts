/** Options and helpers every command shares: `--store`, `--json`, store layers, output, progress. */
import { Options } from "@effect/cli"
import { Effect, Option } from "effect"
import { resolveStoreUrl } from "../store/url.js"
import { UsageFailure } from "./errors.js"
import { printLine } from "./output.js"

export const storeOption = Options.text("store").pipe(
  Options.withDescription(
    "store URL: sqlite:PATH (default sqlite:xenpool.db), memory:, kurrentdb://HOST:2113?tls=false; env XENPOOL_STORE"
  ),
  Options.optional
)
export const jsonOption = Options.boolean("json").pipe(Options.withDescription("print one JSON document on stdout"))
export const poolOption = Options.text("pool").pipe(Options.withDescription("pool id"))

export const storeUrlOf = (option: Option.Option<string>): string => resolveStoreUrl(Option.getOrUndefined(option))

export const printJson = (value: unknown) => printLine(JSON.stringify(value, null, 2))

/** A table of strings with a header, columns padded to their widest cell. */
export const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  // A loop, not a spread: a table of many rows would overflow the stack as Math.max's arguments.
  const widths = header.map((h) => h.length)
  for (const row of rows)
    for (let i = 0; i < widths.length; i++) widths[i] = Math.max(widths[i]!, (row[i] ?? "").length)
  const line = (cells: ReadonlyArray<string>) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join("  ")
      .trimEnd()
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n")
}

/** `--quiet`: no progress display on stderr (errors are still printed). */
export const quietOption = Options.boolean("quiet").pipe(
  Options.withAlias("q"),
  Options.withDescription("no progress display on stderr")
)

/** `--seed N`, optional: the root seed, a safe integer >= 0 (one rule for every command that takes it). */
export const seedOption = (description: string) =>
  Options.integer("seed").pipe(Options.withDescription(description), Options.optional)

export const checkedSeed = (seed: Option.Option<number>) =>
  Option.isSome(seed) && !(Number.isSafeInteger(seed.value) && seed.value >= 0)
    ? Effect.fail(new UsageFailure({ what: "bad option", where: `--seed ${seed.value}`, expected: "an integer >= 0" }))
    : Effect.succeed(Option.getOrUndefined(seed))
