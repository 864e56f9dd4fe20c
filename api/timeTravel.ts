/**
 * Time travel over a pool's history (docs/time-travel.md): the pool as of any moment, a VM's or a host's
 * history, what changed between two moments. Answers are plain JSON-shaped objects (ids and absent values
 * as null, so that every key is always there), the same documents `xenpool at|history|diff --json` print.
 */
import { Effect, Either } from "effect"
import type { HostId, PoolId, VmId } from "../domain/ids.js"
import {
  getHost,
  getVm,
  hostList,
  migrationList,
  vmList,
  type Migration,
  type PoolState,
  type Vm
} from "../domain/state.js"
import { DEFAULT_PAGE_SIZE_BYTES, formatDurationUs, formatUnitError, parseDurationUs } from "../domain/units.js"
import { diff as diffProjection, type PoolDiff } from "../projections/diff.js"
import { hostHistory, vmHistory, type HostHistory, type VmChange, type VmHistory } from "../projections/history.js"
import { hostSummaries, type HostSummary } from "../projections/summary.js"
import { stateAt as stateAtProjection, type StateAt, type TimeTravelTarget } from "../projections/timeTravel.js"
import { XenpoolError } from "./errors.js"
import { requirePool } from "./pools.js"

export type { TimeTravelTarget } from "../projections/timeTravel.js"

/**
 * A moment of a pool's history: a simulated time with a unit (`"3m10s"`, `"12.5s"`, `"800ms"`), a
 * revision (`"@107"`), or the same as a value (`{ atUs: 190_000_000 }`, `{ revision: 107 }`).
 */
export type When = string | TimeTravelTarget

const WHEN_EXPECTED = "a simulated time with a unit (12.5s, 800ms, 42us) or @REVISION (e.g. @120)"

/** `12.5s`, `800ms`, `42us` or `@REVISION`, as a time-travel target. */
export const parseWhen = (text: string): Either.Either<TimeTravelTarget, XenpoolError> => {
  const input = text.trim()
  if (input.startsWith("@")) {
    const digits = input.slice(1)
    const revision = Number(digits)
    return /^[0-9]+$/.test(digits) && Number.isSafeInteger(revision)
      ? Either.right({ revision })
      : Either.left(
          new XenpoolError({ what: "bad revision", where: text, expected: "@ and a revision >= 0, e.g. @120" })
        )
  }
  if (input.startsWith("-"))
    return Either.left(
      new XenpoolError({
        what: "bad time",
        where: text,
        expected: `${WHEN_EXPECTED}, not negative: simulated time counts from the pool's start`
      })
    )
  return Either.mapBoth(parseDurationUs(input), {
    onLeft: (error) =>
      new XenpoolError({ what: "bad time", where: text, expected: `${WHEN_EXPECTED}; ${formatUnitError(error)}` }),
    onRight: (atUs) => ({ atUs })
  })
}

/** How a target reads in a headline: `12.500 s` or `@120`. */
export const describeTarget = (target: TimeTravelTarget): string =>
  "revision" in target ? `@${target.revision}` : formatDurationUs(target.atUs)

/** @internal A moment as the API takes it, checked. */
export const targetOf = (when: When): Effect.Effect<TimeTravelTarget, XenpoolError> =>
  typeof when === "string"
    ? Either.match(parseWhen(when), { onLeft: Effect.fail, onRight: Effect.succeed })
    : "revision" in when
      ? Number.isSafeInteger(when.revision) && when.revision >= 0
        ? Effect.succeed(when)
        : Effect.fail(
            new XenpoolError({ what: "bad revision", where: String(when.revision), expected: "an integer >= 0" })
          )
      : Number.isSafeInteger(when.atUs) && when.atUs >= 0
        ? Effect.succeed(when)
        : Effect.fail(
            new XenpoolError({ what: "bad time", where: `${when.atUs}us`, expected: "an integer number of µs >= 0" })
          )

/** Which part of the pool an answer shows: all of it, one VM (and its hosts), one host (and its VMs). */
export type Focus =
  | { readonly _tag: "pool" }
  | { readonly _tag: "vm"; readonly vm: VmId }
  | { readonly _tag: "host"; readonly host: HostId }

/** A focus as the API takes it: nothing (the pool), `{ vm }` or `{ host }`. */
export type FocusInput = { readonly vm?: string; readonly host?: string }

