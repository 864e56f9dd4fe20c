/**
 * Times round-trip (issue 14): whatever xenpool prints as a simulated time (`formatDurationUs`: `999 µs`,
 * `12.50 ms`, `43.10 s`, `6m21s`, `1h00m00s`) it accepts back wherever it takes a time (`at`, `diff`,
 * `fork --at`: api/timeTravel.ts `parseWhen`), naming the same instant when printed and read again, and
 * an instant within the printed form's resolution of the time printed.
 */
import { fc, it as prop } from "@fast-check/vitest"
import { Either } from "effect"
import { describe, expect, it } from "vitest"
import { parseWhen } from "../../api/timeTravel.js"
import { formatDurationUs, parseDurationUs, printedInstantUs } from "../../domain/units.js"

/** How far the instant a printed form names may be from the time printed: its last digit's worth. */
const resolutionUs = (us: number): number =>
  us < 1_000
    ? 0
    : us < 10_000
      ? 10
      : us < 1_000_000
        ? 100
        : us < 10_000_000
          ? 1_000
          : us < 60_000_000
            ? 10_000
            : 1_000_000

const parsed = (text: string): number => {
  const result = parseWhen(text)
  if (Either.isLeft(result)) throw new Error(`${text} was refused: ${result.left.message}`)
  if (!("atUs" in result.right)) throw new Error(`${text} read as a revision`)
  return result.right.atUs
}

/** Times across every printed form: µs, ms, s, minutes, hours, days of simulated time. */
const timeUs = fc.oneof(
  fc.integer({ min: 0, max: 1_000 }),
  fc.integer({ min: 0, max: 70_000_000 }),
  fc.integer({ min: 0, max: 10 * 86_400_000_000 }),
  fc.constantFrom(999, 9_999, 999_999, 9_999_999, 59_999_999, 60_000_000, 3_599_999_999, 3_600_000_000)
)

describe("printed times read back", () => {
  prop.prop([timeUs], { numRuns: 5_000, seed: 20261207 })(
    "print → parse → print names the same instant, within the printed form's resolution of the time",
    (us) => {
      const text = formatDurationUs(us)
      const instant = parsed(text)
      // The instant printed again may be written otherwise (10.000 s → 10.00 s) but names the same instant.
      expect(parsed(formatDurationUs(instant))).toBe(instant)
      expect(Math.abs(instant - us)).toBeLessThanOrEqual(resolutionUs(us))
      expect(printedInstantUs(us)).toBe(instant)
      expect(printedInstantUs(instant)).toBe(instant)
    }
  )

  prop.prop([fc.integer({ min: 0, max: 10 * 86_400_000_000 })], { numRuns: 2_000, seed: 20261207 })(
    "the raw forms too: NNNus, and a printed time with its spaces dropped or doubled",
    (us) => {
      expect(parsed(`${us}us`)).toBe(us)
      const text = formatDurationUs(us)
      expect(parsed(text.replace(" ", ""))).toBe(parsed(text))
      expect(parsed(` ${text.replace(" ", "  ")} `)).toBe(parsed(text))
    }
  )

  it("the forms the issue names", () => {
    expect(parsed("6m21s")).toBe(381_000_000)
    expect(parsed("1h00m00s")).toBe(3_600_000_000)
    expect(parsed("43.10 s")).toBe(43_100_000)
    expect(parsed("999 µs")).toBe(999)
    expect(parsed("12.50 ms")).toBe(12_500)
    expect(Either.isRight(parseDurationUs("3m10s"))).toBe(true)
  })
})
