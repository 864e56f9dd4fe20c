/**
 * The stored form of an event, shared by every adapter: `type` is the event's `_tag`, `data` is the JSON
 * text of `Schema.encodeSync(PoolEvent)(event)`. Decoding goes back through the schemas; a failure is an
 * `EventDecodeError` naming the stream, the revision and the schema path, never a silent skip.
 *
 * Both directions are on hot paths (appends of thousands of events, full-history reads), so each event
 * class gets its own decoder and its own encoder, chosen by `_tag` instead of trying the union's members;
 * where a class's encoding is the identity, the encoder is compiled from its schema (same checks, same
 * output, a fraction of the cost).
 */
import { Either, ParseResult, Schema } from "effect"
import { compileCheck, type Check } from "../domain/schemaCheck.js"
import { instanceFields, PoolEvent, type EventClass, type PoolEventTag } from "../domain/events.js"
import type { EventId } from "../domain/ids.js"
import { upcastEvent } from "../domain/upcast.js"
import type { RecordedEvent } from "./EventStore.js"
import { EventDecodeError } from "./errors.js"

export interface EncodedEvent {
  readonly type: PoolEventTag
  readonly data: string
}

/** Where a stored event is and what it claims to be: everything but its data. */
export interface StoredEventHeader {
  readonly stream: string
  readonly revision: number
  readonly position: number
  readonly id: string
  readonly type: string
}

/** One stored event as an adapter holds it: what it needs to rebuild a `RecordedEvent`. */
export interface StoredEvent extends StoredEventHeader {
  readonly data: string
}

/** The path reported when the stored text is not JSON at all. */
export const jsonPath = "(json)"

type Member = EventClass

/**
 * The encoded fields of a valid event, in schema order; undefined when a field does not check. When the
 * event's own keys are those fields in that order (events from `events.build`), the event itself.
 */
type FieldsEncoder = (event: PoolEvent) => object | undefined

const compileFieldsEncoder = (member: Member): FieldsEncoder | undefined => {
  const fields = instanceFields(member)
  if (fields === undefined || fields.indexSignatures.length > 0) return undefined
  const compiled = fields.propertySignatures.map((p) => ({
    name: typeof p.name === "string" && !p.isOptional ? p.name : undefined,
    check: compileCheck(p.type)
  }))
  if (!compiled.every((f) => f.name !== undefined && f.check !== undefined)) return undefined
  const checked = compiled as ReadonlyArray<{ readonly name: string; readonly check: Check }>
  const names = checked.map((f) => f.name)
  const allCheck = checkAll(checked)
  return (event) => {
    const own = event as unknown as Record<string, unknown>
    if (!allCheck(own)) return undefined
    if (keysAre(own, names)) return own
    const encoded: Record<string, unknown> = {}
    for (const name of names) encoded[name] = own[name]
    return encoded
  }
}

/**
 * Every field's check on one object, written out field by field: a read by a known name on the events
 * of one class is a load from a known place, where a loop over the names read each by a computed key
 * (0.4 µs an event). The source holds only the schema's own field names, as JSON string literals.
 */
const checkAll = (fields: ReadonlyArray<{ readonly name: string; readonly check: Check }>) => {
  const body = fields.map(({ name }, i) => `checks[${i}](own[${JSON.stringify(name)}])`).join(" &&\n")
  const make = new Function("checks", `return (own) =>\n${body.length > 0 ? body : "true"}`) as (
    checks: ReadonlyArray<Check>
  ) => (own: Record<string, unknown>) => boolean
  return make(fields.map((f) => f.check))
}

/**
 * The object's enumerable keys are exactly `names`, in order (an undefined value included: JSON leaves
 * it out either way). Then JSON.stringify writes the object as it would write its encoded copy.
 */
const keysAre = (object: Record<string, unknown>, names: ReadonlyArray<string>): boolean => {
  let i = 0
  for (const key in object) if (key !== names[i++]) return false
  return i === names.length
}

interface MemberCodec {
  readonly member: Member
  /**
   * The schema's encoding compiled for this class, when its fields encode to themselves: the same
   * checks (refinement filters included), the same field order, excess fields dropped, at about a
   * fifth of the cost. `test/store/codec.test.ts` checks it against the schema for every event class.
   */
  readonly encodeFields: FieldsEncoder | undefined
  readonly encode: (event: PoolEvent) => unknown
  readonly decode: (input: unknown) => Either.Either<PoolEvent, ParseResult.ParseError>
}

const codecs: ReadonlyMap<string, MemberCodec> = new Map(
  PoolEvent.members.map((member): [string, MemberCodec] => [
    member._tag,
    {
      member,
      encodeFields: compileFieldsEncoder(member),
      encode: Schema.encodeSync(member as Schema.Schema<PoolEvent, unknown>),
      decode: Schema.decodeUnknownEither(member as Schema.Schema<PoolEvent, unknown>)
    }
  ])
)

/** The classes whose encoding is compiled (the others go through their schema). */
export const compiledEncodingTags: ReadonlyArray<string> = [...codecs.values()]
  .filter((codec) => codec.encodeFields !== undefined)
  .map((codec) => codec.member._tag)

