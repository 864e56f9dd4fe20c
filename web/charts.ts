/**
 * The drawings that are few shapes, as SVG text: the migrations' Gantt chart, a migration's rounds
 * (log scale), and the pool's memory and hosts over time for the report. Pure functions of the
 * endpoints' JSON (web/api.ts), with no DOM: the page puts them in the document, `xenpool report`
 * inlines them in its HTML file and `--svg DIR` writes them as files, so all three are the same drawing.
 * (The page's dense charts over time are uPlot's: docs/view.md.)
 */
import { formatBytes, formatDurationUs } from "../domain/units.js"
import type { MigrationDetail, PoolSeries } from "./api.js"

/** The palette, one colour per host or link in turn (Tableau 10: distinct, readable in print). */
const palette = [
  "#4e79a7",
  "#f28e2b",
  "#59a14f",
  "#e15759",
  "#76b7b2",
  "#edc948",
  "#b07aa1",
  "#ff9da7",
  "#9c755f",
  "#bab0ac"
]
export const colourOf = (index: number): string => palette[index % palette.length]!
const PAUSED_COLOUR = "#d62728"

const escapeXml = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!)

const svgOpen = (width: number, height: number, title: string) =>
  `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" font-family="system-ui, sans-serif" font-size="11" role="img"><title>${escapeXml(title)}</title>`

const fixed = (n: number): string => (Math.round(n * 10) / 10).toString()

/** About `count` round tick values over [0, max]: 1, 2 or 5 times a power of ten apart. */
const ticks = (max: number, count = 5): ReadonlyArray<number> => {
  if (!(max > 0)) return [0]
  const raw = max / count
  const power = 10 ** Math.floor(Math.log10(raw))
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw)!
  return Array.from({ length: Math.floor(max / step) + 1 }, (_, i) => i * step)
}

/** A time axis along the bottom, labelled as the CLI prints times. */
const timeAxis = (x: (t: number) => number, fromUs: number, toUs: number, y: number): string =>
  ticks(toUs - fromUs, 8)
    .map((d) => {
      const px = fixed(x(fromUs + d))
      return `<line x1="${px}" x2="${px}" y1="${y}" y2="${y + 4}" stroke="#888"/><text x="${px}" y="${y + 15}" text-anchor="middle" fill="#444">${escapeXml(formatDurationUs(fromUs + d))}</text>`
    })
    .join("")

export interface GanttOptions {
  readonly width: number
  readonly fromUs: number
  readonly toUs: number
  /** Each bar links to `#<prefix><id>` (the report's sections); omitted: no links (the page handles clicks). */
  readonly linkPrefix?: string
}

const ROW_HEIGHT_PX = 22
const GANTT_LEFT_PX = 90

/** Where a time falls on the Gantt chart, in px from its left edge (the page's cursor uses the same). */
export const ganttX =
  (options: GanttOptions) =>
  (t: number): number =>
    GANTT_LEFT_PX +
    ((t - options.fromUs) / Math.max(1, options.toUs - options.fromUs)) * (options.width - GANTT_LEFT_PX - 12)

/** The links (source → destination) in order of their first migration, each with its migrations. */
const ganttRows = (migrations: ReadonlyArray<MigrationDetail>) => {
  const rows = new Map<string, MigrationDetail[]>()
  for (const m of migrations) {
    const key = `${m.from} → ${m.to}`
    rows.set(key, [...(rows.get(key) ?? []), m])
  }
  return [...rows]
}

/**
 * Migrations as bars on one row per link; each bar is cut into its rounds (a live round shaded by its
 * index, the paused round red and labelled with the downtime). Bars carry `data-migration` for the page.
 */
