/**
 * The view's JSON endpoints (docs/view.md): a GET path and its query to one read of view/data.ts. Every
 * endpoint reads; none changes the store. A failure is an answer too: `{ error: { what, where, expected } }`
 * (the CLI's one-line failure, split) with a status that says whose fault it was.
 */
import { Data, Effect, Either } from "effect"
import { checkPoolId } from "../api/pools.js"
import { poolStreamName, type PoolId, type VmId } from "../domain/ids.js"
import { UnknownPool } from "../projections/timeTravel.js"
import { EventStore } from "../store/EventStore.js"
import type { SnapshotStore } from "../store/SnapshotStore.js"
import type { ErrorAnswer } from "../web/api.js"
import { parseMoment } from "../web/moment.js"
import {
  EVENTS_SIDE_MAX,
  eventsAround,
  poolAt,
  poolHosts,
  poolList,
  migrationWindow,
  MIGRATIONS_WINDOW_MAX,
  readPoolHistory,
  type PoolHistory,
  SERIES_POINTS_DEFAULT,
  SERIES_POINTS_MAX,
  vmMemory
} from "./data.js"

/** A request the endpoints could not answer, with the HTTP status that fits. */
export class EndpointFailure extends Data.TaggedError("EndpointFailure")<{
  readonly status: 400 | 404 | 405 | 500 | 503
  readonly what: string
  readonly where: string
  readonly expected: string
}> {}

export const endpointFailure = (status: EndpointFailure["status"], what: string, where: string, expected: string) =>
  new EndpointFailure({ status, what, where, expected })

export const errorBody = (f: EndpointFailure): ErrorAnswer => ({
  error: { what: f.what, where: f.where, expected: f.expected }
})

/** The store's and the projections' failures, as answers: an unknown pool is 404, a store gone is 503. */
export const failureOf = (error: unknown): EndpointFailure => {
  if (error instanceof EndpointFailure) return error
  const tagged = error as { _tag?: string; message?: string; what?: string; where?: string; expected?: string }
  switch (tagged._tag) {
    case "UsageFailure":
      return endpointFailure(400, tagged.what ?? "bad request", tagged.where ?? "", tagged.expected ?? "")
    case "CliFailure":
      return endpointFailure(404, tagged.what ?? "not found", tagged.where ?? "", tagged.expected ?? "")
    case "XenpoolError":
      // Here only `requireFocus`: a VM the pool never had.
      return endpointFailure(404, tagged.what ?? "not found", tagged.where ?? "", tagged.expected ?? "")
    case "UnknownPool":
      return endpointFailure(
        404,
        "unknown pool",
        String((error as { pool: string }).pool),
        "a pool of the store (GET /api/pools lists them)"
      )
    case "StoreError":
      return endpointFailure(
        503,
        "store unavailable",
        tagged.message ?? "",
        "a store the server can read; check it and reload"
      )
    default:
      return endpointFailure(500, "internal error", tagged._tag ?? "", String(tagged.message ?? error))
  }
}

/** Caches the overview of each pool at its last revision: reading the whole history once per change. */
export class OverviewCache {
  private readonly entries = new Map<string, { readonly revision: number; readonly value: Promise<unknown> }>()

  get(key: string, revision: number, compute: () => Promise<unknown>): Promise<unknown> {
    const hit = this.entries.get(key)
    if (hit !== undefined && hit.revision === revision) return hit.value
    const value = compute()
    this.entries.set(key, { revision, value })
    // A failed read is not kept: the next request tries again.
    value.catch(() => this.entries.delete(key))
    return value
  }
}

const integerParam = (params: URLSearchParams, name: string, fallback: number, max: number) => {
  const text = params.get(name)
  if (text === null) return Effect.succeed(fallback)
  const value = Number(text)
  return /^[0-9]+$/.test(text) && Number.isSafeInteger(value) && value <= max
    ? Effect.succeed(value)
    : Effect.fail(endpointFailure(400, "bad query", `${name}=${text}`, `an integer from 0 to ${max}`))
}

const poolParam = (text: string) =>
  Effect.mapError(checkPoolId(decodeURIComponent(text)), () =>
    endpointFailure(400, "bad pool id", text, "a pool id as `xenpool pools` lists them")
  )

/** `t=3m10s`, `t=190.5s` or `t=@120` (web/moment.ts); absent: the pool's last event. */
const targetParam = (params: URLSearchParams) => {
  const text = params.get("t")
  if (text === null || text === "") return Effect.succeed({ revision: Number.MAX_SAFE_INTEGER })
  return Either.match(parseMoment(text), {
    onLeft: (expected) => Effect.fail(endpointFailure(400, "bad time", `t=${text}`, expected)),
    onRight: Effect.succeed
  })
}

