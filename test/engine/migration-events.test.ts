/**
 * The migration events phases added, and logs written before them (docs/decisions.md, "Migration
 * phases"): `VmMigrationRoundCompleted` gained `zeroPages` and `stateBytes` with a decoding default of 0,
 * so a stored round of an older log reads as what that run sent (no zero pages, no state), still `v: 1`;
 * the new events round-trip through the stores' codec, and an older log's migrations summarise as before.
 */
import { Either } from "effect"
import { describe, expect, it } from "vitest"
import { decodeEvent, encodeEvent } from "../../store/codec.js"
import { MigrationSummaries } from "../../projections/summary.js"
import type { PoolEvent } from "../../domain/events.js"
import { compileFile, run } from "./harness.js"

const stored = (type: string, data: string) => ({ stream: "pool-old", revision: 7, position: 7, id: "e-7", type, data })

describe("a log written before phases still reads", () => {
  const oldRound =
    '{"v":1,"atUs":92193,"migration":"m-0","vm":"vm-2","round":1,"live":false,"pagesSent":1024,"pagesSkipped":0,"bytesSent":4194304,"pagesDirtied":256,"durationUs":1000,"_tag":"VmMigrationRoundCompleted"}'

  it("an old round decodes with no zero pages and no state, and its bytes still add up to its pages", () => {
    const event = Either.getOrThrow(decodeEvent(stored("VmMigrationRoundCompleted", oldRound)))
    expect(event).toMatchObject({
      _tag: "VmMigrationRoundCompleted",
      v: 1,
      zeroPages: 0,
      stateBytes: 0,
      bytesSent: 4_194_304
    })
  })

  it("an old log's migration summarises as it did: no parts, bytes the rounds'", () => {
    const events = [
      '{"v":1,"atUs":0,"migration":"m-0","vm":"vm-2","source":"h1","destination":"h2","policy":"xen","reservedPages":1100,"_tag":"VmMigrationStarted"}',
      oldRound,
      '{"v":1,"atUs":92293,"migration":"m-0","vm":"vm-2","source":"h1","destination":"h2","domid":3,"rounds":1,"pagesSent":1024,"bytesSent":4194304,"downtimeUs":1100,"totalUs":92293,"_tag":"VmMigrationCommitted"}'
    ].map((data) => Either.getOrThrow(decodeEvent(stored(JSON.parse(data)._tag, data))))
    const summaries = new MigrationSummaries()
    for (const e of events) summaries.add(e)
    const [m] = summaries.list()
    expect(m).toMatchObject({ outcome: "committed", rounds: 1, bytesSent: 4_194_304, downtimeUs: 1100 })
    expect(m!.phases).toBeUndefined()
  })
})

describe("the events of a run with phases", () => {
  const r = run(compileFile("idle-migration"))
  const events: ReadonlyArray<PoolEvent> = r.events.map((e) => e.event)

  it("every one round-trips through the stores' codec", () => {
    for (const event of events) {
      const encoded = encodeEvent(event)
      const back = Either.getOrThrow(decodeEvent(stored(encoded.type, encoded.data)))
      expect(back).toEqual(event)
    }
  })

  it("setup, the rounds, suspend and restore come in order, each an event with its duration", () => {
    const steps = events
      .filter((e) => e._tag === "VmMigrationPhaseCompleted" || e._tag === "VmMigrationRoundCompleted")
      .map((e) => (e._tag === "VmMigrationPhaseCompleted" ? e.phase : e.live ? "live round" : "paused round"))
    expect(steps).toEqual(["setup", "live round", "suspend", "paused round", "restore"])
    const summary = r.migrations[0]!
    expect(summary.phases).toBeDefined()
    const p = summary.phases!
    expect(summary.downtimeUs).toBe(p.suspendUs + p.pausedRoundUs + p.restoreUs)
  })
})
