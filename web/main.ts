/**
 * The view's page: a pool list, then one pool's timeline (scrubber, hosts at the moment, migrations as a
 * Gantt chart, charts over time, events). Talks to the server only through the endpoints of docs/view.md
 * (types in web/api.ts). The moment lives in the URL (`?pool=rolling-1&t=3m10s`) so it can be shared.
 */
import uPlot from "uplot"
import "uplot/dist/uPlot.min.css"
import { Either } from "effect"
import { formatBytes, formatDurationUs } from "../domain/units.js"
import type {
  AtAnswer,
  AtVm,
  ErrorAnswer,
  EventRow,
  EventsAround,
  HostsAnswer,
  HostsVm,
  MigrationDetail,
  MigrationWindow,
  PoolListEntry,
  PoolOverview,
  VmMemorySeries
} from "./api.js"
import { colourOf, ganttSvg, ganttX, roundsSvg, type GanttOptions } from "./charts.js"
import { formatMoment, parseMoment } from "./moment.js"

// --- the server -----------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(readonly detail: ErrorAnswer["error"]) {
    super(`${detail.what} (${detail.where}): ${detail.expected}`)
  }
}

const api = async <T>(path: string): Promise<T> => {
  figures.busy++
  try {
    return await request<T>(path)
  } finally {
    figures.busy--
  }
}

const request = async <T>(path: string): Promise<T> => {
  let response: Response
  try {
    response = await fetch(path)
  } catch {
    throw new ApiError({
      what: "the server does not answer",
      where: path,
      expected: "xenpool view running: start it again, then reload"
    })
  }
  const body = (await response.json().catch(() => undefined)) as T | ErrorAnswer | undefined
  if (response.ok && body !== undefined) return body as T
  const error = (body as ErrorAnswer | undefined)?.error
  throw new ApiError(
    error ?? { what: `HTTP ${response.status}`, where: path, expected: "an answer of the view's server" }
  )
}

const poolPath = (pool: string, rest: string) => `/api/pools/${encodeURIComponent(pool)}/${rest}`

// --- the page's state -----------------------------------------------------------------------------

const $ = <E extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as E

interface PoolPage {
  readonly pool: PoolListEntry
  atUs: number
  answer: HostsAnswer | undefined
  overview: PoolOverview | undefined
  gantt: GanttOptions | undefined
  readonly charts: uPlot[]
  /** Answers to older scrubs are dropped: only the latest request renders. */
  request: number
  /** Answers of the hosts endpoint awaited: a scrub while none is goes out at once. */
  awaited: number
  playing: number | undefined
}

let page: PoolPage | undefined

/** Figures the browser tests read: the first paint of the hosts and each scrub's latency, in ms. */
const figures = {
  firstPaintMs: undefined as number | undefined,
  scrubMs: [] as number[],
  /** Of each scrub: the answer's arrival (request, server, transfer, parse), and the drawing. */
  scrubFetchMs: [] as number[],
  scrubDrawMs: [] as number[],
  /** Requests in flight and events lists waiting to load: 0 when the page is idle. */
  busy: 0
}
;(window as unknown as { xenpoolFigures: typeof figures }).xenpoolFigures = figures

const showError = (error: unknown) => {
  const box = $("error")
  const detail =
    error instanceof ApiError ? error.detail : { what: "error in the page", where: "", expected: String(error) }
  box.replaceChildren()
  const what = document.createElement("b")
  what.textContent = detail.where === "" ? detail.what : `${detail.what} (${detail.where})`
  box.append(what, detail.expected)
  box.hidden = false
}

const text = (tag: string, content: string, className?: string) => {
  const el = document.createElement(tag)
  el.textContent = content
  if (className !== undefined) el.className = className
  return el
}

