/**
 * `xenpool calibrate` (docs/calibration.md): the published migration measurements
 * (simulations/data/calibration/*.csv) beside what the model gives for each row, translated into the
 * model's terms once, in translations.json, before the model was run on it. Pure: the caller reads the
 * three files and hands over their text; every error names the file, the line and the field.
 */
import { Either, ParseResult, Schema } from "effect"
import {
  DEFAULT_PAGE_SIZE_BYTES,
  parseDurationUs,
  parseRateBytesPerS,
  parseSizeBytes,
  type UnitError
} from "../domain/units.js"
import {
  estimatedDowntimeUs,
  runSingleMigration,
  type SingleMigrationReport,
  type StopReason
} from "../engine/migration/index.js"

export const MEASUREMENTS_FILE = "migration-measurements.csv"
export const ITERATIONS_FILE = "precopy-iterations.csv"
export const TRANSLATIONS_FILE = "translations.json"

/** What a row is compared on. The first five are migration-measurements.csv's columns. */
const calibrationMetrics = [
  "total",
  "downtime",
  "setup",
  "transferred",
  "dirty-syncs",
  "iteration-duration",
  "iteration-sent",
  "estimated-downtime"
] as const
type CalibrationMetric = (typeof calibrationMetrics)[number]

const unitOf: Readonly<Record<CalibrationMetric, string>> = {
  total: "ms",
  downtime: "ms",
  setup: "ms",
  transferred: "KiB",
  "dirty-syncs": "syncs",
  "iteration-duration": "ms",
  "iteration-sent": "MiB",
  "estimated-downtime": "ms"
}

const Metric = Schema.Literal(...calibrationMetrics)

const SkippedRow = Schema.Struct({ id: Schema.String, skip: Schema.String })
const RunRow = Schema.Struct({
  id: Schema.String,
  memory: Schema.String,
  bandwidth: Schema.String,
  dirtyRate: Schema.String,
  workingSet: Schema.optional(Schema.String),
  untouched: Schema.optional(Schema.String),
  policy: Schema.Literal("xen", "xen-legacy", "max-downtime"),
  maxDowntime: Schema.optional(Schema.String),
  snapshotAtMs: Schema.optional(Schema.Int.pipe(Schema.positive())),
  calibrationPoint: Schema.optional(Schema.Array(Metric)),
  translation: Schema.String
})
type RunRow = typeof RunRow.Type
const Translations = Schema.Struct({ about: Schema.String, rows: Schema.Array(Schema.Union(SkippedRow, RunRow)) })

/** A bad input file: where, and what was expected. */
export interface CalibrationError {
  readonly _tag: "CalibrationError"
  readonly file: string
  readonly line: number | undefined
  readonly field: string
  readonly expected: string
}

class Failure extends Error {
  constructor(readonly error: CalibrationError) {
    super(error.expected)
  }
}

const fail = (file: string, line: number | undefined, field: string, expected: string): never => {
  throw new Failure({ _tag: "CalibrationError", file, line, field, expected })
}

export interface Comparison {
  readonly metric: CalibrationMetric
  readonly unit: string
  /** For per-iteration metrics: the iteration (0-based, as the CSV numbers them). */
  readonly iteration?: number
  readonly measured: number
  readonly model: number
  /** (model - measured) / measured, in percent. */
  readonly errorPct: number
  /** False for a metric a default was derived from (a calibration point): shown, not scored. */
  readonly scored: boolean
}

interface RowResult {
  readonly id: string
  readonly source: string
  /** The row's translation, or why it was not run. */
  readonly translation: string
  readonly ran: boolean
  /** The model's run: converged (stopped by its downtime rule) or stopped by the policy's limit. */
  readonly stopReason?: StopReason
  readonly converged?: boolean
  /** What the CSV says of the real run: completed, or still running when recorded. */
  readonly measuredStatus: string
  readonly comparisons: ReadonlyArray<Comparison>
}

interface MetricSummary {
  readonly metric: CalibrationMetric
  readonly pairs: number
  readonly medianAbsErrorPct: number
}

