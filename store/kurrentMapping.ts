/**
 * The pure half of the KurrentDB adapter: how xenpool's terms map to KurrentDB's and back, without the
 * client (so that it is tested without a server, and loading it costs nothing at start-up).
 *
 * - Connection strings: the forms xenpool accepts, checked before the client sees them (the client
 *   prints warnings for an `esdb://` scheme and for unknown options instead of failing).
 * - Stream states: KurrentDB's `streamState` (`any`, `no_stream`, `stream_exists`, a bigint revision).
 * - Revisions and positions: bigints (or, through the native bridge, sometimes numbers: client issue
 *   #423) normalised to safe integers; a `$all` position `(commit, prepare)` becomes one number.
 * - Truncation: a stream whose history was erased is an error, never a shorter history.
 * - Failures: one line naming what to check.
 */
import { createHash } from "node:crypto"
import { Either } from "effect"
import type { AppendStreamState } from "@kurrent/kurrentdb-client"
import type { ExpectedRevision } from "./EventStore.js"
import { flatOptionName, knownOptions } from "./kurrentOptions.js"
import { isAmbiguous, percentDecoded, redactUrl, splitUrl, splitUserinfo } from "./redact.js"

// --- connection strings ---------------------------------------------------------------------------

/** The client's default per-call deadline (`defaultDeadline`), in milliseconds. */
const clientDefaultDeadlineMs = 10_000

const optionByFlatName = new Map(knownOptions.map((name) => [flatOptionName(name), name]))

const schemes: ReadonlyMap<string, { readonly discover: boolean; readonly deprecated: boolean }> = new Map([
  ["kurrentdb", { discover: false, deprecated: false }],
  ["kurrentdb+discover", { discover: true, deprecated: false }],
  ["kurrent", { discover: false, deprecated: false }],
  ["kurrent+discover", { discover: true, deprecated: false }],
  ["kdb", { discover: false, deprecated: false }],
  ["kdb+discover", { discover: true, deprecated: false }],
  ["esdb", { discover: false, deprecated: true }],
  ["esdb+discover", { discover: true, deprecated: true }]
])

export interface KurrentUrl {
  /**
   * What the client is given: as written, except that a deprecated `esdb` scheme becomes `kurrentdb`
   * (the same protocol; the client would print a deprecation warning on stderr for every connection)
   * and the credentials are percent-encoded. Never shown: it holds the password.
   */
  readonly connectionString: string
  /** For messages: as written, the password hidden. */
  readonly redacted: string
  readonly discover: boolean
  /** `host:port` of each gossip seed or node, in order; the port defaults to 2113 as in the client. */
  readonly hosts: ReadonlyArray<string>
  readonly hasCredentials: boolean
  /** TLS is on unless `tls=false` (the client's default). */
  readonly tls: boolean
  /** The per-call deadline: `defaultDeadline`, else the client's 10 s. */
  readonly deadlineMs: number
  /** The connection string used a deprecated `esdb` scheme, rewritten to `kurrentdb`. */
  readonly deprecatedScheme: boolean
}

const parseHosts = (text: string): Either.Either<ReadonlyArray<string>, string> => {
  const hosts: string[] = []
  for (const raw of text.split(",")) {
    const host = raw.trim()
    if (host === "") return Either.left("a host is missing in the host list (HOST:PORT[,HOST:PORT...])")
    const [address, port = "2113", ...rest] = host.split(":")
    const portNumber = Number(port)
    if (rest.length > 0 || address === "" || !Number.isInteger(portNumber) || portNumber < 1 || portNumber > 65535) {
      return Either.left(`${host} is not HOST:PORT (e.g. localhost:2113)`)
    }
    hosts.push(`${address}:${portNumber}`)
  }
  return Either.right(hosts)
}

const parseOptions = (query: string): Either.Either<ReadonlyMap<string, string>, string> => {
  const options = new Map<string, string>()
  if (query === "") return Either.right(options)
  for (const pair of query.split("&")) {
    const at = pair.indexOf("=")
    const key = at < 0 ? pair : pair.slice(0, at)
    const value = at < 0 ? "" : pair.slice(at + 1).trim()
    const known = optionByFlatName.get(flatOptionName(key))
    if (known === undefined) return Either.left(`unknown option ${key}; known options: ${knownOptions.join(", ")}`)
    if (value === "") return Either.left(`option ${known} has no value (${known}=VALUE)`)
    options.set(known, value)
  }
  return Either.right(options)
}

