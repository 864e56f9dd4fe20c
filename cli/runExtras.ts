/**
 * The parts of a run summary added for long, load-driven runs (the PlanetLab consolidation scenario):
 * migration totals, hosts in use over time, CloudSim's SLA figures and the consolidation controller's
 * report. Any run has the first two; the SLA figures only when VMs have load series, the report only when
 * the scenario has a `consolidate` operation.
 */
import { formatBytes, formatDurationUs } from "../domain/units.js"
import type { ConsolidationReport } from "../engine/consolidation/index.js"
import type { HostsInUseSummary } from "../projections/hostsInUse.js"
import type { MigrationTotals } from "../projections/migrationTotals.js"
import type { CpuSlaSummary } from "../projections/cpuSla.js"

export interface RunExtras {
  readonly migrationTotals: MigrationTotals
  readonly hostsInUse: HostsInUseSummary
  readonly sla?: CpuSlaSummary
  readonly consolidation?: ReadonlyArray<ConsolidationReport>
}

const pct = (part: number, whole: number): string => (whole === 0 ? "0 %" : `${((100 * part) / whole).toFixed(1)} %`)

const formatMigrationTotals = (t: MigrationTotals): string | undefined => {
  if (t.committed === 0) return undefined
  const mean = (sum: number) => formatDurationUs(Math.round(sum / t.committed))
  return (
    `committed migrations: total time ${formatDurationUs(t.totalUs)} (mean ${mean(t.totalUs)}, max ${formatDurationUs(t.totalUsMax)}), ` +
    `downtime ${formatDurationUs(t.downtimeUs)} (mean ${mean(t.downtimeUs)}, max ${formatDurationUs(t.downtimeUsMax)}), ` +
    `${formatBytes(t.bytesSent)} sent`
  )
}

/** The mean of each part of the committed migrations' time, where they had phases (docs/migration.md). */
const formatMigrationPhases = (t: MigrationTotals): string | undefined => {
  const p = t.phases
  if (p === undefined || p.migrations === 0) return undefined
  const mean = (sum: number) => formatDurationUs(Math.round(sum / p.migrations))
  return (
    `phases (mean of ${p.migrations}): setup ${mean(p.setupUs)}; downtime = suspend ${mean(p.suspendUs)} + ` +
    `last pages and ${formatBytes(Math.round(p.stateBytes / p.migrations))} of state ${mean(p.pausedRoundUs)} + restore ${mean(p.restoreUs)}`
  )
}

const formatHostsInUse = (h: HostsInUseSummary): ReadonlyArray<string> => {
  const first = h.series[0]?.hosts ?? 0
  const lines = [
    `hosts in use (live, with VMs): ${first} at start, ${h.final} at end; min ${h.min}, max ${h.max}, time-weighted mean ${h.mean.toFixed(2)}`
  ]
  if (h.samples.length > 2)
    lines.push(`hosts in use every ${formatDurationUs(h.sampleEveryUs)} from 0: ${h.samples.join(" ")}`)
  return lines
}

const count = (n: number): string => n.toLocaleString("en-US")
/** A ratio as a percentage with enough digits to show a small one (SLAV is often below 0.01 %). */
const smallPct = (ratio: number): string => `${(100 * ratio).toPrecision(3)} %`

const formatSla = (s: CpuSlaSummary): ReadonlyArray<string> => [
  `CPU over capacity (VMs' demand above their host's CPUs): ${count(Math.round(s.overCapacityHostUs / 1e6))} host-seconds ` +
    `of ${count(Math.round(s.inUseHostUs / 1e6))} in use (SLATAH ${smallPct(s.slatah)}); migrating VMs asked for ` +
    `${smallPct(s.migratingCpuShare)} of the CPU (PDM at CloudSim's 10 %: ${smallPct(s.pdm)}); ` +
    `SLAV ${smallPct(s.slav)}`,
  `migrations per VM: ${s.migrationsPerVm.toFixed(2)} (${count(s.migrationsCommitted)} committed over ${count(s.vms)} VMs; ` +
    `${count(s.vmsMigrated)} moved at least once, at most ${s.migrationsPerVmMax} ${s.migrationsPerVmMax === 1 ? "time" : "times"})`
]

const formatConsolidation = (r: ConsolidationReport): ReadonlyArray<string> => [
  `consolidation every ${formatDurationUs(r.everyUs)} (overload > ${r.overloadPct} %, underload < ${r.underloadPct} %, pack ≤ ${r.packPct} %, ` +
    `at most ${r.migrationsMaxPerInterval} migrations per interval): ${r.ticks} intervals, ${r.migrationsStarted} migrations started ` +
    `(overload ${r.migrationsByReason.overload}, drain ${r.migrationsByReason.drain}, finish-drain ${r.migrationsByReason["finish-drain"]}), ` +
    `${r.migrationsRefused} refused, ${r.migrationsAborted} aborted; ${r.hostsDisabled} hosts emptied and disabled, ${r.hostsEnabled} re-enabled`,
  `  host-intervals in use: ${r.inUseHostTicks}; overloaded: ${r.overloadedHostTicks} (${pct(r.overloadedHostTicks, r.inUseHostTicks)}), ` +
    `above 100 % CPU: ${r.saturatedHostTicks} (${pct(r.saturatedHostTicks, r.inUseHostTicks)}), ` +
    `left overloaded: ${r.unresolvedHostTicks} (${pct(r.unresolvedHostTicks, r.inUseHostTicks)})`
]

export const formatRunExtras = (e: RunExtras): ReadonlyArray<string> => {
  const lines: string[] = []
  const totals = formatMigrationTotals(e.migrationTotals)
  if (totals) lines.push(totals)
  const phases = formatMigrationPhases(e.migrationTotals)
  if (phases) lines.push(phases)
  lines.push(...formatHostsInUse(e.hostsInUse))
  if (e.sla !== undefined) lines.push(...formatSla(e.sla))
  for (const r of e.consolidation ?? []) lines.push(...formatConsolidation(r))
  return lines
}