export interface CalibrationReport {
  readonly rows: ReadonlyArray<RowResult>
  readonly summary: {
    /** Scored (row, metric) pairs and the median of their absolute errors. */
    readonly pairs: number
    readonly medianAbsErrorPct: number
    readonly byMetric: ReadonlyArray<MetricSummary>
    /** The scored pairs off by more than 50 %: docs/calibration.md says what the model lacks for each. */
    readonly over50: ReadonlyArray<{
      readonly id: string
      readonly metric: CalibrationMetric
      readonly errorPct: number
    }>
  }
}

// --- the files ---------------------------------------------------------------------------------------

/** RFC 4180 CSV: a header row, then records; quoted fields may hold commas and doubled quotes. */
export const parseCsv = (
  file: string,
  text: string
): ReadonlyArray<{ readonly line: number; readonly cells: Record<string, string> }> => {
  const lines = text.split(/\r?\n/)
  const split = (line: string, at: number): string[] => {
    const cells: string[] = []
    let cell = ""
    let quoted = false
    // Bounded: one pass over the line.
    for (let i = 0; i < line.length; i++) {
      const c = line[i]!
      if (quoted) {
        if (c === '"' && line[i + 1] === '"') {
          cell += '"'
          i++
        } else if (c === '"') quoted = false
        else cell += c
      } else if (c === '"') quoted = true
      else if (c === ",") {
        cells.push(cell)
        cell = ""
      } else cell += c
    }
    if (quoted) fail(file, at, "(csv)", "a closing quote on the same line")
    cells.push(cell)
    return cells
  }
  const header = split(lines[0] ?? "", 1)
  const records: Array<{ line: number; cells: Record<string, string> }> = []
  for (let i = 1; i < lines.length; i++) {
    if (lines[i]!.trim() === "") continue
    const cells = split(lines[i]!, i + 1)
    if (cells.length !== header.length)
      fail(file, i + 1, "(csv)", `${header.length} fields as in the header, got ${cells.length}`)
    records.push({ line: i + 1, cells: Object.fromEntries(header.map((h, k) => [h, cells[k]!])) })
  }
  return records
}

const numberCell = (file: string, line: number, cells: Record<string, string>, field: string): number | undefined => {
  const text = cells[field]
  if (text === undefined) return fail(file, line, field, "the column in the header")
  if (text.trim() === "") return undefined
  const value = Number(text)
  return Number.isFinite(value) && value >= 0 ? value : fail(file, line, field, `a number, got "${text}"`)
}

const unit = <A>(line: number | undefined, field: string, result: Either.Either<A, UnitError>): A =>
  Either.isRight(result) ? result.right : fail(TRANSLATIONS_FILE, line, field, result.left.expected)

const translationsOf = (text: string): typeof Translations.Type => {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (e) {
    return fail(TRANSLATIONS_FILE, undefined, "(json)", `JSON (${(e as Error).message})`)
  }
  const decoded = Schema.decodeUnknownEither(Translations, { onExcessProperty: "error" })(json)
  if (Either.isLeft(decoded)) {
    const issue = ParseResult.ArrayFormatter.formatErrorSync(decoded.left)[0]
    return fail(TRANSLATIONS_FILE, undefined, issue?.path.join(".") || "(root)", issue?.message ?? "a valid file")
  }
  return decoded.right
}

// --- the comparisons ----------------------------------------------------------------------------------

const compare = (
  metric: CalibrationMetric,
  measured: number | undefined,
  model: number,
  calibrationPoints: ReadonlyArray<CalibrationMetric>,
  iteration?: number
): ReadonlyArray<Comparison> =>
  measured === undefined || measured === 0
    ? []
    : [
        {
          metric,
          unit: unitOf[metric],
          ...(iteration === undefined ? {} : { iteration }),
          measured,
          model,
          errorPct: ((model - measured) / measured) * 100,
          scored: !calibrationPoints.includes(metric)
        }
      ]

