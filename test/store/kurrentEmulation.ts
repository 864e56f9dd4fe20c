/**
 * An emulation of the part of `@kurrent/kurrentdb-client` the KurrentDB adapter uses, with a server's
 * semantics as the client's types and KurrentDB's documentation describe them, for tests that run
 * without a server. It is not a substitute for one: it proves the adapter's own logic (mapping, the
 * shared rules, conflicts between writers, truncation, reconnection), not the server's behaviour.
 *
 * Chosen to be awkward where the real client is: stream reads return revisions as numbers (the native
 * bridge's trap, client issue #423) while `$all` reads return bigints; a batch's events share one commit
 * position and differ by prepare position; an append reports the batch's first prepare position, not the
 * last; malformed JSON data comes back as the raw text; a missing stream fails while being iterated.
 */
import type {
  AllStreamResolvedEvent,
  AppendResult,
  AppendStreamState,
  EventData,
  GetStreamMetadataResult,
  ReadAllOptions,
  ReadStreamOptions,
  ResolvedEvent
} from "@kurrent/kurrentdb-client"
import type { KurrentClient } from "../../store/kurrent.js"

interface Rec {
  readonly streamId: string
  readonly revision: number
  readonly id: string
  readonly type: string
  isJson: boolean
  /** The stored bytes, as text. */
  text: string
  readonly commit: bigint
  readonly prepare: bigint
}

/** Log bytes per event record, and for a batch's commit record. */
const recordBytes = 64n

const commandError = (type: string, message: string, fields: Record<string, unknown> = {}) =>
  Object.assign(new Error(message), { type, ...fields })

export class EmulatedKurrent implements KurrentClient {
  readonly streams = new Map<string, Rec[]>()
  /** `$tb` in effect: revisions below it are not readable. */
  readonly truncatedBefore = new Map<string, number>()
  readonly metadata = new Map<string, Record<string, unknown>>()
  readonly log: Rec[] = []
  private logEnd = 4096n
  /** The next this-many calls fail as if the connection dropped. */
  failNextCalls = 0
  appends = 0

  private maybeFail(): void {
    if (this.failNextCalls > 0) {
      this.failNextCalls--
      throw commandError("unavailable", "UnavailableError")
    }
  }

  async appendToStream(
    stream: string,
    events: EventData[],
    options: { readonly streamState: AppendStreamState }
  ): Promise<AppendResult> {
    this.maybeFail()
    this.appends++
    const list = this.streams.get(stream) ?? []
    const current = list.length === 0 ? undefined : list.length - 1
    const state = options.streamState
    const wrong = () =>
      commandError("wrong-expected-version", `WrongExpectedVersion on ${stream}`, {
        streamName: stream,
        expectedState: state,
        actualState: current === undefined ? "no_stream" : BigInt(current)
      })
    const idempotentAt = (first: number): AppendResult | undefined => {
      const slot = list.slice(first, first + events.length)
      if (slot.length !== events.length || !slot.every((rec, i) => rec.id === events[i]!.id)) return undefined
      return { success: true, nextExpectedRevision: BigInt(first + events.length - 1), position: undefined }
    }
    if (state === "no_stream" && current !== undefined) {
      const again = idempotentAt(0)
      if (again === undefined) throw wrong()
      return again
    }
    if (state === "stream_exists" && current === undefined) throw wrong()
    if (typeof state === "bigint" && BigInt(current ?? -1) !== state) {
      const again = state < BigInt(current ?? -1) ? idempotentAt(Number(state) + 1) : undefined
      if (again === undefined) throw wrong()
      return again
    }
    return this.write(stream, list, events)
  }

  private write(stream: string, list: Rec[], events: EventData[]): AppendResult {
    const first = this.logEnd
    const commit = events.length === 1 ? first : first + recordBytes * BigInt(events.length)
    events.forEach((event, i) => {
      const json = event.contentType === "application/json"
      const text = json ? JSON.stringify(event.data) : Buffer.from(event.data as Uint8Array).toString("utf8")
      const rec: Rec = {
        streamId: stream,
        revision: list.length,
        id: event.id,
        type: event.type,
        isJson: json,
        text,
        commit,
        prepare: first + recordBytes * BigInt(i)
      }
      list.push(rec)
      this.log.push(rec)
    })
    this.streams.set(stream, list)
    this.logEnd = commit + recordBytes
    return { success: true, nextExpectedRevision: BigInt(list.length - 1), position: { commit, prepare: first } }
  }