type Services = EventStore | SnapshotStore

export interface EndpointContext {
  readonly overviews: OverviewCache
  /** Runs an effect on the server's store (the cache's computations run outside the request's fiber). */
  readonly run: <A>(effect: Effect.Effect<A, unknown, Services>) => Promise<A>
}

/** The pool's history read once per revision and kept (the overview and the migrations come from it). */
const historyOf = (context: EndpointContext, pool: PoolId, points: number) =>
  Effect.gen(function* () {
    const last = yield* (yield* EventStore).lastRevision(poolStreamName(pool))
    if (last === undefined) return yield* new UnknownPool({ pool })
    const compute = () => context.run(readPoolHistory(pool, points))
    return (yield* Effect.tryPromise({
      try: () => context.overviews.get(`${pool}:${points}`, last, compute),
      catch: (error) => error
    })) as PoolHistory
  })

/**
 * The answer to `GET path?query`, or undefined when the path is no endpoint (then it may be a static file).
 * Paths: /api/pools, /api/pools/ID/at, /api/pools/ID/hosts, /api/pools/ID/overview, /api/pools/ID/migrations, /api/pools/ID/events,
 * /api/pools/ID/vms/VM/memory.
 */
export const endpoint = (
  context: EndpointContext,
  path: string,
  params: URLSearchParams
): Effect.Effect<unknown, unknown, Services> | undefined => {
  const parts = path.split("/").filter((p) => p !== "")
  if (parts[0] !== "api") return undefined
  if (parts.length === 2 && parts[1] === "pools") return poolList
  if (parts[1] !== "pools" || parts.length < 4)
    return Effect.fail(endpointFailure(404, "no such endpoint", path, "one of the paths docs/view.md lists"))
  const [, , poolText, what, ...rest] = parts
  return Effect.gen(function* () {
    const pool = yield* poolParam(poolText!)
    if (what === "at" && rest.length === 0) {
      const vm = params.get("vm") || undefined
      return yield* poolAt(pool, yield* targetParam(params), vm as VmId | undefined)
    }
    if (what === "hosts" && rest.length === 0) return yield* poolHosts(pool, yield* targetParam(params))
    if (what === "overview" && rest.length === 0) {
      const points = yield* integerParam(params, "points", SERIES_POINTS_DEFAULT, SERIES_POINTS_MAX)
      if (points === 0) return yield* endpointFailure(400, "bad query", "points=0", "at least 1 point")
      return (yield* historyOf(context, pool, points)).overview
    }
    if (what === "migrations" && rest.length === 0) {
      const points = yield* integerParam(params, "points", SERIES_POINTS_DEFAULT, SERIES_POINTS_MAX)
      const history = yield* historyOf(context, pool, Math.max(1, points))
      const fromUs = yield* integerParam(params, "from", history.overview.firstAtUs, Number.MAX_SAFE_INTEGER)
      const toUs = yield* integerParam(params, "to", history.overview.lastAtUs, Number.MAX_SAFE_INTEGER)
      const limit = yield* integerParam(params, "limit", MIGRATIONS_WINDOW_MAX, MIGRATIONS_WINDOW_MAX)
      const idText = params.get("id")
      const ids = idText === null ? undefined : new Set(idText.split(",").filter((id) => id !== ""))
      return migrationWindow(history, { fromUs, toUs, limit, ...(ids === undefined ? {} : { ids }) })
    }
    if (what === "events" && rest.length === 0) {
      const around = yield* integerParam(params, "around", 0, Number.MAX_SAFE_INTEGER)
      const before = yield* integerParam(params, "before", 20, EVENTS_SIDE_MAX)
      const after = yield* integerParam(params, "after", 30, EVENTS_SIDE_MAX)
      const types = new Set((params.get("type") ?? "").split(",").filter((t) => t !== ""))
      const vm = params.get("vm") || undefined
      const host = params.get("host") || undefined
      return yield* eventsAround(pool, { around, before, after, filter: { types, vm, host } })
    }
    if (what === "vms" && rest.length === 2 && rest[1] === "memory")
      return yield* vmMemory(pool, decodeURIComponent(rest[0]!) as VmId)
    return yield* endpointFailure(404, "no such endpoint", path, "one of the paths docs/view.md lists")
  })
}