const row = (cells: ReadonlyArray<string | HTMLElement>, header = false) => {
  const tr = document.createElement("tr")
  for (const cell of cells) {
    const td = document.createElement(header ? "th" : "td")
    if (typeof cell === "string") td.textContent = cell
    else td.append(cell)
    tr.append(td)
  }
  return tr
}

// --- the pool list --------------------------------------------------------------------------------

const showPoolList = (pools: ReadonlyArray<PoolListEntry>) => {
  $("pools").hidden = false
  const table = $("pool-table")
  if (pools.length === 0) {
    showError(
      new ApiError({
        what: "no pools",
        where: "this store",
        expected: "run `xenpool demo` (or simulate, replay) to make one, then reload"
      })
    )
    return
  }
  table.replaceChildren(row(["pool", "defined as", "made by", "events", "simulated", "hosts", "VMs", "store"], true))
  for (const p of pools) {
    const link = document.createElement("a")
    link.href = `?pool=${encodeURIComponent(p.id)}`
    link.textContent = p.id
    table.append(
      row([
        link,
        p.definedAs ?? "—",
        madeBy(p.provenance),
        String(p.events),
        formatDurationUs(p.lastAtUs - p.firstAtUs),
        String(p.hosts),
        String(p.vms),
        p.store
      ])
    )
  }
}

/** A pool's provenance in a few words: `seed 42` or `fork of rolling-1 @131 (seed 42)`. */
const madeBy = (p: PoolListEntry["provenance"]): string => {
  const run = p.seed === null ? "—" : `seed ${p.seed}`
  return p.parent === null ? run : `fork of ${p.parent.pool} @${p.parent.revision} (${run})`
}

// --- the hosts at a moment ------------------------------------------------------------------------

const bytesOfPages = (pages: number) => formatBytes(pages * (page?.pool.pageSizeBytes ?? 4096))

/** A host's card: its memory, then the VMs resident on it or migrating in (`vms`, in id order). */
const hostCard = (host: HostsAnswer["hosts"][number], vms: ReadonlyArray<HostsVm>) => {
  const card = document.createElement("div")
  card.className = `host${host.live && host.enabled ? "" : " off"}`
  card.dataset.host = host.id
  const title = document.createElement("h3")
  title.append(
    text("span", host.id),
    text("span", `${host.enabled ? "enabled" : "disabled"}${host.live ? "" : ", down"}`, "state")
  )
  const bar = document.createElement("div")
  bar.className = "membar"
  const share = (pages: number) => `${Math.max(0, (100 * pages) / host.memoryTotalPages)}%`
  for (const [cls, pages, what] of [
    ["seg-overhead", host.memoryOverheadPages, "Xen and dom0"],
    ["seg-vms", host.memoryUsedPages - host.memoryOverheadPages, "VMs"],
    ["seg-reserved", host.memoryReservedPages, "reserved for incoming migrations"]
  ] as const) {
    const seg = text("span", "", cls)
    seg.style.width = share(pages)
    seg.title = `${what}: ${bytesOfPages(pages)}`
    bar.append(seg)
  }
  const figs = document.createElement("div")
  figs.className = "memfig"
  for (const [label, pages] of [
    ["used", host.memoryUsedPages],
    ["reserved", host.memoryReservedPages],
    ["free", host.memoryFreePages],
    ["placement free", host.memoryPlacementFreePages],
    ["overhead", host.memoryOverheadPages]
  ] as const)
    figs.append(text("span", label), text("b", bytesOfPages(pages)))
  const list = document.createElement("div")
  list.className = "vms"
  card.append(title, bar, figs, list)
  for (const vm of vms) {
    const incoming = vm.residentOn !== host.id
    const chip = document.createElement("div")
    chip.className = `vm ${vm.powerState}${vm.migration !== null ? " migrating" : ""}${incoming ? " incoming" : ""}`
    chip.dataset.vm = vm.id
    chip.title = `${vm.id}: ${vm.powerState}, domid ${vm.domid}${vm.migration === null ? "" : `, migration ${vm.migration}`}`
    const op = vm.currentOperation === null ? (incoming ? "incoming" : "") : vm.currentOperation
    chip.append(
      text("span", vm.id),
      text("span", vm.powerState === "Running" ? op : `${vm.powerState} ${op}`.trim(), "op")
    )
    list.append(chip)
  }
  return card
}

