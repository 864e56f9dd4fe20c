/**
 * Upcasters: a stored event written under an older schema version, rewritten as the current version says
 * it would have been, before it is decoded. Pure functions on the stored JSON, one per (event type, old
 * version), applied in a chain until the event is current; the store's codec runs them on every read, so
 * nothing downstream ever sees an old version.
 *
 * - PoolCreated v1 → v2: v2 records the pool's provenance (seed, xenpool version, input digest). A v1 log
 *   did not keep it and nothing in it tells it back, so it reads as `unrecorded`.
 */
import { unrecordedProvenance } from "./events.js"

type Json = Record<string, unknown>

/** From version `v` of an event type to version `v + 1`. */
const upcasters: Readonly<Record<string, Readonly<Record<number, (event: Json) => Json>>>> = {
  PoolCreated: {
    1: (event) => ({ ...event, v: 2, provenance: unrecordedProvenance })
  }
}

/** Upcasts in a chain this many steps at most (a bound on a loop over versions). */
const STEPS_MAX = 16

/**
 * The stored JSON of an event, upcast to its type's current version; anything that is not an object with a
 * known `_tag` and an older `v` comes back unchanged (the decoder reports what is wrong with it).
 */
export const upcastEvent = (json: unknown): unknown => {
  if (typeof json !== "object" || json === null) return json
  let event = json as Json
  const chain = typeof event["_tag"] === "string" ? upcasters[event["_tag"]] : undefined
  if (chain === undefined) return json
  for (let step = 0; step < STEPS_MAX; step++) {
    const version = event["v"]
    const up = typeof version === "number" ? chain[version] : undefined
    if (up === undefined) return event
    event = up(event)
  }
  return event
}
