/**
 * The simulator's only source of randomness: a seeded, integer-only PRNG (sfc32, Chris Doty-Humphrey's
 * Small Fast Counting generator). One root seed; every subsystem gets its own stream with `fork(label)`,
 * so adding draws in one subsystem never shifts another's sequence (TigerBeetle's VOPR does the same).
 * No floats anywhere: bounded draws use Lemire's rejection method on 32-bit integers.
 */

const U32_RANGE = 0x1_0000_0000

const HEX_DIGITS = "0123456789abcdef"
/** Two hex digits for each byte value: ids are drawn per event, so formatting is on a hot path. */
const HEX_BYTES: ReadonlyArray<string> = Array.from(
  { length: 256 },
  (_, b) => HEX_DIGITS[b >> 4]! + HEX_DIGITS[b & 15]!
)
const HEX_CODES = Uint8Array.from(HEX_DIGITS, (digit) => digit.charCodeAt(0))
const DASH = "-".charCodeAt(0)
const SEVEN = "7".charCodeAt(0)

/** Scratch for `orderedUuid`: the dashes and the version digit stay, the other digits are overwritten each call. */
const idChars = new Uint16Array(36).fill(DASH)
idChars[14] = SEVEN

/** The 36 codes as a string: with the arguments spelled out, V8 makes no array for them (3x faster). */
// prettier-ignore
const idText = (c: Uint16Array): string =>
  String.fromCharCode(
    c[0]!, c[1]!, c[2]!, c[3]!, c[4]!, c[5]!, c[6]!, c[7]!, c[8]!, c[9]!, c[10]!, c[11]!,
    c[12]!, c[13]!, c[14]!, c[15]!, c[16]!, c[17]!, c[18]!, c[19]!, c[20]!, c[21]!, c[22]!, c[23]!,
    c[24]!, c[25]!, c[26]!, c[27]!, c[28]!, c[29]!, c[30]!, c[31]!, c[32]!, c[33]!, c[34]!, c[35]!
  )

/** `digits` lowercase hex digits of `value` (an unsigned 32-bit integer) written at `offset`. */
const hexInto = (chars: Uint16Array, offset: number, value: number, digits: number): void => {
  let rest = value >>> 0
  for (let i = offset + digits - 1; i >= offset; i--) {
    chars[i] = HEX_CODES[rest & 15]!
    rest >>>= 4
  }
}

const hex32 = (n: number): string =>
  HEX_BYTES[n >>> 24]! + HEX_BYTES[(n >>> 16) & 255]! + HEX_BYTES[(n >>> 8) & 255]! + HEX_BYTES[n & 255]!

/** FNV-1a over the label's UTF-16 code units: a stable 32-bit hash for deriving child seeds. */
const hashLabel = (label: string): number => {
  let hash = 0x811c9dc5
  for (let i = 0; i < label.length; i++) {
    hash ^= label.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193) >>> 0
  }
  return hash >>> 0
}

/** splitmix32 finaliser: spreads a 32-bit value over all bits. */
const mix32 = (value: number): number => {
  let z = (value + 0x9e3779b9) >>> 0
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0
  return (z ^ (z >>> 16)) >>> 0
}

/** A generator's whole state: four 32-bit words (sfc32's a, b, c and its counter d). */
export type PrngState = readonly [number, number, number, number]

export class Prng {
  private constructor(
    private a: number,
    private b: number,
    private c: number,
    private d: number
  ) {}

  /** A generator from a root seed (any safe integer; the high bits are folded in). */
  static fromSeed(seed: number): Prng {
    if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be a safe integer, got ${seed}`)
    const low = seed >>> 0
    const high = Math.floor(seed / U32_RANGE) >>> 0
    const prng = new Prng(mix32(low), mix32(high ^ 0x6a09e667), mix32(low ^ 0xbb67ae85), 1)
    for (let i = 0; i < 12; i++) prng.nextU32() // warm up, as sfc32's author recommends
    return prng
  }

  /** A generator that goes on from `state` (one `state` gave), drawing what the original would have. */
  static fromState(state: PrngState): Prng {
    if (!(state.length === 4 && state.every((word) => Number.isInteger(word) && word >= 0 && word < U32_RANGE)))
      throw new RangeError(`a generator's state is four 32-bit words, got ${JSON.stringify(state)}`)
    return new Prng(state[0], state[1], state[2], state[3])
  }

