/**
 * Running a scenario on the engine into the store as a new pool: the run is computed in slices (an
 * interruption lands between them), then its events are committed in one atomic append (a run lands
 * whole or not at all: docs/durability.md), and its summary is returned.
 */
import { Effect, Either, Schema } from "effect"
import { readFile } from "node:fs/promises"
import { basename } from "node:path"
import type { PoolId } from "../domain/ids.js"
import type { PoolHa } from "../domain/state.js"
import { formatDurationUs } from "../domain/units.js"
import type { EmittedEvent, RunResult } from "../engine/simulation.js"
import { makeTransferFactory, transferFactory } from "../engine/migration/index.js"
import type { ConsolidationReport } from "../engine/consolidation/index.js"
import { hostSummaries, MigrationSummaries } from "../projections/summary.js"
import { HostsInUse, type HostsInUseSummary } from "../projections/hostsInUse.js"
import { migrationTotals, type MigrationTotals } from "../projections/migrationTotals.js"
import { CpuSla, type CpuSeries, type CpuSlaSummary } from "../projections/cpuSla.js"
import { RunSnapshotTaker, saveRunSnapshots, snapshotCadence } from "../projections/snapshots.js"
import { compileScenario, type CompiledScenario } from "../simulations/compile.js"
import { startScenario } from "../simulations/run.js"
import { saveEngineRests, type RestToSave } from "./engineRests.js"
import { loadsEndUs } from "../simulations/load.js"
import { parseScenario, parseScenarioJson, Scenario, type InputError } from "../simulations/scenario.js"
import { duplicateName, type Extensions } from "../simulations/extensions.js"
import { inputFailure, XenpoolError } from "./errors.js"
import { commitRun, slices, withNewPool } from "./newPool.js"
import { checkPoolId } from "./pools.js"
import { silentProgress, type Progress } from "./progress.js"
import { runProvenance, sha256OfFile, sha256OfText, type RunInput } from "./provenance.js"
import { inSlices } from "./slices.js"

/** A scenario as its JSON file holds it: sizes, rates and times as strings with units (`"4GiB"`, `"1Gbit/s"`, `"90s"`). */
export type ScenarioInput = typeof Scenario.Encoded

/** What a run's summary says: its pool, its migrations, its hosts at the end, what was refused. */
export interface RunOutput {
  readonly pool: PoolId
  /** The pool's page size: hosts' memory in `hosts` is counted in pages of this size. */
  readonly pageSizeBytes: number
  readonly events: number
  readonly simulatedUs: number
  readonly stopReason: RunResult["stopReason"]
  readonly migrations: ReturnType<MigrationSummaries["list"]>
  readonly hosts: ReturnType<typeof hostSummaries>
  readonly refusals: ReadonlyArray<{ atUs: number; operation: string; error: string }>
  readonly operations: RunResult["operations"]
  readonly migrationTotals: MigrationTotals
  readonly hostsInUse: HostsInUseSummary
  /**
   * CloudSim's SLA figures from the VMs' CPU load series (host time over capacity, SLATAH, PDM, SLAV,
   * migrations per VM: projections/cpuSla.ts), when some VM has one.
   */
  readonly sla?: CpuSlaSummary
  /** The consolidation controller's report, when the scenario has a `consolidate` operation. */
  readonly consolidation?: ReadonlyArray<ConsolidationReport>
  /** The pool's HA at the end and HA's restarts after host failures, when the pool ever had HA on (docs/ha.md). */
  readonly ha?: PoolHa & { readonly restarts: RunResult["haRestarts"] }
}

/**
 * The read models a run's summary is made of, fed with the run's events as they are decided.
 *
 * @internal
 */
export class RunTally {
  private readonly summaries = new MigrationSummaries()
  private readonly hostsInUse = new HostsInUse()
  private readonly sla: CpuSla | undefined
  private count = 0

  /** `loads`: the VMs' CPU load series, when the run has some (the SLA figures need them). */
  constructor(loads?: ReadonlyMap<string, CpuSeries>) {
    this.sla = loads === undefined || loads.size === 0 ? undefined : new CpuSla(loads)
  }

  add(batch: ReadonlyArray<EmittedEvent>): void {
    for (const e of batch) {
      this.summaries.add(e.event)
      this.hostsInUse.add(e.event)
      this.sla?.add(e.event)
    }
    this.count += batch.length
  }

