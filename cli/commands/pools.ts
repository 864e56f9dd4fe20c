/** `xenpool pools` and `xenpool events --pool ID`: what is in the store. */
import { Command, Options } from "@effect/cli"
import { Effect, Option } from "effect"
import { poolIdOfStream, poolStreamName, type PoolId } from "../../domain/ids.js"
import { formatDurationUs } from "../../domain/units.js"
import { EventStore } from "../../store/EventStore.js"
import { layerFromUrl } from "../../store/url.js"
import { CliFailure } from "../errors.js"
import { checkedPoolId } from "../poolId.js"
import { jsonOption, poolOption, printJson, storeOption, storeUrlOf, table } from "../shared.js"
import { printLine } from "../output.js"
import { Schema } from "effect"
import { PoolEvent } from "../../domain/events.js"

export const listPools = Effect.gen(function* () {
  const store = yield* EventStore
  const streams = yield* store.streams()
  return streams.flatMap((s) => {
    const id = poolIdOfStream(s.stream)
    return id === undefined ? [] : [{ id, events: s.events, lastAtUs: s.lastAtUs }]
  })
})

/** Fails with a one-line error naming the pools that do exist when `pool` is not one of them. */
export const requirePool = (pool: PoolId) =>
  Effect.gen(function* () {
    yield* checkedPoolId(pool)
    const store = yield* EventStore
    const last = yield* store.lastRevision(poolStreamName(pool))
    if (last !== undefined) return last
    const pools = yield* listPools
    const known = pools.length === 0 ? "the store has no pools" : `known pools: ${pools.map((p) => p.id).join(", ")}`
    return yield* Effect.fail(
      new CliFailure({ what: "unknown pool", where: `${pool} in ${store.url}`, expected: known })
    )
  })

export const poolsCommand = Command.make("pools", { store: storeOption, json: jsonOption }, ({ store, json }) =>
  Effect.gen(function* () {
    const pools = yield* listPools
    if (json) return yield* printJson(pools)
    if (pools.length === 0) return yield* printLine("no pools in this store (run `xenpool demo` to make one)")
    yield* printLine(
      table(
        ["pool", "events", "last event at"],
        pools.map((p) => [p.id, String(p.events), formatDurationUs(p.lastAtUs)])
      )
    )
  }).pipe(Effect.provide(layerFromUrl(storeUrlOf(store))))
).pipe(Command.withDescription("list the pools in the store, with their event counts"))

const encodeEvent = Schema.encodeSync(PoolEvent)

export const eventsCommand = Command.make(
  "events",
  {
    store: storeOption,
    json: jsonOption,
    pool: poolOption,
    from: Options.integer("from").pipe(Options.withDescription("first revision (default 0)"), Options.withDefault(0)),
    limit: Options.integer("limit").pipe(Options.withDescription("at most this many events"), Options.optional)
  },
  ({ store, json, pool, from, limit }) =>
    Effect.gen(function* () {
      const id = pool as PoolId
      yield* requirePool(id)
      if (from < 0)
        return yield* Effect.fail(
          new CliFailure({ what: "bad --from", where: String(from), expected: "a revision >= 0" })
        )
      const eventStore = yield* EventStore
      const max = Option.getOrElse(limit, () => Number.MAX_SAFE_INTEGER)
      const rows: Array<{ revision: number; id: string; type: string; atUs: number; data: Record<string, unknown> }> =
        []
      let next = from
      while (rows.length < max) {
        const page = yield* eventStore.read(poolStreamName(id), {
          from: next,
          maxCount: Math.min(4096, max - rows.length)
        })
        for (const r of page) {
          const { _tag, ...data } = encodeEvent(r.event) as { _tag: string } & Record<string, unknown>
          rows.push({ revision: r.revision, id: r.id, type: _tag, atUs: r.event.atUs, data })
        }
        if (page.length === 0) break
        next = page[page.length - 1]!.revision + 1
      }
      if (json) return yield* printJson(rows)
      yield* printLine(
        table(
          ["rev", "at", "type", "data"],
          rows.map((r) => {
            const { v: _v, atUs: _at, ...rest } = r.data
            return [String(r.revision), formatDurationUs(r.atUs), r.type, JSON.stringify(rest)]
          })
        )
      )
    }).pipe(Effect.provide(layerFromUrl(storeUrlOf(store))))
).pipe(Command.withDescription("print a pool's events in revision order"))
