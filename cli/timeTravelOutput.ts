/**
 * What `xenpool at`, `history` and `diff` print: the JSON documents (DESIGN.md §7's `at` shape, ids
 * and absent values as null so that every key is always there) and the human-readable tables.
 */
import type { PoolId, VmId } from "../domain/ids.js"
import { DEFAULT_PAGE_SIZE_BYTES, formatBytes, formatDurationUs, formatDurationUsWidthMax } from "../domain/units.js"
import { hostList, type Migration, type PoolState, type Vm } from "../domain/state.js"
import { boundNote, vmChangeJson, viewOf, type Focus, type HostHistoryJson } from "../api/timeTravel.js"
import type { PoolDiff, HostChange } from "../projections/diff.js"
import { vmChangeKindNames, type VmChange } from "../projections/history.js"
import type { HostSummary, MigrationSummary } from "../projections/summary.js"
import type { StateAt } from "../projections/timeTravel.js"
import { indentedJson, JsonArrayText } from "./output.js"
import { StreamedTable, textTable as table } from "./textTable.js"

// --- text -----------------------------------------------------------------------------------------

const count = (n: number) => n.toLocaleString("en-US")

const memoryBar = (used: number, total: number, width = 20): string => {
  const filled = total <= 0 ? 0 : Math.min(width, Math.max(0, Math.round((used / total) * width)))
  return `[${"#".repeat(filled)}${".".repeat(width - filled)}]`
}

const hostStateText = (h: { readonly live: boolean; readonly enabled: boolean }) =>
  !h.live ? "dead" : h.enabled ? "enabled" : "disabled"

const listed = (ids: ReadonlyArray<string>, max = 8): string =>
  ids.length === 0 ? "-" : ids.length <= max ? ids.join(", ") : `${ids.slice(0, max).join(", ")} … (${ids.length})`

const pagesText = (pages: number, pageSizeBytes: number) => formatBytes(pages * pageSizeBytes)

const pageSizeOf = (state: PoolState): number => state.pool?.pageSizeBytes ?? DEFAULT_PAGE_SIZE_BYTES

const hostsTable = (hosts: ReadonlyArray<HostSummary>, pageSizeBytes: number): string =>
  table(
    ["host", "state", "memory used", "free", "placement free", "reserved", "VMs"],
    hosts.map((h) => {
      const used = h.memoryTotalPages - h.memoryFreePages - h.memoryReservedPages
      return [
        h.id,
        hostStateText(h),
        `${memoryBar(used + h.memoryReservedPages, h.memoryTotalPages)} ${pagesText(used, pageSizeBytes)}`,
        pagesText(h.memoryFreePages, pageSizeBytes),
        pagesText(h.memoryPlacementFreePages, pageSizeBytes),
        pagesText(h.memoryReservedPages, pageSizeBytes),
        listed(h.vms)
      ]
    })
  )

const vmOperationText = (vm: Vm) =>
  vm.currentOperation === undefined
    ? "-"
    : vm.scheduledToBeResidentOn === undefined
      ? vm.currentOperation
      : `${vm.currentOperation} → ${vm.scheduledToBeResidentOn}`

/** A VM's HA protection in a cell: priority, order, and "always run" when set (docs/ha.md). */
const haCell = (vm: Vm): string =>
  vm.ha === undefined
    ? "-"
    : `${vm.ha.restartPriority ?? "unprotected"} order ${vm.ha.order}${vm.ha.alwaysRun ? ", always run" : ""}`

const vmsTable = (vms: ReadonlyArray<Vm>, pageSizeBytes: number): string => {
  // the HA column only where some VM has HA settings: pools without HA print as before
  const withHa = vms.some((vm) => vm.ha !== undefined)
  return table(
    ["vm", "state", "host", "domid", "memory target", "operation", ...(withHa ? ["HA"] : [])],
    vms.map((vm) => [
      vm.id,
      vm.powerState,
      vm.residentOn ?? "-",
      vm.domid < 0 ? "-" : String(vm.domid),
      pagesText(vm.memory.targetPages, pageSizeBytes),
      vmOperationText(vm),
      ...(withHa ? [haCell(vm)] : [])
    ])
  )
}

/** The pool's HA line (XAPI's pool fields), once HA was ever on. */
const haLine = (state: PoolState): string | undefined => {
  const ha = state.pool?.ha
  if (ha === undefined) return undefined
  return `HA ${ha.enabled ? "on" : "off"}: ha-host-failures-to-tolerate ${ha.hostFailuresToTolerate}, ha-plan-exists-for ${ha.planExistsFor}, ${ha.overcommitted ? "overcommitted" : "not overcommitted"}; master ${state.pool?.master ?? "-"}`
}

const migrationsTable = (migrations: ReadonlyArray<Migration>, pageSizeBytes: number): string =>
  table(
    ["migration", "vm", "from → to", "phase", "rounds", "sent", "started at"],
    migrations.map((m) => [
      m.id,
      m.vm,
      `${m.source} → ${m.destination}`,
      m.phase,
      String(m.rounds),
      pagesText(m.pagesSent, pageSizeBytes),
      formatDurationUs(m.startedAtUs)
    ])
  )