const checkValues = (options: ReadonlyMap<string, string>): string | undefined => {
  for (const name of ["tls", "tlsVerifyCert", "throwOnAppendFailure"]) {
    const value = options.get(name)
    if (value !== undefined && value !== "true" && value !== "false")
      return `${name} must be true or false, not ${value}`
  }
  const deadline = options.get("defaultDeadline")
  if (deadline !== undefined && !(/^\d+$/.test(deadline) && Number(deadline) > 0)) {
    return `defaultDeadline must be a positive number of milliseconds, not ${deadline}`
  }
  // The adapter reads what the client returns with `throwOnAppendFailure` on; off, failures would be silent.
  if (options.get("throwOnAppendFailure") === "false") return "throwOnAppendFailure=false is not supported"
  return undefined
}

const usage = "kurrentdb://[USER:PASSWORD@]HOST:PORT[,HOST:PORT...][?tls=false]"

/**
 * The credentials as the client is given them: percent-encoded, so that a password holding `@ / ? : %`
 * reaches the server whole (the client decodes them; as written it would cut them at the first `@` or `:`).
 * The messages never quote them.
 */
const clientCredentials = (userinfo: string): Either.Either<string, string> => {
  const { user, password } = splitUserinfo(userinfo)
  if (password === undefined) return Either.left(`credentials go before the host as USER:PASSWORD@ (${usage})`)
  if (user === "") return Either.left(`the user name is missing before the password (${usage})`)
  if (password === "") return Either.left(`the password is empty (${usage})`)
  return Either.right(`${encodeURIComponent(percentDecoded(user))}:${encodeURIComponent(percentDecoded(password))}@`)
}

/**
 * Checks a KurrentDB connection string and says what is wrong in one line. The client parses it again
 * (and may still refuse what this does not check, e.g. a certificate file that does not exist).
 */
export const parseKurrentUrl = (text: string): Either.Either<KurrentUrl, string> => {
  const trimmed = text.trim().replace(/\/+$/, "")
  const parts = splitUrl(trimmed)
  const scheme = parts?.scheme.toLowerCase()
  const kind = scheme === undefined ? undefined : schemes.get(scheme)
  if (parts === undefined || kind === undefined) {
    return Either.left(`not a KurrentDB connection string; expected ${usage}`)
  }
  if (isAmbiguous(parts)) {
    return Either.left(
      "a ? before the last @ leaves the password and the options ambiguous: write ? in a password as %3F, @ in an option value as %40"
    )
  }
  const credentials = parts.userinfo === undefined ? Either.right("") : clientCredentials(parts.userinfo)
  if (Either.isLeft(credentials)) return Either.left(credentials.left)
  // After the last `@` (redact.ts): hosts, a path (refused) and options.
  const match = /^([^?/]*)(\/[^?]*)?(?:\?(.*))?$/s.exec(parts.rest)!
  if (match[2] !== undefined) return Either.left("a connection string has no path: write kurrentdb://HOST:PORT?OPTIONS")
  const hosts = parseHosts(match[1] ?? "")
  if (Either.isLeft(hosts)) return Either.left(hosts.left)
  const options = parseOptions(match[3] ?? "")
  if (Either.isLeft(options)) return Either.left(options.left)
  const problem = checkValues(options.right)
  if (problem !== undefined) return Either.left(problem)
  const canonical = kind.deprecated ? scheme!.replace("esdb", "kurrentdb") : scheme!
  return Either.right({
    connectionString: `${canonical}://${credentials.right}${parts.rest}`,
    redacted: redactUrl(trimmed),
    discover: kind.discover,
    hosts: hosts.right,
    hasCredentials: parts.userinfo !== undefined,
    tls: options.right.get("tls") !== "false",
    deadlineMs: Number(options.right.get("defaultDeadline") ?? clientDefaultDeadlineMs),
    deprecatedScheme: kind.deprecated
  })
}

// --- stream states --------------------------------------------------------------------------------

/** The client's constants, spelled out so that this module does not load the client. */
export const streamStates = { any: "any", noStream: "no_stream", streamExists: "stream_exists" } as const

