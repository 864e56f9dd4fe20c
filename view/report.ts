/**
 * `xenpool report`'s document: one self-contained HTML file (styles, drawings and data inline; no
 * script, no request: it opens from disk anywhere) with a summary table, the migrations' Gantt chart,
 * memory per host and hosts in use over time, and the rounds of the longest migrations; and the same
 * drawings as SVG files (`--svg DIR`). The drawings are web/charts.ts's, the ones the view shows.
 */
import { provenanceText } from "../api/provenance.js"
import { formatBytes, formatDurationUs } from "../domain/units.js"
import type { MigrationDetail, PoolListEntry, PoolOverview } from "../web/api.js"
import type { PoolHistory } from "./data.js"
import { countsSvg, ganttSvg, memorySvg, roundsSvg } from "../web/charts.js"

/** How many of the longest migrations get their round chart. */
const REPORT_ROUND_CHARTS = 12
/** The moments the report's charts are sampled at (a drawing, not a data set: the data is in the view). */
export const REPORT_SERIES_POINTS = 1_500
const REPORT_WIDTH_PX = 1000

const escapeHtml = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!)

/** The longest migrations first (by total time; ties by id). */
const longestMigrations = (migrations: ReadonlyArray<MigrationDetail>, count: number) =>
  [...migrations].sort((a, b) => b.totalUs - a.totalUs || (a.id < b.id ? -1 : 1)).slice(0, count)

/** A Gantt chart of more bars than this is no longer read: the report draws the first ones. */
const REPORT_GANTT_MIGRATIONS_MAX = 400
/** The table of every migration stops here (the view lists the rest). */
const REPORT_TABLE_MIGRATIONS_MAX = 2_000

/** The migrations the Gantt chart shows: every one, or the first REPORT_GANTT_MIGRATIONS_MAX by start. */
const ganttMigrations = (history: PoolHistory) => history.migrations.slice(0, REPORT_GANTT_MIGRATIONS_MAX)

const ganttSpan = (history: PoolHistory) => {
  const shown = ganttMigrations(history)
  const last = shown.reduce((end, m) => Math.max(end, m.endedAtUs), history.overview.firstAtUs)
  return {
    fromUs: history.overview.firstAtUs,
    toUs: shown.length < history.migrations.length ? last : history.overview.lastAtUs
  }
}

/** The report's drawings by file name: what `--svg DIR` writes and the HTML inlines. */
export const reportSvgs = (history: PoolHistory): ReadonlyArray<{ readonly name: string; readonly svg: string }> => [
  { name: "gantt.svg", svg: ganttSvg(ganttMigrations(history), { width: REPORT_WIDTH_PX, ...ganttSpan(history) }) },
  { name: "memory.svg", svg: memorySvg(history.overview.series, history.overview.pageSizeBytes, REPORT_WIDTH_PX) },
  { name: "hosts-in-use.svg", svg: countsSvg(history.overview.series, REPORT_WIDTH_PX) },
  ...longestMigrations(history.migrations, REPORT_ROUND_CHARTS).map((m) => ({
    name: `rounds-${m.id}.svg`,
    svg: roundsSvg(m, 470, 230)
  }))
]

const summaryRows = (entry: PoolListEntry, overview: PoolOverview): ReadonlyArray<[string, string]> => {
  const m = overview.migrations
  const max = (values: ReadonlyArray<number>) => values.reduce((a, b) => Math.max(a, b), 0)
  const min = (values: ReadonlyArray<number>) => values.reduce((a, b) => Math.min(a, b), values[0] ?? 0)
  const s = overview.series
  return [
    ["pool", `${entry.id}${entry.definedAs === null ? "" : ` (defined as ${entry.definedAs})`}`],
    ["made by", provenanceText(entry.provenance)],
    ["store", entry.store],
    ["events", `${entry.events} (revisions 0–${overview.lastRevision})`],
    ["simulated time", `${formatDurationUs(overview.firstAtUs)} – ${formatDurationUs(overview.lastAtUs)}`],
    ["hosts, VMs at the end", `${entry.hosts}, ${entry.vms}`],
    ["migrations", `${m.count}: ${m.committed} committed, ${m.aborted} aborted, ${m.inProgress} in progress`],
    ["sent", formatBytes(m.bytesSent)],
    [
      "total time (committed)",
      m.committed === 0
        ? "—"
        : `mean ${formatDurationUs(Math.round(m.totalUs / m.committed))}, max ${formatDurationUs(m.totalUsMax)}`
    ],
    [
      "downtime (committed)",
      m.committed === 0
        ? "—"
        : `total ${formatDurationUs(m.downtimeUs)}, mean ${formatDurationUs(Math.round(m.downtimeUs / m.committed))}, max ${formatDurationUs(m.downtimeUsMax)}`
    ],
    ["migrations in flight, at most", String(max(s.migrationsInFlight))],
    [
      "hosts in use",
      `${s.hostsInUse[0] ?? 0} at the start, ${s.hostsInUse[s.hostsInUse.length - 1] ?? 0} at the end, between ${min(s.hostsInUse)} and ${max(s.hostsInUse)}`
    ]
  ]
}

