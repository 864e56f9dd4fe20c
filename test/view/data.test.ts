/**
 * The view's reads and its server's path rule, without a browser: the series say at each sampled moment
 * what `stateAt` says there (both samplings), migrations carry the rounds the log has, the URL's moment
 * reads back exactly, and a path with `..` in any encoding is refused.
 */
import { join } from "node:path"
import { Effect, Either, HashMap } from "effect"
import fc from "fast-check"
import { beforeAll, describe, expect, it } from "vitest"
import { poolId } from "../../domain/ids.js"
import { stateAt } from "../../projections/timeTravel.js"
import { layerFromUrl } from "../../store/url.js"
import { migrationWindow, readPoolHistory } from "../../view/data.js"
import { safeSegments } from "../../view/server.js"
import { formatMoment, parseMoment } from "../../web/moment.js"
import { tempDir, xenpool } from "../cli/run.js"

const POOL = poolId("rolling-1")
let store: string

beforeAll(() => {
  store = `sqlite:${join(tempDir(), "xenpool.db")}`
  const demo = xenpool(["demo", "--store", store])
  if (demo.status !== 0) throw new Error(demo.stderr)
}, 120_000)

const run = <A>(effect: Effect.Effect<A, unknown, never>) => Effect.runPromise(effect)

describe("the pool over time", () => {
  it.each([4_000, 37])(
    "at each sampled moment (%i points at most) the series hold what stateAt answers",
    async (points) => {
      const check = Effect.gen(function* () {
        const history = yield* readPoolHistory(POOL, points)
        const overview = history.overview
        const s = overview.series
        expect(s.sampling).toBe(points >= overview.lastRevision + 1 ? "every-event-time" : "even")
        if (s.sampling === "even") expect(s.atUs.length).toBe(points)
        expect(s.atUs[s.atUs.length - 1]).toBe(overview.lastAtUs)
        for (let i = 0; i < s.atUs.length; i++) {
          const { state } = yield* stateAt(POOL, { atUs: s.atUs[i]! })
          expect(s.migrationsInFlight[i]).toBe(HashMap.size(state.migrations))
          for (const host of s.hosts) {
            const h = HashMap.unsafeGet(state.hosts, host.id as never)
            expect(host.memoryUsedPages[i]).toBe(h.memoryOverheadPages + h.residentPages)
            expect(host.memoryReservedPages[i]).toBe(h.reservedPages)
          }
          const occupied = new Set([...HashMap.values(state.vms)].flatMap((v) => (v.residentOn ? [v.residentOn] : [])))
          expect(s.hostsInUse[i]).toBe(occupied.size)
        }
        for (const link of s.links) for (const u of link.utilisation) expect(u >= 0 && u <= 1).toBe(true)
        return history
      })
      const history = await run(check.pipe(Effect.provide(layerFromUrl(store))))
      expect(history.migrations.length).toBe(18)
      expect(history.overview.migrations.count).toBe(18)
      const m1 = history.migrations.find((m) => m.id === "m1")!
      expect(m1.roundList.map((r) => r.round)).toEqual(Array.from({ length: m1.rounds }, (_, i) => i + 1))
      expect(m1.roundList.filter((r) => !r.live).length).toBe(1)
      expect(m1.roundList.reduce((sum, r) => sum + r.bytesSent, 0)).toBe(m1.bytesSent)
      // A window holds the migrations that overlap it, in start order, at most `limit`.
      const window = migrationWindow(history, { fromUs: m1.endedAtUs, toUs: m1.endedAtUs, limit: 100 })
      expect(window.migrations.map((m) => m.id)).toContain("m1")
      for (const m of window.migrations) expect(m.startedAtUs <= m1.endedAtUs && m.endedAtUs >= m1.endedAtUs).toBe(true)
      const one = migrationWindow(history, { fromUs: 0, toUs: 0, limit: 1, ids: new Set(["m5"]) })
      expect(one.migrations.map((m) => m.id)).toEqual(["m5"])
      expect(migrationWindow(history, { fromUs: 0, toUs: history.overview.lastAtUs, limit: 4 }).overlapping).toBe(18)
    }
  )
})

describe("the moment in the URL", () => {
  it("reads back exactly what it wrote, for any time", () =>
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10 ** 13 }), (atUs) => {
        expect(parseMoment(formatMoment(atUs))).toEqual(Either.right({ atUs }))
      })
    ))

  it.each([
    ["3m10s", 190_000_000],
    ["1h02m03s", 3_723_000_000],
    ["190.5s", 190_500_000],
    ["800ms", 800_000],
    ["2min", 120_000_000]
  ])("reads %s", (text, atUs) => expect(parseMoment(text)).toEqual(Either.right({ atUs })))

  it("reads @REVISION and refuses what is no moment", () => {
    expect(parseMoment("@120")).toEqual(Either.right({ revision: 120 }))
    for (const bad of ["", "soon", "3m10", "-5s", "@-1", "3ms10s"]) expect(Either.isLeft(parseMoment(bad))).toBe(true)
  })
})

describe("the server's path rule", () => {
  it.each([
    "/..",
    "/../x",
    "/a/../../x",
    "/%2e%2e/x",
    "/%2E%2e/x",
    "/%252e%252e/x",
    "/%25252e%25252e/x",
    "/..%2fx",
    "/a%5c..%5cx",
    "/a\\b",
    "/%00",
    "/%e0%a4%a",
    "/./x"
  ])("refuses %s", (path) => expect(safeSegments(path)).toBeUndefined())

  it.each([
    ["/", []],
    ["/main.js", ["main.js"]],
    ["/api/pools/rolling-1/at", ["api", "pools", "rolling-1", "at"]],
    ["/a..b/c", ["a..b", "c"]],
    ["/%61", ["a"]]
  ])("accepts %s", (path, segments) => expect(safeSegments(path)).toEqual(segments))
})