const renderHosts = (answer: HostsAnswer) => {
  // Each VM on its host and on the host it is migrating to, in one pass (the VMs are in id order).
  const onHost = new Map<string, HostsVm[]>()
  const place = (host: string | null, vm: HostsVm) => {
    if (host === null) return
    const list = onHost.get(host)
    if (list === undefined) onHost.set(host, [vm])
    else list.push(vm)
  }
  for (const vm of answer.vms) {
    place(vm.residentOn, vm)
    if (vm.scheduledToBeResidentOn !== vm.residentOn) place(vm.scheduledToBeResidentOn, vm)
  }
  $("hosts").replaceChildren(...answer.hosts.map((h) => hostCard(h, onHost.get(h.id) ?? [])))
  const note = answer.note === null ? "" : ` — ${answer.note}`
  $("moment").textContent =
    `${formatDurationUs(answer.atUs)} · revision ${answer.revision} of ${answer.lastRevision} · ${answer.migrations.length} migrations in flight${note}`
}

/** A VM's every field at the moment, asked when its chip is clicked (the hosts panel has only a few). */
const showVm = async (id: string) => {
  if (page?.answer === undefined) return
  const p = page
  const moment = p.answer!.revision < 0 ? formatMoment(p.atUs) : `@${p.answer!.revision}`
  const at = await api<AtAnswer>(
    `${poolPath(p.pool.id, "at")}?t=${encodeURIComponent(moment)}&vm=${encodeURIComponent(id)}`
  )
  const vm: AtVm | undefined = at.vms.find((v) => v.id === id)
  const box = $("vm-detail")
  box.dataset.vm = id
  box.replaceChildren(text("h3", `${id} at ${formatDurationUs(at.atUs)} (revision ${at.revision})`))
  if (vm === undefined) box.append(text("p", "not in the pool at this moment", "muted"))
  else {
    const figs = document.createElement("div")
    figs.className = "memfig"
    for (const [field, value] of Object.entries(vm)) {
      if (field === "id") continue
      const shown = typeof value === "number" && field.endsWith("Pages") ? bytesOfPages(value) : String(value ?? "—")
      figs.append(text("span", field), text("b", shown))
    }
    box.append(figs)
  }
  box.hidden = false
}

// --- moving the moment ----------------------------------------------------------------------------

const writeUrl = (pool: string, atUs: number) => {
  const url = new URL(location.href)
  url.searchParams.set("pool", pool)
  url.searchParams.set("t", formatMoment(atUs))
  history.replaceState(null, "", url)
}

/** Shows the pool at `atUs`: the hosts (timed for the figures), the cursors, the URL and the events. */
const setMoment = async (atUs: number, startedMs = performance.now()) => {
  if (page === undefined) return
  const p = page
  const clamped = Math.max(p.pool.firstAtUs, Math.min(p.pool.lastAtUs, atUs))
  p.atUs = clamped
  const request = ++p.request
  $<HTMLInputElement>("time").value = String(clamped)
  $<HTMLInputElement>("time-text").value = formatMoment(clamped)
  writeUrl(p.pool.id, clamped)
  // The request first: the cursors move while it is answered.
  const asked = api<HostsAnswer>(`${poolPath(p.pool.id, "hosts")}?t=${encodeURIComponent(formatMoment(clamped))}`)
  moveCursors()
  p.awaited++
  try {
    const answer = await asked.finally(() => p.awaited--)
    if (request !== p.request) return
    const arrivedMs = performance.now()
    p.answer = answer
    renderHosts(answer)
    figures.scrubFetchMs.push(arrivedMs - startedMs)
    figures.scrubDrawMs.push(performance.now() - arrivedMs)
    figures.scrubMs.push(performance.now() - startedMs)
    // The hosts first; then the Gantt window follows the moment if it must.
    followGantt()
    if (figures.firstPaintMs === undefined) figures.firstPaintMs = performance.now()
    scheduleEvents()
  } catch (error) {
    showError(error)
  }
}