  private recorded(rec: Rec, revisionAsNumber: boolean) {
    let data: unknown
    if (rec.isJson) {
      try {
        data = JSON.parse(rec.text)
      } catch {
        data = rec.text
      }
    } else data = new Uint8Array(Buffer.from(rec.text, "utf8"))
    return {
      streamId: rec.streamId,
      id: rec.id,
      revision: revisionAsNumber ? rec.revision : BigInt(rec.revision),
      type: rec.type,
      data,
      metadata: undefined,
      isJson: rec.isJson,
      created: new Date(0),
      position: { commit: rec.commit, prepare: rec.prepare }
    }
  }

  readStream(stream: string, options: ReadStreamOptions): AsyncIterableIterator<ResolvedEvent> {
    return this.streamRead(stream, options)
  }

  private async *streamRead(stream: string, options: ReadStreamOptions): AsyncIterableIterator<ResolvedEvent> {
    this.maybeFail()
    const list = this.streams.get(stream) ?? []
    const floor = this.truncatedBefore.get(stream) ?? 0
    if (list.length <= floor) throw commandError("stream-not-found", `${stream} not found`)
    const max = Number(options.maxCount ?? Number.MAX_SAFE_INTEGER)
    const from = options.fromRevision ?? "start"
    const picked: Rec[] = []
    if ((options.direction ?? "forwards") === "forwards") {
      const start = Math.max(floor, from === "start" ? 0 : from === "end" ? list.length : Number(from))
      for (let r = start; r < list.length && picked.length < max; r++) picked.push(list[r]!)
    } else {
      const start = from === "end" ? list.length - 1 : Math.min(Number(from), list.length - 1)
      for (let r = start; r >= floor && picked.length < max; r--) picked.push(list[r]!)
    }
    for (const rec of picked) yield { event: this.recorded(rec, true) } as unknown as ResolvedEvent
  }

  readAll(options: ReadAllOptions): AsyncIterableIterator<AllStreamResolvedEvent> {
    return this.allRead(options)
  }

  private async *allRead(options: ReadAllOptions): AsyncIterableIterator<AllStreamResolvedEvent> {
    this.maybeFail()
    const from = options.fromPosition ?? "start"
    const filter = options.filter
    const regex = filter !== undefined && "regex" in filter ? new RegExp(filter.regex) : undefined
    const max = Number(options.maxCount ?? Number.MAX_SAFE_INTEGER)
    let start = 0
    if (from === "end") start = this.log.length
    else if (from !== "start") {
      // Inclusive, in (commit, prepare) order, found by binary search over the log.
      let low = 0
      let high = this.log.length
      while (low < high) {
        const middle = (low + high) >>> 1
        const rec = this.log[middle]!
        const before = rec.commit < from.commit || (rec.commit === from.commit && rec.prepare < from.prepare)
        if (before) low = middle + 1
        else high = middle
      }
      start = low
    }
    let yielded = 0
    for (let i = start; i < this.log.length && yielded < max; i++) {
      const rec = this.log[i]!
      if (regex !== undefined && !regex.test(rec.streamId)) continue
      yielded++
      yield { event: this.recorded(rec, false) } as unknown as AllStreamResolvedEvent
    }
  }

  async getStreamMetadata(stream: string): Promise<GetStreamMetadataResult> {
    this.maybeFail()
    const metadata = this.metadata.get(stream)
    return metadata === undefined ? { streamName: stream } : { streamName: stream, metadata }
  }

  async dispose(): Promise<void> {}

  /** Replaces the stored text of one event, as corruption or an incompatible schema would. */
  corrupt(stream: string, revision: number, text: string): void {
    const rec = this.streams.get(stream)?.[revision]
    if (rec === undefined) throw new Error(`no event ${stream}@${revision}`)
    rec.text = text
    rec.isJson = true
  }

  /** Events of other applications and of the server itself, which a store must not see. */
  seedForeign(): void {
    const other = (n: number): EventData => ({
      id: `ffffffff-0000-4000-8000-${n.toString(16).padStart(12, "0")}`,
      contentType: "application/json",
      type: "OrderPlaced",
      data: { order: n },
      metadata: undefined
    })
    this.write("orders-1", [], [other(1), other(2)])
    this.write("$stats-127.0.0.1:2113", [], [other(3)])
  }
}