export const ganttSvg = (migrations: ReadonlyArray<MigrationDetail>, options: GanttOptions): string => {
  const x = ganttX(options)
  const rows = ganttRows(migrations).map(([link, list]) => ({ link, lanes: lanesOf(list, x) }))
  const laneCount = rows.reduce((sum, r) => sum + r.lanes.length, 0)
  const height = 20 + laneCount * ROW_HEIGHT_PX + rows.length * ROW_GAP_PX + 24
  const parts = [svgOpen(options.width, height, "Migrations by link: each bar a migration, its segments the rounds")]
  let y = 10
  for (const { link, lanes } of rows) {
    parts.push(`<text x="4" y="${y + 14}" fill="#222">${escapeXml(link)}</text>`)
    for (const lane of lanes) {
      for (const m of lane) parts.push(ganttBar(m, x, y, options.linkPrefix))
      y += ROW_HEIGHT_PX
    }
    parts.push(
      `<line x1="4" x2="${options.width - 12}" y1="${y + ROW_GAP_PX / 2}" y2="${y + ROW_GAP_PX / 2}" stroke="#e4e7ec"/>`
    )
    y += ROW_GAP_PX
  }
  parts.push(timeAxis(x, options.fromUs, options.toUs, y + 2))
  parts.push("</svg>")
  return parts.join("")
}

/** Room after a bar for its downtime label, in px: a bar starting closer goes to the next lane. */
const LABEL_ROOM_PX = 48
const ROW_GAP_PX = 6

/** Migrations of one link in lanes, so that bars (and their labels) that would overlap are stacked. */
const lanesOf = (
  list: ReadonlyArray<MigrationDetail>,
  x: (t: number) => number
): ReadonlyArray<ReadonlyArray<MigrationDetail>> => {
  const lanes: Array<{ endPx: number; bars: MigrationDetail[] }> = []
  for (const m of [...list].sort((a, b) => a.startedAtUs - b.startedAtUs)) {
    const lane = lanes.find((l) => l.endPx <= x(m.startedAtUs))
    const endPx = x(m.endedAtUs) + LABEL_ROOM_PX
    if (lane === undefined) lanes.push({ endPx, bars: [m] })
    else {
      lane.endPx = endPx
      lane.bars.push(m)
    }
  }
  return lanes.map((l) => l.bars)
}

const ganttBar = (m: MigrationDetail, x: (t: number) => number, y: number, linkPrefix: string | undefined): string => {
  const barX = x(m.startedAtUs)
  const barW = Math.max(2, x(m.endedAtUs) - barX)
  const title = `${m.id}: ${m.vm} ${m.from} → ${m.to}, ${m.rounds} rounds, ${formatBytes(m.bytesSent)}, total ${formatDurationUs(m.totalUs)}, downtime ${formatDurationUs(m.downtimeUs)}, ${m.outcome}${m.stopReason === undefined ? "" : ` (stop: ${m.stopReason})`}`
  const outline = m.outcome === "aborted" ? "#d62728" : "#333"
  const segments = m.roundList.map((r) => {
    const sx = x(r.atUs - r.durationUs)
    const sw = Math.max(1, x(r.atUs) - sx)
    const fill = r.live ? `hsl(210, 55%, ${Math.min(80, 38 + r.round * 7)}%)` : PAUSED_COLOUR
    return `<rect x="${fixed(sx)}" y="${y + 3}" width="${fixed(sw)}" height="${ROW_HEIGHT_PX - 8}" fill="${fill}"/>`
  })
  const paused = m.roundList.find((r) => !r.live)
  const label =
    paused === undefined
      ? ""
      : `<text x="${fixed(x(paused.atUs) + 3)}" y="${y + 8}" fill="${PAUSED_COLOUR}" font-size="9">${escapeXml(formatDurationUs(m.downtimeUs))}</text>`
  const name =
    barW > 24
      ? `<text x="${fixed(barX + 3)}" y="${y + 15}" fill="#fff" font-size="10" pointer-events="none">${escapeXml(m.id)}</text>`
      : ""
  const body = `<g class="bar" data-migration="${escapeXml(m.id)}" cursor="pointer"><title>${escapeXml(title)}</title><rect x="${fixed(barX)}" y="${y + 3}" width="${fixed(barW)}" height="${ROW_HEIGHT_PX - 8}" fill="#c6d4e1" stroke="${outline}" stroke-width="0.6"/>${segments.join("")}${name}${label}</g>`
  return linkPrefix === undefined ? body : `<a href="#${escapeXml(linkPrefix + m.id)}">${body}</a>`
}