const moveCursors = () => {
  if (page === undefined) return
  const { gantt, atUs } = page
  if (gantt !== undefined) {
    const cursor = $("gantt-cursor")
    cursor.hidden = atUs < gantt.fromUs || atUs > gantt.toUs
    cursor.style.left = `${ganttX(gantt)(atUs)}px`
  }
  moveChartLines(page.charts, atUs)
}

/** The next (or previous) event's time from the moment's revision. */
const stepEvent = async (direction: 1 | -1) => {
  if (page?.answer === undefined) return
  const p = page
  const revision = p.answer!.revision
  if (direction === 1) {
    const near = await api<EventsAround>(`${poolPath(p.pool.id, "events")}?around=${revision + 1}&before=0&after=1`)
    const next = near.after.find((e) => e.revision > revision)
    if (next !== undefined) await setMoment(next.atUs)
    return
  }
  const near = await api<EventsAround>(
    `${poolPath(p.pool.id, "events")}?around=${Math.max(0, revision + 1)}&before=200&after=0`
  )
  const earlier = [...near.before].reverse().find((e) => e.atUs < p.atUs)
  await setMoment(earlier?.atUs ?? p.pool.firstAtUs)
}

const togglePlay = () => {
  if (page === undefined) return
  const p = page
  const button = $("play")
  if (p.playing !== undefined) {
    clearInterval(p.playing)
    p.playing = undefined
    button.classList.remove("playing")
    return
  }
  button.classList.add("playing")
  const stepUs = Math.max(1, Math.round((p.pool.lastAtUs - p.pool.firstAtUs) / 300))
  if (p.atUs >= p.pool.lastAtUs) p.atUs = p.pool.firstAtUs
  p.playing = window.setInterval(() => {
    if (p.atUs >= p.pool.lastAtUs) return togglePlay()
    void setMoment(p.atUs + stepUs)
  }, 100)
}

// --- events ---------------------------------------------------------------------------------------

let eventsTimer: number | undefined

const scheduleEvents = () => {
  if (eventsTimer !== undefined) clearTimeout(eventsTimer)
  else figures.busy++
  eventsTimer = window.setTimeout(() => {
    eventsTimer = undefined
    figures.busy--
    void loadEvents()
  }, 60)
}

const eventSummary = (e: EventRow): string => {
  const { v: _v, atUs: _atUs, ...rest } = e.data
  return Object.entries(rest)
    .map(([k, value]) => `${k} ${typeof value === "object" ? JSON.stringify(value) : String(value)}`)
    .join(", ")
}

const loadEvents = async () => {
  if (page?.answer === undefined) return
  const p = page
  const revision = Math.max(0, p.answer!.revision)
  const query = new URLSearchParams({ around: String(revision), before: "12", after: "24" })
  const type = $<HTMLSelectElement>("filter-type").value
  const vm = $<HTMLInputElement>("filter-vm").value.trim()
  const host = $<HTMLInputElement>("filter-host").value.trim()
  if (type !== "") query.set("type", type)
  if (vm !== "") query.set("vm", vm)
  if (host !== "") query.set("host", host)
  try {
    const near = await api<EventsAround>(`${poolPath(p.pool.id, "events")}?${query}`)
    const table = $("events")
    table.replaceChildren(row(["rev", "at", "type", "data"], true))
    for (const e of [...near.before, ...near.after]) {
      const tr = row([String(e.revision), formatDurationUs(e.atUs), e.type, eventSummary(e)])
      tr.lastElementChild!.className = "data"
      tr.dataset.revision = String(e.revision)
      tr.dataset.atUs = String(e.atUs)
      if (e.revision === p.answer?.revision) tr.className = "current"
      tr.addEventListener("click", () => void setMoment(e.atUs))
      table.append(tr)
    }
    if (near.before.length + near.after.length === 0) table.append(row(["", "", "no event matches", ""]))
  } catch (error) {
    showError(error)
  }
}

