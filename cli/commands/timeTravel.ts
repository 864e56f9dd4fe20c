/**
 * Time travel on the command line (DESIGN.md §7):
 * - `xenpool at WHEN --pool ID [--vm ID | --host ID]`: the pool (or one VM, or one host) as of WHEN;
 * - `xenpool history --pool ID (--vm ID | --host ID)`: a VM's placements and migrations, a host's memory over time;
 * - `xenpool diff --pool ID FROM TO`: what changed between two points.
 * WHEN, FROM and TO are a simulated time with a unit (`12.5s`, `800ms`, `42us`) or `@REVISION`.
 */
import { Args, Command, Options } from "@effect/cli"
import { Effect, Either, Layer, Option } from "effect"
import type { PoolId, VmId } from "../../domain/ids.js"
import { getHost, getVm, hostList, vmList, type PoolState } from "../../domain/state.js"
import { formatDurationUs, formatUnitError, parseDurationUs } from "../../domain/units.js"
import { diff } from "../../projections/diff.js"
import { hostHistory, streamVmHistory } from "../../projections/history.js"
import { SnapshotSettings } from "../../projections/snapshots.js"
import { stateAt, type TimeTravelTarget } from "../../projections/timeTravel.js"
import { layerFromUrl } from "../../store/url.js"
import { CliFailure, UsageFailure } from "../errors.js"
import { checkedId } from "../poolId.js"
import { printLine, writeStdout } from "../output.js"
import { jsonOption, poolOption, printJson, storeOption, storeUrlOf } from "../shared.js"
import {
  atJson,
  diffJson,
  formatAt,
  formatDiff,
  formatHostHistory,
  hostHistoryJson,
  pageSizeOf,
  VmHistoryPrinter,
  type Focus
} from "../timeTravelOutput.js"
import { requirePool } from "./pools.js"

const WHEN_EXPECTED = "a simulated time with a unit (12.5s, 800ms, 42us) or @REVISION (e.g. @120)"

/** `12.5s`, `800ms`, `42us` or `@REVISION`, as a time-travel target. */
export const parseWhen = (text: string): Either.Either<TimeTravelTarget, UsageFailure> => {
  const input = text.trim()
  if (input.startsWith("@")) {
    const digits = input.slice(1)
    const revision = Number(digits)
    return /^[0-9]+$/.test(digits) && Number.isSafeInteger(revision)
      ? Either.right({ revision })
      : Either.left(
          new UsageFailure({ what: "bad revision", where: text, expected: "@ and a revision >= 0, e.g. @120" })
        )
  }
  if (input.startsWith("-"))
    return Either.left(
      new UsageFailure({
        what: "bad time",
        where: text,
        expected: `${WHEN_EXPECTED}, not negative: simulated time counts from the pool's start`
      })
    )
  return Either.mapBoth(parseDurationUs(input), {
    onLeft: (error) =>
      new UsageFailure({ what: "bad time", where: text, expected: `${WHEN_EXPECTED}; ${formatUnitError(error)}` }),
    onRight: (atUs) => ({ atUs })
  })
}

/** How a target reads in a headline: `12.500 s` or `@120`. */
export const describeTarget = (target: TimeTravelTarget): string =>
  "revision" in target ? `@${target.revision}` : formatDurationUs(target.atUs)

export const snapshotEveryEnvVar = "XENPOOL_SNAPSHOT_EVERY"

/**
 * The snapshot cadence: `XENPOOL_SNAPSHOT_EVERY` (events between snapshots) if set, else the default.
 * A bad value is a one-line error rather than a silent default.
 */
export const snapshotSettingsLayer = (env: NodeJS.ProcessEnv = process.env) => {
  const text = env[snapshotEveryEnvVar]
  if (text === undefined || text === "") return Layer.empty
  const everyEvents = Number(text)
  return /^[0-9]+$/.test(text) && Number.isSafeInteger(everyEvents) && everyEvents >= 1
    ? Layer.succeed(SnapshotSettings, { everyEvents })
    : Layer.fail(
        new CliFailure({ what: `bad ${snapshotEveryEnvVar}`, where: text, expected: "a number of events >= 1" })
      )
}

/** The store the options name, with its snapshots, at the configured cadence. */
export const timeTravelLayer = (store: Option.Option<string>) =>
  Layer.merge(layerFromUrl(storeUrlOf(store)), snapshotSettingsLayer())

const parseTarget = (text: string) => Either.match(parseWhen(text), { onLeft: Effect.fail, onRight: Effect.succeed })

const some = (ids: ReadonlyArray<string>): string =>
  ids.length === 0
    ? "it has none"
    : `known: ${ids.slice(0, 12).join(", ")}${ids.length > 12 ? ` … (${ids.length})` : ""}`

const unknown = (what: "VM" | "host", id: string, pool: PoolId, known: ReadonlyArray<string>) =>
  new CliFailure({
    what: `unknown ${what}`,
    where: `${id} in pool ${pool}`,
    expected: `a ${what} of the pool; ${some(known)}`
  })

/** The focus the options ask for; both --vm and --host is an error. */
const focusOf = (vm: Option.Option<string>, host: Option.Option<string>): Effect.Effect<Focus, UsageFailure> => {
  if (Option.isSome(vm) && Option.isSome(host))
    return Effect.fail(
      new UsageFailure({
        what: "--vm and --host together",
        where: "the command line",
        expected: "one of them, or neither"
      })
    )
  if (Option.isSome(vm)) return Effect.map(checkedId("VM", vm.value, "--vm"), (id) => ({ _tag: "vm", vm: id }) as const)
  if (Option.isSome(host))
    return Effect.map(checkedId("host", host.value, "--host"), (id) => ({ _tag: "host", host: id }) as const)
  return Effect.succeed({ _tag: "pool" })
}