/** The model's run of a translated row. */
const modelRun = (row: RunRow, line: number): SingleMigrationReport => {
  const memoryBytes = unit(line, `${row.id}.memory`, parseSizeBytes(row.memory))
  const share = (field: "workingSet" | "untouched", text: string | undefined) =>
    text === undefined ? undefined : unit(line, `${row.id}.${field}`, parseSizeBytes(text))
  const untouchedBytes = share("untouched", row.untouched) ?? 0
  const workingSetBytes = share("workingSet", row.workingSet)
  if (untouchedBytes + (workingSetBytes ?? 0) > memoryBytes)
    fail(TRANSLATIONS_FILE, line, `${row.id}.untouched`, "untouched + workingSet at most memory")
  return runSingleMigration({
    memoryBytes,
    bandwidthBytesPerS: unit(line, `${row.id}.bandwidth`, parseRateBytesPerS(row.bandwidth)),
    dirtyRateBytesPerS: unit(line, `${row.id}.dirtyRate`, parseRateBytesPerS(row.dirtyRate)),
    ...(workingSetBytes === undefined ? {} : { workingSetBytes }),
    untouchedBytes,
    policy: row.policy,
    ...(row.maxDowntime === undefined
      ? {}
      : { maxDowntimeUs: unit(line, `${row.id}.maxDowntime`, parseDurationUs(row.maxDowntime)) }),
    model: "rate",
    pageSizeBytes: DEFAULT_PAGE_SIZE_BYTES,
    phases: "default"
  })
}

/** Bytes sent and dirty syncs by `atUs` after the start: completed rounds, and the round then in flight at the link's rate. */
const figuresAt = (report: SingleMigrationReport, atUs: number, bandwidthBytesPerS: number) => {
  let clockUs = report.phases?.setupUs ?? 0
  let bytes = 0
  let rounds = 0
  for (const round of report.rounds) {
    if (clockUs + round.durationUs > atUs) {
      bytes += Math.min(round.bytesSent, Math.floor(((atUs - clockUs) * bandwidthBytesPerS) / 1e6))
      break
    }
    clockUs += round.durationUs
    bytes += round.bytesSent
    rounds++
  }
  return { bytes, syncs: rounds + 1 }
}

const converged = (stopReason: StopReason): boolean => stopReason !== "round-cap" && stopReason !== "iteration-cap"

const measurementRow = (row: RunRow, record: { line: number; cells: Record<string, string> }): RowResult => {
  const at = (field: string) => numberCell(MEASUREMENTS_FILE, record.line, record.cells, field)
  const report = modelRun(row, record.line)
  const points = row.calibrationPoint ?? []
  const comparisons: Comparison[] = []
  if (row.snapshotAtMs !== undefined) {
    const bandwidth = unit(record.line, `${row.id}.bandwidth`, parseRateBytesPerS(row.bandwidth))
    const then = figuresAt(report, row.snapshotAtMs * 1000, bandwidth)
    comparisons.push(
      ...compare("setup", at("setup_ms"), (report.phases?.setupUs ?? 0) / 1000, points),
      ...compare("transferred", at("transferred_kib"), then.bytes / 1024, points),
      ...compare("dirty-syncs", at("dirty_sync_count"), then.syncs, points)
    )
  } else {
    comparisons.push(
      ...compare("total", at("total_time_ms"), report.totalUs / 1000, points),
      ...compare("downtime", at("downtime_ms"), report.downtimeUs / 1000, points),
      ...compare("setup", at("setup_ms"), (report.phases?.setupUs ?? 0) / 1000, points),
      ...compare("transferred", at("transferred_kib"), report.bytesSent / 1024, points),
      ...compare("dirty-syncs", at("dirty_sync_count"), report.rounds.length + 1, points)
    )
  }
  return {
    id: row.id,
    source: MEASUREMENTS_FILE,
    translation: row.translation,
    ran: true,
    stopReason: report.stopReason,
    converged: converged(report.stopReason),
    measuredStatus: record.cells["status"] ?? "",
    comparisons
  }
}