// --- migrations -----------------------------------------------------------------------------------

const showMigration = (m: MigrationDetail) => {
  const box = $("migration")
  box.hidden = false
  box.dataset.migration = m.id
  const table = document.createElement("table")
  table.className = "rounds"
  const head = document.createElement("thead")
  head.append(row(["round", "", "ended at", "duration", "pages sent", "pages dirtied", "sent"], true))
  const body = document.createElement("tbody")
  for (const r of m.roundList) {
    const tr = row([
      String(r.round),
      r.live ? "live" : "paused",
      formatDurationUs(r.atUs),
      formatDurationUs(r.durationUs),
      String(r.pagesSent),
      String(r.pagesDirtied),
      formatBytes(r.bytesSent)
    ])
    if (!r.live) tr.className = "paused"
    body.append(tr)
  }
  table.append(head, body)
  const facts = document.createElement("div")
  facts.append(
    text("h3", `${m.id}: ${m.vm} ${m.from} → ${m.to}`),
    text(
      "p",
      `${m.outcome}; ${m.rounds} rounds, ${formatBytes(m.bytesSent)} sent, total ${formatDurationUs(m.totalUs)}, downtime ${formatDurationUs(m.downtimeUs)}`
    ),
    text("p", `stop reason: ${m.stopReason ?? m.reason ?? "—"}`, "stop-reason"),
    table
  )
  const jump = text("button", "scrub to its start")
  jump.addEventListener("click", () => void setMoment(m.startedAtUs))
  facts.append(jump)
  const chart = document.createElement("div")
  chart.className = "round-chart"
  chart.innerHTML = roundsSvg(m)
  box.replaceChildren(facts, chart)
}

/** The Gantt chart draws at most this many migrations: a window of time around the moment in a long history. */
const GANTT_MIGRATIONS_MAX = 300

/** The window of time the Gantt chart shows: all of the history, or about GANTT_MIGRATIONS_MAX migrations' worth around the moment. */
const ganttWindow = (overview: PoolOverview, atUs: number) => {
  const span = overview.lastAtUs - overview.firstAtUs
  if (overview.migrations.count <= GANTT_MIGRATIONS_MAX) return { fromUs: overview.firstAtUs, toUs: overview.lastAtUs }
  const width = Math.max(1, Math.round((span * GANTT_MIGRATIONS_MAX) / overview.migrations.count / 2))
  const fromUs = Math.max(overview.firstAtUs, Math.min(atUs - width / 2, overview.lastAtUs - width))
  return { fromUs: Math.round(fromUs), toUs: Math.round(fromUs + width) }
}

let ganttMigrations = new Map<string, MigrationDetail>()

const renderGantt = async (overview: PoolOverview) => {
  if (page === undefined) return
  const p = page
  const gantt = $("gantt")
  if (overview.migrations.count === 0) {
    gantt.replaceChildren(text("p", "no migration in this pool's history", "muted"))
    return
  }
  const range = ganttWindow(overview, p.atUs)
  const width = Math.max(700, $("gantt-wrap").clientWidth - 4)
  const options: GanttOptions = { width, ...range }
  const answer = await api<MigrationWindow>(
    `${poolPath(p.pool.id, "migrations")}?from=${range.fromUs}&to=${range.toUs}&limit=${GANTT_MIGRATIONS_MAX}`
  )
  p.gantt = options
  ganttMigrations = new Map(answer.migrations.map((m) => [m.id, m]))
  gantt.innerHTML = ganttSvg(answer.migrations, options)
  const shown =
    answer.overlapping > answer.migrations.length || overview.migrations.count > answer.migrations.length
      ? `${answer.migrations.length} of ${overview.migrations.count} migrations, ${formatDurationUs(range.fromUs)} – ${formatDurationUs(range.toUs)} (the window follows the moment)`
      : `${overview.migrations.count} migrations`
  $("gantt-note").textContent = shown
  moveCursors()
}

