/**
 * `xenpool`: an event-sourced, deterministic simulator of a Xen resource pool with live migration, as
 * plain async functions. Every operation returns a Promise of plain objects; a failure rejects it with an
 * `Error` whose `_tag` names its kind (`XenpoolError`, `StoreError`, `WrongExpectedVersion`, …) and whose
 * `message` is one line. Programs written with Effect can use `xenpool/effect` instead.
 *
 * @example
 * import { openStore, simulate, scenarioPath, stateAt } from "xenpool"
 *
 * const store = await openStore("memory:")
 * const run = await simulate(scenarioPath("rolling-maintenance"), { store })
 * const then = await stateAt(store, run.pool, "3m10s", { vm: "db-1" })
 * console.log(then.vms[0]?.residentOn) // "h3"
 * await store.close()
 *
 * @module
 */
import { Cause, Effect, Exit, ManagedRuntime } from "effect"
import type { PoolId } from "../domain/ids.js"
import type { RecordedEvent } from "../store/EventStore.js"
import * as Api from "./effect.js"
import { eventsPage, requirePool } from "./pools.js"
import { storeLayer, type Store as StoreServices, type StoreOptions } from "./store.js"

export * from "./common.js"

/** What every operation takes besides its own options: a way to stop it. */
export interface Cancellable {
  /** Aborting it interrupts the operation at its next slice boundary; a run then writes nothing. */
  readonly signal?: AbortSignal
}

/**
 * Runs an Effect to a Promise that rejects with the failure itself (a tagged `Error`), not a wrapper;
 * cancelled by its signal, with the signal's reason (an `AbortError`), as Node's own APIs do.
 */
const settle = async <A, E>(exit: Promise<Exit.Exit<A, E>>, signal: AbortSignal | undefined): Promise<A> => {
  const result = await exit
  if (Exit.isSuccess(result)) return result.value
  if (signal?.aborted === true && Cause.isInterruptedOnly(result.cause)) throw signal.reason
  throw Cause.squash(result.cause)
}

/**
 * An open event store (with its snapshot store): where runs are written and time travel reads. Open one
 * with `openStore`, close it when done.
 */
export interface Store {
  /** The URL it was opened with (its password, if any, is never printed by xenpool). */
  readonly url: string
  /** Closes the store's connection or file. */
  readonly close: () => Promise<void>
  /** @internal Runs an operation against this store. */
  readonly run: <A, E>(effect: Effect.Effect<A, E, StoreServices>, options?: Cancellable) => Promise<A>
}

/**
 * Opens the store a URL names: `sqlite:PATH` (created if missing), `memory:`, or a KurrentDB connection
 * string such as `kurrentdb://localhost:2113?tls=false`. Rejects with a StoreError on a bad URL or a
 * file that is not a xenpool store.
 *
 * @example
 * const store = await openStore("sqlite:pools.db")
 */
export const openStore = async (url = "sqlite:xenpool.db", options: StoreOptions = {}): Promise<Store> => {
  const runtime = ManagedRuntime.make(storeLayer(url, options))
  try {
    await runtime.runtime()
  } catch (error) {
    await runtime.dispose()
    throw Cause.isCause(error) ? Cause.squash(error) : unwrapFiberFailure(error)
  }
  return {
    url,
    close: () => runtime.dispose(),
    run: (effect, cancel = {}) =>
      settle(runtime.runPromiseExit(effect, cancel.signal ? { signal: cancel.signal } : {}), cancel.signal)
  }
}

/** ManagedRuntime rejects with a FiberFailure; its cause holds the layer's own error. */
const unwrapFiberFailure = (error: unknown): unknown => {
  const cause = (error as { [key: symbol]: unknown })[Symbol.for("effect/Runtime/FiberFailure/Cause")]
  return Cause.isCause(cause) ? Cause.squash(cause) : error
}

/** Options of `simulate` and `replay`: the store to write the new pool to, and the run's own. */
export interface WriteOptions extends Api.RunOptions, Cancellable {
  readonly store: Store
}

/**
 * Runs a scenario (a JSON file's path, or the scenario as a value with unit strings such as `"4GiB"`) on
 * the engine and writes its events to the store as a new pool, whole or not at all.
 *
 * @example
 * const run = await simulate(scenarioPath("write-heavy"), { store, seed: 7 })
 * for (const m of run.migrations) console.log(m.id, m.rounds, m.downtimeUs)
 */
