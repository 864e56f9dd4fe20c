/** Totals over a run's migration summaries: how many, how long in all, how much downtime, how many bytes. */
import type { MigrationSummary } from "./summary.js"

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
}

export const migrationTotals = (migrations: ReadonlyArray<MigrationSummary>): MigrationTotals => {
  let committed = 0
  let aborted = 0
  let totalUs = 0
  let totalUsMax = 0
  let downtimeUs = 0
  let downtimeUsMax = 0
  let bytesSent = 0
  for (const m of migrations) {
    bytesSent += m.bytesSent
    if (m.outcome === "aborted") aborted++
    if (m.outcome !== "committed") continue
    committed++
    totalUs += m.totalUs
    totalUsMax = Math.max(totalUsMax, m.totalUs)
    downtimeUs += m.downtimeUs
    downtimeUsMax = Math.max(downtimeUsMax, m.downtimeUs)
  }
  return { committed, aborted, totalUs, totalUsMax, downtimeUs, downtimeUsMax, bytesSent }
}