/** A VM or host named by the focus must be in the pool then or now (its latest state). */
const requireFocus = (pool: PoolId, focus: Focus, then: Parameters<typeof getVm>[0]) =>
  Effect.gen(function* () {
    if (focus._tag === "pool") return
    const now = (yield* stateAt(pool, { revision: Number.MAX_SAFE_INTEGER }, { catchUp: false })).state
    if (focus._tag === "vm" && getVm(then, focus.vm) === undefined && getVm(now, focus.vm) === undefined)
      return yield* unknown(
        "VM",
        focus.vm,
        pool,
        vmList(now).map((v) => v.id)
      )
    if (focus._tag === "host" && getHost(then, focus.host) === undefined && getHost(now, focus.host) === undefined)
      return yield* unknown(
        "host",
        focus.host,
        pool,
        hostList(now).map((h) => h.id)
      )
  })

const vmOption = Options.text("vm").pipe(Options.withDescription("a VM id"), Options.optional)
const hostOption = Options.text("host").pipe(Options.withDescription("a host id"), Options.optional)

export const atCommand = Command.make(
  "at",
  {
    when: Args.text({ name: "WHEN" }).pipe(Args.withDescription("a simulated time (12.5s, 800ms, 42us) or @REVISION")),
    pool: poolOption,
    vm: vmOption,
    host: hostOption,
    store: storeOption,
    json: jsonOption
  },
  ({ when, pool, vm, host, store, json }) =>
    Effect.gen(function* () {
      // usage errors first, before the store is opened
      const target = yield* parseTarget(when)
      const focus = yield* focusOf(vm, host)
      const id = pool as PoolId
      yield* Effect.gen(function* () {
        yield* requirePool(id)
        const answer = yield* stateAt(id, target)
        yield* requireFocus(id, focus, answer.state)
        if (json) return yield* printJson(atJson(answer, focus))
        yield* printLine(formatAt(answer, describeTarget(target), focus))
      }).pipe(Effect.provide(timeTravelLayer(store)))
    })
).pipe(
  Command.withDescription(
    "time travel: the pool (or a VM, or a host) as of WHEN, a simulated time (12.5s) or @REVISION"
  )
)

/**
 * `history --vm`, printed as the log is read (a VM's history may be longer than memory): nothing is
 * printed for a VM the log never names, which is an error. Stops quietly if stdout's reader goes away.
 */
const printVmHistory = (pool: PoolId, vm: VmId, json: boolean, now: PoolState) =>
  Effect.gen(function* () {
    const printer = new VmHistoryPrinter(json, pool, vm, now)
    let started = false
    const end = yield* streamVmHistory(pool, vm, (changes, lastRevision) => {
      const text = `${started ? "" : printer.head(lastRevision)}${printer.changes(changes)}`
      started = true
      return writeStdout(text)
    })
    if (end.changes === 0)
      return yield* unknown(
        "VM",
        vm,
        pool,
        vmList(now).map((v) => v.id)
      )
    if (!end.stopped) yield* writeStdout(printer.end(end.changes, end.migrations))
  })

export const historyCommand = Command.make(
  "history",
  { pool: poolOption, vm: vmOption, host: hostOption, store: storeOption, json: jsonOption },
  ({ pool, vm, host, store, json }) =>
    Effect.gen(function* () {
      const focus = yield* focusOf(vm, host)
      const id = pool as PoolId
      yield* requirePool(id)
      if (focus._tag === "pool")
        return yield* new UsageFailure({
          what: "history of what",
          where: "the command line",
          expected: "--vm ID or --host ID"
        })
      const now = (yield* stateAt(id, { revision: Number.MAX_SAFE_INTEGER })).state
      if (focus._tag === "vm") return yield* printVmHistory(id, focus.vm, json, now)
      const history = yield* hostHistory(id, focus.host)
      if (history.points.length === 0)
        return yield* unknown(
          "host",
          focus.host,
          id,
          hostList(now).map((h) => h.id)
        )
      return yield* json ? printJson(hostHistoryJson(history)) : printLine(formatHostHistory(history, pageSizeOf(now)))
    }).pipe(Effect.provide(timeTravelLayer(store)))
).pipe(Command.withDescription("a VM's placements, power changes and migrations, or a host's memory and VMs over time"))

export const diffCommand = Command.make(
  "diff",
  {
    from: Args.text({ name: "FROM" }).pipe(Args.withDescription("a simulated time (12.5s) or @REVISION")),
    to: Args.text({ name: "TO" }).pipe(Args.withDescription("a simulated time (12.5s) or @REVISION")),
    pool: poolOption,
    store: storeOption,
    json: jsonOption
  },
  ({ from, to, pool, store, json }) =>
    Effect.gen(function* () {
      // usage errors first, before the store is opened
      const fromTarget = yield* parseTarget(from)
      const toTarget = yield* parseTarget(to)
      const id = pool as PoolId
      yield* Effect.gen(function* () {
        yield* requirePool(id)
        const result = yield* diff(id, fromTarget, toTarget)
        if (json) return yield* printJson(diffJson(result))
        yield* printLine(formatDiff(result, describeTarget(fromTarget), describeTarget(toTarget)))
      }).pipe(Effect.provide(timeTravelLayer(store)))
    })
).pipe(
  Command.withDescription(
    "what changed in a pool between FROM and TO: VMs moved, started, stopped; hosts' memory and state"
  )
)
