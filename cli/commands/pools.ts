/** `xenpool pools` and `xenpool events --pool ID`: what is in the store. */
import { Command, Options } from "@effect/cli"
import { Chunk, Effect, Option, Stream } from "effect"
import { poolStreamName, type PoolId } from "../../domain/ids.js"
import { formatDurationUs, formatDurationUsWidthMax } from "../../domain/units.js"
import { EventStore, type RecordedEvent } from "../../store/EventStore.js"
import { events, EVENTS_PAGE, listPools, requirePool } from "../../api/pools.js"
import { provenanceText } from "../../api/provenance.js"
import { layerFromUrl } from "../../store/url.js"
import { UsageFailure } from "../errors.js"
import { JsonArrayText, printLine, writeStdout } from "../output.js"
import { checkedPoolId } from "../poolId.js"
import { jsonOption, poolOption, printJson, storeOption, storeUrlOf, table } from "../shared.js"
import { StreamedTable } from "../textTable.js"
import { Schema } from "effect"
import { PoolEvent, poolEventTags } from "../../domain/events.js"

export const poolsCommand = Command.make("pools", { store: storeOption, json: jsonOption }, ({ store, json }) =>
  Effect.gen(function* () {
    const pools = yield* listPools
    if (json) return yield* printJson(pools)
    if (pools.length === 0) return yield* printLine("no pools in this store (run `xenpool demo` to make one)")
    yield* printLine(
      table(
        ["pool", "events", "last event at", "made by"],
        pools.map((p) => [p.id, String(p.events), formatDurationUs(p.lastAtUs), provenanceText(p.provenance)])
      )
    )
  }).pipe(Effect.provide(layerFromUrl(storeUrlOf(store))))
).pipe(
  Command.withDescription(
    "list the pools in the store: event counts, and how each was made (seed, input and its sha256, xenpool version; a branch's parent and revision)"
  )
)

const encodeEvent = Schema.encodeSync(PoolEvent)

/** `--from` and `--limit` are integers >= 0 (`--limit 0` prints no event); checked before the store is opened. */
const nonNegativeOption = (name: string, value: number) =>
  Number.isSafeInteger(value) && value >= 0
    ? Effect.succeed(value)
    : Effect.fail(new UsageFailure({ what: "bad option", where: `--${name} ${value}`, expected: "an integer >= 0" }))

interface EventRow {
  readonly revision: number
  readonly id: string
  readonly type: string
  readonly atUs: number
  readonly data: Record<string, unknown>
}

const eventRow = (r: RecordedEvent): EventRow => {
  const { _tag, ...data } = encodeEvent(r.event) as { _tag: string } & Record<string, unknown>
  return { revision: r.revision, id: r.id, type: _tag, atUs: r.event.atUs, data }
}

const eventCells = (r: EventRow): ReadonlyArray<string> => {
  const { v: _v, atUs: _at, ...rest } = r.data
  return [String(r.revision), formatDurationUs(r.atUs), r.type, JSON.stringify(rest)]
}

/** The longest event name: the type column's width. */
const eventTypeWidth = poolEventTags.reduce((width, tag) => Math.max(width, tag.length), 0)

/**
 * Prints revisions [from, to] of the pool's stream a page at a time, as one JSON array or as a table:
 * memory holds one page, whatever the history's length. Stops quietly if stdout's reader goes away.
 */
const printEvents = (pool: PoolId, from: number, to: number, json: boolean) =>
  Effect.gen(function* () {
    const store = yield* EventStore
    const [last] = yield* store.read(poolStreamName(pool), { from: "end", direction: "backwards", maxCount: 1 })
    const array = new JsonArrayText()
    const table = new StreamedTable(
      ["rev", "at", "type", "data"],
      [String(Math.max(to, 0)).length, formatDurationUsWidthMax(last?.event.atUs ?? 0), eventTypeWidth, 0]
    )
    if (!json && !(yield* writeStdout(table.head()))) return
    let open = true
    if (from <= to)
      yield* events(pool, { from, to }).pipe(
        Stream.grouped(EVENTS_PAGE),
        Stream.runForEachWhile((page) =>
          Effect.map(
            Effect.suspend(() => {
              const rows = Chunk.toReadonlyArray(page).map(eventRow)
              return writeStdout(json ? array.elements(rows) : table.rows(rows.map(eventCells)))
            }),
            (written) => (open = written)
          )
        )
      )
    if (json && open) yield* writeStdout(`${array.end()}\n`)
  })

export const eventsCommand = Command.make(
  "events",
  {
    store: storeOption,
    json: jsonOption,
    pool: poolOption,
    from: Options.integer("from").pipe(Options.withDescription("first revision (default 0)"), Options.withDefault(0)),
    limit: Options.integer("limit").pipe(
      Options.withDescription("at most this many events (0: none)"),
      Options.optional
    )
  },
  ({ store, json, pool, from, limit }) =>
    Effect.gen(function* () {
      const first = yield* nonNegativeOption("from", from)
      const max = Option.isSome(limit) ? yield* nonNegativeOption("limit", limit.value) : undefined
      const id = yield* checkedPoolId(pool)
      yield* Effect.gen(function* () {
        const last = yield* requirePool(id)
        const to = max === undefined ? last : Math.min(last, first + max - 1)
        yield* printEvents(id, first, to, json)
      }).pipe(Effect.provide(layerFromUrl(storeUrlOf(store))))
    })
).pipe(Command.withDescription("print a pool's events in revision order"))