/**
 * Pages sent and pages dirtied per round on a log scale (a round that sent or dirtied 0 pages has no bar),
 * the paused round marked, the stop reason in the title.
 */
export const roundsSvg = (m: MigrationDetail, width = 520, height = 240): string => {
  const left = 56
  const bottom = height - 34
  const top = 26
  const values = m.roundList.flatMap((r) => [r.pagesSent, r.pagesDirtied]).filter((v) => v > 0)
  const maxExp = Math.max(1, Math.ceil(Math.log10(Math.max(10, ...values))))
  const y = (v: number) => bottom - (Math.log10(Math.max(1, v)) / maxExp) * (bottom - top)
  const slot = (width - left - 10) / Math.max(1, m.roundList.length)
  const barW = Math.max(2, slot * 0.36)
  const title = `${m.id} (${m.vm}, ${m.from} → ${m.to}): pages per round, log scale; stop reason: ${m.stopReason ?? m.reason ?? "none"}`
  const parts = [svgOpen(width, height, title)]
  parts.push(
    `<text x="${left}" y="14" fill="#222" font-weight="600">${escapeXml(`${m.id}: ${m.roundList.length} rounds, downtime ${formatDurationUs(m.downtimeUs)}; stop: ${m.stopReason ?? m.reason ?? "—"}`)}</text>`
  )
  for (let e = 0; e <= maxExp; e++) {
    const py = fixed(y(10 ** e))
    parts.push(
      `<line x1="${left}" x2="${width - 10}" y1="${py}" y2="${py}" stroke="#eee"/><text x="${left - 4}" y="${py}" dy="3" text-anchor="end" fill="#444">1e${e}</text>`
    )
  }
  m.roundList.forEach((r, i) => {
    const cx = left + slot * i + slot / 2
    const bar = (v: number, dx: number, fill: string, what: string) =>
      v > 0
        ? `<rect class="round-bar" x="${fixed(cx + dx)}" y="${fixed(y(v))}" width="${fixed(barW)}" height="${fixed(bottom - y(v))}" fill="${fill}"><title>round ${r.round}${r.live ? "" : " (paused)"}: ${v} pages ${what}</title></rect>`
        : ""
    parts.push(bar(r.pagesSent, -barW - 1, r.live ? "#4e79a7" : PAUSED_COLOUR, "sent"))
    parts.push(bar(r.pagesDirtied, 1, "#f28e2b", "dirtied"))
    parts.push(
      `<text x="${fixed(cx)}" y="${bottom + 14}" text-anchor="middle" fill="${r.live ? "#444" : PAUSED_COLOUR}">${r.round}${r.live ? "" : " paused"}</text>`
    )
  })
  parts.push(
    `<text x="${left}" y="${height - 4}" fill="#444">round · <tspan fill="#4e79a7">■</tspan> pages sent · <tspan fill="#f28e2b">■</tspan> pages dirtied during the round · <tspan fill="${PAUSED_COLOUR}">■</tspan> the paused round</text>`
  )
  parts.push("</svg>")
  return parts.join("")
}

