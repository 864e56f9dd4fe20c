/**
 * Opening a store by URL: `sqlite:PATH` (the embedded default), `memory:`, or a KurrentDB connection
 * string (`kurrentdb://HOST:2113?tls=false`), with its snapshot store beside it (DESIGN.md §3).
 */
import { Layer } from "effect"
import { SnapshotSettings } from "../projections/snapshots.js"
import type { EventStore } from "../store/EventStore.js"
import type { SnapshotStore } from "../store/SnapshotStore.js"
import type { StoreError } from "../store/errors.js"
import { layerFromUrl } from "../store/url.js"
import { XenpoolError } from "./errors.js"

export interface StoreOptions {
  /** Events between time-travel snapshots (default 1,024: docs/time-travel.md). */
  readonly snapshotEveryEvents?: number
}

/** What every operation on a store needs: the event store and its snapshot store. */
export type Store = EventStore | SnapshotStore

/**
 * The store a URL names, as a layer: a bad URL fails it with a StoreError that lists the accepted forms
 * (and never prints a password of the URL).
 *
 * @example
 * const program = simulate(scenarioPath("write-heavy")).pipe(Effect.provide(storeLayer("memory:")))
 */
export const storeLayer = (url: string, options: StoreOptions = {}): Layer.Layer<Store, StoreError | XenpoolError> => {
  const every = options.snapshotEveryEvents
  if (every === undefined) return layerFromUrl(url)
  if (!(Number.isSafeInteger(every) && every >= 1))
    return Layer.fail(
      new XenpoolError({ what: "bad snapshotEveryEvents", where: String(every), expected: "a number of events >= 1" })
    )
  return Layer.merge(layerFromUrl(url), Layer.succeed(SnapshotSettings, { everyEvents: every }))
}