/** The first line of an answer: which point of the history it is, and where that lies. */
const answerHeadline = (answer: StateAt, asked: string): string => {
  const where =
    answer.bound === "before-first"
      ? "before the pool's first event: an empty pool"
      : answer.bound === "after-last"
        ? `after the pool's last event (revision ${count(answer.lastRevision)} at ${formatDurationUs(answer.state.atUs)}): this is the latest state`
        : `revision ${count(answer.revision)} of ${count(answer.lastRevision)}, last event at ${formatDurationUs(answer.state.atUs)}`
  return `pool ${answer.pool} at ${asked}: ${where}`
}

export const formatAt = (answer: StateAt, asked: string, focus: Focus): string => {
  const view = viewOf(answer.state, focus)
  const pageSizeBytes = pageSizeOf(answer.state)
  const lines = [answerHeadline(answer, asked)]
  const ha = haLine(answer.state)
  if (ha !== undefined) lines.push(ha)
  if (focus._tag === "vm" && view.vms.length === 0) lines.push(`VM ${focus.vm} did not exist then`)
  if (view.hosts.length > 0) lines.push("", hostsTable(view.hosts, pageSizeBytes))
  if (view.vms.length > 0) lines.push("", vmsTable(view.vms, pageSizeBytes))
  if (view.migrations.length > 0)
    lines.push("", "migrations in flight:", migrationsTable(view.migrations, pageSizeBytes))
  return lines.join("\n")
}

const migrationsTableOf = (migrations: ReadonlyArray<MigrationSummary>): string =>
  table(
    ["migration", "from → to", "started at", "rounds", "sent", "total", "downtime", "outcome", "parts"],
    migrations.map((m) => [
      m.id,
      `${m.from} → ${m.to}`,
      formatDurationUs(m.startedAtUs),
      m.interrupted === undefined ? String(m.rounds) : `${m.rounds} + 1 cut`,
      formatBytes(m.bytesSent),
      m.outcome === "in-progress" ? "-" : formatDurationUs(m.totalUs),
      m.outcome === "committed" ? formatDurationUs(m.downtimeUs) : "-",
      m.outcome === "aborted" ? `aborted: ${m.reason ?? ""}` : m.outcome,
      phasesCell(m)
    ])
  )

/**
 * A migration's parts in words: setup, then the downtime as suspend + paused round + restore (with the
 * state it sent); for an aborted one, the round it cut short. Empty for a migration without either.
 */
const phasesCell = (m: MigrationSummary): string => {
  const parts: string[] = []
  const p = m.phases
  if (p !== undefined)
    parts.push(
      `setup ${formatDurationUs(p.setupUs)}`,
      `suspend ${formatDurationUs(p.suspendUs)} + paused round ${formatDurationUs(p.pausedRoundUs)} (state ${formatBytes(p.stateBytes)}) + restore ${formatDurationUs(p.restoreUs)}`
    )
  const cut = m.interrupted
  if (cut !== undefined)
    parts.push(`round ${cut.round} cut after ${formatDurationUs(cut.durationUs)}, ${formatBytes(cut.bytesSent)} sent`)
  return parts.join("; ")
}

const vmChangeCells = (c: VmChange): ReadonlyArray<string> => [
  String(c.revision),
  formatDurationUs(c.atUs),
  c.kind,
  c.powerState ?? "(destroyed)",
  c.residentOn ?? "-",
  c.domid < 0 ? "-" : String(c.domid),
  c.detail
]

/**
 * `history --vm` printed as it is read (projections/history.ts `streamVmHistory`): `head` before the
 * first change, `changes` for each page of them, `end` with the migrations. As JSON, the pieces make
 * `vmHistoryJson`'s document; as text, a table of changes whose widths are planned from the pool as it
 * is now (its last event's time, its hosts, the domids they have handed out), then the migrations.
 */
export class VmHistoryPrinter {
  private readonly array = new JsonArrayText(1)
  private readonly table: StreamedTable

  constructor(
    private readonly json: boolean,
    private readonly pool: PoolId,
    private readonly vm: VmId,
    now: PoolState
  ) {
    const hosts = hostList(now)
    const hostWidth = hosts.reduce((w, h) => Math.max(w, h.id.length), 1)
    const domidMax = hosts.reduce((d, h) => Math.max(d, h.nextDomid), 0)
    const kindWidth = vmChangeKindNames.reduce((w, k) => Math.max(w, k.length), 0)
    this.table = new StreamedTable(
      ["rev", "at", "change", "state", "host", "domid", "detail"],
      [0, formatDurationUsWidthMax(now.atUs), kindWidth, "(destroyed)".length, hostWidth, String(domidMax).length, 0]
    )
  }

  head(lastRevision: number): string {
    if (this.json)
      return `{\n  "pool": ${JSON.stringify(this.pool)},\n  "vm": ${JSON.stringify(this.vm)},\n  "lastRevision": ${lastRevision},\n  "changes": `
    this.table.plan(0, String(lastRevision).length)
    return `VM ${this.vm} in pool ${this.pool} (to revision ${count(lastRevision)}):\n\n${this.table.head()}`
  }