/** In a long history the Gantt window moves when the moment leaves its middle. */
const followGantt = () => {
  if (page?.overview === undefined || page.gantt === undefined) return
  const { fromUs, toUs } = page.gantt
  const margin = (toUs - fromUs) / 5
  const whole = page.overview.migrations.count <= GANTT_MIGRATIONS_MAX
  if (!whole && (page.atUs < fromUs + margin || page.atUs > toUs - margin))
    void renderGantt(page.overview).catch(showError)
}

// --- charts over time -----------------------------------------------------------------------------

/**
 * The moment on every chart: a line element over the plot, moved without redrawing the chart (a memory
 * chart of 64 hosts × 4,000 moments takes longer to draw than a scrub may); a click moves the moment.
 */
const cursorPlugin = (): uPlot.Plugin => ({
  hooks: {
    ready: [
      (u) => {
        const line = document.createElement("div")
        line.className = "moment-line"
        u.over.append(line)
        u.over.addEventListener("click", () => {
          const left = u.cursor.left
          if (left !== undefined && left >= 0) void setMoment(Math.round(u.posToVal(left, "x") * 1e6))
        })
      }
    ]
  }
})

/** Puts each chart's moment line at the moment (hidden outside the chart's range). */
const moveChartLines = (charts: ReadonlyArray<uPlot>, atUs: number) => {
  for (const u of charts) {
    const line = u.over.querySelector<HTMLElement>(".moment-line")
    if (line === null) continue
    const x = u.valToPos(atUs / 1e6, "x")
    line.hidden = !(x >= 0 && x <= u.over.clientWidth)
    line.style.left = `${x}px`
  }
}

const chartWidth = () => Math.max(600, $("pool").clientWidth - 20)

const addChart = (id: string, title: string, series: uPlot.Series[], data: uPlot.AlignedData, yLabel: string) => {
  if (page === undefined) return
  const box = $(id)
  box.replaceChildren(text("h3", title))
  const chart = new uPlot(
    {
      width: chartWidth(),
      height: 220,
      plugins: [cursorPlugin()],
      cursor: { sync: { key: "xenpool" } },
      scales: { x: { time: false } },
      axes: [{ label: "simulated time (s)" }, { label: yLabel, size: 70 }],
      series: [{ label: "t (s)" }, ...series.map((s) => ({ points: { show: false }, ...s }))]
    },
    data,
    box
  )
  page.charts.push(chart)
  moveChartLines([chart], page.atUs)
}

const stepped = uPlot.paths.stepped!({ align: 1 })