export const simulate = (scenario: string | Api.ScenarioInput, options: WriteOptions): Promise<Api.RunOutput> =>
  options.store.run(Api.simulate(scenario, options), options)

/**
 * Replays a trace file (JSON Lines) into the store as a new pool; a bad line rejects with a
 * XenpoolError naming file, line and field, and nothing is written.
 *
 * @example
 * const run = await replay("nightly.trace.jsonl", { store })
 */
export const replay = (trace: string, options: WriteOptions & Api.ReplayOptions): Promise<Api.ReplayOutput> =>
  options.store.run(Api.replay(trace, options), options)

/**
 * The pools in the store, with their event counts and how each was made (seed, xenpool version, input and
 * its sha256; for a branch its parent and revision).
 *
 * @example
 * for (const p of await listPools(store)) console.log(p.id, p.provenance.seed, p.provenance.parent?.pool)
 */
export const listPools = (store: Store): Promise<ReadonlyArray<Api.PoolListing>> => store.run(Api.listPools)

/**
 * The pool as of a moment (`"3m10s"`, `"@107"`, `{ atUs }`, `{ revision }`), or one VM or host of it.
 *
 * @example
 * const then = await stateAt(store, "rolling-1", "3m10s")
 * then.hosts.map((h) => `${h.id}: ${h.vms.join(", ")}`)
 */
export const stateAt = (store: Store, pool: string, when: Api.When, focus?: Api.FocusInput): Promise<Api.PoolAt> =>
  store.run(Api.stateAt(pool, when, focus))

/**
 * A VM's placements, power changes and migrations, or a host's memory and VMs over time.
 *
 * @example
 * const vm = await history(store, "rolling-1", { vm: "db-1" })
 * const host = await history(store, "rolling-1", { host: "h2" })
 */
export function history(store: Store, pool: string, of: { readonly vm: string }): Promise<Api.VmHistoryJson>
export function history(store: Store, pool: string, of: { readonly host: string }): Promise<Api.HostHistoryJson>
export function history(
  store: Store,
  pool: string,
  of: { readonly vm: string } | { readonly host: string }
): Promise<Api.VmHistoryJson | Api.HostHistoryJson> {
  return "vm" in of ? store.run(Api.history(pool, of)) : store.run(Api.history(pool, of))
}

/**
 * What changed in a pool between two moments; with `{ against }`, between the pool at `from` and another
 * pool at `to` (a branch against its parent).
 *
 * @example
 * const d = await diff(store, "rolling-1", "1min", "3m10s")
 * d.vmsMoved.length
 * const whatIf = await diff(store, "rolling-1", "6min", "6min", { against: "what-if" })
 */
export const diff = (
  store: Store,
  pool: string,
  from: Api.When,
  to: Api.When,
  options: Api.DiffOptions = {}
): Promise<Api.PoolChanges> => store.run(Api.diff(pool, from, to, options))

/**
 * A branch of a pool's history: a new pool `as` sharing `pool`'s events up to `at` (a time such as
 * `"3m10s"`, or `"@107"`), stored as one event that refers to them. Rejects with a XenpoolError for an
 * unknown pool, an `as` already taken or a moment past the pool's end; nothing is written then.
 *
 * @example
 * const branch = await fork(store, "rolling-1", "3m10s", "what-if")
 * const then = await stateAt(store, "what-if", "3m10s") // as rolling-1 was then
 */
export const fork = (store: Store, pool: string, at: Api.When, as: string): Promise<Api.ForkOutput> =>
  store.run(Api.fork(pool, at, as))

/**
 * Operations applied to a pool at its end (a branch's end is its fork point): the engine is rebuilt from
 * the pool's log and runs on until quiescent or `until`; the operations and what they caused are appended
 * at once. An operation the pool refuses rejects with a XenpoolError whose `what` is XAPI's error code
 * (`VM_BAD_POWER_STATE`, `HOST_NOT_ENOUGH_FREE_MEMORY`, …); another writer appending to the pool
 * meanwhile rejects it too. Nothing is written then.
 *
 * @example
 * await fork(store, "rolling-1", "3m10s", "what-if")
 * const run = await continuePool(store, "what-if", [{ op: "evacuate", host: "h2" }])
 * const d = await diff(store, "rolling-1", "6min", "6min", { against: "what-if" })
 */
