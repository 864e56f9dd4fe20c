/**
 * `xenpool simulate SCENARIO` and `xenpool demo`: run a scenario on the engine, append every event to the
 * store as one atomic batch (a run lands whole or not at all), print a summary.
 */
import { Args, Command, Options } from "@effect/cli"
import { Effect, Either, Option } from "effect"
import { readFile } from "node:fs/promises"
import { bundledScenarioPath } from "../paths.js"
import { vmId, type PoolId } from "../../domain/ids.js"
import { getVm } from "../../domain/state.js"
import { formatBytes, formatDurationUs } from "../../domain/units.js"
import type { EmittedEvent, RunResult } from "../../engine/simulation.js"
import { transferFactory } from "../../engine/migration/index.js"
import { hostSummaries, MigrationSummaries } from "../../projections/summary.js"
import { EventStore } from "../../store/EventStore.js"
import { compileScenario, type CompiledScenario } from "../../simulations/compile.js"
import { startScenario } from "../../simulations/run.js"
import { parseScenarioJson } from "../../simulations/scenario.js"
import { printLine } from "../output.js"
import { CliFailure, inputFailure } from "../errors.js"
import { checkedPoolId } from "../poolId.js"
import { jsonOption, quietOption, printJson, storeOption, table, checkedSeed, seedOption } from "../shared.js"
import { commitRun, slices, withNewPool } from "../newPool.js"
import { makeProgress, type Progress } from "../progress.js"
import { inSlices } from "../interrupt.js"
import { HostsInUse } from "../../projections/hostsInUse.js"
import { migrationTotals } from "../../projections/migrationTotals.js"
import { formatRunExtras, type RunExtras } from "../runExtras.js"
import { RunSnapshotTaker, saveRunSnapshots, snapshotEveryEvents } from "../../projections/snapshots.js"
import { stateAt } from "../../projections/timeTravel.js"
import { timeTravelLayer } from "./timeTravel.js"

export const loadScenario = (path: string, options: { seed?: number; pool?: string }) =>
  Effect.gen(function* () {
    const text = yield* Effect.tryPromise({
      try: () => readFile(path, "utf8"),
      catch: (e) =>
        new CliFailure({
          what: "cannot read scenario",
          where: path,
          expected: (e as NodeJS.ErrnoException).code === "ENOENT" ? "an existing file" : String(e)
        })
    })
    const parsed = parseScenarioJson(path, text)
    if (Either.isLeft(parsed)) return yield* Effect.fail(inputFailure("bad scenario", parsed.left))
    const compiled = compileScenario(path, parsed.right, options)
    if (Either.isLeft(compiled)) return yield* Effect.fail(inputFailure("bad scenario", compiled.left))
    return compiled.right
  })

export interface RunOutput extends Partial<RunExtras> {
  readonly pool: PoolId
  readonly events: number
  readonly simulatedUs: number
  readonly stopReason: RunResult["stopReason"]
  readonly migrations: ReturnType<MigrationSummaries["list"]>
  readonly hosts: ReturnType<typeof hostSummaries>
  readonly refusals: ReadonlyArray<{ atUs: number; operation: string; error: string }>
  readonly operations: RunResult["operations"]
}

/** The read models a run's summary is made of, fed with the run's events as they are decided. */
export class RunTally {
  private readonly summaries = new MigrationSummaries()
  private readonly hostsInUse = new HostsInUse()
  private count = 0

  add(batch: ReadonlyArray<EmittedEvent>): void {
    for (const e of batch) {
      this.summaries.add(e.event)
      this.hostsInUse.add(e.event)
    }
    this.count += batch.length
  }

  output(pool: PoolId, result: RunResult, consolidation: RunExtras["consolidation"] = []): RunOutput {
    return {
      pool,
      events: this.count,
      simulatedUs: result.simulatedUs,
      stopReason: result.stopReason,
      migrations: this.summaries.list(),
      hosts: hostSummaries(result.state),
      refusals: result.refusals.map((r) => ({ atUs: r.atUs, operation: r.operation, error: r.error.message })),
      operations: result.operations,
      migrationTotals: migrationTotals(this.summaries.list()),
      hostsInUse: this.hostsInUse.summary(result.simulatedUs),
      ...(consolidation.length > 0 ? { consolidation } : {})
    }
  }
}

