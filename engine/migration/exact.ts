/**
 * Exact integer arithmetic for the migration model. Link progress is counted in "micro-bytes"
 * (bytes × 10^6, i.e. rate in bytes/s times elapsed µs), so a transfer of n bytes at B bytes/s takes
 * exactly `ceil(n * 1e6 / B)` µs and no rounding ever accumulates across rate changes. Products that can
 * pass 2^53 (16 GiB × 10^6 already does) fall back to BigInt; everything else stays on plain numbers,
 * which are exact below 2^53.
 */

export const MICROS_PER_S = 1_000_000

/** A failed assertion is a bug in the caller or in this module (a defect), never an expected error. */
export function invariant(condition: unknown, message: string | (() => string)): asserts condition {
  if (!condition) throw new Error(`migration model invariant: ${typeof message === "string" ? message : message()}`)
}

export const isCount = (n: number): boolean => Number.isSafeInteger(n) && n >= 0

export interface QuotientRemainder {
  readonly quotient: number
  readonly remainder: number
}

/** floor(a × b / d) and (a × b) mod d for non-negative safe integers a, b and d > 0, exact. */
export const mulDivMod = (a: number, b: number, d: number): QuotientRemainder => {
  const product = a * b
  if (product <= Number.MAX_SAFE_INTEGER) {
    const quotient = Math.floor(product / d)
    return { quotient, remainder: product - quotient * d }
  }
  const big = BigInt(a) * BigInt(b)
  const bigD = BigInt(d)
  const quotient = big / bigD
  invariant(quotient <= BigInt(Number.MAX_SAFE_INTEGER), () => `${a} × ${b} / ${d} passes 2^53`)
  return { quotient: Number(quotient), remainder: Number(big % bigD) }
}

/**
 * µs needed to deliver `bytes` more bytes at `rateBytesPerS` when `microRemainder` micro-bytes
 * (0 ≤ it < 10^6, a fraction of the next byte) are already on their way: ceil((bytes·10^6 − rem) / rate).
 */
export const transferUs = (bytes: number, microRemainder: number, rateBytesPerS: number): number => {
  invariant(rateBytesPerS > 0, "transferUs needs a positive rate")
  if (bytes === 0) return 0
  const micro = bytes * MICROS_PER_S
  if (micro + rateBytesPerS <= Number.MAX_SAFE_INTEGER) {
    const needed = micro - microRemainder
    return Math.floor((needed + rateBytesPerS - 1) / rateBytesPerS)
  }
  const needed = BigInt(bytes) * BigInt(MICROS_PER_S) - BigInt(microRemainder)
  const rate = BigInt(rateBytesPerS)
  return Number((needed + rate - 1n) / rate)
}

/** Whether a × b ≤ c × d, exact for non-negative safe integers. */
export const productAtMost = (a: number, b: number, c: number, d: number): boolean => {
  const left = a * b
  const right = c * d
  if (left <= Number.MAX_SAFE_INTEGER && right <= Number.MAX_SAFE_INTEGER) return left <= right
  return BigInt(a) * BigInt(b) <= BigInt(c) * BigInt(d)
}

/** ceil(a × b / d), exact (a, b ≥ 0, d > 0). */
export const mulDivCeil = (a: number, b: number, d: number): number => {
  const { quotient, remainder } = mulDivMod(a, b, d)
  return remainder === 0 ? quotient : quotient + 1
}

/**
 * A round's progress on the link: whole bytes delivered plus the micro-byte remainder toward the next
 * one. Mutable, owned by the round; `Σ rate_i × Δt_i = bytesDelivered × 10^6 + microRemainder`.
 */
export interface LinkProgress {
  bytesDelivered: number
  microRemainder: number
}

/** Adds `elapsedUs` at `rateBytesPerS` to the progress, exactly. */
export const addProgress = (progress: LinkProgress, rateBytesPerS: number, elapsedUs: number): void => {
  const { quotient, remainder } = mulDivMod(rateBytesPerS, elapsedUs, MICROS_PER_S)
  let bytes = progress.bytesDelivered + quotient
  let micro = progress.microRemainder + remainder
  if (micro >= MICROS_PER_S) {
    micro -= MICROS_PER_S
    bytes += 1
  }
  progress.bytesDelivered = bytes
  progress.microRemainder = micro
}
