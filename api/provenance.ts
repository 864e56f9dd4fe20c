/**
 * How each pool was made (issue 14): recorded in its creation event when a run is committed, read back
 * for `pools`, `export` and the view. A run records the seed the engine ran with, this xenpool's version
 * and the sha256 of its input's bytes (the scenario or trace file; a scenario given as a value: its JSON
 * text); a branch records its parent and the revision it left it at, in its fork event.
 *
 * @internal
 */
import { createHash } from "node:crypto"
import { createReadStream } from "node:fs"
import { Effect } from "effect"
import { PoolCreated, type PoolProvenance } from "../domain/events.js"
import { poolIdOfStream, poolStreamName, type PoolId } from "../domain/ids.js"
import { EventStore, type NewEvent } from "../store/EventStore.js"
import { XenpoolError } from "./errors.js"
import { version } from "./version.js"

/** What a run was made from. */
export interface RunInput {
  readonly kind: "scenario" | "trace"
  /**
   * The file's name without its directory (so that the same run on another machine records the same
   * bytes), or `<scenario>` for a value; the digest says which content it was.
   */
  readonly name: string
  readonly sha256: string
  /**
   * A scenario's JSON as the engine ran it (with the run's seed and pool id), recorded so that the pool
   * can go on from its log alone (simulations/resume.ts).
   */
  readonly scenario?: string
}

export const sha256OfText = (text: string): string => createHash("sha256").update(text, "utf8").digest("hex")

/** The sha256 of a file's bytes, read as a stream (a trace can be larger than memory). */
export const sha256OfFile = (path: string): Effect.Effect<string, XenpoolError> =>
  Effect.async<string, XenpoolError>((resume) => {
    const hash = createHash("sha256")
    const stream = createReadStream(path)
    stream.on("data", (chunk) => hash.update(chunk))
    stream.on("end", () => resume(Effect.succeed(hash.digest("hex"))))
    stream.on("error", (e) =>
      resume(Effect.fail(new XenpoolError({ what: "cannot read input", where: path, expected: String(e) })))
    )
    return Effect.sync(() => stream.destroy())
  })

export const runProvenance = (seed: number, input: RunInput): PoolProvenance => ({
  _tag: "run",
  seed,
  xenpoolVersion: version,
  input: input.kind,
  inputName: input.name,
  inputSha256: input.sha256,
  ...(input.scenario === undefined ? {} : { scenario: input.scenario })
})

/**
 * The run's batches with its creation event (its first) carrying the provenance: the engine makes the
 * event without it (it does not see its input's bytes), the writer stamps it on the way to the store.
 */
export function* withProvenance(
  batches: Iterable<ReadonlyArray<NewEvent>>,
  provenance: PoolProvenance
): Generator<ReadonlyArray<NewEvent>> {
  let first = true
  for (const batch of batches) {
    const head = batch[0]
    if (first && head !== undefined && head.event._tag === "PoolCreated") {
      const { atUs, pool, pageSizeBytes, linkLatencyUs } = head.event
      const stamped = new PoolCreated({ atUs, pool, pageSizeBytes, linkLatencyUs, provenance })
      yield [{ id: head.id, event: stamped }, ...batch.slice(1)]
    } else yield batch
    if (batch.length > 0) first = false
  }
}

/**
 * A pool's provenance as `pools --json` prints it: every key always there, null where not known. A branch
 * shares its parent's run (seed, version, input) and names its parent and the revision it left it at.
 */
export interface ProvenanceJson {
  /** The root seed the run's engine used; null for a pool written before provenance was recorded. */
  readonly seed: number | null
  /** The xenpool that ran it. */
  readonly xenpoolVersion: string | null
  readonly input: RunInput | null
  /** For a branch: the pool it was forked from, at which revision, by which xenpool. */
  readonly parent: { readonly pool: PoolId; readonly revision: number; readonly xenpoolVersion: string } | null
}

const unknownProvenance: ProvenanceJson = { seed: null, xenpoolVersion: null, input: null, parent: null }

/** The provenance of a pool of the store (which must exist): its creation event, and its fork event if a branch. */
export const provenanceOf = (pool: PoolId) =>
  Effect.gen(function* () {
    const store = yield* EventStore
    const stream = poolStreamName(pool)
    const [created] = yield* store.read(stream, { from: 0, maxCount: 1 })
    const point = yield* store.branchOf(stream)
    const [forked] =
      point === undefined ? [] : yield* store.read(stream, { from: point.parentRevision + 1, maxCount: 1 })
    const run = created?.event._tag === "PoolCreated" ? created.event.provenance : undefined
    const parent =
      point !== undefined && forked?.event._tag === "PoolForked"
        ? {
            pool: poolIdOfStream(point.parent) ?? forked.event.parent,
            revision: point.parentRevision,
            xenpoolVersion: forked.event.xenpoolVersion
          }
        : null
    return run?._tag === "run"
      ? {
          seed: run.seed,
          xenpoolVersion: run.xenpoolVersion,
          input: { kind: run.input, name: run.inputName, sha256: run.inputSha256 },
          parent
        }
      : { ...unknownProvenance, parent }
  })

/** One line of it, for `pools`' table: `seed 7, scenario x.json (sha256 1a2b3c4d), xenpool 0.1.0`. */
export const provenanceText = (p: {
  readonly [K in keyof ProvenanceJson]: K extends "parent"
    ? { readonly pool: string; readonly revision: number } | null
    : ProvenanceJson[K]
}): string => {
  const run =
    p.seed === null
      ? "provenance not recorded"
      : `seed ${p.seed}, ${p.input?.kind ?? "input"} ${p.input?.name ?? "?"} (sha256 ${p.input?.sha256.slice(0, 12) ?? "?"}), xenpool ${p.xenpoolVersion ?? "?"}`
  return p.parent === null ? run : `fork of ${p.parent.pool} @${p.parent.revision}; ${run}`
}

/** How many branches deep a pool's ancestry is followed at most (a bound; forks are made by hand). */
const ANCESTRY_DEPTH_MAX = 1_000

/**
 * The pool whose run a pool's first events are: the pool itself, or for a branch its parent's root. The
 * event ids of a run derive from its seed and this pool's id.
 */
export const rootPoolOf = (pool: PoolId) =>
  Effect.gen(function* () {
    const store = yield* EventStore
    let stream = poolStreamName(pool)
    // Bounded: a branch's parent existed before it, so the chain ends; the depth bound guards a defect.
    for (let depth = 0; depth < ANCESTRY_DEPTH_MAX; depth++) {
      const point = yield* store.branchOf(stream)
      if (point === undefined) break
      stream = point.parent
    }
    return poolIdOfStream(stream) ?? pool
  })