const renderCharts = (overview: PoolOverview) => {
  const s = overview.series
  const seconds = s.atUs.map((t) => t / 1e6)
  const gib = (pages: number) => (pages * overview.pageSizeBytes) / 2 ** 30
  // Stacked: each host's band is the cumulative sum up to it, drawn from the top one down.
  const cumulative: number[][] = []
  s.hosts.forEach((h, i) =>
    cumulative.push(h.memoryUsedPages.map((p, k) => gib(p) + (i === 0 ? 0 : cumulative[i - 1]![k]!)))
  )
  const memorySeries = s.hosts.map((h, i) => ({
    label: h.id,
    stroke: colourOf(i),
    fill: colourOf(i),
    paths: stepped,
    value: (_u: uPlot, _v: number, _si: number, idx: number | null) =>
      idx === null ? "" : `${gib(h.memoryUsedPages[idx]!).toFixed(1)} GiB`
  }))
  addChart(
    "chart-memory",
    "Memory used per host (stacked; Xen, dom0 and VMs)",
    [...memorySeries].reverse(),
    [seconds, ...[...cumulative].reverse()],
    "GiB"
  )
  addChart(
    "chart-counts",
    "Hosts in use and migrations in flight",
    [
      { label: "hosts in use", stroke: "#4e79a7", paths: stepped, width: 2 },
      { label: "migrations in flight", stroke: "#e15759", paths: stepped, width: 2 }
    ],
    [seconds, [...s.hostsInUse], [...s.migrationsInFlight]],
    "count"
  )
  const links = s.links
  addChart(
    "chart-links",
    `Link utilisation (share of the slower NIC${s.linksTotal > links.length ? `; the ${links.length} busiest of ${s.linksTotal} links` : ""})`,
    links.map((l, i) => ({ label: `${l.from}→${l.to}`, stroke: colourOf(i), paths: stepped })),
    [seconds, ...links.map((l) => l.utilisation.map((u) => u * 100))],
    "%"
  )
}

const loadVmChart = async (vm: string) => {
  if (page === undefined || vm === "") return
  const p = page
  try {
    const series = await api<VmMemorySeries>(`${poolPath(p.pool.id, `vms/${encodeURIComponent(vm)}/memory`)}`)
    const old = p.charts.findIndex((c) => c.root.parentElement?.id === "chart-vm")
    if (old >= 0) p.charts.splice(old, 1)[0]!.destroy()
    const gib = (pages: number | null) => (pages === null ? null : (pages * p.pool.pageSizeBytes!) / 2 ** 30)
    const seconds = [...series.atUs.map((t) => t / 1e6), p.pool.lastAtUs / 1e6]
    const extend = <T>(values: ReadonlyArray<T>) => [...values, values[values.length - 1]!]
    addChart(
      "chart-vm",
      `${vm}: populated, paged out and balloon target${series.truncated ? " (first changes only)" : ""}`,
      [
        { label: "populated", stroke: "#4e79a7", paths: stepped },
        { label: "paged out", stroke: "#e15759", paths: stepped },
        { label: "balloon target", stroke: "#59a14f", paths: stepped, dash: [6, 4] },
        { label: "paging target", stroke: "#b07aa1", paths: stepped, dash: [2, 3] }
      ],
      [
        seconds,
        extend(series.populatedPages.map(gib)),
        extend(series.pagedOutPages.map(gib)),
        extend(series.balloonTargetPages.map(gib)),
        extend(series.pagingTargetPages.map(gib))
      ] as uPlot.AlignedData,
      "GiB"
    )
  } catch (error) {
    showError(error)
  }
}

// --- a pool ---------------------------------------------------------------------------------------

const loadOverview = async (p: PoolPage) => {
  const status = $("overview-status")
  status.textContent = "reading the whole history for the charts…"
  status.className = "muted"
  const overview = await api<PoolOverview>(`${poolPath(p.pool.id, "overview")}?points=4000`)
  p.overview = overview
  status.textContent = `${overview.lastRevision + 1} events; ${overview.migrations.count} migrations; sampled ${overview.series.sampling === "even" ? `at ${overview.series.atUs.length} evenly spaced moments` : "at every event time"}`
  renderCharts(overview)
  await renderGantt(overview)
  moveCursors()
  const types = $<HTMLSelectElement>("filter-type")
  for (const t of overview.eventTypes) types.append(new Option(`${t.type} (${t.events})`, t.type))
}

