/**
 * The events of a run held back until the run is known good (`xenpool replay` appends nothing of a bad
 * trace): in memory up to `memoryEventsMax`, then in a temporary file, one stored-form JSON line per
 * event (store/codec.ts), so that a run of any length holds at most that many events in memory. Read
 * back in order, in batches, for appending.
 *
 * The file is unlinked as soon as it is opened: it lives only as this process's open descriptor, so a
 * process that is killed (SIGKILL, out of memory) leaves no spool file behind, and nothing needs cleaning
 * at the next start.
 *
 * @internal
 */
import { Either } from "effect"
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { EventId } from "../domain/ids.js"
import type { EmittedEvent } from "../engine/simulation.js"
import { decodeEvent, encodeEvent } from "../store/codec.js"
import type { NewEvent } from "../store/EventStore.js"
import { fdInput, LineReader } from "../simulations/trace.js"

export const SPOOL_MEMORY_EVENTS_MAX = 100_000

export class EventSpool {
  private held: EmittedEvent[] = []
  private fd: number | undefined
  private spilledCount = 0

  constructor(private readonly memoryEventsMax = SPOOL_MEMORY_EVENTS_MAX) {}

  /** Events held, in memory and on disk. */
  get count(): number {
    return this.spilledCount + this.held.length
  }

  /** Whether any event went to disk (then the events are appended in several batches). */
  get spilled(): boolean {
    return this.spilledCount > 0
  }

  add(batch: ReadonlyArray<EmittedEvent>): void {
    for (const e of batch) this.held.push(e)
    if (this.held.length >= this.memoryEventsMax) this.spill()
  }

  /** Every event in order, in batches of at most `size`. */
  *batches(size: number): Generator<ReadonlyArray<NewEvent>> {
    if (this.fd !== undefined) yield* this.readSpill(this.fd, size)
    for (let i = 0; i < this.held.length; i += size) yield this.held.slice(i, i + size)
  }

  /** Closes the temporary file, if there is one (it has no name left: closing frees it). */
  close(): void {
    if (this.fd !== undefined) closeSync(this.fd)
    this.fd = undefined
  }

  private spill(): void {
    if (this.fd === undefined) {
      const dir = mkdtempSync(join(tmpdir(), "xenpool-replay-"))
      try {
        this.fd = openSync(join(dir, "events.jsonl"), "w+", 0o600)
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    }
    const lines = this.held.map(({ id, event }) => {
      const { type, data } = encodeEvent(event)
      return `${JSON.stringify({ id, type })}\t${data}`
    })
    writeSync(this.fd, `${lines.join("\n")}\n`)
    this.spilledCount += this.held.length
    this.held = []
  }

  private *readSpill(fd: number, size: number): Generator<ReadonlyArray<NewEvent>> {
    // Read by position from the start; the descriptor stays open (and the spool readable) until close().
    const lines = new LineReader(fdInput("the replay's event spool", fd).open())
    let batch: NewEvent[] = []
    // Bounded: one spilled event per pass.
    for (let line = lines.next(); line !== undefined; line = lines.next()) {
      batch.push(this.decode(line, lines.lineNumber))
      if (batch.length === size) {
        yield batch
        batch = []
      }
    }
    if (batch.length > 0) yield batch
  }

  private decode(line: string, revision: number): NewEvent {
    const tab = line.indexOf("\t")
    const { id, type } = JSON.parse(line.slice(0, tab)) as { id: string; type: string }
    const decoded = decodeEvent({
      stream: "spool",
      revision: revision - 1,
      position: revision,
      id,
      type,
      data: line.slice(tab + 1)
    })
    if (Either.isLeft(decoded)) throw new Error(`the replay's event spool is unreadable: ${decoded.left.message}`)
    return { id: id as EventId, event: decoded.right }
  }
}