/** An expectation as the client's `streamState`. */
export const toStreamState = (expected: ExpectedRevision): AppendStreamState => {
  switch (expected._tag) {
    case "any":
      return streamStates.any
    case "noStream":
      return streamStates.noStream
    case "streamExists":
      return streamStates.streamExists
    case "revision":
      return BigInt(expected.revision)
  }
}

/**
 * The state an append actually sends: exactly the stream's last revision as this adapter read it
 * (`no_stream` when it has none), so that the server writes only if nobody wrote in between. The
 * caller's own expectation was decided against that revision with the shared rules (store/rules.ts).
 */
export const compareAndSetState = (lastRevision: number | undefined): AppendStreamState =>
  lastRevision === undefined ? streamStates.noStream : BigInt(lastRevision)

// --- revisions and positions ----------------------------------------------------------------------

/** A bigint, an integral number or a decimal string as a bigint; anything else undefined. */
const toBigInt = (value: unknown): bigint | undefined => {
  if (typeof value === "bigint") return value
  if (typeof value === "number") return Number.isInteger(value) ? BigInt(value) : undefined
  if (typeof value === "string" && /^-?\d+$/.test(value)) return BigInt(value)
  return undefined
}

const maxSafe = BigInt(Number.MAX_SAFE_INTEGER)

/**
 * A stream revision as a safe integer. The client declares bigints but its native reads have returned
 * numbers (issue #423), so anything integral is accepted; a revision beyond 2^53 - 1 is refused, not rounded.
 */
export const revisionNumber = (value: unknown): Either.Either<number, string> => {
  const revision = toBigInt(value)
  if (revision === undefined || revision < 0n)
    return Either.left(`the server sent a revision that is not one: ${String(value)}`)
  if (revision > maxSafe) return Either.left(`revision ${revision} is beyond 2^53 - 1, which xenpool cannot count`)
  return Either.right(Number(revision))
}

/** The value KurrentDB uses for "no position" (2^64 - 1), e.g. in stream reads of servers before 22.10. */
export const noPosition = 18_446_744_073_709_551_615n

/**
 * A `$all` position as xenpool's one increasing number: **prepare + 1**.
 *
 * KurrentDB orders `$all` by `(commit, prepare)`. Every xenpool write is one append (an implicit
 * transaction: its events' prepare records lie one after another and are committed together), so in
 * `$all` order the prepare positions strictly increase, and each event has its own; the commit
 * position is shared by a batch's events and so cannot tell them apart. `+ 1` keeps 0 free for
 * "before the first event" (`beforeFirstPosition`). Log offsets beyond 2^53 (8 PiB) are refused.
 */
export const positionNumber = (
  position: { readonly commit: unknown; readonly prepare: unknown } | undefined
): Either.Either<number, string> => {
  const commit = toBigInt(position?.commit)
  const prepare = toBigInt(position?.prepare)
  if (commit === undefined || prepare === undefined || commit === noPosition || prepare === noPosition) {
    return Either.left("the server sent no $all position for an event (KurrentDB / EventStoreDB 22.10 or later needed)")
  }
  if (prepare < 0n || prepare > commit)
    return Either.left(`inconsistent $all position (commit ${commit}, prepare ${prepare})`)
  if (prepare >= maxSafe) return Either.left(`$all position ${prepare} is beyond 2^53 - 1, which xenpool cannot count`)
  return Either.right(Number(prepare) + 1)
}

/** Where a `$all` read starts to find what comes after `after` (it may return the event at `after` too). */
export const readPositionAfter = (
  after: number,
  known: { readonly commit: bigint; readonly prepare: bigint } | undefined
): "start" | { readonly commit: bigint; readonly prepare: bigint } => {
  if (after < 1) return "start"
  if (known !== undefined) return known
  // Any event after prepare p has commit >= its prepare > p, so (p, p) is at or before it in $all order.
  const prepare = BigInt(Math.floor(after) - 1)
  return { commit: prepare, prepare }
}

/** The stream's last revision from the `actualState` of a WrongExpectedVersionError. */
export const actualRevision = (state: unknown): Either.Either<number | undefined, string> => {
  if (state === streamStates.noStream) return Either.right(undefined)
  const revision = toBigInt(state)
  if (revision === -1n) return Either.right(undefined)
  return revision === undefined ? Either.left(`unknown stream state ${String(state)}`) : revisionNumber(revision)
}

