/**
 * The store's errors: tagged, with evidence, named as KurrentDB's client names them where one exists.
 */
import { Schema } from "effect"

/** The stream was not at the expected revision; nothing was written. */
export class WrongExpectedVersion extends Schema.TaggedError<WrongExpectedVersion>()("WrongExpectedVersion", {
  stream: Schema.String,
  expected: Schema.String,
  /** The stream's actual last revision, or "noStream". */
  actual: Schema.String
}) {
  override get message() {
    return `stream ${this.stream}: expected revision ${this.expected}, actual ${this.actual}`
  }
}

/** A stored event that no longer decodes with the event schemas. Never skipped silently. */
export class EventDecodeError extends Schema.TaggedError<EventDecodeError>()("EventDecodeError", {
  stream: Schema.String,
  revision: Schema.Number,
  /** The path inside the event where decoding failed, e.g. `["memoryTotalPages"]`. */
  path: Schema.String,
  detail: Schema.String
}) {
  override get message() {
    return `event ${this.stream}@${this.revision} does not decode at ${this.path}: ${this.detail}`
  }
}

/** The store itself failed or could not be opened: a bad URL, a missing file, a server that is down. */
export class StoreError extends Schema.TaggedError<StoreError>()("StoreError", {
  url: Schema.String,
  operation: Schema.String,
  detail: Schema.String
}) {
  override get message() {
    return `${this.operation} (${this.url}): ${this.detail}`
  }
}

/** A branch was asked of a revision its parent stream does not have; nothing was written. */
export class NoSuchRevision extends Schema.TaggedError<NoSuchRevision>()("NoSuchRevision", {
  stream: Schema.String,
  revision: Schema.Number,
  /** The stream's last revision, or "noStream". */
  actual: Schema.String
}) {
  override get message() {
    return `stream ${this.stream} has no revision ${this.revision} (its last: ${this.actual})`
  }
}
