/**
 * `xenpool calibrate`: the published live-migration measurements shipped with xenpool
 * (simulations/data/calibration, with their sources) run through the model, each figure beside the
 * measurement with its error (docs/calibration.md).
 */
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { Effect, Either } from "effect"
import {
  calibrate as calibrateRows,
  ITERATIONS_FILE,
  MEASUREMENTS_FILE,
  TRANSLATIONS_FILE,
  type CalibrationReport
} from "../simulations/calibration.js"
import { XenpoolError } from "./errors.js"
import { packageRoot } from "./paths.js"

export type { CalibrationReport, Comparison } from "../simulations/calibration.js"

const readData = (name: string) =>
  Effect.try({
    try: () => readFileSync(join(packageRoot(), "simulations", "data", "calibration", name), "utf8"),
    catch: (e) =>
      new XenpoolError({
        what: "cannot read the calibration data",
        where: join("simulations", "data", "calibration", name),
        expected: `expected the file shipped with xenpool (${(e as Error).message})`
      })
  })

/**
 * Runs every row of the published table whose inputs are known and compares the model's total time,
 * downtime, setup, bytes and rounds with the measurements: the report `xenpool calibrate --json` prints.
 *
 * @example
 * const report = yield* calibrate()
 * report.summary.medianAbsErrorPct
 */
export const calibrate = (): Effect.Effect<CalibrationReport, XenpoolError> =>
  Effect.gen(function* () {
    const files = {
      measurementsCsv: yield* readData(MEASUREMENTS_FILE),
      iterationsCsv: yield* readData(ITERATIONS_FILE),
      translationsJson: yield* readData(TRANSLATIONS_FILE)
    }
    const result = calibrateRows(files)
    if (Either.isRight(result)) return result.right
    const e = result.left
    return yield* new XenpoolError({
      what: "bad calibration data",
      where: `${e.file}${e.line === undefined ? "" : `:${e.line}`}, ${e.field}`,
      expected: `expected ${e.expected}`
    })
  })
