/**
 * The model-based test of the pool (`pool-model`): `fc.commands` over the pool lifecycle and the
 * migration steps, run against the reference model (model.ts) and the system: the engine's `submit`
 * (decide, then evolve, with the engine's debug assertions on) behind its decide seam. After every
 * command the two must agree on the outcome (ok, or which error) and on the state, and every domain
 * invariant must hold.
 *
 * Commands do not see the model when they are generated (fast-check #250): each draws indices, and
 * `run` resolves them against the model, so commands the model says must fail are generated too (an
 * unknown VM or host, a wrong power state, a full host, a round out of order).
 */
import { Either, HashMap } from "effect"
import fc from "fast-check"
import type { PoolCommand } from "../domain/commands.js"
import { decide } from "../domain/decide.js"
import { hostId, poolId } from "../domain/ids.js"
import { checkInvariants } from "../domain/invariants.js"
import type { PoolState } from "../domain/state.js"
import { transferFactory } from "../engine/migration/index.js"
import { Simulation } from "../engine/simulation.js"
import type { Seams } from "./engineRun.js"
import { PoolModel, type Outcome } from "./model.js"
import { hostSetupArb, plan, resetMigrationIds, stepDrawArb, type HostSetup, type StepDraw } from "./modelCommands.js"
import {
  PropertyViolation,
  runnerParameters,
  type NamedProperty,
  type PropertyOptions,
  type PropertyResult
} from "./property.js"

export { hostSetupArb, stepDrawArb, type HostSetup, type StepDraw } from "./modelCommands.js"

const PAGES_PER_MIB = 256

// --- the system under test ---------------------------------------------------------------------

export class PoolSystem {
  readonly sim: Simulation
  constructor(seams: Seams) {
    this.sim = new Simulation({
      seed: 1,
      pool: poolId("model"),
      policy: { name: "xen" },
      workloads: new Map(),
      limits: { eventsMax: 1_000_000, simulatedUsMax: 1_000_000_000 },
      transferFactory,
      debug: true,
      decide: seams.decide ? seams.decide(decide) : decide
    })
  }
  /** "ok" or the error's tag; an engine defect (a broken invariant in debug mode) throws. */
  submit(command: PoolCommand): Outcome {
    const result = this.sim.submit(command)
    return Either.isRight(result) ? "ok" : result.left._tag
  }
}

// --- agreement ---------------------------------------------------------------------------------

/** The state as the model sees it, and the same view of the system's state. */
const modelView = (model: PoolModel) => ({
  hosts: model
    .hostList()
    .map((h) => [
      h.id,
      h.enabled,
      h.live,
      h.nextDomid,
      model.usedPages(h.id),
      model.reservedPages(h.id),
      model.admittedPages(h.id)
    ]),
  vms: model
    .vmList()
    .map((v) => [
      v.id,
      v.power,
      v.residentOn ?? null,
      v.scheduledOn ?? null,
      v.domid,
      v.migration ?? null,
      v.target,
      v.guest
    ]),
  migrations: model
    .migrationList()
    .map((m) => [m.id, m.vm, m.source, m.destination, m.phase, m.rounds, m.reservedPages])
})

const sorted = <T extends { readonly id: string }>(values: Iterable<T>): T[] =>
  [...values].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))

const systemView = (state: PoolState) => ({
  hosts: sorted(HashMap.values(state.hosts)).map((h) => [
    h.id,
    h.enabled,
    h.live,
    h.nextDomid,
    h.residentPages,
    h.reservedPages,
    h.placementPages
  ]),
  vms: sorted(HashMap.values(state.vms)).map((v) => [
    v.id,
    v.powerState,
    v.residentOn ?? null,
    v.scheduledToBeResidentOn ?? null,
    v.domid,
    v.migration ?? null,
    v.memory.targetPages,
    v.populatedPages
  ]),
  migrations: sorted(HashMap.values(state.migrations)).map((m) => [
    m.id,
    m.vm,
    m.source,
    m.destination,
    m.phase,
    m.rounds,
    m.reservedPages
  ])
})

const disagreement = (model: PoolModel, state: PoolState): string | undefined => {
  const expected = modelView(model)
  const actual = systemView(state)
  for (const part of ["hosts", "vms", "migrations"] as const) {
    const e = expected[part].map((row) => JSON.stringify(row))
    const a = actual[part].map((row) => JSON.stringify(row))
    for (let i = 0; i < Math.max(e.length, a.length); i++) {
      if (e[i] !== a[i]) return `${part} differ: model ${e[i] ?? "(none)"}, system ${a[i] ?? "(none)"}`
    }
  }
  for (const vm of HashMap.values(state.vms)) {
    if (vm.pagedOutPages !== 0) return `VM ${vm.id}: ${vm.pagedOutPages} pages paged out, though no command pages any`
    if ((vm.currentOperation === "pool_migrate") !== (vm.migration !== undefined))
      return `VM ${vm.id}: operation ${vm.currentOperation}, migration ${vm.migration}`
  }
  return undefined
}