/** Engine events per slice of a run: a signal waits at most one slice (a few tens of ms) to be heard. */
export const RUN_SLICE_EVENTS = 5_000

/** Events per batch when a run's events go to the store (all in one atomic append). */
export const APPEND_BATCH_EVENTS = 10_000

/**
 * Runs the compiled scenario, then commits its events as the new pool in one atomic append; returns the
 * summary and the events. Interrupted (a signal between slices), it has written nothing.
 */
export const runIntoStore = (compiled: CompiledScenario, progress: Progress) =>
  Effect.gen(function* () {
    const events: EmittedEvent[] = []
    const tally = new RunTally()
    // Keeps the engine's own states every N events, so that snapshots cost no fold of their own.
    const snapshots = new RunSnapshotTaker(yield* snapshotEveryEvents)
    const run = startScenario(compiled, {
      transferFactory,
      decide: snapshots.decide,
      sink: (batch) => {
        for (const e of batch) events.push(e)
        tally.add(batch)
        snapshots.sink(batch)
      }
    })
    const failure = (e: unknown) =>
      new CliFailure({
        what: "simulation failed",
        where: compiled.name,
        expected: e instanceof Error ? e.message : String(e)
      })
    // Progress by simulated time against the last scheduled operation (runs end soon after it).
    // A fold, not a spread: a schedule of 150,000 items would overflow the stack as arguments.
    const horizonUs = compiled.schedule.reduce((max, item) => Math.max(max, item.atUs), 1)
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
      progress
    })
    yield* saveRunSnapshots(compiled.pool, snapshots)
    const output = tally.output(compiled.pool, result, consolidation)
    return { output, events }
  })

const bar = (used: number, total: number, width = 20): string => {
  const filled = total === 0 ? 0 : Math.round((used / total) * width)
  return `[${"#".repeat(filled)}${".".repeat(width - filled)}]`
}

export const formatRun = (o: RunOutput, pageSizeBytes: number): string => {
  const committed = o.migrations.filter((m) => m.outcome === "committed")
  const lines = [
    `pool ${o.pool}: ${o.events.toLocaleString("en-US")} events over ${formatDurationUs(o.simulatedUs)} simulated (${o.stopReason})`,
    `${o.migrations.length} migrations: ${committed.length} committed, ${o.migrations.filter((m) => m.outcome === "aborted").length} aborted`
  ]
  if (o.migrations.length > 0) {
    const shown = o.migrations.slice(0, 40)
    lines.push(
      "",
      table(
        ["migration", "vm", "from → to", "rounds", "sent", "total", "downtime", "outcome"],
        shown.map((m) => [
          m.id,
          m.vm,
          `${m.from} → ${m.to}`,
          String(m.rounds),
          formatBytes(m.bytesSent),
          formatDurationUs(m.totalUs),
          m.outcome === "committed" ? formatDurationUs(m.downtimeUs) : "-",
          m.outcome === "aborted" ? `aborted: ${m.reason}` : m.outcome
        ])
      )
    )
    if (o.migrations.length > shown.length)
      lines.push(`… and ${o.migrations.length - shown.length} more (--json lists all)`)
  }
  lines.push(
    "",
    table(
      ["host", "state", "memory used", "free", "VMs"],
      o.hosts.map((h) => {
        const used = h.memoryTotalPages - h.memoryFreePages
        return [
          h.id,
          !h.live ? "dead" : h.enabled ? "enabled" : "disabled",
          `${bar(used, h.memoryTotalPages)} ${formatBytes(used * pageSizeBytes)}`,
          formatBytes(h.memoryFreePages * pageSizeBytes),
          String(h.vms.length)
        ]
      })
    )
  )
  if (o.migrationTotals && o.hostsInUse)
    lines.push("", ...formatRunExtras({ ...o, migrationTotals: o.migrationTotals, hostsInUse: o.hostsInUse }))
  for (const op of o.operations)
    lines.push(`${formatDurationUs(op.atUs)}: ${op.operation}: ${op.ok ? "done" : "FAILED"} (${op.detail})`)
  for (const r of o.refusals.slice(0, 20))
    lines.push(`${formatDurationUs(r.atUs)}: refused: ${r.operation}: ${r.error}`)
  return lines.join("\n")
}

