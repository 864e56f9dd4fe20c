/**
 * The run summary read model: each migration's outcome with rounds, bytes, total time and downtime,
 * folded from events (so a summary from the engine's live events and one from the store agree), plus
 * the hosts' memory from a pool state.
 */
import type { PoolEvent } from "../domain/events.js"
import { hostPhysicalFreePages, hostPlacementFreePages } from "../domain/memory.js"
import { hostList, vmList, type PoolState } from "../domain/state.js"

export interface MigrationSummary {
  readonly id: string
  readonly vm: string
  readonly from: string
  readonly to: string
  readonly startedAtUs: number
  readonly rounds: number
  readonly bytesSent: number
  readonly totalUs: number
  readonly downtimeUs: number
  readonly outcome: "committed" | "aborted" | "in-progress"
  readonly stopReason?: string
  readonly reason?: string
  /**
   * Only for a migration with phases (docs/migration.md): its setup, and the parts of its downtime,
   * suspend + the paused round (last pages and `stateBytes` of state) + restore.
   */
  readonly phases?: MigrationPhasesSummary
  /** Only for an aborted migration whose round was in flight: what that round sent before the abort. */
  readonly interrupted?: InterruptedRound
}

export interface MigrationPhasesSummary {
  readonly setupUs: number
  readonly suspendUs: number
  readonly pausedRoundUs: number
  readonly stateBytes: number
  readonly restoreUs: number
}

interface InterruptedRound {
  readonly round: number
  readonly live: boolean
  readonly pagesSent: number
  readonly bytesSent: number
  readonly durationUs: number
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

export interface HostSummary {
  readonly id: string
  readonly enabled: boolean
  readonly live: boolean
  readonly memoryTotalPages: number
  readonly memoryFreePages: number
  readonly memoryPlacementFreePages: number
  readonly memoryReservedPages: number
  readonly vms: ReadonlyArray<string>
}

/** Folds migration events into summaries, in start order. Mutable accumulator, pure inputs. */
export class MigrationSummaries {
  private readonly byId = new Map<string, Mutable<MigrationSummary>>()

  private phasesOf(m: Mutable<MigrationSummary>): Mutable<MigrationPhasesSummary> {
    if (m.phases === undefined) m.phases = { setupUs: 0, suspendUs: 0, pausedRoundUs: 0, stateBytes: 0, restoreUs: 0 }
    return m.phases as Mutable<MigrationPhasesSummary>
  }

  add(event: PoolEvent): void {
    switch (event._tag) {
      case "VmMigrationStarted":
        this.byId.set(event.migration, {
          id: event.migration,
          vm: event.vm,
          from: event.source,
          to: event.destination,
          startedAtUs: event.atUs,
          rounds: 0,
          bytesSent: 0,
          totalUs: 0,
          downtimeUs: 0,
          outcome: "in-progress"
        })
        return
      case "VmMigrationRoundCompleted": {
        const m = this.byId.get(event.migration)
        if (m) {
          m.rounds = event.round
          m.bytesSent += event.bytesSent
          if (!event.live && m.phases !== undefined) {
            m.phases = { ...m.phases, pausedRoundUs: event.durationUs, stateBytes: event.stateBytes }
          }
        }
        return
      }
      case "VmMigrationPhaseCompleted": {
        const m = this.byId.get(event.migration)
        if (m) {
          const phases = this.phasesOf(m)
          phases[`${event.phase}Us`] = event.durationUs
        }
        return
      }
      case "VmMigrationRoundInterrupted": {
        const m = this.byId.get(event.migration)
        if (m) {
          m.bytesSent += event.bytesSent
          m.interrupted = {
            round: event.round,
            live: event.live,
            pagesSent: event.pagesSent,
            bytesSent: event.bytesSent,
            durationUs: event.durationUs
          }
        }
        return
      }
      case "VmMigrationStopAndCopyStarted": {
        const m = this.byId.get(event.migration)
        if (m) m.stopReason = event.reason
        return
      }
      case "VmMigrationCommitted": {
        const m = this.byId.get(event.migration)
        if (m) {
          m.outcome = "committed"
          m.totalUs = event.totalUs
          m.downtimeUs = event.downtimeUs
          m.bytesSent = event.bytesSent
        }
        return
      }
      case "VmMigrationAborted": {
        const m = this.byId.get(event.migration)
        if (m) {
          m.outcome = "aborted"
          m.totalUs = event.atUs - m.startedAtUs
          m.reason = event.reason
        }
        return
      }
      default:
        return
    }
  }

  list(): ReadonlyArray<MigrationSummary> {
    return [...this.byId.values()]
  }
}

/**
 * Each host's figures and resident VMs (in id order). The VMs are grouped by host in one pass over the
 * pool's VMs: a listing per host would sort every VM once per host, which on a pool of 100,000 VMs and
 * 2,000 hosts was most of a run's time.
 */
export const hostSummaries = (state: PoolState): ReadonlyArray<HostSummary> => {
  const residents = new Map<string, string[]>()
  for (const vm of vmList(state)) {
    if (vm.residentOn === undefined) continue
    const ids = residents.get(vm.residentOn)
    if (ids === undefined) residents.set(vm.residentOn, [vm.id])
    else ids.push(vm.id)
  }
  return hostList(state).map((h) => ({
    id: h.id,
    enabled: h.enabled,
    live: h.live,
    memoryTotalPages: h.memoryTotalPages,
    memoryFreePages: hostPhysicalFreePages(h),
    memoryPlacementFreePages: hostPlacementFreePages(h),
    memoryReservedPages: h.reservedPages,
    vms: residents.get(h.id) ?? []
  }))
}
