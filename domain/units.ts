/**
 * Units and their parsers. Sizes (`4GiB`, `2048MiB`, `1048576pages`), rates (`125MiB/s`, `1Gbit/s`,
 * `2000pages/s`) and durations (`30ms`, `12.5s`, `42us`) always carry a unit; anything ambiguous
 * (`4GB`, `1Gb/s`, a bare number) is refused with a message saying what would be accepted.
 * Results are integers: bytes, bytes per second, microseconds. Binary prefixes for bytes (KiB = 2^10),
 * SI prefixes for bits on the wire (Gbit = 10^9 bit), as DESIGN.md §7 fixes them.
 */
import { Either } from "effect"

export const DEFAULT_PAGE_SIZE_BYTES = 4096

/** A unit parse failure: what was given, what was expected. */
export interface UnitError {
  readonly _tag: "UnitError"
  readonly input: string
  readonly expected: string
}

const unitError = (input: string, expected: string): Either.Either<never, UnitError> =>
  Either.left({ _tag: "UnitError", input, expected })

export const formatUnitError = (error: UnitError): string => `'${error.input}' is not ${error.expected}`

const byteUnits: Record<string, number> = {
  B: 1,
  KiB: 2 ** 10,
  MiB: 2 ** 20,
  GiB: 2 ** 30,
  TiB: 2 ** 40
}
const bitUnits: Record<string, number> = {
  bit: 1,
  kbit: 1e3,
  Mbit: 1e6,
  Gbit: 1e9,
  Tbit: 1e12
}
const durationUnits: Record<string, number> = { us: 1, µs: 1, ms: 1e3, s: 1e6, min: 60e6, h: 3600e6, d: 86_400e6 }

/** Units people write that do not say which base they mean. */
const ambiguous: Record<string, string> = {
  KB: "KiB (2^10 bytes)",
  kB: "KiB (2^10 bytes)",
  MB: "MiB (2^20 bytes)",
  GB: "GiB (2^30 bytes)",
  TB: "TiB (2^40 bytes)",
  K: "KiB",
  M: "MiB",
  G: "GiB",
  Kb: "kbit (10^3 bits)",
  kb: "kbit (10^3 bits)",
  Mb: "Mbit (10^6 bits)",
  Gb: "Gbit (10^9 bits)",
  Mbps: "Mbit/s",
  Gbps: "Gbit/s"
}

const numberWithUnit = /^\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-zµ%]+(?:\/s)?)\s*$/

interface Quantity {
  readonly digits: string
  readonly unit: string
}

const splitQuantity = (input: string): Quantity | undefined => {
  const match = numberWithUnit.exec(input)
  return match ? { digits: match[1]!, unit: match[2]! } : undefined
}

/**
 * digits × factor as an exact integer, or undefined when it is not one (e.g. `1.5B`).
 * Done on scaled integers so `0.1GiB` is not at the mercy of binary floating point.
 */
const exactProduct = (digits: string, factor: number): number | undefined => {
  const [whole, fraction = ""] = digits.split(".")
  const scale = 10n ** BigInt(fraction.length)
  const numerator = BigInt(whole! + fraction) * BigInt(factor)
  if (numerator % scale !== 0n) return undefined
  const value = numerator / scale
  return value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : undefined
}

const SIZE_EXPECTED = "a size with a unit, e.g. 4GiB, 2048MiB, 1048576pages (B, KiB, MiB, GiB, TiB, pages)"

/** A memory size in bytes. `pages` needs the page size. */
export const parseSizeBytes = (
  input: string,
  pageSizeBytes: number = DEFAULT_PAGE_SIZE_BYTES
): Either.Either<number, UnitError> => {
  const q = splitQuantity(input)
  if (!q) return unitError(input, SIZE_EXPECTED)
  if (q.unit in ambiguous) return unitError(input, `an unambiguous size: write ${ambiguous[q.unit]} instead`)
  const factor = q.unit === "pages" ? pageSizeBytes : byteUnits[q.unit]
  if (factor === undefined) return unitError(input, SIZE_EXPECTED)
  const bytes = exactProduct(q.digits, factor)
  if (bytes === undefined) return unitError(input, "a whole number of bytes")
  return Either.right(bytes)
}

/** A memory size as a whole number of pages; a size that is not a multiple of the page size is refused. */
export const parseSizePages = (
  input: string,
  pageSizeBytes: number = DEFAULT_PAGE_SIZE_BYTES
): Either.Either<number, UnitError> =>
  Either.flatMap(parseSizeBytes(input, pageSizeBytes), (bytes) =>
    bytes % pageSizeBytes === 0
      ? Either.right(bytes / pageSizeBytes)
      : unitError(input, `a whole number of ${pageSizeBytes}-byte pages`)
  )

const RATE_EXPECTED =
  "a rate with a unit, e.g. 125MiB/s, 1Gbit/s, 2000pages/s (B/s, KiB/s, MiB/s, GiB/s, kbit/s, Mbit/s, Gbit/s, pages/s)"