const focusOf = (input: FocusInput | undefined): Effect.Effect<Focus, XenpoolError> => {
  if (input?.vm !== undefined && input.host !== undefined)
    return Effect.fail(
      new XenpoolError({ what: "vm and host together", where: "focus", expected: "one of them, or neither" })
    )
  if (input?.vm !== undefined) return Effect.succeed({ _tag: "vm", vm: input.vm as VmId })
  if (input?.host !== undefined) return Effect.succeed({ _tag: "host", host: input.host as HostId })
  return Effect.succeed({ _tag: "pool" })
}

const orNull = <A>(value: A | undefined): A | null => (value === undefined ? null : value)

const vmJson = (vm: Vm) => ({
  id: vm.id,
  powerState: vm.powerState,
  residentOn: orNull(vm.residentOn),
  scheduledToBeResidentOn: orNull(vm.scheduledToBeResidentOn),
  domid: vm.domid,
  vcpus: vm.vcpus,
  memoryStaticMinPages: vm.memory.staticMinPages,
  memoryDynamicMinPages: vm.memory.dynamicMinPages,
  memoryTargetPages: vm.memory.targetPages,
  memoryDynamicMaxPages: vm.memory.dynamicMaxPages,
  memoryStaticMaxPages: vm.memory.staticMaxPages,
  memoryOverheadPages: vm.overheadPages,
  populatedPages: vm.populatedPages,
  pagedOutPages: vm.pagedOutPages,
  currentOperation: orNull(vm.currentOperation),
  migration: orNull(vm.migration),
  // HA fields only for a VM that has some (docs/ha.md): documents of pools without HA are as before
  ...(vm.ha === undefined
    ? {}
    : { ha: { restartPriority: vm.ha.restartPriority ?? "", order: vm.ha.order, alwaysRun: vm.ha.alwaysRun } })
})

const migrationJson = (m: Migration) => ({
  id: m.id,
  vm: m.vm,
  source: m.source,
  destination: m.destination,
  policy: m.policy,
  phase: m.phase,
  rounds: m.rounds,
  reservedPages: m.reservedPages,
  pagesSent: m.pagesSent,
  bytesSent: m.bytesSent,
  startedAtUs: m.startedAtUs,
  stopAndCopyAtUs: orNull(m.stopAndCopyAtUs)
})

export interface AtView {
  readonly hosts: ReadonlyArray<HostSummary>
  readonly vms: ReadonlyArray<Vm>
  readonly migrations: ReadonlyArray<Migration>
}

/** The hosts, VMs and migrations the focus selects, in id order. */
export const viewOf = (state: PoolState, focus: Focus): AtView => {
  const hosts = hostSummaries(state)
  const vms = vmList(state)
  const migrations = migrationList(state)
  switch (focus._tag) {
    case "pool":
      return { hosts, vms, migrations }
    case "vm": {
      const vm = vms.filter((v) => v.id === focus.vm)
      const on = new Set(vm.flatMap((v) => [v.residentOn, v.scheduledToBeResidentOn]))
      return {
        hosts: hosts.filter((h) => on.has(h.id as HostId)),
        vms: vm,
        migrations: migrations.filter((m) => m.vm === focus.vm)
      }
    }
    case "host": {
      const touches = (v: Vm) => v.residentOn === focus.host || v.scheduledToBeResidentOn === focus.host
      return {
        hosts: hosts.filter((h) => h.id === focus.host),
        vms: vms.filter(touches),
        migrations: migrations.filter((m) => m.source === focus.host || m.destination === focus.host)
      }
    }
  }
}

export const boundNote = (answer: StateAt): string | null => {
  switch (answer.bound) {
    case "before-first":
      return "before the pool's first event: an empty pool"
    case "after-last":
      return `after the pool's last event (revision ${answer.lastRevision}): the latest state`
    case "within":
      return null
  }
}

/** `at --json`: `{ pool, revision, atUs, hosts, vms, migrations }` plus how the answer relates to the history. */
export const atJson = (answer: StateAt, focus: Focus) => {
  const view = viewOf(answer.state, focus)
  return {
    pool: answer.pool,
    revision: answer.revision,
    atUs: answer.atUs,
    bound: answer.bound,
    note: boundNote(answer),
    lastRevision: answer.lastRevision,
    /** The time of the last event folded in (null before the first). */
    lastEventAtUs: answer.revision < 0 ? null : answer.state.atUs,
    hosts: view.hosts,
    vms: view.vms.map(vmJson),
    migrations: view.migrations.map(migrationJson),
    // the pool's HA and master only once HA was ever on (docs/ha.md)
    ...(answer.state.pool?.ha === undefined
      ? {}
      : { master: orNull(answer.state.pool.master), ha: answer.state.pool.ha })
  }
}

