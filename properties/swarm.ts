/**
 * Swarm and liveness, as TigerBeetle's VOPR does it. Each case's swarm switches whole fault kinds
 * (host failure, link failure, link slowdown, host disable and evacuation, VM lifecycle operations)
 * and workload kinds (idle, rate, page-level uniform, page-level hot/cold) on or off and picks a policy.
 *
 * Safety phase: the schedule and its faults, with the engine's debug assertions on (every domain
 * invariant after every event) and the outside checkers on every event. Healed phase: at `HEAL_AT_US`
 * every host is recovered and enabled and every link restored; from there every migration that was in
 * flight must end within a bound computed from the pool (the bytes its policy may send, at the share
 * of the slowest link it is guaranteed), the run must reach quiescence, and none may be left in flight.
 */
import { initialState, type PoolState } from "../domain/state.js"
import { evolve } from "../domain/evolve.js"
import type { CompiledScenario } from "../simulations/compile.js"
import { HEAL_AT_US, MAX_DOWNTIME_ROUNDS_MAX, scenarioArb } from "./arbitraries.js"
import { liveRoundsMaxOf, runEngine, type EngineRun } from "./engineRun.js"
import { atomicMigrationMonitor, memoryConservationMonitor, monitorLog, residencyMonitor } from "./oracles.js"
import { scenarioOnly, scenarioProperty } from "./property.js"

/** Slack on top of the computed bound: one simulated second. */
const SLACK_US = 1_000_000

/** Rounds a policy may run (live plus paused), and how many times a VM's memory it may send in all. */
const policyRounds = (compiled: CompiledScenario): { rounds: number; memoryCopies: number } => {
  switch (compiled.policy.name) {
    case "xen":
      return { rounds: 6, memoryCopies: 6 }
    case "xen-legacy":
      return { rounds: 30, memoryCopies: 5 }
    case "max-downtime": {
      const rounds = (compiled.policy.roundsMax ?? MAX_DOWNTIME_ROUNDS_MAX) + 1
      return { rounds, memoryCopies: rounds }
    }
    default: {
      // A user's policy (check({ policies })): its own bound on live rounds, plus the paused one.
      const rounds = liveRoundsMaxOf(compiled) + 1
      return { rounds, memoryCopies: rounds }
    }
  }
}

/**
 * How long after the heal every migration may take: with n migrations sharing, max-min fairness gives
 * each at least 1/n of the slowest NIC, and each sends at most `memoryCopies` times its memory, plus a
 * link latency per round and per commit.
 */
const livenessBoundUs = (compiled: CompiledScenario, final: PoolState, migrations: number): number => {
  const setupVms = compiled.setup.filter((c) => c._tag === "CreateVm")
  const memoryPagesMax = Math.max(1, ...setupVms.map((c) => (c._tag === "CreateVm" ? c.memoryStaticMaxPages : 0)))
  const nics = compiled.setup.flatMap((c) => (c._tag === "JoinHost" ? [c.nicBandwidthBytesPerS] : []))
  const nicMin = Math.max(1, Math.min(...nics))
  const { rounds, memoryCopies } = policyRounds(compiled)
  const n = Math.max(1, migrations)
  const bytes = memoryCopies * memoryPagesMax * compiled.pageSizeBytes
  const transferUs = Math.ceil((n * bytes * 1e6) / nicMin)
  const latencyUs = (final.pool?.linkLatencyUs ?? 0) + 1
  return transferUs + (rounds + 2) * latencyUs * n + SLACK_US
}

/** Migrations in flight at the heal, each with when it ended (undefined if never). */
const pendingAtHeal = (run: EngineRun) => {
  const open = new Map<string, number | undefined>()
  let started = 0
  for (const { event } of run.emitted) {
    if (event._tag === "VmMigrationStarted") {
      started++
      if (event.atUs <= HEAL_AT_US) open.set(event.migration, undefined)
    }
    if ((event._tag === "VmMigrationCommitted" || event._tag === "VmMigrationAborted") && open.has(event.migration)) {
      if (event.atUs <= HEAL_AT_US) open.delete(event.migration)
      else open.set(event.migration, event.atUs)
    }
  }
  return { open, started }
}

const checkLiveness = (run: EngineRun): string | undefined => {
  if (run.result === undefined) return undefined
  if (run.result.stopReason !== "quiescent")
    return `the healed run did not reach quiescence: stopped by its ${run.result.stopReason} at ${run.result.simulatedUs} µs`
  let final = initialState
  for (const e of run.emitted) final = evolve(final, e.event)
  const { open, started } = pendingAtHeal(run)
  const boundUs = livenessBoundUs(run.compiled, final, started)
  for (const [migration, endUs] of open) {
    if (endUs === undefined) return `migration ${migration}, in flight at the heal, never ended`
    if (endUs - HEAL_AT_US > boundUs)
      return `migration ${migration}, in flight at the heal, ended ${endUs - HEAL_AT_US} µs after it (bound ${boundUs} µs)`
  }
  return undefined
}

export const swarmLiveness = scenarioProperty({
  name: "swarm-liveness",
  statement:
    "with faults switched on per seed, every invariant holds after every event; once healed, every pending migration ends within a bound and the run reaches quiescence",
  arbitrary: scenarioOnly(scenarioArb()),
  check: (scenario, _extra, env) => {
    const run = runEngine(scenario, { ...env, debug: true })
    if (run.defect !== undefined) return `safety phase: the engine stopped on a defect: ${run.defect}`
    const safety = monitorLog(
      run.emitted,
      [memoryConservationMonitor(), residencyMonitor(), atomicMigrationMonitor()],
      run.result?.stopReason === "quiescent"
    )
    return safety ?? checkLiveness(run)
  }
})
