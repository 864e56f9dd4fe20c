/** Options and helpers every command shares: `--store`, `--json`, store layers, output, progress. */
import { Options } from "@effect/cli"
import { Effect, Option } from "effect"
import { resolveStoreUrl } from "../store/url.js"
import { CliFailure } from "./errors.js"
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
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)))
  const line = (cells: ReadonlyArray<string>) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join("  ")
      .trimEnd()
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n")
}

/**
 * A progress line on stderr, only on a terminal and not in --json; throttled by wall time (the CLI may
 * read the clock: simulated time never does).
 */
export const makeProgress = (enabled: boolean) => {
  const show = enabled && process.stderr.isTTY === true
  let lastMs = 0
  return {
    update: (text: string) => {
      if (!show) return
      const now = Date.now()
      if (now - lastMs < 100) return
      lastMs = now
      process.stderr.write(`\r\x1b[K${text}`)
    },
    done: () => {
      if (show) process.stderr.write("\r\x1b[K")
    }
  }
}

export const succeedJsonOrText = (json: boolean, value: unknown, text: () => string) =>
  json ? printJson(value) : Effect.flatMap(Effect.sync(text), printLine)

/** `--seed N`, optional: the root seed, a safe integer >= 0 (one rule for every command that takes it). */
export const seedOption = (description: string) =>
  Options.integer("seed").pipe(Options.withDescription(description), Options.optional)

export const checkedSeed = (seed: Option.Option<number>) =>
  Option.isSome(seed) && !(Number.isSafeInteger(seed.value) && seed.value >= 0)
    ? Effect.fail(new CliFailure({ what: "bad option", where: `--seed ${seed.value}`, expected: "an integer >= 0" }))
    : Effect.succeed(Option.getOrUndefined(seed))