// --- truncation -----------------------------------------------------------------------------------

const truncated = (stream: string, firstReadable: number) =>
  `stream ${stream} is truncated: its first readable revision is ${firstReadable}, not 0 ` +
  "($maxCount, $maxAge or $tb metadata, a soft delete or a scavenge erased its history); xenpool streams must keep their whole history"

/** What is wrong with a forwards page read from `from`, if anything: a gap means erased history. */
export const forwardsProblem = (stream: string, from: number, revisions: ReadonlyArray<number>): string | undefined => {
  for (let i = 0; i < revisions.length; i++) {
    if (revisions[i] !== from + i) {
      return i === 0 ? truncated(stream, revisions[0]!) : `stream ${stream} has a gap after revision ${from + i - 1}`
    }
  }
  return undefined
}

/**
 * What is wrong with a backwards page read from `from` (already at most the last revision) for at most
 * `maxCount` events: it must count down without gaps and reach revision 0 if it stops short.
 */
export const backwardsProblem = (
  stream: string,
  from: number,
  maxCount: number,
  revisions: ReadonlyArray<number>
): string | undefined => {
  for (let i = 0; i < revisions.length; i++) {
    if (revisions[i] !== from - i) return `stream ${stream} has a gap below revision ${from - i + 1}`
  }
  const lowest = revisions[revisions.length - 1]
  if (revisions.length < maxCount && lowest !== undefined && lowest > 0) return truncated(stream, lowest)
  if (revisions.length === 0 && from >= 0 && maxCount > 0) return truncated(stream, from + 1)
  return undefined
}

/** Stream metadata that erases history, named, or undefined when there is none. */
export const retentionProblem = (
  stream: string,
  metadata: { readonly maxAge?: unknown; readonly maxCount?: unknown; readonly truncateBefore?: unknown } | undefined
): string | undefined => {
  const set = [
    metadata?.maxAge === undefined ? undefined : `$maxAge=${String(metadata.maxAge)}`,
    metadata?.maxCount === undefined ? undefined : `$maxCount=${String(metadata.maxCount)}`,
    metadata?.truncateBefore === undefined ? undefined : `$tb=${String(metadata.truncateBefore)}`
  ].filter((s) => s !== undefined)
  if (set.length === 0) return undefined
  return `stream ${stream} has ${set.join(", ")} in its metadata, which erases history; remove it (xenpool streams keep their whole history)`
}

// --- stream names ---------------------------------------------------------------------------------

/** The adapter's catalogue of the streams it created (how `streams()` lists them without reading `$all`). */
export const catalogueStream = "xenpool-catalogue"
/** Companion streams of snapshots (`snapshots-pool-<id>`): not event streams, never in `readAll`. */
export const snapshotStreamPrefix = "snapshots-"

const escapeRegex = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")

/**
 * The local name of a stream this adapter owns (`prefix` + name), or undefined: system streams (`$…`),
 * the catalogue, snapshot streams and other prefixes are not event streams of this store.
 */
export const ownedStream = (prefix: string, stream: string): string | undefined => {
  if (!stream.startsWith(prefix)) return undefined
  const local = stream.slice(prefix.length)
  if (local === "" || local.startsWith("$") || local === catalogueStream || local.startsWith(snapshotStreamPrefix)) {
    return undefined
  }
  return local
}

/** The same rule as a server-side stream-name filter (.NET regular expression) for `$all` reads. */
export const ownedStreamsRegex = (prefix: string): string =>
  `^${escapeRegex(prefix)}(?!\\$)(?!${escapeRegex(catalogueStream)}$)(?!${escapeRegex(snapshotStreamPrefix)})`

/**
 * A UUID made from text (SHA-1, in the version-5 layout): the same text gives the same id, so that the
 * adapter's own events (catalogue entries, snapshots) are the same event when they are sent again.
 */
