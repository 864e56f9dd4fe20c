/**
 * Store URLs (DESIGN.md §3): `--store URL` or the `XENPOOL_STORE` environment variable choose the
 * adapter. `sqlite:PATH` is the embedded default.
 */
import { Either, Layer } from "effect"
import type { EventStore } from "./EventStore.js"
import { StoreError } from "./errors.js"
import type { SnapshotStore } from "./SnapshotStore.js"
import { layerKurrent } from "./kurrent.js"
import { layerMemory, memoryUrl } from "./memory.js"
import { layerSqlite } from "./sqlite.js"
import { redactUrl } from "./redact.js"

export const defaultStoreUrl = "sqlite:xenpool.db"
export const storeUrlEnvVar = "XENPOOL_STORE"

export type StoreUrl =
  | { readonly _tag: "memory" }
  | { readonly _tag: "sqlite"; readonly path: string }
  /** A KurrentDB / EventStoreDB connection string, checked and opened by store/kurrent.ts. */
  | { readonly _tag: "kurrentdb"; readonly connectionString: string }

const kurrentSchemes = ["kurrentdb://", "kurrentdb+discover://", "esdb://", "esdb+discover://"]

const acceptedForms =
  "memory:, sqlite:PATH (e.g. sqlite:xenpool.db), kurrentdb://HOST:2113?tls=false, kurrentdb+discover://HOST, esdb://HOST:2113"

export { redact, redactUrl, urlsIn } from "./redact.js"

const invalid = (text: string, detail: string) =>
  Either.left(new StoreError({ url: redactUrl(text), operation: "parse store URL", detail }))

export const parseStoreUrl = (text: string): Either.Either<StoreUrl, StoreError> => {
  const url = text.trim()
  if (url === memoryUrl) return Either.right({ _tag: "memory" })
  if (url.startsWith("sqlite:")) {
    const path = url.slice("sqlite:".length)
    if (path === "")
      return invalid(text, "sqlite: needs a file path, e.g. sqlite:xenpool.db or sqlite:/var/lib/xenpool.db")
    if (path.startsWith("//")) {
      return invalid(
        text,
        "sqlite://… is ambiguous; write sqlite:PATH, e.g. sqlite:xenpool.db or sqlite:/var/lib/xenpool.db"
      )
    }
    return Either.right({ _tag: "sqlite", path })
  }
  if (kurrentSchemes.some((scheme) => url.toLowerCase().startsWith(scheme))) {
    return Either.right({ _tag: "kurrentdb", connectionString: url })
  }
  return invalid(text, `not a store URL; expected one of: ${acceptedForms}`)
}

/** The event store a URL names, with its snapshot store beside it. */
const layerFromStoreUrl = (url: StoreUrl): Layer.Layer<EventStore | SnapshotStore, StoreError> => {
  switch (url._tag) {
    case "memory":
      return layerMemory
    case "sqlite":
      return layerSqlite(url.path)
    case "kurrentdb":
      return layerKurrent(url.connectionString)
  }
}

/** The store a URL names; a bad URL fails the layer with a StoreError listing the accepted forms. */
export const layerFromUrl = (text: string): Layer.Layer<EventStore | SnapshotStore, StoreError> =>
  Either.match(parseStoreUrl(text), { onLeft: (error) => Layer.fail(error), onRight: layerFromStoreUrl })

/** The store URL to use: the explicit one, else `XENPOOL_STORE`, else the embedded default. */
export const resolveStoreUrl = (explicit: string | undefined, env: NodeJS.ProcessEnv = process.env): string => {
  const fromEnv = env[storeUrlEnvVar]
  // An empty variable is treated as unset, as shells make it easy to export one by accident.
  return explicit ?? (fromEnv === undefined || fromEnv === "" ? defaultStoreUrl : fromEnv)
}