const showPool = async (id: string, moment: string | null) => {
  const pools = await api<ReadonlyArray<PoolListEntry>>("/api/pools")
  const pool = pools.find((p) => p.id === id)
  if (pool === undefined)
    // The words of the CLI's `requirePool`, from the list the page already has (no failed request).
    throw new ApiError({
      what: "unknown pool",
      where: `${id} in ${pools[0]?.store ?? "this store"}`,
      expected: pools.length === 0 ? "the store has no pools" : `known pools: ${pools.map((p) => p.id).join(", ")}`
    })
  $("pool").hidden = false
  $("pool-title").textContent = `pool ${pool.id} · ${pool.events} events · ${pool.hosts} hosts · ${pool.vms} VMs`
  page = {
    pool,
    atUs: pool.firstAtUs,
    answer: undefined,
    overview: undefined,
    gantt: undefined,
    charts: [],
    request: 0,
    awaited: 0,
    playing: undefined
  }
  const slider = $<HTMLInputElement>("time")
  slider.min = String(pool.firstAtUs)
  slider.max = String(pool.lastAtUs)
  let start = pool.lastAtUs
  if (moment !== null) {
    const parsed = parseMoment(moment)
    if (Either.isLeft(parsed))
      showError(new ApiError({ what: "bad time", where: `t=${moment}`, expected: parsed.left }))
    else if ("atUs" in parsed.right) start = parsed.right.atUs
    else {
      const at = await api<HostsAnswer>(`${poolPath(pool.id, "hosts")}?t=@${parsed.right.revision}`)
      start = at.atUs
    }
  }
  await setMoment(start, 0)
  wireControls()
  await loadOverview(page).catch(showError)
  const vmSelect = $<HTMLSelectElement>("vm-select")
  const vms = [...new Set(page.answer?.vms.map((v) => v.id) ?? [])].sort()
  vmSelect.replaceChildren(new Option("(choose a VM)", ""), ...vms.map((v) => new Option(v, v)))
  vmSelect.addEventListener("change", () => void loadVmChart(vmSelect.value))
}

const wireControls = () => {
  $("hosts").addEventListener("click", (event) => {
    const chip = (event.target as Element).closest<HTMLElement>("[data-vm]")
    if (chip !== null) showVm(chip.dataset.vm!).catch(showError)
  })
  $("gantt").addEventListener("click", (event) => {
    const bar = (event.target as Element).closest("[data-migration]")
    const m = bar === null ? undefined : ganttMigrations.get(bar.getAttribute("data-migration")!)
    if (m !== undefined) showMigration(m)
  })
  const slider = $<HTMLInputElement>("time")
  let pending: number | undefined
  slider.addEventListener("input", () => {
    const started = performance.now()
    cancelAnimationFrame(pending ?? 0)
    // Idle, the moment is asked at once; during a drag, at most once a frame while an answer is awaited.
    if (page !== undefined && page.awaited === 0) void setMoment(Number(slider.value), started)
    else pending = requestAnimationFrame(() => void setMoment(Number(slider.value), started))
  })
  const field = $<HTMLInputElement>("time-text")
  field.addEventListener("change", () => {
    const parsed = parseMoment(field.value)
    if (Either.isLeft(parsed))
      return showError(new ApiError({ what: "bad time", where: field.value, expected: parsed.left }))
    if ("atUs" in parsed.right) void setMoment(parsed.right.atUs)
    else
      void api<HostsAnswer>(`${poolPath(page!.pool.id, "hosts")}?t=@${parsed.right.revision}`).then(
        (a) => setMoment(a.atUs),
        showError
      )
  })
  $("play").addEventListener("click", togglePlay)
  $("next").addEventListener("click", () => void stepEvent(1).catch(showError))
  $("prev").addEventListener("click", () => void stepEvent(-1).catch(showError))
  for (const id of ["filter-type", "filter-vm", "filter-host"]) $(id).addEventListener("change", scheduleEvents)
}

const start = async () => {
  const params = new URLSearchParams(location.search)
  const pool = params.get("pool")
  if (pool === null || pool === "") return showPoolList(await api<ReadonlyArray<PoolListEntry>>("/api/pools"))
  await showPool(pool, params.get("t"))
}

start().catch(showError)