const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>, className = "") =>
  `<table class="${className}"><thead><tr>${header.map((h) => `<th>${escapeHtml(h)}</th>`).join("")}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c) => `<td>${escapeHtml(c)}</td>`).join("")}</tr>`)
    .join("")}</tbody></table>`

const migrationSection = (m: MigrationDetail, svg: string) =>
  `<section class="migration" id="migration-${escapeHtml(m.id)}"><h3>${escapeHtml(`${m.id}: ${m.vm} ${m.from} → ${m.to}`)}</h3>
<p>${escapeHtml(`${m.outcome}; ${m.rounds} rounds, ${formatBytes(m.bytesSent)} sent, total ${formatDurationUs(m.totalUs)}, downtime ${formatDurationUs(m.downtimeUs)}; stop reason: ${m.stopReason ?? m.reason ?? "—"}`)}</p>
<div class="pair">${svg}${table(
    ["round", "", "ended at", "duration", "pages sent", "pages dirtied", "sent"],
    m.roundList.map((r) => [
      String(r.round),
      r.live ? "live" : "paused",
      formatDurationUs(r.atUs),
      formatDurationUs(r.durationUs),
      String(r.pagesSent),
      String(r.pagesDirtied),
      formatBytes(r.bytesSent)
    ]),
    "rounds"
  )}</div></section>`

const STYLE = `body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2430;margin:24px auto;max-width:1060px;padding:0 16px}
h1{font-size:20px}h2{font-size:16px;margin-top:28px}h3{font-size:14px;margin:16px 0 4px}
table{border-collapse:collapse;font-size:13px;margin:6px 0}th,td{text-align:left;padding:3px 12px 3px 0;border-bottom:1px solid #dde2ea;white-space:nowrap}
.pair{display:flex;gap:16px;flex-wrap:wrap;align-items:flex-start}svg{max-width:100%;height:auto}.muted{color:#5b6473}
table.rounds td:nth-child(2){color:#5b6473}`

/** The whole report; `generated` says by what (no clock: the same pool gives the same file). */
export const reportHtml = (entry: PoolListEntry, history: PoolHistory, generated: string): string => {
  const { overview } = history
  const svgs = reportSvgs(history)
  const svgOf = (name: string) => svgs.find((s) => s.name === name)!.svg
  const longest = longestMigrations(history.migrations, REPORT_ROUND_CHARTS)
  const gantt = ganttMigrations(history)
  const ganttLinked = ganttSvg(gantt, { width: REPORT_WIDTH_PX, ...ganttSpan(history), linkPrefix: "migration-" })
  const listed = history.migrations.slice(0, REPORT_TABLE_MIGRATIONS_MAX)
  const some = (shown: number, what: string) =>
    shown < history.migrations.length
      ? ` The first ${shown} of ${history.migrations.length} migrations ${what}; the view shows them all.`
      : ""
  // The data drawn, as JSON the browser does not run (`</` escaped so it cannot end the element).
  const data = JSON.stringify({ pool: entry, overview, migrations: [...new Set([...gantt, ...longest])] }).replace(
    /<\//g,
    "<\\/"
  )
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>xenpool report: ${escapeHtml(entry.id)}</title><style>${STYLE}</style></head><body>
<h1>xenpool report: pool ${escapeHtml(entry.id)}</h1>
<p class="muted">${escapeHtml(generated)}</p>
<h2>Summary</h2>${table(["", ""], summaryRows(entry, overview))}
<h2>Migrations</h2><p class="muted">One row per link (source → destination); each bar a migration, its segments the rounds, the paused round red with the downtime. A bar links to the migration's rounds below when it is one of the ${REPORT_ROUND_CHARTS} longest.${escapeHtml(some(gantt.length, "are drawn"))}</p>
${history.migrations.length === 0 ? "<p>No migration in this pool's history.</p>" : ganttLinked}
<h2>Memory used per host</h2>${svgOf("memory.svg")}
<h2>Hosts in use and migrations in flight</h2>${svgOf("hosts-in-use.svg")}
<p class="muted">Sampled ${overview.series.sampling === "even" ? `at ${overview.series.atUs.length} evenly spaced moments` : "at every event time"}: each value is what <code>xenpool at</code> answers at that moment.</p>
<h2>The ${longest.length} longest migrations, round by round</h2>
${longest.map((m) => migrationSection(m, svgOf(`rounds-${m.id}.svg`))).join("\n")}
<h2>Every migration</h2><p class="muted">${escapeHtml(some(listed.length, "are listed"))}</p>${table(
    ["id", "VM", "from → to", "started", "rounds", "sent", "total", "downtime", "outcome", "stop reason"],
    listed.map((m) => [
      m.id,
      m.vm,
      `${m.from} → ${m.to}`,
      formatDurationUs(m.startedAtUs),
      String(m.rounds),
      formatBytes(m.bytesSent),
      formatDurationUs(m.totalUs),
      formatDurationUs(m.downtimeUs),
      m.outcome,
      m.stopReason ?? m.reason ?? ""
    ])
  )}
<script type="application/json" id="xenpool-data">${data}</script>
</body></html>
`
}