const iterationsRow = (
  row: RunRow,
  records: ReadonlyArray<{ line: number; cells: Record<string, string> }>
): RowResult => {
  const report = modelRun(row, records[0]!.line)
  const points = row.calibrationPoint ?? []
  const comparisons: Comparison[] = []
  for (const record of records) {
    const at = (field: string) => numberCell(ITERATIONS_FILE, record.line, record.cells, field)
    const i = at("iteration") ?? fail(ITERATIONS_FILE, record.line, "iteration", "an iteration number")
    const round = report.rounds[i]
    if (round === undefined) continue
    const seconds = at("iter_duration_s")
    comparisons.push(
      ...compare(
        "iteration-duration",
        seconds === undefined ? undefined : seconds * 1000,
        round.durationUs / 1000,
        points,
        i
      ),
      ...compare("iteration-sent", at("iter_sent_mib"), round.bytesSent / 2 ** 20, points, i)
    )
    // iteration i's estimate is made from the round before it: its dirty pages at its bandwidth
    const before = report.rounds[i - 1]
    if (before !== undefined) {
      const estimateUs = estimatedDowntimeUs(
        before.dirtyPagesAfter * DEFAULT_PAGE_SIZE_BYTES,
        before.bytesSent,
        before.durationUs
      )
      comparisons.push(...compare("estimated-downtime", at("est_downtime_ms"), estimateUs / 1000, points, i))
    }
  }
  return {
    id: row.id,
    source: ITERATIONS_FILE,
    translation: row.translation,
    ran: true,
    stopReason: report.stopReason,
    converged: converged(report.stopReason),
    measuredStatus: "not converged (the source's log)",
    comparisons
  }
}

const median = (values: ReadonlyArray<number>): number => {
  if (values.length === 0) return 0
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

const summarise = (rows: ReadonlyArray<RowResult>): CalibrationReport["summary"] => {
  const scored = rows.flatMap((r) => r.comparisons.filter((c) => c.scored).map((c) => ({ id: r.id, ...c })))
  return {
    pairs: scored.length,
    medianAbsErrorPct: median(scored.map((c) => Math.abs(c.errorPct))),
    byMetric: calibrationMetrics
      .map((metric) => {
        const of = scored.filter((c) => c.metric === metric)
        return { metric, pairs: of.length, medianAbsErrorPct: median(of.map((c) => Math.abs(c.errorPct))) }
      })
      .filter((m) => m.pairs > 0),
    over50: scored
      .filter((c) => Math.abs(c.errorPct) > 50)
      .map((c) => ({ id: c.id, metric: c.metric, errorPct: c.errorPct }))
  }
}

/** The whole comparison. Every CSV row must have a translation, and every translation a row. */
export const calibrate = (files: {
  readonly measurementsCsv: string
  readonly iterationsCsv: string
  readonly translationsJson: string
}): Either.Either<CalibrationReport, CalibrationError> => {
  try {
    const translations = translationsOf(files.translationsJson)
    const byId = new Map(translations.rows.map((r) => [r.id, r]))
    const measurements = parseCsv(MEASUREMENTS_FILE, files.measurementsCsv)
    const iterations = parseCsv(ITERATIONS_FILE, files.iterationsCsv)
    const rows: RowResult[] = []
    const seen = new Set<string>()
    for (const record of measurements) {
      const id = record.cells["source_id"] ?? ""
      const row =
        byId.get(id) ??
        fail(MEASUREMENTS_FILE, record.line, "source_id", `a row of ${TRANSLATIONS_FILE} (none for "${id}")`)
      seen.add(id)
      rows.push(
        "skip" in row
          ? {
              id,
              source: MEASUREMENTS_FILE,
              translation: row.skip,
              ran: false,
              measuredStatus: record.cells["status"] ?? "",
              comparisons: []
            }
          : measurementRow(row, record)
      )
    }
    const iterationIds = [...new Set(iterations.map((r) => r.cells["source_id"] ?? ""))]
    for (const id of iterationIds) {
      const row = byId.get(id)
      const records = iterations.filter((r) => r.cells["source_id"] === id)
      if (row === undefined || "skip" in row)
        return fail(ITERATIONS_FILE, records[0]!.line, "source_id", `a run row of ${TRANSLATIONS_FILE} for "${id}"`)
      seen.add(id)
      rows.push(iterationsRow(row, records))
    }
    const extra = translations.rows.find((r) => !seen.has(r.id))
    if (extra !== undefined) fail(TRANSLATIONS_FILE, undefined, `rows.${extra.id}`, "a row of the published table")
    return Either.right({ rows, summary: summarise(rows) })
  } catch (e) {
    if (e instanceof Failure) return Either.left(e.error)
    throw e
  }
}