  changes(changes: ReadonlyArray<VmChange>): string {
    return this.json ? this.array.elements(changes.map(vmChangeJson)) : this.table.rows(changes.map(vmChangeCells))
  }

  end(changes: number, migrations: ReadonlyArray<MigrationSummary>): string {
    if (this.json) return `${this.array.end()},\n  "migrations": ${indentedJson(migrations, 1)}\n}\n`
    const total = `\n${count(changes)} changes, ${count(migrations.length)} migrations\n`
    return migrations.length === 0 ? total : `${total}\n${migrationsTableOf(migrations)}\n`
  }
}

export const formatHostHistory = (h: HostHistoryJson): string => formatHostPoints(h, h.pageSizeBytes)

const formatHostPoints = (h: HostHistoryJson, pageSizeBytes: number): string =>
  [
    `host ${h.host} in pool ${h.pool}: ${h.points.length} changes (to revision ${count(h.lastRevision)})`,
    "",
    table(
      ["rev", "at", "event", "vm", "state", "memory used", "reserved", "free", "placement free", "VMs"],
      h.points.map((p) => [
        String(p.revision),
        formatDurationUs(p.atUs),
        p.event,
        p.vm ?? "-",
        hostStateText(p),
        `${memoryBar(p.memoryUsedPages + p.memoryReservedPages, p.memoryTotalPages)} ${pagesText(p.memoryUsedPages, pageSizeBytes)}`,
        pagesText(p.memoryReservedPages, pageSizeBytes),
        pagesText(p.memoryFreePages, pageSizeBytes),
        pagesText(p.memoryPlacementFreePages, pageSizeBytes),
        p.incoming.length === 0 ? listed(p.vms, 6) : `${listed(p.vms, 6)}; incoming ${listed(p.incoming, 4)}`
      ])
    )
  ].join("\n")

const signedPages = (before: number, after: number, pageSizeBytes: number) => {
  const delta = after - before
  return `${pagesText(before, pageSizeBytes)} → ${pagesText(after, pageSizeBytes)} (${delta >= 0 ? "+" : "-"}${pagesText(Math.abs(delta), pageSizeBytes)})`
}

const hostChangeRow = (c: HostChange, pageSizeBytes: number): ReadonlyArray<string> => {
  const state = (h: HostSummary | undefined) => (h === undefined ? "absent" : hostStateText(h))
  const pages = (pick: (h: HostSummary) => number) =>
    signedPages(c.before === undefined ? 0 : pick(c.before), c.after === undefined ? 0 : pick(c.after), pageSizeBytes)
  const vms = [...c.vmsArrived.map((v) => `+${v}`), ...c.vmsLeft.map((v) => `-${v}`)]
  return [
    c.host,
    state(c.before) === state(c.after) ? state(c.after) : `${state(c.before)} → ${state(c.after)}`,
    pages((h) => h.memoryFreePages),
    pages((h) => h.memoryPlacementFreePages),
    listed(vms, 6)
  ]
}

export const formatDiff = (d: PoolDiff, fromText: string, toText: string): string => {
  const pageSizeBytes = pageSizeOf(d.to.state)
  const lines = [
    d.against === d.pool
      ? `pool ${d.pool}: from ${fromText} (revision ${d.from.revision}) to ${toText} (revision ${d.to.revision})`
      : `pool ${d.pool} at ${fromText} (revision ${d.from.revision}) against pool ${d.against} at ${toText} (revision ${d.to.revision})`
  ]
  for (const point of [d.from, d.to])
    if (boundNote(point) !== null) lines.push(`  ${point === d.from ? fromText : toText} is ${boundNote(point)}`)
  const section = (title: string, items: ReadonlyArray<string>) => {
    if (items.length === 0) return
    lines.push("", `${title} (${items.length}):`)
    for (const item of items) lines.push(`  ${item}`)
  }
  section(
    "VMs moved",
    d.vmsMoved.map((m) => `${m.vm}: ${m.from} → ${m.to}`)
  )
  section(
    "VMs started",
    d.vmsStarted.map((s) => `${s.vm}: ${s.powerState} on ${s.host}`)
  )
  section(
    "VMs stopped",
    d.vmsStopped.map((s) => `${s.vm}: was on ${s.host}, now ${s.powerState ?? "destroyed"}`)
  )
  section("VMs created", d.vmsCreated)
  section("VMs destroyed", d.vmsDestroyed)
  section(
    "power state changes",
    d.vmsPowerChanged.map((p) => `${p.vm}: ${p.from} → ${p.to}`)
  )
  if (d.hostsChanged.length > 0)
    lines.push(
      "",
      table(
        ["host", "state", "free", "placement free", "VMs"],
        d.hostsChanged.map((c) => hostChangeRow(c, pageSizeBytes))
      )
    )
  const lists = [
    d.vmsMoved,
    d.vmsStarted,
    d.vmsStopped,
    d.vmsCreated,
    d.vmsDestroyed,
    d.vmsPowerChanged,
    d.hostsChanged
  ]
  if (lists.every((list) => list.length === 0)) lines.push("", "no change")
  return lines.join("\n")
}