const pointJson = (answer: StateAt) => ({
  pool: answer.pool,
  revision: answer.revision,
  atUs: answer.atUs,
  bound: answer.bound,
  note: boundNote(answer)
})

export const diffJson = (d: PoolDiff) => ({
  pool: d.pool,
  /** The other pool `to` was read from, or null when both points are of `pool`. */
  against: d.against === d.pool ? null : d.against,
  from: pointJson(d.from),
  to: pointJson(d.to),
  vmsMoved: d.vmsMoved,
  vmsStarted: d.vmsStarted,
  vmsStopped: d.vmsStopped.map((s) => ({ ...s, powerState: orNull(s.powerState) })),
  vmsCreated: d.vmsCreated,
  vmsDestroyed: d.vmsDestroyed,
  vmsPowerChanged: d.vmsPowerChanged,
  hostsChanged: d.hostsChanged.map((h) => ({ ...h, before: orNull(h.before), after: orNull(h.after) }))
})

/** @internal */
export const vmChangeJson = (c: VmChange) => ({
  ...c,
  powerState: orNull(c.powerState),
  residentOn: orNull(c.residentOn),
  host: orNull(c.host)
})

export const vmHistoryJson = (h: VmHistory) => ({
  pool: h.pool,
  vm: h.vm,
  lastRevision: h.lastRevision,
  changes: h.changes.map(vmChangeJson),
  migrations: h.migrations
})

const hostHistoryJson = (h: HostHistory, pageSizeBytes: number) => ({
  pool: h.pool,
  host: h.host,
  /** Memory below is counted in pages of this size. */
  pageSizeBytes,
  lastRevision: h.lastRevision,
  points: h.points.map((p) => ({ ...p, vm: orNull(p.vm) }))
})

/** The pool as of a moment, as `xenpool at --json` prints it. */
export type PoolAt = ReturnType<typeof atJson>
/** What changed between two moments, as `xenpool diff --json` prints it. */
export type PoolChanges = ReturnType<typeof diffJson>
/** A VM's history, as `xenpool history --vm --json` prints it. */
export type VmHistoryJson = ReturnType<typeof vmHistoryJson>
/** A host's history, as `xenpool history --host --json` prints it. */
export type HostHistoryJson = ReturnType<typeof hostHistoryJson>

const unknownIn = (what: "VM" | "host", id: string, pool: PoolId, known: ReadonlyArray<string>) =>
  new XenpoolError({
    what: `unknown ${what}`,
    where: `${id} in pool ${pool}`,
    expected: `a ${what} of the pool; ${
      known.length === 0
        ? "it has none"
        : `known: ${known.slice(0, 12).join(", ")}${known.length > 12 ? ` … (${known.length})` : ""}`
    }`
  })

/** @internal The VM or host a focus names must be in the pool then or now (its latest state). */
export const requireFocus = (pool: PoolId, focus: Focus, then: PoolState) =>
  Effect.gen(function* () {
    if (focus._tag === "pool") return
    const now = (yield* stateAtProjection(pool, { revision: Number.MAX_SAFE_INTEGER }, { catchUp: false })).state
    if (focus._tag === "vm" && getVm(then, focus.vm) === undefined && getVm(now, focus.vm) === undefined)
      return yield* unknownVm(pool, focus.vm, now)
    if (focus._tag === "host" && getHost(then, focus.host) === undefined && getHost(now, focus.host) === undefined)
      return yield* unknownHost(pool, focus.host, now)
  })

/** @internal */
export const unknownVm = (pool: PoolId, vm: string, now: PoolState) =>
  unknownIn(
    "VM",
    vm,
    pool,
    vmList(now).map((v) => v.id)
  )

/** @internal */
const unknownHost = (pool: PoolId, host: string, now: PoolState) =>
  unknownIn(
    "host",
    host,
    pool,
    hostList(now).map((h) => h.id)
  )