export const continuePool = (
  store: Store,
  pool: string,
  operations: ReadonlyArray<Api.Operation>,
  options: Api.ContinueOptions & Cancellable = {}
): Promise<Api.ContinueOutput> => store.run(Api.continuePool(pool, operations, options), options)

/**
 * A pool's recorded events in revision order, read from the store a page at a time: a history longer
 * than memory can be folded over with `for await`.
 *
 * @example
 * for await (const e of events(store, "rolling-1")) if (e.event._tag === "MigrationCommitted") n++
 */
export async function* events(
  store: Store,
  pool: string,
  options: Api.EventsOptions = {}
): AsyncIterable<RecordedEvent> {
  const last = await store.run(requirePool(pool))
  const to = Math.min(options.to ?? last, last)
  // Bounded: each page advances `from` past its last revision, up to `to`.
  for (let from = options.from ?? 0; from <= to;) {
    const page = await store.run(eventsPage(pool as PoolId, from, to))
    if (page.length === 0) return
    yield* page
    from = page[page.length - 1]!.revision + 1
  }
}

/**
 * A pool's history as trace text (JSON Lines), which `replay` turns back into the same events.
 *
 * @example
 * writeFileSync("rolling-1.trace.jsonl", await exportTrace(store, "rolling-1"))
 */
export const exportTrace = async (store: Store, pool: string, options: Api.ExportOptions = {}): Promise<string> => {
  const parts: string[] = []
  await store.run(Api.exportTrace(pool, (text) => Effect.sync(() => parts.push(text) > 0), options))
  return parts.join("")
}

/**
 * Models one live migration on a constant-bandwidth link, round by round (no store): sizes and rates as
 * unit strings or numbers, the policy a built-in's name or a `PolicyDefinition` of your own.
 *
 * @example
 * const run = await migrateModel({ memory: "4GiB", bandwidth: "1Gbit/s", dirtyRate: "50MiB/s", policy: "xen" })
 * for (const r of run.rounds) console.log(r.index, r.pagesSent, r.durationUs)
 */
export const migrateModel = (options: Api.MigrateModelOptions): Promise<Api.MigrationReport> =>
  settle(Effect.runPromiseExit(Api.migrateModel(options)), undefined)

/**
 * The published live-migration measurements shipped with xenpool, run through the model: each figure
 * beside the measurement with its error, and the median error per metric (docs/calibration.md).
 *
 * @example
 * const report = await calibrate()
 * console.log(report.summary.medianAbsErrorPct)
 */
export const calibrate = (): Promise<Api.CalibrationReport> => settle(Effect.runPromiseExit(Api.calibrate()), undefined)

/**
 * A consolidation scenario from the PlanetLab CPU trace at `file`: N VM columns picked with the seed,
 * CloudSim's VM types, CPU load as dirty rate (docs/planetlab.md). Its `text` is what `simulate` takes.
 *
 * @example
 * const { text } = await importPlanetlab("planetlab-20110303-cpu.csv", { vms: 50, hosts: 10 })
 * const run = await simulate(JSON.parse(text), { store })
 */
export const importPlanetlab = (
  file: string,
  options: Api.ImportPlanetlabOptions = {}
): Promise<Api.PlanetlabScenario> => settle(Effect.runPromiseExit(Api.importPlanetlab(file, options)), undefined)

/**
 * Runs the property suite, on this thread or with `workers` on that many worker threads (the same
 * report either way), and returns each property's verdict (a failing one with its seed, path and
 * shrunk counterexample). The signal stops a check on workers at once; on this thread, a check runs to
 * its end once started.
 *
 * @example
 * const report = await check({ runs: 100, seed: 42, workers: 2 })
 * if (report.properties.some((p) => !p.ok)) process.exitCode = 1
 */
export const check = (options: Api.CheckOptions & Cancellable = {}): Promise<Api.CheckReport> =>
  settle(Effect.runPromiseExit(Api.check(options), options.signal ? { signal: options.signal } : {}), options.signal)