const encodeWithUnion = Schema.encodeSync(PoolEvent)
const knownTags = PoolEvent.members.map((member) => member._tag).join(", ")

/**
 * Encodes an event for storage. An event that does not encode (one built with validation disabled, a
 * plain object posing as an event) is a bug in its maker: the schema's error is thrown, a defect.
 */
export const encodeEvent = (event: PoolEvent): EncodedEvent => {
  const { type, json } = encodeEventJson(event)
  return { type, data: JSON.stringify(json) }
}

/**
 * The encoded event as a JSON value, before it becomes text: for clients that serialise it themselves
 * (KurrentDB's client stringifies an event's `data`), so that it is not stringified and parsed again.
 */
export const encodeEventJson = (event: PoolEvent): { readonly type: PoolEventTag; readonly json: unknown } => {
  const codec = codecs.get(event._tag)
  if (codec === undefined) return { type: event._tag, json: encodeWithUnion(event) }
  // Like the schema, only instances of the class qualify; whatever fails a check goes to the schema,
  // which throws its own error.
  const fast = codec.encodeFields !== undefined && event instanceof codec.member ? codec.encodeFields(event) : undefined
  return { type: event._tag, json: fast ?? codec.encode(event) }
}

/** Encodes with the union schema only: the reference `encodeEvent` must agree with (tests, tools). */
export const encodeEventWithSchema = (event: PoolEvent): EncodedEvent => ({
  type: event._tag,
  data: JSON.stringify(encodeWithUnion(event))
})

const formatPath = (path: ReadonlyArray<PropertyKey>): string =>
  JSON.stringify(path.map((key) => (typeof key === "symbol" ? String(key) : key)))

const decodeError = (stored: StoredEventHeader, path: string, detail: string) =>
  new EventDecodeError({ stream: stored.stream, revision: stored.revision, path, detail })

const fromParseError = (stored: StoredEventHeader, error: ParseResult.ParseError): EventDecodeError => {
  const first = ParseResult.ArrayFormatter.formatErrorSync(error)[0]
  return first === undefined
    ? decodeError(stored, "[]", error.message)
    : decodeError(stored, formatPath(first.path), first.message)
}

const parseJson = (stored: StoredEvent): Either.Either<unknown, EventDecodeError> => {
  try {
    return Either.right(JSON.parse(stored.data) as unknown)
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error)
    return Either.left(decodeError(stored, jsonPath, `the stored data is not JSON: ${reason}`))
  }
}

const tagOf = (json: unknown): unknown =>
  typeof json === "object" && json !== null && "_tag" in json ? (json as { _tag: unknown })._tag : undefined

/** Decodes one stored event; the error names its stream, revision and the schema path that failed. */
export const decodeEvent = (stored: StoredEvent): Either.Either<PoolEvent, EventDecodeError> => {
  const json = parseJson(stored)
  return Either.isLeft(json) ? Either.left(json.left) : decodeEventJson(stored, json.right)
}

/**
 * Decodes one stored event whose JSON text was already parsed (KurrentDB's client parses JSON events);
 * the same checks and the same errors as `decodeEvent`.
 */
export const decodeEventJson = (
  stored: StoredEventHeader,
  storedJson: unknown
): Either.Either<PoolEvent, EventDecodeError> => {
  // An event of an older schema version reads as the current one (domain/upcast.ts).
  const json = upcastEvent(storedJson)
  const tag = tagOf(json)
  // The event's own decoder reports the path inside that event. The union's would be equivalent but
  // slower, and its first issue can come from another member it tried (all share the literal `v`).
  const codec = typeof tag === "string" ? codecs.get(tag) : undefined
  if (codec === undefined) {
    const actual = tag === undefined ? "no _tag" : JSON.stringify(tag)
    return Either.left(decodeError(stored, '["_tag"]', `expected one of ${knownTags}; actual ${actual}`))
  }
  const decoded = codec.decode(json)
  if (Either.isLeft(decoded)) return Either.left(fromParseError(stored, decoded.left))
  if (decoded.right._tag !== stored.type) {
    return Either.left(
      decodeError(stored, '["_tag"]', `the stored type is ${stored.type} but the data is a ${decoded.right._tag}`)
    )
  }
  return Either.right(decoded.right)
}

/** Decodes a stored event into what readers get. */
export const decodeRecorded = (stored: StoredEvent): Either.Either<RecordedEvent, EventDecodeError> =>
  Either.map(decodeEvent(stored), (event) => ({
    stream: stored.stream,
    revision: stored.revision,
    position: stored.position,
    id: stored.id as EventId,
    event
  }))

/** Decodes a page of stored events in order; the first failure fails the page. */
export const decodeAll = (
  stored: ReadonlyArray<StoredEvent>
): Either.Either<ReadonlyArray<RecordedEvent>, EventDecodeError> => {
  const recorded: RecordedEvent[] = new Array<RecordedEvent>(stored.length)
  for (let i = 0; i < stored.length; i++) {
    const one = decodeRecorded(stored[i]!)
    if (Either.isLeft(one)) return Either.left(one.left)
    recorded[i] = one.right
  }
  return Either.right(recorded)
}