/** @internal The projection's answer (with the persistent state), for the CLI's tables. */
export const answerAt = (pool: string, when: When, focusInput?: FocusInput) =>
  Effect.gen(function* () {
    const target = yield* targetOf(when)
    const focus = yield* focusOf(focusInput)
    yield* requirePool(pool)
    const answer = yield* stateAtProjection(pool as PoolId, target)
    yield* requireFocus(pool as PoolId, focus, answer.state)
    return { answer, focus, target }
  })

/**
 * The pool (or one VM and its hosts, or one host and its VMs) as of a moment: hosts with their memory,
 * VMs with their power state and placement, migrations in flight. Answered from the nearest snapshot.
 *
 * @example
 * const then = yield* stateAt("rolling-1", "3m10s", { vm: "db-1" })
 * then.vms[0]?.residentOn // "h3"
 */
export const stateAt = (pool: string, when: When, focus?: FocusInput) =>
  Effect.map(answerAt(pool, when, focus), ({ answer, focus }) => atJson(answer, focus))

/**
 * A VM's placements, power changes and migrations (`{ vm }`), or a host's memory and VMs over time
 * (`{ host }`), over the pool's whole history.
 *
 * @example
 * const h = yield* history("rolling-1", { vm: "db-1" })
 * h.migrations.length
 */
export function history(
  pool: string,
  of: { readonly vm: string }
): Effect.Effect<VmHistoryJson, HistoryError, HistoryContext>
export function history(
  pool: string,
  of: { readonly host: string }
): Effect.Effect<HostHistoryJson, HistoryError, HistoryContext>
export function history(pool: string, of: { readonly vm: string } | { readonly host: string }) {
  return Effect.gen(function* () {
    yield* requirePool(pool)
    const id = pool as PoolId
    if ("vm" in of) {
      const h = yield* vmHistory(id, of.vm as VmId)
      if (h.changes.length === 0) {
        const now = (yield* stateAtProjection(id, { revision: Number.MAX_SAFE_INTEGER })).state
        return yield* unknownVm(id, of.vm, now)
      }
      return vmHistoryJson(h)
    }
    const h = yield* hostHistory(id, of.host as HostId)
    const now = (yield* stateAtProjection(id, { revision: Number.MAX_SAFE_INTEGER })).state
    if (h.points.length === 0) return yield* unknownHost(id, of.host, now)
    return hostHistoryJson(h, now.pool?.pageSizeBytes ?? DEFAULT_PAGE_SIZE_BYTES)
  })
}

type HistoryEffect = ReturnType<typeof vmHistory> | ReturnType<typeof hostHistory> | ReturnType<typeof requirePool>
type HistoryError =
  Effect.Effect.Error<HistoryEffect> | XenpoolError | Effect.Effect.Error<ReturnType<typeof stateAtProjection>>
type HistoryContext = Effect.Effect.Context<HistoryEffect> | Effect.Effect.Context<ReturnType<typeof stateAtProjection>>

/** Options of `diff`. */
export interface DiffOptions {
  /** Read `to` from this other pool: what differs between two pools (a branch and its parent, say). */
  readonly against?: string
}

/**
 * What changed in a pool between two moments: VMs moved, started, stopped, created, destroyed; hosts'
 * memory and state. With `{ against }`, from the pool at `from` to the other pool at `to`: what a branch
 * changed, say.
 *
 * @example
 * const d = yield* diff("rolling-1", "1min", "3m10s")
 * d.vmsMoved.map((m) => `${m.vm}: ${m.from} → ${m.to}`)
 * const whatIf = yield* diff("rolling-1", "6min", "6min", { against: "what-if" })
 */
export const diff = (pool: string, from: When, to: When, options: DiffOptions = {}) =>
  Effect.gen(function* () {
    const fromTarget = yield* targetOf(from)
    const toTarget = yield* targetOf(to)
    return diffJson(yield* diffAt(pool, fromTarget, toTarget, options))
  })

/** @internal The projection's diff, for the CLI's text. */
export const diffAt = (pool: string, from: TimeTravelTarget, to: TimeTravelTarget, options: DiffOptions = {}) =>
  Effect.gen(function* () {
    yield* requirePool(pool)
    if (options.against !== undefined) yield* requirePool(options.against)
    return yield* diffProjection(pool as PoolId, from, to, (options.against ?? pool) as PoolId)
  })
