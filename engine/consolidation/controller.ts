/**
 * The consolidation controller's extension point (DESIGN.md §6): what a controller is given every interval
 * (the pool, each VM's CPU load, the thresholds, the hosts it switched off) and what it answers (a plan of
 * host enables and disables and migrations, in order). The engine performs the plan through the same
 * domain rules as any operation, so a controller cannot break the pool's invariants; a bad plan only
 * gets refusals. A controller is a plain value: `{ name, summary, plan }`. The built-in,
 * `minimise-migrations`, is written the same way (minimiseMigrations.ts).
 */
import type { HostId, VmId } from "../../domain/ids.js"
import type { PoolRead } from "../../domain/state.js"

export interface ConsolidationThresholds {
  /** A host whose CPU load is above this percentage of its CPUs is overloaded. */
  readonly overloadPct: number
  /** A host whose CPU load is below this percentage is underloaded: emptied and disabled. */
  readonly underloadPct: number
  /** A VM moved off an underloaded host goes only where the load stays at or below this (≤ overloadPct). */
  readonly packPct: number
  /** At most this many migrations start per interval. */
  readonly migrationsMaxPerInterval: number
}

/** A VM's CPU demand now, in percent of its vCPUs (0–100). */
export type CpuPctOf = (vm: VmId) => number

export type MoveReason = "overload" | "drain" | "finish-drain"

export type ConsolidationAction =
  | { readonly _tag: "EnableHost"; readonly host: HostId }
  | { readonly _tag: "DisableHost"; readonly host: HostId }
  | {
      readonly _tag: "Migrate"
      readonly vm: VmId
      readonly from: HostId
      readonly to: HostId
      readonly reason: MoveReason
    }

export interface ConsolidationPlan {
  /** In the order to perform them: an enable before the migrations to that host, a disable before its drain. */
  readonly actions: ReadonlyArray<ConsolidationAction>
  /** Live hosts with at least one VM (projected), before acting. */
  readonly hostsInUse: number
  readonly hostsEnabled: number
  /** Hosts above the overload threshold, before acting. */
  readonly overloaded: ReadonlyArray<HostId>
  /** Hosts whose demand exceeds their CPUs (load above 100 %), before acting. */
  readonly saturated: ReadonlyArray<HostId>
  /** Overloaded hosts the plan leaves overloaded, and why. */
  readonly unresolved: ReadonlyArray<{ readonly host: HostId; readonly reason: string }>
}

/** What a consolidation controller is given at each interval. */
export interface ConsolidationInput {
  /** The pool now (read-only). */
  readonly state: PoolRead
  /** A VM's CPU load now, percent of its vCPUs. */
  readonly cpuPctOf: CpuPctOf
  readonly thresholds: ConsolidationThresholds
  /** The hosts this controller disabled: the only ones it may enable again or keep draining. */
  readonly owned: ReadonlySet<HostId>
}

/** A consolidation controller: a name (as scenarios give it), one line saying what it does, its planner. */
export interface ConsolidationController {
  readonly name: string
  readonly summary: string
  /** One interval's decisions; pure (no clock, no randomness but what the input holds). */
  readonly plan: (input: ConsolidationInput) => ConsolidationPlan
}
