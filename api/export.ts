/**
 * A pool's history as a trace, which `replay` turns back into the same events (DESIGN.md §7): one
 * recorded-level record per decision, each checked against `decide` as it is written
 * (simulations/trace/fromLog.ts). The log is read in pages and the trace written as it goes, so a long
 * history exports in bounded memory.
 */
import { Effect } from "effect"
import { poolStreamName, type PoolId } from "../domain/ids.js"
import { EventStore } from "../store/EventStore.js"
import { engineFirstEventId, ExportFailure, TraceExporter } from "../simulations/trace.js"
import { XenpoolError } from "./errors.js"
import { checkPoolId, requirePool } from "./pools.js"
import { silentProgress, type Progress } from "./progress.js"
import { provenanceOf, rootPoolOf } from "./provenance.js"

export interface ExportOptions {
  /**
   * The seed written into the header (checked against the log's event ids); default: the seed the pool
   * records in its provenance, so that replaying the export gives the same event ids.
   */
  readonly seed?: number
  readonly progress?: Progress
}

const PAGE_EVENTS = 4096

const exportFailure = (pool: PoolId) => (e: unknown) =>
  e instanceof ExportFailure
    ? new XenpoolError({
        what: "cannot export",
        where: `pool ${pool}, revision ${e.revision}`,
        expected: `a log that replays record by record: ${e.detail}`
      })
    : new XenpoolError({ what: "export failed", where: `pool ${pool}`, expected: String(e) })

const checkSeed = (pool: PoolId, seed: number, firstId: string | undefined) =>
  firstId === undefined || firstId === engineFirstEventId(seed, pool)
    ? Effect.void
    : Effect.fail(
        new XenpoolError({
          what: "wrong seed",
          where: `--seed ${seed}`,
          expected: `the seed pool ${pool} was run with (its event ids do not come from seed ${seed}); omit --seed if unknown`
        })
      )

/**
 * Writes pool `pool`'s history as trace text through `write`, a page at a time; `write` answers false
 * when its reader has gone away, and the export stops there.
 *
 * @example
 * const lines: string[] = []
 * yield* exportTrace("rolling-1", (text) => Effect.succeed(lines.push(text) > 0))
 */
export const exportTrace = <E, R>(
  poolText: string,
  write: (text: string) => Effect.Effect<boolean, E, R>,
  options: ExportOptions = {}
) =>
  Effect.gen(function* () {
    const pool = yield* checkPoolId(poolText)
    const progress = options.progress ?? silentProgress
    const store = yield* EventStore
    const stream = poolStreamName(pool)
    const lastRevision = yield* requirePool(pool)
    const seed = options.seed ?? (yield* provenanceOf(pool)).seed ?? undefined
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
      return text === "" ? Effect.succeed(true) : write(text)
    })
    // Bounded: each pass reads the next page of a stream of lastRevision + 1 events.
    for (let from = 0; from <= lastRevision;) {
      const page = yield* store.read(stream, { from, maxCount: PAGE_EVENTS })
      if (page.length === 0) break
      if (from === 0 && seed !== undefined) yield* checkSeed(yield* rootPoolOf(pool), seed, page[0]?.id)
      yield* Effect.try({ try: () => exporter.push(page.map((r) => r.event)), catch: exportFailure(pool) })
      if (!(yield* flush)) return
      from = page[page.length - 1]!.revision + 1
      progress.update(`exporting pool ${pool}`, from, lastRevision + 1)
    }
    progress.stop()
    yield* Effect.try({ try: () => exporter.end(), catch: exportFailure(pool) })
    yield* flush
  })