  /** The generator's state now: `Prng.fromState` of it draws the same numbers from here on. */
  get state(): PrngState {
    // the words are kept modulo 2^32, some as signed 32-bit values: the state names each unsigned
    return [this.a >>> 0, this.b >>> 0, this.c >>> 0, this.d >>> 0]
  }

  /** A child generator for one subsystem; deterministic in (this generator's seed state, label). */
  fork(label: string): Prng {
    const h = hashLabel(label)
    const child = new Prng(mix32(this.a ^ h), mix32(this.b + h), mix32(this.c ^ mix32(h)), 1)
    for (let i = 0; i < 12; i++) child.nextU32()
    return child
  }

  nextU32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0
    this.d = (this.d + 1) >>> 0
    this.a = this.b ^ (this.b >>> 9)
    this.b = (this.c + (this.c << 3)) >>> 0
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0
    this.c = (this.c + t) >>> 0
    return t
  }

  /** Uniform integer in [0, bound), bound <= 2^32 (Lemire's nearly-divisionless method, integer form). */
  nextInt(bound: number): number {
    if (!Number.isInteger(bound) || bound <= 0 || bound > U32_RANGE) {
      throw new RangeError(`bound must be an integer in (0, 2^32], got ${bound}`)
    }
    if (bound === U32_RANGE) return this.nextU32()
    const threshold = (U32_RANGE - bound) % bound
    for (;;) {
      const r = this.nextU32()
      if (r >= threshold) return r % bound
    }
  }

  /** Uniform integer in [min, max], both inclusive. */
  nextIntBetween(min: number, max: number): number {
    return min + this.nextInt(max - min + 1)
  }

  /** True with probability numerator/denominator (a ratio of integers, never a float). */
  chance(numerator: number, denominator: number): boolean {
    return this.nextInt(denominator) < numerator
  }

  /**
   * A UUIDv7-shaped id whose leading 48 bits are `sequence` (the event's index in its run) instead of a
   * wall-clock timestamp, and the rest drawn from this generator. Ids of one run sort in append order,
   * so a store's id index grows at its end (random ids cost SQLite a random page per insert).
   */
  orderedUuid(sequence: number): string {
    if (!Number.isSafeInteger(sequence) || sequence < 0 || sequence >= 2 ** 48) {
      throw new RangeError(`sequence must be an integer in [0, 2^48), got ${sequence}`)
    }
    const r1 = this.nextU32()
    const r2 = this.nextU32()
    const r3 = this.nextU32()
    // Written as character codes and made one flat string: an id per event is kept by the run, and a
    // string concatenated from pieces is kept as a tree of them (five times the memory, and GC time).
    hexInto(idChars, 0, Math.floor(sequence / 0x1_0000), 8)
    hexInto(idChars, 9, sequence % 0x1_0000, 4)
    hexInto(idChars, 15, (r1 >>> 16) & 0xfff, 3)
    idChars[19] = HEX_CODES[((r1 >>> 28) & 0x3) | 0x8]!
    hexInto(idChars, 20, r1 & 0xfff, 3)
    hexInto(idChars, 24, r2, 8)
    hexInto(idChars, 32, r3 >>> 16, 4)
    return idText(idChars)
  }

  /** An RFC 4122 version-4-shaped id drawn from this generator (never crypto.randomUUID). */
  uuid(): string {
    const w0 = hex32(this.nextU32())
    const w1 = hex32(this.nextU32())
    const w2 = hex32(this.nextU32())
    const w3 = hex32(this.nextU32())
    const variant = HEX_DIGITS[(parseInt(w2[0]!, 16) & 0x3) | 0x8]
    return `${w0}-${w1.slice(0, 4)}-4${w1.slice(5, 8)}-${variant}${w2.slice(1, 4)}-${w2.slice(4)}${w3}`
  }
}
