/**
 * Unit parsers: every quantity carries its unit; results are exact integers; anything ambiguous is
 * refused with a message that says what was given and what would be accepted.
 */
import { Either } from "effect"
import { describe, expect, it } from "vitest"
import {
  formatUnitError,
  parseDurationUs,
  parsePercent,
  parseRateBytesPerS,
  parseSizeBytes,
  parseSizePages,
  type UnitError
} from "../../domain/units.js"

const GiB = 2 ** 30
const MiB = 2 ** 20

const accepted = (result: Either.Either<number, UnitError>): number => {
  if (Either.isLeft(result)) expect.fail(`refused: ${formatUnitError(result.left)}`)
  expect(Number.isSafeInteger(result.right), `${result.right} is an exact integer`).toBe(true)
  return result.right
}

const refused = (result: Either.Either<number, UnitError>): string => {
  if (Either.isRight(result)) expect.fail(`accepted as ${result.right}`)
  expect(result.left._tag).toBe("UnitError")
  return formatUnitError(result.left)
}

describe("accepted, with exact integer results", () => {
  it.each([
    ["4GiB", 4 * GiB],
    ["2048MiB", 2048 * MiB],
    ["1048576pages", 1048576 * 4096],
    ["0.5GiB", GiB / 2],
    ["512B", 512]
  ])("size %s = %i bytes", (input, bytes) => {
    expect(accepted(parseSizeBytes(input))).toBe(bytes)
  })

  it.each([
    ["4GiB", 1048576],
    ["2048MiB", 524288],
    ["1048576pages", 1048576]
  ])("size %s = %i pages of 4 KiB", (input, pages) => {
    expect(accepted(parseSizePages(input))).toBe(pages)
  })

  it("pages follow the page size", () => {
    expect(accepted(parseSizeBytes("10pages", 2 * MiB))).toBe(20 * MiB)
    expect(accepted(parseSizePages("4GiB", 2 * MiB))).toBe(2048)
  })

  it.each([
    ["125MiB/s", 125 * MiB],
    ["1Gbit/s", 125_000_000],
    ["2000pages/s", 2000 * 4096],
    ["10Gbit/s", 1_250_000_000],
    ["800Mbit/s", 100_000_000]
  ])("rate %s = %i B/s", (input, bytesPerS) => {
    expect(accepted(parseRateBytesPerS(input))).toBe(bytesPerS)
  })

  it.each([
    ["30ms", 30_000],
    ["12.5s", 12_500_000],
    ["42us", 42],
    ["2min", 120_000_000]
  ])("duration %s = %i µs", (input, us) => {
    expect(accepted(parseDurationUs(input))).toBe(us)
  })

  it.each([
    ["90%", 90],
    ["0%", 0],
    ["100%", 100]
  ])("percentage %s = %i", (input, value) => {
    expect(accepted(parsePercent(input))).toBe(value)
  })
})

describe("refused, with a message saying what was given and what would do", () => {
  it.each([
    ["4GB", "'4GB' is not an unambiguous size: write GiB (2^30 bytes) instead"],
    ["4G", "'4G' is not an unambiguous size: write GiB instead"],
    ["4096", "'4096' is not a size with a unit, e.g. 4GiB"],
    ["lots", "'lots' is not a size with a unit, e.g. 4GiB"],
    ["1.5B", "'1.5B' is not a whole number of bytes"],
    ["4 parsecs", "'4 parsecs' is not a size with a unit"]
  ])("size %s", (input, message) => {
    expect(refused(parseSizeBytes(input))).toContain(message)
  })

  it.each([
    ["6KiB", "'6KiB' is not a whole number of 4096-byte pages"],
    ["4097B", "'4097B' is not a whole number of 4096-byte pages"],
    ["4GB", "write GiB"]
  ])("size in pages %s", (input, message) => {
    expect(refused(parseSizePages(input))).toContain(message)
  })

  it.each([
    ["1Gb/s", "'1Gb/s' is not an unambiguous rate: write Gbit"],
    ["1Gbps", "'1Gbps' is not an unambiguous rate: write Gbit/s instead"],
    ["125MiB", "'125MiB' is not a rate with a unit, e.g. 125MiB/s"],
    ["125MiB", "a rate needs '/s'"],
    ["4096", "'4096' is not a rate with a unit"],
    ["lots", "'lots' is not a rate with a unit"],
    ["1bit/s", "'1bit/s' is not a whole number of bytes per second"]
  ])("rate %s", (input, message) => {
    expect(refused(parseRateBytesPerS(input))).toContain(message)
  })

  it.each([
    ["0.5us", "'0.5us' is not a whole number of microseconds"],
    ["4096", "'4096' is not a duration with a unit, e.g. 30ms"],
    ["lots", "'lots' is not a duration with a unit"],
    ["30MiB", "'30MiB' is not a duration with a unit"]
  ])("duration %s", (input, message) => {
    expect(refused(parseDurationUs(input))).toContain(message)
  })

  it.each(["101%", "90", "-5%", "12.5%", "lots"])("percentage %s", (input) => {
    expect(refused(parsePercent(input))).toBe(`'${input}' is not a whole percentage from 0% to 100%`)
  })
})