/** Memory used per host, stacked, over time (a step function through the sampled moments). */
export const memorySvg = (series: PoolSeries, pageSizeBytes: number, width = 900, height = 300): string => {
  const left = 70
  const bottom = height - 40
  const top = 12
  const times = series.atUs
  const fromUs = times[0] ?? 0
  const toUs = times[times.length - 1] ?? 1
  const totalPages = series.hosts.reduce((sum, h) => sum + h.memoryTotalPages, 0)
  const maxBytes = Math.max(1, totalPages * pageSizeBytes)
  const x = (t: number) => left + ((t - fromUs) / Math.max(1, toUs - fromUs)) * (width - left - 130)
  const y = (bytes: number) => bottom - (bytes / maxBytes) * (bottom - top)
  const parts = [svgOpen(width, height, "Memory used per host over time, stacked (Xen, dom0 and VMs)")]
  for (const gib of ticks(maxBytes / 2 ** 30, 5)) {
    const b = gib * 2 ** 30
    const py = fixed(y(b))
    parts.push(
      `<line x1="${left}" x2="${width - 130}" y1="${py}" y2="${py}" stroke="#eee"/><text x="${left - 4}" y="${py}" dy="3" text-anchor="end" fill="#444">${gib} GiB</text>`
    )
  }
  const below = times.map(() => 0)
  series.hosts.forEach((host, index) => {
    const upper = host.memoryUsedPages.map((p, i) => below[i]! + p * pageSizeBytes)
    // A step function: each value holds from its moment to the next one.
    const forwards: string[] = []
    upper.forEach((v, i) => {
      if (i > 0) forwards.push(`${fixed(x(times[i]!))},${fixed(y(upper[i - 1]!))}`)
      forwards.push(`${fixed(x(times[i]!))},${fixed(y(v))}`)
    })
    const backwards: string[] = []
    for (let i = below.length - 1; i >= 0; i--) {
      backwards.push(`${fixed(x(times[i]!))},${fixed(y(below[i]!))}`)
      if (i > 0) backwards.push(`${fixed(x(times[i]!))},${fixed(y(below[i - 1]!))}`)
    }
    parts.push(
      `<polygon points="${[...forwards, ...backwards].join(" ")}" fill="${colourOf(index)}" fill-opacity="0.85"><title>${escapeXml(host.id)}</title></polygon>`
    )
    parts.push(
      `<rect x="${width - 120}" y="${top + index * 14}" width="10" height="10" fill="${colourOf(index)}"/><text x="${width - 106}" y="${top + index * 14 + 9}">${escapeXml(host.id)}</text>`
    )
    upper.forEach((v, i) => (below[i] = v))
  })
  parts.push(timeAxis(x, fromUs, toUs, bottom))
  parts.push("</svg>")
  return parts.join("")
}

/** Hosts in use and migrations in flight over time, as two step lines. */
export const countsSvg = (series: PoolSeries, width = 900, height = 200): string => {
  const left = 70
  const bottom = height - 40
  const top = 12
  const times = series.atUs
  const fromUs = times[0] ?? 0
  const toUs = times[times.length - 1] ?? 1
  const max = Math.max(1, ...series.hostsInUse, ...series.migrationsInFlight)
  const x = (t: number) => left + ((t - fromUs) / Math.max(1, toUs - fromUs)) * (width - left - 130)
  const y = (v: number) => bottom - (v / max) * (bottom - top)
  const parts = [svgOpen(width, height, "Hosts in use and migrations in flight over time")]
  for (const v of ticks(max, 4))
    parts.push(
      `<line x1="${left}" x2="${width - 130}" y1="${fixed(y(v))}" y2="${fixed(y(v))}" stroke="#eee"/><text x="${left - 4}" y="${fixed(y(v))}" dy="3" text-anchor="end" fill="#444">${v}</text>`
    )
  const step = (values: ReadonlyArray<number>, colour: string, name: string, row: number) => {
    const points = values.map(
      (v, i) => `${fixed(x(times[i]!))},${fixed(y(i === 0 ? v : values[i - 1]!))} ${fixed(x(times[i]!))},${fixed(y(v))}`
    )
    parts.push(`<polyline points="${points.join(" ")}" fill="none" stroke="${colour}" stroke-width="1.6"/>`)
    parts.push(
      `<rect x="${width - 120}" y="${top + row * 14}" width="10" height="10" fill="${colour}"/><text x="${width - 106}" y="${top + row * 14 + 9}">${name}</text>`
    )
  }
  step(series.hostsInUse, "#4e79a7", "hosts in use", 0)
  step(series.migrationsInFlight, "#e15759", "migrations", 1)
  parts.push(timeAxis(x, fromUs, toUs, bottom))
  parts.push("</svg>")
  return parts.join("")
}
