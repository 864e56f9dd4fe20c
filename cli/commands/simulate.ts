/**
 * `xenpool simulate SCENARIO` and `xenpool demo`: run a scenario through the API (api/simulate.ts: one
 * atomic commit per run), print the summary.
 */
import { Args, Command, Options } from "@effect/cli"
import { Effect, Option } from "effect"
import { scenarioPath } from "../../api/paths.js"
import { simulate, type RunOutput } from "../../api/simulate.js"
import { vmId } from "../../domain/ids.js"
import { getVm } from "../../domain/state.js"
import { formatBytes, formatDurationUs, printedInstantUs } from "../../domain/units.js"
import { EventStore } from "../../store/EventStore.js"
import { stateAt } from "../../projections/timeTravel.js"
import { printLine, shellWord } from "../output.js"
import { checkedPoolId } from "../poolId.js"
import { jsonOption, quietOption, printJson, storeOption, table, checkedSeed, seedOption } from "../shared.js"
import { makeProgress } from "../progress.js"
import { formatRunExtras } from "../runExtras.js"
import { noteWritten } from "../written.js"
import { timeTravelLayer } from "./timeTravel.js"

const bar = (used: number, total: number, width = 20): string => {
  const filled = total === 0 ? 0 : Math.round((used / total) * width)
  return `[${"#".repeat(filled)}${".".repeat(width - filled)}]`
}

/** HA's state at the end of the run and its restarts (docs/ha.md). */
const formatHa = (ha: NonNullable<RunOutput["ha"]>): ReadonlyArray<string> => {
  const failed = ha.restarts.filter((r) => !r.ok).length
  const lines = [
    `HA ${ha.enabled ? "on" : "off"}: ha-host-failures-to-tolerate ${ha.hostFailuresToTolerate}, plan exists for ${ha.planExistsFor}${ha.overcommitted ? ", overcommitted" : ""}; ${ha.restarts.length} restart attempts, ${failed} failed`
  ]
  if (ha.restarts.length === 0) return lines
  const shown = ha.restarts.slice(0, 40)
  lines.push(
    table(
      ["at", "vm", "priority", "order", "attempt", "planned host", "outcome"],
      shown.map((r) => [
        formatDurationUs(r.atUs),
        r.vm,
        r.priority,
        String(r.order),
        String(r.attempt),
        r.plannedHost ?? "-",
        r.ok ? r.detail : `failed: ${r.detail}`
      ])
    )
  )
  if (ha.restarts.length > shown.length)
    lines.push(`… and ${ha.restarts.length - shown.length} more (--json lists all)`)
  return lines
}

export const formatRun = (o: RunOutput): string => {
  const pageSizeBytes = o.pageSizeBytes
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
  if (o.ha !== undefined) lines.push("", ...formatHa(o.ha))
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
  lines.push("", ...formatRunExtras(o))
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
      const output = yield* simulate(scenario, {
        ...(rootSeed === undefined ? {} : { seed: rootSeed }),
        ...(Option.isSome(pool) ? { pool: pool.value } : {}),
        progress: makeProgress(!json && !quiet),
        onCommitted: noteWritten
      })
      if (json) return yield* printJson(output)
      yield* printLine(formatRun(output))
    }).pipe(Effect.provide(timeTravelLayer(store)))
).pipe(Command.withDescription("run a scenario, append its events to the store as a new pool, print a summary"))

export const demoCommand = Command.make(
  "demo",
  { store: storeOption, json: jsonOption, quiet: quietOption },
  ({ store, json, quiet }) =>
    Effect.gen(function* () {
      const output = yield* simulate(scenarioPath("rolling-maintenance"), {
        progress: makeProgress(!json && !quiet),
        onCommitted: noteWritten
      })
      const id = output.pool
      // A time-travel answer from the store: where the first migrated VM was halfway through the run, at
      // the instant the printed time names, so that the hint typed back gives this very answer.
      const midUs = printedInstantUs(Math.floor(output.simulatedUs / 2))
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
      yield* printLine(formatRun(output))
      if (vm) {
        yield* printLine(
          `\ntime travel: at ${formatDurationUs(midUs)} (revision ${then.revision}), VM ${vm} was ${timeTravel.powerState} on ${timeTravel.residentOn ?? "no host"}` +
            `\nstored in ${(yield* EventStore).url} as pool ${id}; try: xenpool at ${shellWord(formatDurationUs(midUs))} --pool ${id} --vm ${vm}, xenpool history --pool ${id} --vm ${vm}, xenpool events --pool ${id} --limit 20`
        )
      }
    }).pipe(Effect.provide(timeTravelLayer(store)))
).pipe(
  Command.withDescription(
    "the main job: rolling maintenance of a 4-host pool (disable, evacuate, re-enable each host) into sqlite:xenpool.db, with a summary"
  )
)