  output(
    pool: PoolId,
    pageSizeBytes: number,
    result: RunResult,
    consolidation: ReadonlyArray<ConsolidationReport> = []
  ): RunOutput {
    return {
      pool,
      pageSizeBytes,
      events: this.count,
      simulatedUs: result.simulatedUs,
      stopReason: result.stopReason,
      migrations: this.summaries.list(),
      hosts: hostSummaries(result.state),
      refusals: result.refusals.map((r) => ({ atUs: r.atUs, operation: r.operation, error: r.error.message })),
      operations: result.operations,
      migrationTotals: migrationTotals(this.summaries.list()),
      hostsInUse: this.hostsInUse.summary(result.simulatedUs),
      ...(this.sla === undefined ? {} : { sla: this.sla.summary(result.simulatedUs) }),
      ...(consolidation.length > 0 ? { consolidation } : {}),
      ...(result.state.pool?.ha === undefined ? {} : { ha: { ...result.state.pool.ha, restarts: result.haRestarts } })
    }
  }
}

/** The transfer machines of a compiled input: the built-in policies and writers, and the run's own. @internal */
export const transferFactoryFor = (compiled: CompiledScenario) =>
  compiled.policies === undefined && compiled.writers === undefined
    ? transferFactory
    : makeTransferFactory({
        ...(compiled.policies === undefined ? {} : { policies: compiled.policies }),
        ...(compiled.writers === undefined ? {} : { writers: compiled.writers })
      })

/** Engine events per slice of a run: an interruption waits at most one slice (a few tens of ms). */
export const RUN_SLICE_EVENTS = 5_000

/** Events per batch when a run's events go to the store (all in one atomic append). */
export const APPEND_BATCH_EVENTS = 10_000

/** Options every operation that writes a new pool takes. */
export interface RunOptions {
  /** The new pool's id (default: the input's pool id with the first free `-N` suffix). */
  readonly pool?: string
  /** Root seed (default: the input's own). */
  readonly seed?: number
  /** Progress of the run and of its commit (default: none shown). */
  readonly progress?: Progress
  /** Hears of the commit the moment it lands, e.g. `pool rolling-1 (sqlite:xenpool.db)`. */
  readonly onCommitted?: (what: string) => void
  /** Your own consolidation controllers (and other extensions), which the scenario may name. */
  readonly extensions?: Extensions
}

const readFailure = (what: string, path: string) => (e: unknown) =>
  new XenpoolError({
    what,
    where: path,
    expected: (e as NodeJS.ErrnoException).code === "ENOENT" ? "an existing file" : String(e)
  })

/** Refuses extensions whose names clash (with a built-in or with each other) rather than shadowing one. @internal */
export const checkExtensions = (extensions: Extensions | undefined): Effect.Effect<void, XenpoolError> => {
  const duplicate = duplicateName(extensions)
  return duplicate === undefined
    ? Effect.void
    : Effect.fail(
        new XenpoolError({
          what: "extension named twice",
          where: duplicate,
          expected: "a name of its own (not a built-in's, not another extension's)"
        })
      )
}

/**
 * A scenario from a JSON file (or given as a value), checked and compiled: a bad field fails with an
 * XenpoolError naming the file and the field; nothing runs.
 */
const loadScenario = (
  scenario: string | ScenarioInput,
  options: { readonly seed?: number; readonly pool?: string; readonly extensions?: Extensions } = {}
) =>
  Effect.gen(function* () {
    yield* checkExtensions(options.extensions)
    const source = typeof scenario === "string" ? scenario : "<scenario>"
    const parsed: Either.Either<Scenario, InputError> =
      typeof scenario === "string"
        ? parseScenarioJson(
            source,
            yield* Effect.tryPromise({
              try: () => readFile(scenario, "utf8"),
              catch: readFailure("cannot read scenario", source)
            })
          )
        : parseScenario(source, scenario)
    if (Either.isLeft(parsed)) return yield* inputFailure("bad scenario", parsed.left)
    const compiled = compileScenario(source, parsed.right, options)
    if (Either.isLeft(compiled)) return yield* inputFailure("bad scenario", compiled.left)
    return { compiled: compiled.right, parsed: parsed.right, source }
  })

const encodeScenario = Schema.encodeSync(Scenario)

/** The scenario as the engine ran it, as its pool records it: the run's seed and pool id written in. */
const scenarioAsRun = (scenario: Scenario, compiled: CompiledScenario): string =>
  JSON.stringify(encodeScenario({ ...scenario, seed: compiled.seed, pool: { ...scenario.pool, id: compiled.pool } }))

/**
 * Runs the compiled scenario, then commits its events as the new pool in one atomic append; returns the
 * summary and the events. Interrupted (between slices), it has written nothing.
 *
 * @internal
 */