export class Step implements fc.Command<PoolModel, PoolSystem> {
  private text: string | undefined
  constructor(readonly draw: StepDraw) {}
  check(): boolean {
    return true
  }
  run(model: PoolModel, system: PoolSystem): void {
    const planned = plan(model, this.draw)
    this.text = planned.text
    const expected = planned.apply()
    const actual = system.submit(planned.command)
    if (expected !== actual)
      throw new PropertyViolation(`${planned.text}: the model says ${expected}, the pool says ${actual}`)
    const differs = disagreement(model, system.sim.state)
    if (differs) throw new PropertyViolation(`after ${planned.text}: ${differs}`)
    const broken = checkInvariants(system.sim.state)[0]
    if (broken) throw new PropertyViolation(`after ${planned.text}: invariant ${broken.invariant}: ${broken.detail}`)
  }
  toString(): string {
    return this.text ?? this.draw.kind
  }
}

/** A fresh model and system with the pool created and the hosts joined. */
export const setupPool = (hosts: ReadonlyArray<HostSetup>, seams: Seams) => () => {
  resetMigrationIds()
  const model = new PoolModel()
  const real = new PoolSystem(seams)
  real.submit({ _tag: "CreatePool", atUs: 0, pool: poolId("model"), pageSizeBytes: 4096, linkLatencyUs: 0 })
  hosts.forEach((h, i) => {
    const id = `h${i + 1}`
    const command: PoolCommand = {
      _tag: "JoinHost",
      atUs: 0,
      host: hostId(id),
      memoryTotalPages: h.memoryMiB * PAGES_PER_MIB,
      memoryOverheadPages: h.overheadMiB * PAGES_PER_MIB,
      nicBandwidthBytesPerS: 125_000_000,
      cpus: 16
    }
    real.submit(command)
    model.hosts.set(id, {
      id,
      totalPages: h.memoryMiB * PAGES_PER_MIB,
      overheadPages: h.overheadMiB * PAGES_PER_MIB,
      enabled: true,
      live: true,
      nextDomid: 1
    })
  })
  return { model, real }
}

const MODEL_COMMANDS_MAX = 50

/** `path` for this property is fast-check's path and the commands' replay path, joined by `|`. */
const splitPath = (path: string | undefined) => {
  if (path === undefined) return { fcPath: undefined, replayPath: undefined }
  const [fcPath, replayPath] = path.split("|")
  return { fcPath, replayPath }
}

const messageOf = (error: unknown) =>
  error instanceof PropertyViolation
    ? error.message
    : error instanceof Error
      ? `${error.name}: ${error.message}`
      : String(error)

export const poolModel: NamedProperty = {
  name: "pool-model",
  statement:
    "after every command of a generated sequence (lifecycle, host faults, migration steps), the pool and a simple reference model agree on the outcome and the state, and every domain invariant holds",
  run: (options: PropertyOptions): PropertyResult => {
    const { fcPath, replayPath } = splitPath(options.path)
    const seams = options.seams ?? {}
    const commands = fc.commands([stepDrawArb.map((d) => new Step(d))], {
      maxCommands: MODEL_COMMANDS_MAX,
      // Sequences of 0-50 commands, about 24 on average (the default size gives about 5).
      size: "medium",
      ...(replayPath ? { replayPath } : {})
    })
    const property = fc.property(hostSetupArb, commands, (hosts, cmds) => {
      options.onRun?.()
      fc.modelRun(setupPool(hosts, seams), cmds)
    })
    const details = fc.check(
      property,
      runnerParameters<[ReadonlyArray<HostSetup>, Iterable<fc.Command<PoolModel, PoolSystem>>]>(options, fcPath)
    )
    if (!details.failed) return { name: "pool-model", runs: details.numRuns, ok: true, seed: options.seed }
    const [hosts, cmds] = details.counterexample!
    const shown = String(cmds)
    const replay = /replayPath="([^"]*)"/.exec(shown)?.[1]
    const steps = shown.replace(/\s*\/\*.*\*\/\s*$/, "").split(",")
    return {
      name: "pool-model",
      runs: details.numRuns,
      ok: false,
      seed: options.seed,
      ...(details.counterexamplePath === null
        ? {}
        : { path: replay ? `${details.counterexamplePath}|${replay}` : details.counterexamplePath }),
      counterexample: [
        messageOf(details.errorInstance),
        `hosts: ${hosts.map((h, i) => `h${i + 1} (${h.memoryMiB} MiB, overhead ${h.overheadMiB} MiB)`).join("; ")}`,
        "commands:",
        ...steps.map((s, i) => `  ${i + 1}. ${s}`)
      ].join("\n")
    }
  }
}