/** A rate in bytes per second. Bit rates are SI (1Gbit/s = 125,000,000 B/s). */
export const parseRateBytesPerS = (
  input: string,
  pageSizeBytes: number = DEFAULT_PAGE_SIZE_BYTES
): Either.Either<number, UnitError> => {
  const q = splitQuantity(input)
  if (!q) return unitError(input, RATE_EXPECTED)
  const perS = q.unit.endsWith("/s") ? q.unit.slice(0, -2) : undefined
  if (q.unit in ambiguous) return unitError(input, `an unambiguous rate: write ${ambiguous[q.unit]} instead`)
  if (perS === undefined) return unitError(input, `${RATE_EXPECTED}; a rate needs '/s'`)
  if (perS in ambiguous) return unitError(input, `an unambiguous rate: write ${ambiguous[perS]}/s instead`)
  if (perS === "pages") {
    const bytes = exactProduct(q.digits, pageSizeBytes)
    return bytes === undefined ? unitError(input, "a whole number of bytes per second") : Either.right(bytes)
  }
  const byteFactor = byteUnits[perS]
  if (byteFactor !== undefined) {
    const bytes = exactProduct(q.digits, byteFactor)
    return bytes === undefined ? unitError(input, "a whole number of bytes per second") : Either.right(bytes)
  }
  const bitFactor = bitUnits[perS]
  if (bitFactor !== undefined) {
    const bits = exactProduct(q.digits, bitFactor)
    if (bits === undefined || bits % 8 !== 0) return unitError(input, "a whole number of bytes per second")
    return Either.right(bits / 8)
  }
  return unitError(input, RATE_EXPECTED)
}

const DURATION_EXPECTED = "a duration with a unit, e.g. 30ms, 12.5s, 42us, 3m10s, 1h00m00s (us, ms, s, min, h, d)"

/** `formatDurationUs`'s long form, hours and minutes then seconds: `3m10s`, `1h02m03s`, `2h05m`. */
const compoundDuration = /^\s*(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+(?:\.[0-9]+)?)s)?\s*$/

const compoundDurationUs = (input: string): Either.Either<number, UnitError> | undefined => {
  const match = compoundDuration.exec(input)
  if (match === null) return undefined
  const [, h, m, s] = match
  // One part alone is the plain form (`12s`, `2h`); `5m` alone is not a unit (minutes are `min`).
  if ([h, m, s].filter((part) => part !== undefined).length < 2) return undefined
  const us = exactProduct(s ?? "0", 1e6)
  const total = us === undefined ? undefined : us + Number(h ?? 0) * 3600e6 + Number(m ?? 0) * 60e6
  return total === undefined || !Number.isSafeInteger(total)
    ? unitError(input, "a whole number of microseconds")
    : Either.right(total)
}

/** A duration in whole microseconds: `30ms`, `12.5 s`, `42us`, or as printed, `3m10s`, `1h00m00s`. */
export const parseDurationUs = (input: string): Either.Either<number, UnitError> => {
  const compound = compoundDurationUs(input)
  if (compound !== undefined) return compound
  const q = splitQuantity(input)
  if (!q) return unitError(input, DURATION_EXPECTED)
  const factor = durationUnits[q.unit]
  if (factor === undefined) return unitError(input, DURATION_EXPECTED)
  const us = exactProduct(q.digits, factor)
  return us === undefined ? unitError(input, "a whole number of microseconds") : Either.right(us)
}

/** A share written as a percentage, `90%`, as an integer numerator over 100. */
export const parsePercent = (input: string): Either.Either<number, UnitError> => {
  const match = /^\s*([0-9]{1,3})\s*%\s*$/.exec(input)
  const value = match ? Number(match[1]) : NaN
  return value >= 0 && value <= 100 ? Either.right(value) : unitError(input, "a whole percentage from 0% to 100%")
}

/** Human-readable sizes and durations for the CLI's tables. */
export const formatBytes = (bytes: number): string => {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"]
  let value = bytes
  let unit = 0
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(value >= 100 ? 0 : value >= 10 ? 1 : 2)} ${units[unit]}`
}

export const formatDurationUs = (us: number): string => {
  if (us < 1_000) return `${us} µs`
  if (us < 1_000_000) return `${(us / 1_000).toFixed(us < 10_000 ? 2 : 1)} ms`
  if (us < 60_000_000) return `${(us / 1_000_000).toFixed(us < 10_000_000 ? 3 : 2)} s`
  const totalS = Math.floor(us / 1_000_000)
  const h = Math.floor(totalS / 3600)
  const m = Math.floor((totalS % 3600) / 60)
  const s = totalS % 60
  return h > 0
    ? `${h}h${String(m).padStart(2, "0")}m${String(s).padStart(2, "0")}s`
    : `${m}m${String(s).padStart(2, "0")}s`
}

/**
 * The instant a printed time names: `formatDurationUs` rounds (`43.10 s`) or cuts (`6m22s`), and every
 * form it prints parses back (test/branches/timeFormats.test.ts). A moment chosen to be printed and typed
 * back (the demo's hint) is taken here, so that the answer shown is the answer the typed command gives.
 */
export const printedInstantUs = (us: number): number =>
  Either.getOrElse(parseDurationUs(formatDurationUs(us)), () => us)

/** The tops of `formatDurationUs`'s forms below a minute: µs, ms with 2 and 1 decimals, s with 3 and 2. */
const durationFormTopsUs = [999, 9_999, 999_999, 9_999_999, 59_999_999]

/**
 * The longest text `formatDurationUs` gives any time in [0, maxUs] (a column's width before its cells are
 * known). Within each of its forms the text never gets shorter as the time grows, so the longest is at
 * the top of a form below maxUs, or at maxUs.
 */
export const formatDurationUsWidthMax = (maxUs: number): number => {
  let width = 0
  for (const topUs of [...durationFormTopsUs, maxUs])
    width = Math.max(width, formatDurationUs(Math.max(0, Math.min(topUs, maxUs))).length)
  return width
}