const runIntoStore = (
  compiled: CompiledScenario,
  progress: Progress = silentProgress,
  onCommitted?: (what: string) => void,
  input?: RunInput
) =>
  Effect.gen(function* () {
    const events: EmittedEvent[] = []
    const tally = new RunTally(compiled.loads)
    // Keeps the engine's own states every N events, so that snapshots cost no fold of their own.
    const cadence = yield* snapshotCadence
    const snapshots = new RunSnapshotTaker(cadence.everyEvents)
    // Keeps the engine at rest inside the run, once per whole-state snapshot's worth of events: a rest
    // costs about a whole state, and a later fork or continuation reruns at most that many events.
    const rests: RestToSave[] = []
    const run = startScenario(compiled, {
      transferFactory: transferFactoryFor(compiled),
      decide: snapshots.decide,
      ...(input?.scenario === undefined
        ? {}
        : {
            rests: {
              everyEvents: cadence.everyEvents * cadence.wholeStateEvery,
              everyEventsPerEntity: cadence.restEventsPerEntity,
              take: ({ scheduleRun, loadsRun, state, ...rest }) => {
                const last = events[events.length - 1]!
                rests.push({
                  last: { revision: events.length - 1, id: last.id, atUs: last.event.atUs },
                  rest,
                  state,
                  inRun: { scheduleRun, loadsRun }
                })
              }
            }
          }),
      sink: (batch) => {
        for (const e of batch) events.push(e)
        tally.add(batch)
        snapshots.sink(batch)
      }
    })
    const failure = (e: unknown) =>
      new XenpoolError({
        what: "simulation failed",
        where: compiled.name,
        expected: e instanceof Error ? e.message : String(e)
      })
    // Progress by simulated time against the last scheduled operation or the end of the load series,
    // whichever is later (runs end soon after both: a consolidation controller stops with the series).
    // A fold, not a spread: a schedule of 150,000 items would overflow the stack as arguments.
    const horizonUs = compiled.schedule.reduce(
      (max, item) => Math.max(max, item.atUs),
      Math.max(1, loadsEndUs(compiled.loads ?? new Map()))
    )
    const { result, consolidation } = yield* inSlices(
      Effect.try({
        try: () => {
          const done = run.runFor(RUN_SLICE_EVENTS)
          progress.update(
            `simulating ${compiled.name}: t = ${formatDurationUs(run.sim.nowUs)}, ${run.sim.events.toLocaleString("en-US")} events`,
            run.sim.nowUs,
            horizonUs
          )
          return done
        },
        catch: failure
      })
    )
    yield* commitRun(compiled.pool, {
      events: events.length,
      batches: slices(events, APPEND_BATCH_EVENTS),
      progress,
      onCommitted,
      provenance: input === undefined ? undefined : runProvenance(compiled.seed, input)
    })
    yield* saveRunSnapshots(compiled.pool, snapshots)
    // the engine at rest inside the run and at its end is kept: continuing or forking the pool starts at
    // the last one before the point (api/engineRests.ts)
    const rest = run.rest()
    const last = events[events.length - 1]
    if (typeof rest !== "string" && last !== undefined)
      rests.push({
        last: { revision: events.length - 1, id: last.id, atUs: last.event.atUs },
        rest,
        state: run.sim.state
      })
    if (input?.scenario !== undefined)
      yield* saveEngineRests(
        compiled.pool,
        rests,
        input.scenario,
        compiled.schedule.map((timed) => timed.index)
      )
    const output = tally.output(compiled.pool, compiled.pageSizeBytes, result, consolidation)
    return { output, events }
  })

/**
 * Runs a scenario (a JSON file's path, or the scenario as a value) on the engine and appends its events
 * to the store as a new pool, whole or not at all; returns the run's summary.
 *
 * @example
 * const run = yield* simulate(scenarioPath("rolling-maintenance"), { seed: 7 })
 * console.log(run.pool, run.migrations.length)
 */
export const simulate = (scenario: string | ScenarioInput, options: RunOptions = {}) =>
  Effect.gen(function* () {
    if (options.pool !== undefined) yield* checkPoolId(options.pool)
    const compileOptions = {
      ...(options.seed === undefined ? {} : { seed: options.seed }),
      ...(options.extensions === undefined ? {} : { extensions: options.extensions })
    }
    const { compiled: base, parsed, source } = yield* loadScenario(scenario, compileOptions)
    const input: RunInput =
      typeof scenario === "string"
        ? { kind: "scenario", name: basename(scenario), sha256: yield* sha256OfFile(scenario) }
        : { kind: "scenario", name: "<scenario>", sha256: sha256OfText(JSON.stringify(scenario)) }
    const { output } = yield* withNewPool(base.pool, options.pool, (id) =>
      Effect.gen(function* () {
        // compiled again under the pool's own id: its creation event names the pool it is in
        const compiled = yield* Either.match(compileScenario(source, parsed, { ...compileOptions, pool: id }), {
          onLeft: (error) => Effect.fail(inputFailure("bad scenario", error)),
          onRight: Effect.succeed
        })
        return yield* runIntoStore(compiled, options.progress, options.onCommitted, {
          ...input,
          scenario: scenarioAsRun(parsed, compiled)
        })
      })
    )
    return output
  })
