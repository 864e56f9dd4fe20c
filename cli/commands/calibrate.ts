/**
 * `xenpool calibrate [--json]`: the published migration measurements beside the model's figures, with
 * the error of each (docs/calibration.md). The files are the package's own (simulations/data/calibration);
 * the comparison is simulations/calibration.ts; this command reads and prints.
 */
import { Command } from "@effect/cli"
import { Effect } from "effect"
import { calibrate, type CalibrationReport, type Comparison } from "../../api/calibrate.js"
import { printLine } from "../output.js"
import { jsonOption, printJson, table } from "../shared.js"

const figure = (value: number, unit: string): string =>
  unit === "syncs"
    ? value.toLocaleString("en-US")
    : `${value.toLocaleString("en-US", { maximumFractionDigits: value < 100 ? 1 : 0 })} ${unit}`

const errorText = (c: Comparison): string =>
  `${c.errorPct >= 0 ? "+" : ""}${c.errorPct.toFixed(0)} %${c.scored ? "" : " (fit)"}`

/** One line per (row, metric): the measurement, the model, the error; rows not run say why. */
const formatCalibration = (report: CalibrationReport): string => {
  const rows: string[][] = []
  for (const row of report.rows) {
    if (!row.ran) {
      rows.push([row.id, "-", "-", "-", "-", `not run: ${row.translation}`])
      continue
    }
    const outcome = row.converged ? `converged (${row.stopReason})` : `stopped by the limit (${row.stopReason})`
    row.comparisons.forEach((c, i) =>
      rows.push([
        i === 0 ? row.id : "",
        c.iteration === undefined ? c.metric : `${c.metric} #${c.iteration}`,
        figure(c.measured, c.unit),
        figure(c.model, c.unit),
        errorText(c),
        i === 0 ? outcome : ""
      ])
    )
  }
  const s = report.summary
  return [
    table(["row", "metric", "measured", "model", "error", "model's run"], rows),
    "",
    `median |error| over ${s.pairs} scored pairs: ${s.medianAbsErrorPct.toFixed(1)} %; by metric: ` +
      s.byMetric.map((m) => `${m.metric} ${m.medianAbsErrorPct.toFixed(1)} % (${m.pairs})`).join(", "),
    `${s.over50.length} pairs off by more than 50 % (docs/calibration.md says what the model lacks for each); (fit): a default was derived from it, not scored`
  ].join("\n")
}

export const calibrateCommand = Command.make("calibrate", { json: jsonOption }, (o) =>
  Effect.gen(function* () {
    const report = yield* calibrate()
    if (o.json) return yield* printJson(report)
    yield* printLine(formatCalibration(report))
  })
).pipe(
  Command.withDescription(
    "the published live-migration measurements beside the model's figures, with the error of each (docs/calibration.md)"
  )
)
