/**
 * Time travel on the command line (DESIGN.md §7):
 * - `xenpool at WHEN --pool ID [--vm ID | --host ID]`: the pool (or one VM, or one host) as of WHEN;
 * - `xenpool history --pool ID (--vm ID | --host ID)`: a VM's placements and migrations, a host's memory over time;
 * - `xenpool diff --pool ID FROM TO`: what changed between two points; `--against OTHER [FROM [TO]]`: between
 *   the pool at FROM and another pool at TO (default FROM).
 * WHEN, FROM and TO are a simulated time with a unit (`12.5s`, `800ms`, `42us`) or `@REVISION`.
 */
import { Args, Command, Options } from "@effect/cli"
import { Effect, Either, Layer, Option } from "effect"
import type { PoolId, VmId } from "../../domain/ids.js"
import type { PoolState } from "../../domain/state.js"
import { streamVmHistory } from "../../projections/history.js"
import { stateAt as stateAtProjection } from "../../projections/timeTravel.js"
import { history } from "../../api/timeTravel.js"
import {
  answerAt,
  atJson,
  describeTarget,
  diffAt,
  diffJson,
  parseWhen as parseWhenApi,
  unknownVm,
  type Focus
} from "../../api/timeTravel.js"
import { requirePool } from "../../api/pools.js"
import { storeLayer } from "../../api/store.js"
import type { TimeTravelTarget } from "../../projections/timeTravel.js"
import { XenpoolError } from "../../api/errors.js"
import { UsageFailure } from "../errors.js"
import { checkedId, checkedPoolId } from "../poolId.js"
import { printLine, writeStdout } from "../output.js"
import { jsonOption, poolOption, printJson, storeOption, storeUrlOf } from "../shared.js"
import { formatAt, formatDiff, formatHostHistory, VmHistoryPrinter } from "../timeTravelOutput.js"

/** `12.5s`, `800ms`, `42us` or `@REVISION` on the command line: a bad one is a usage error (exit 2). */
export const parseWhen = (text: string): Either.Either<TimeTravelTarget, UsageFailure> =>
  Either.mapLeft(parseWhenApi(text), (e) => new UsageFailure({ what: e.what, where: e.where, expected: e.expected }))

const snapshotEveryEnvVar = "XENPOOL_SNAPSHOT_EVERY"

/**
 * The store the options name, with its snapshots at the cadence `XENPOOL_SNAPSHOT_EVERY` (events between
 * snapshots) sets, else the default. A bad value is a one-line error rather than a silent default.
 */
export const timeTravelLayer = (store: Option.Option<string>, env: NodeJS.ProcessEnv = process.env) => {
  const text = env[snapshotEveryEnvVar]
  if (text === undefined || text === "") return storeLayer(storeUrlOf(store))
  const everyEvents = Number(text)
  return /^[0-9]+$/.test(text) && Number.isSafeInteger(everyEvents) && everyEvents >= 1
    ? storeLayer(storeUrlOf(store), { snapshotEveryEvents: everyEvents })
    : Layer.fail(
        new XenpoolError({ what: `bad ${snapshotEveryEnvVar}`, where: text, expected: "a number of events >= 1" })
      )
}

const parseTarget = (text: string) => Either.match(parseWhen(text), { onLeft: Effect.fail, onRight: Effect.succeed })

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

const focusInput = (focus: Focus) =>
  focus._tag === "vm" ? { vm: focus.vm } : focus._tag === "host" ? { host: focus.host } : {}

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
      const id = yield* checkedPoolId(pool)
      yield* Effect.gen(function* () {
        const { answer } = yield* answerAt(id, target, focusInput(focus))
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
    if (end.changes === 0) return yield* unknownVm(pool, vm, now)
    if (!end.stopped) yield* writeStdout(printer.end(end.changes, end.migrations))
  })

export const historyCommand = Command.make(
  "history",
  { pool: poolOption, vm: vmOption, host: hostOption, store: storeOption, json: jsonOption },
  ({ pool, vm, host, store, json }) =>
    Effect.gen(function* () {
      const focus = yield* focusOf(vm, host)
      const id = yield* checkedPoolId(pool)
      yield* requirePool(id)
      if (focus._tag === "pool")
        return yield* new UsageFailure({
          what: "history of what",
          where: "the command line",
          expected: "--vm ID or --host ID"
        })
      if (focus._tag === "vm") {
        const now = (yield* stateAtProjection(id, { revision: Number.MAX_SAFE_INTEGER })).state
        return yield* printVmHistory(id, focus.vm, json, now)
      }
      const points = yield* history(id, { host: focus.host })
      return yield* json ? printJson(points) : printLine(formatHostHistory(points))
    }).pipe(Effect.provide(timeTravelLayer(store)))
).pipe(Command.withDescription("a VM's placements, power changes and migrations, or a host's memory and VMs over time"))

export const diffCommand = Command.make(
  "diff",
  {
    from: Args.text({ name: "FROM" }).pipe(Args.withDescription("a simulated time (12.5s) or @REVISION")),
    to: Args.text({ name: "TO" }).pipe(
      Args.withDescription("a simulated time (12.5s) or @REVISION (with --against, default: FROM)"),
      Args.optional
    ),
    pool: poolOption,
    against: Options.text("against").pipe(
      Options.withDescription("another pool to read TO from: what differs between --pool at FROM and it at TO"),
      Options.optional
    ),
    store: storeOption,
    json: jsonOption
  },
  ({ from, to, pool, against, store, json }) =>
    Effect.gen(function* () {
      // usage errors first, before the store is opened
      const fromTarget = yield* parseTarget(from)
      if (Option.isNone(to) && Option.isNone(against))
        return yield* new UsageFailure({
          what: "diff to what",
          where: "the command line",
          expected: "FROM and TO, or FROM (and TO) with --against POOL"
        })
      const toText = Option.getOrElse(to, () => from)
      const toTarget = yield* parseTarget(toText)
      const id = yield* checkedPoolId(pool)
      const other = Option.isSome(against) ? yield* checkedPoolId(against.value, "--against") : undefined
      yield* Effect.gen(function* () {
        const result = yield* diffAt(id, fromTarget, toTarget, other === undefined ? {} : { against: other })
        if (json) return yield* printJson(diffJson(result))
        yield* printLine(formatDiff(result, describeTarget(fromTarget), describeTarget(toTarget)))
      }).pipe(Effect.provide(timeTravelLayer(store)))
    })
).pipe(
  Command.withDescription(
    "what changed in a pool between FROM and TO, or between it at FROM and another pool (--against) at TO: VMs moved, started, stopped; hosts' memory and state"
  )
)
