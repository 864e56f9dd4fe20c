/**
 * The rules every adapter shares (KurrentDB's): the expected-revision check, idempotent re-append and
 * the meaning of read options. Pure decisions over what an adapter read under its write lock, so that
 * memory, SQLite and later KurrentDB cannot disagree.
 */
import type { ExpectedRevision, NewEvent, ReadDirection, ReadOptions } from "./EventStore.js"
import { formatExpected } from "./EventStore.js"
import { WrongExpectedVersion } from "./errors.js"

/** What an adapter knows about the stream when it decides, read under its write lock. */
export interface AppendContext {
  readonly expected: ExpectedRevision
  readonly batchSize: number
  /** The stream's last revision, undefined when the stream does not exist. */
  readonly lastRevision: number | undefined
  /** Where the batch's first event id already is in the stream, undefined when it is not there. */
  readonly firstIdRevision: number | undefined
}

export type AppendDecision =
  /** Write the batch from this revision on. */
  | { readonly _tag: "write"; readonly firstRevision: number }
  /** An empty batch whose expectation holds: nothing to do. */
  | { readonly _tag: "nothing" }
  /**
   * The batch's first id is where a retry of this batch would find it: if the stream's ids from
   * `firstRevision` equal the batch's ids, acknowledge without writing; otherwise it is a conflict.
   */
  | { readonly _tag: "compareIds"; readonly firstRevision: number }
  | { readonly _tag: "wrongExpectedVersion" }

const expectationHolds = (expected: ExpectedRevision, lastRevision: number | undefined): boolean => {
  switch (expected._tag) {
    case "any":
      return true
    case "noStream":
      return lastRevision === undefined
    case "streamExists":
      return lastRevision !== undefined
    case "revision":
      return lastRevision === expected.revision
  }
}

/**
 * The revision a batch of `batchSize` events would start at if it had already been written under this
 * expectation: right after the expected revision, or, for `any` and `streamExists`, as the stream's tail.
 */
const retryStart = (context: AppendContext): number => {
  const { expected, batchSize, lastRevision } = context
  switch (expected._tag) {
    case "noStream":
      return 0
    case "revision":
      return expected.revision + 1
    case "any":
    case "streamExists":
      return (lastRevision ?? -1) - batchSize + 1
  }
}

export const decideAppend = (context: AppendContext): AppendDecision => {
  const { batchSize, lastRevision, firstIdRevision, expected } = context
  if (batchSize === 0) {
    return expectationHolds(expected, lastRevision) ? { _tag: "nothing" } : { _tag: "wrongExpectedVersion" }
  }
  if (firstIdRevision !== undefined) {
    const start = retryStart(context)
    const fitsInStream = lastRevision !== undefined && start >= 0 && start + batchSize - 1 <= lastRevision
    // A first id found anywhere else means the caller is confused about the stream: refuse, as KurrentDB does.
    return fitsInStream && start === firstIdRevision
      ? { _tag: "compareIds", firstRevision: start }
      : { _tag: "wrongExpectedVersion" }
  }
  if (!expectationHolds(expected, lastRevision)) return { _tag: "wrongExpectedVersion" }
  return { _tag: "write", firstRevision: (lastRevision ?? -1) + 1 }
}

/** Whether the stored ids (in revision order, from the decision's first revision) are the batch's. */
export const sameIds = (storedIds: ReadonlyArray<string>, batch: ReadonlyArray<NewEvent>): boolean =>
  storedIds.length === batch.length && storedIds.every((id, i) => id === batch[i]!.id)

export const wrongExpectedVersion = (
  stream: string,
  expected: ExpectedRevision,
  lastRevision: number | undefined
): WrongExpectedVersion =>
  new WrongExpectedVersion({
    stream,
    expected: formatExpected(expected),
    actual: lastRevision === undefined ? "noStream" : String(lastRevision)
  })

/** A read's default count: one page. */
const defaultMaxCount = 4096

/** A count made a non-negative integer: a nonsensical count reads nothing rather than everything. */
export const clampMaxCount = (maxCount: number | undefined): number => {
  const count = maxCount ?? defaultMaxCount
  if (Number.isNaN(count)) return 0
  return Math.max(0, Math.min(Number.MAX_SAFE_INTEGER, Math.floor(count)))
}

export interface ReadRange {
  readonly direction: ReadDirection
  /** First revision to read, inclusive; beyond the stream's end for `end`. */
  readonly fromRevision: number
  readonly maxCount: number
}

/** Global positions start at 1, so `after: 0` (the default) reads the whole log. */
export const beforeFirstPosition = 0

/** `start` is revision 0 and `end` is past the last revision, in either direction (KurrentDB's). */
export const readRange = (options: ReadOptions | undefined): ReadRange => {
  const direction = options?.direction ?? "forwards"
  const from = options?.from ?? (direction === "forwards" ? "start" : "end")
  const revision = from === "start" ? 0 : from === "end" ? Number.MAX_SAFE_INTEGER : Math.floor(from)
  // Before revision 0: forwards reads from the start, backwards reads nothing.
  const fromRevision = direction === "forwards" ? Math.max(0, revision) : Math.max(-1, revision)
  return { direction, fromRevision, maxCount: clampMaxCount(options?.maxCount) }
}