const scenarioArg = Args.file({ name: "SCENARIO", exists: "either" }).pipe(Args.withDescription("a scenario JSON file"))
const scenarioSeedOption = seedOption("root seed (default: the scenario's)")
const poolIdOption = Options.text("pool").pipe(
  Options.withDescription("pool id to write (default: the scenario's pool id with a new -N suffix)"),
  Options.optional
)

export const simulateCommand = Command.make(
  "simulate",
  {
    scenario: scenarioArg,
    seed: scenarioSeedOption,
    pool: poolIdOption,
    store: storeOption,
    json: jsonOption,
    quiet: quietOption
  },
  ({ scenario, seed, pool, store, json, quiet }) =>
    Effect.gen(function* () {
      const rootSeed = yield* checkedSeed(seed)
      // The command line first: a bad --pool is refused before the scenario is read.
      if (Option.isSome(pool)) yield* checkedPoolId(pool.value)
      const base = yield* loadScenario(scenario, rootSeed === undefined ? {} : { seed: rootSeed })
      const { output } = yield* withNewPool(base.pool, Option.getOrUndefined(pool), (id) =>
        runIntoStore({ ...base, pool: id }, makeProgress(!json && !quiet))
      )
      if (json) return yield* printJson(output)
      yield* printLine(formatRun(output, base.pageSizeBytes))
    }).pipe(Effect.provide(timeTravelLayer(store)))
).pipe(Command.withDescription("run a scenario, append its events to the store as a new pool, print a summary"))

export const demoCommand = Command.make(
  "demo",
  { store: storeOption, json: jsonOption, quiet: quietOption },
  ({ store, json, quiet }) =>
    Effect.gen(function* () {
      const base = yield* loadScenario(bundledScenarioPath("rolling-maintenance"), {})
      const { output } = yield* withNewPool(base.pool, undefined, (id) =>
        runIntoStore({ ...base, pool: id }, makeProgress(!json && !quiet))
      )
      const id = output.pool
      // A time-travel answer from the store: where the first migrated VM was halfway through the run.
      const midUs = Math.floor(output.simulatedUs / 2)
      const vm = output.migrations[0]?.vm
      const then = yield* stateAt(id, { atUs: midUs })
      const vmThen = vm ? getVm(then.state, vmId(vm)) : undefined
      const timeTravel = {
        atUs: midUs,
        revision: then.revision,
        vm: vm ?? null,
        residentOn: vmThen?.residentOn ?? null,
        powerState: vmThen?.powerState ?? null
      }
      if (json) return yield* printJson({ ...output, timeTravel })
      yield* printLine(formatRun(output, base.pageSizeBytes))
      if (vm) {
        yield* printLine(
          `\ntime travel: at ${formatDurationUs(midUs)} (revision ${then.revision}), VM ${vm} was ${timeTravel.powerState} on ${timeTravel.residentOn ?? "no host"}` +
            `\nstored in ${(yield* EventStore).url} as pool ${id}; try: xenpool at ${midUs}us --pool ${id} --vm ${vm}, xenpool history --pool ${id} --vm ${vm}, xenpool events --pool ${id} --limit 20`
        )
      }
    }).pipe(Effect.provide(timeTravelLayer(store)))
).pipe(
  Command.withDescription(
    "the main job: rolling maintenance of a 4-host pool (disable, evacuate, re-enable each host) into sqlite:xenpool.db, with a summary"
  )
)