export const nameUuid = (text: string): string => {
  const hex = createHash("sha1").update(text).digest("hex")
  const variant = ((parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16)
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`
}

// --- failures -------------------------------------------------------------------------------------

type ProblemKind =
  | "conflict"
  | "refused"
  | "unresolved"
  | "plainServer"
  | "certificate"
  | "credentials"
  | "timeout"
  | "unavailable"
  | "notLeader"
  | "deleted"
  | "tooLarge"
  | "other"

export interface Problem {
  readonly kind: ProblemKind
  /** Worth trying again (the server may come back, a leader may be elected). */
  readonly transient: boolean
  /** The client's own words, first line only. */
  readonly raw: string
}

const firstLine = (text: string): string => text.split("\n")[0]!.trim()

const errorFields = (error: unknown) => {
  const e = typeof error === "object" && error !== null ? (error as Record<string, unknown>) : {}
  const message = typeof e["message"] === "string" ? e["message"] : String(error)
  const type = typeof e["type"] === "string" ? e["type"] : undefined
  const code = typeof e["code"] === "number" ? e["code"] : undefined
  return { message, type, code }
}

/** What kind of failure a client error is, from its type, gRPC status code and message. */
export const classifyError = (error: unknown): Problem => {
  const { message, type, code } = errorFields(error)
  const raw = firstLine(message)
  const is = (kind: ProblemKind, transient: boolean): Problem => ({ kind, transient, raw })
  if (type === "wrong-expected-version") return is("conflict", false)
  if (
    type === "maximum-append-size-exceeded" ||
    type === "append-record-size-exceeded" ||
    type === "transaction-max-size-exceeded"
  ) {
    return is("tooLarge", false)
  }
  if (/ECONNREFUSED/.test(message)) return is("refused", true)
  if (/ENOTFOUND|EAI_AGAIN|getaddrinfo|Name resolution|DNS resolution/i.test(message)) return is("unresolved", true)
  if (/wrong version number|packet length too long|http request|EPROTO/i.test(message)) return is("plainServer", false)
  if (/certificate|self[- ]signed|CERT_|unable to verify/i.test(message)) return is("certificate", false)
  if (type === "access-denied" || code === 16 || code === 7 || /UNAUTHENTICATED|PERMISSION_DENIED/.test(message)) {
    return is("credentials", false)
  }
  if (type === "deadline-exceeded" || type === "timeout" || code === 4) return is("timeout", true)
  if (type === "not-leader") return is("notLeader", true)
  if (type === "stream-deleted" || type === "stream-tombstoned") return is("deleted", false)
  if (type === "unavailable" || type === "cancelled" || code === 14 || code === 1) return is("unavailable", true)
  return is("other", false)
}

/** The failure in one line: what happened at which hosts, and what to check. */
export const describeProblem = (problem: Problem, url: KurrentUrl): string => {
  const hosts = url.hosts.join(",")
  const tlsHint = url.tls
    ? "if the server runs without TLS, add tls=false"
    : "if the server uses TLS (KurrentDB's default), remove tls=false and give tlsCAFile=PATH"
  switch (problem.kind) {
    case "conflict":
      return `another writer appended first (${problem.raw})`
    case "refused":
      return `connection refused at ${hosts}: is KurrentDB running there, and is that its client port (2113 by default)?`
    case "unresolved":
      return `cannot resolve ${hosts}: check the host names`
    case "plainServer":
      return `${hosts} answered without TLS while the URL asks for TLS: add tls=false (or enable TLS on the server)`
    case "certificate":
      return `the TLS certificate of ${hosts} is not trusted (${problem.raw}): set tlsCAFile=PATH to its CA (tlsVerifyCert=false only for a test server)`
    case "credentials":
      return url.hasCredentials
        ? `access denied by ${hosts}: check the user name and password in the URL (kurrentdb://USER:PASSWORD@HOST:PORT) and the user's rights`
        : `access denied by ${hosts}: the server needs credentials, give them in the URL (kurrentdb://USER:PASSWORD@HOST:PORT)`
    case "timeout":
      return `no answer from ${hosts} within ${url.deadlineMs / 1000} s: check that it is KurrentDB's client port, the network, and the TLS setting (${tlsHint})`
    case "unavailable":
      return `KurrentDB at ${hosts} is unavailable: is it running and reachable? (${tlsHint})`
    case "notLeader":
      return `${hosts} is not the cluster's leader and no leader was found: check the cluster's health`
    case "deleted":
      return `${problem.raw}: the stream was deleted permanently`
    case "tooLarge":
      return `the batch is larger than the server accepts in one append (${problem.raw}): raise the server's MaxAppendSize (often 1 MiB by default); xenpool writes a batch as one atomic append`
    case "other":
      return problem.raw === "" ? "the client failed without saying why" : problem.raw
  }
}
