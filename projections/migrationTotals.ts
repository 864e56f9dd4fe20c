/** Totals over a run's migration summaries: how many, how long in all, how much downtime, how many bytes. */
import type { MigrationPhasesSummary, MigrationSummary } from "./summary.js"

export interface MigrationTotals {
  readonly committed: number
  readonly aborted: number
  /** Σ total time (first byte to commit) of the committed migrations. */
  readonly totalUs: number
  readonly totalUsMax: number
  /** Σ downtime (guest paused to commit) of the committed migrations. */
  readonly downtimeUs: number
  readonly downtimeUsMax: number
  /** Σ bytes sent by every migration, committed or not. */
  readonly bytesSent: number
  /** Only when committed migrations had phases: Σ of each part over them, and how many they were. */
  readonly phases?: MigrationPhasesTotals
}

export interface MigrationPhasesTotals extends MigrationPhasesSummary {
  readonly migrations: number
}

export const migrationTotals = (migrations: ReadonlyArray<MigrationSummary>): MigrationTotals => {
  let committed = 0
  let aborted = 0
  let totalUs = 0
  let totalUsMax = 0
  let downtimeUs = 0
  let downtimeUsMax = 0
  let bytesSent = 0
  let phases: { -readonly [K in keyof MigrationPhasesTotals]: number } | undefined
  for (const m of migrations) {
    bytesSent += m.bytesSent
    if (m.outcome === "aborted") aborted++
    if (m.outcome !== "committed") continue
    committed++
    totalUs += m.totalUs
    totalUsMax = Math.max(totalUsMax, m.totalUs)
    downtimeUs += m.downtimeUs
    downtimeUsMax = Math.max(downtimeUsMax, m.downtimeUs)
    if (m.phases === undefined) continue
    phases ??= { migrations: 0, setupUs: 0, suspendUs: 0, pausedRoundUs: 0, stateBytes: 0, restoreUs: 0 }
    phases.migrations++
    phases.setupUs += m.phases.setupUs
    phases.suspendUs += m.phases.suspendUs
    phases.pausedRoundUs += m.phases.pausedRoundUs
    phases.stateBytes += m.phases.stateBytes
    phases.restoreUs += m.phases.restoreUs
  }
  return {
    committed,
    aborted,
    totalUs,
    totalUsMax,
    downtimeUs,
    downtimeUsMax,
    bytesSent,
    ...(phases === undefined ? {} : { phases })
  }
}
