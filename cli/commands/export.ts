/**
 * `xenpool export --pool ID [--seed N] [--store URL]`: a pool's history as a trace on stdout, which
 * `xenpool replay` turns back into the same events (DESIGN.md §7): one recorded-level record per
 * decision, each checked against `decide` as it is written (simulations/trace/fromLog.ts). The log is
 * read in pages and the trace written as it goes, so a long history exports in bounded memory.
 */
import { Command, Options } from "@effect/cli"
import { Effect, Option } from "effect"
import { poolStreamName, type PoolId } from "../../domain/ids.js"
import { EventStore } from "../../store/EventStore.js"
import { layerFromUrl } from "../../store/url.js"
import { engineFirstEventId, ExportFailure, TraceExporter } from "../../simulations/trace.js"
import { CliFailure } from "../errors.js"
import { writeStdout } from "../output.js"
import { poolOption, storeOption, storeUrlOf } from "../shared.js"
import { requirePool } from "./pools.js"

const PAGE_EVENTS = 4096

const exportFailure = (pool: PoolId) => (e: unknown) =>
  e instanceof ExportFailure
    ? new CliFailure({
        what: "cannot export",
        where: `pool ${pool}, revision ${e.revision}`,
        expected: `a log that replays record by record: ${e.detail}`
      })
    : new CliFailure({ what: "export failed", where: `pool ${pool}`, expected: String(e) })

const checkSeed = (pool: PoolId, seed: number, firstId: string | undefined) =>
  firstId === undefined || firstId === engineFirstEventId(seed, pool)
    ? Effect.void
    : Effect.fail(
        new CliFailure({
          what: "wrong seed",
          where: `--seed ${seed}`,
          expected: `the seed pool ${pool} was run with (its event ids do not come from seed ${seed}); omit --seed if unknown`
        })
      )

export const exportPool = (pool: PoolId, seed: number | undefined) =>
  Effect.gen(function* () {
    const store = yield* EventStore
    const stream = poolStreamName(pool)
    const lastRevision = yield* requirePool(pool)
    const [last] = yield* store.read(stream, { from: "end", direction: "backwards", maxCount: 1 })
    let lines: string[] = []
    const exporter = new TraceExporter((line) => lines.push(line), {
      ...(seed === undefined ? {} : { seed }),
      eventsCount: lastRevision + 1,
      ...(last === undefined ? {} : { lastAtUs: last.event.atUs })
    })
    /** Writes the lines made so far; false once stdout's reader has gone away. */
    const flush = Effect.suspend(() => {
      const text = lines.length === 0 ? "" : `${lines.join("\n")}\n`
      lines = []
      return text === "" ? Effect.succeed(true) : writeStdout(text, "cannot write the trace")
    })
    // Bounded: each pass reads the next page of a stream of lastRevision + 1 events.
    for (let from = 0; from <= lastRevision;) {
      const page = yield* store.read(stream, { from, maxCount: PAGE_EVENTS })
      if (page.length === 0) break
      if (from === 0 && seed !== undefined) yield* checkSeed(pool, seed, page[0]?.id)
      yield* Effect.try({ try: () => exporter.push(page.map((r) => r.event)), catch: exportFailure(pool) })
      if (!(yield* flush)) return
      from = page[page.length - 1]!.revision + 1
    }
    yield* Effect.try({ try: () => exporter.end(), catch: exportFailure(pool) })
    yield* flush
  })

const seedOption = Options.integer("seed").pipe(
  Options.withDescription(
    "the seed the pool was run with, written into the header: replaying with it and the same --pool gives the same event ids (checked against the log)"
  ),
  Options.optional
)

export const exportCommand = Command.make(
  "export",
  { pool: poolOption, seed: seedOption, store: storeOption },
  ({ pool, seed, store }) =>
    exportPool(pool as PoolId, Option.getOrUndefined(seed)).pipe(Effect.provide(layerFromUrl(storeUrlOf(store))))
).pipe(
  Command.withDescription(
    "print a pool's history as a trace (JSON Lines) on stdout, which `xenpool replay` turns back into the same events"
  )
)
