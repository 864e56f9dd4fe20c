/**
 * Continuing a pool, xe-style (api/continue.ts, docs/branches.md): `xenpool vm-migrate VM --to HOST
 * --pool ID`, `vm-start`, `vm-shutdown`, `host-disable`, `host-enable`, `host-evacuate`, `host-fail`
 * (names after XAPI's `xe` commands, flags after xenpool's), and `xenpool run --pool ID FILE` for a file
 * of operations. Each applies its operations at the pool's end (a fresh branch's end is its fork point),
 * runs the engine until quiescent or `--until`, and appends what happened; a refused operation is the
 * command's failure with XAPI's error code, and nothing is appended.
 */
import { Args, Command, Options } from "@effect/cli"
import { Effect, Either, Option } from "effect"
import { readFile } from "node:fs/promises"
import { basename } from "node:path"
import { continuePool, type ContinueOutput, type Operation } from "../../api/continue.js"
import { inputFailure, XenpoolError } from "../../api/errors.js"
import { formatDurationUs } from "../../domain/units.js"
import { inputError } from "../../simulations/scenario.js"
import type { UsageFailure } from "../errors.js"
import { printLine, shellWord } from "../output.js"
import { checkedId, checkedPoolId } from "../poolId.js"
import { makeProgress } from "../progress.js"
import { jsonOption, poolOption, printJson, quietOption, storeOption } from "../shared.js"
import { noteWritten } from "../written.js"
import { formatRun } from "./simulate.js"
import { parseWhen, timeTravelLayer } from "./timeTravel.js"

const untilOption = Options.text("until").pipe(
  Options.withDescription(
    "run the engine until this time of the pool at most (3m10s, 1h00m00s; default: quiescent, or the pool's end plus its scenario's time limit)"
  ),
  Options.optional
)

const common = {
  pool: poolOption.pipe(Options.withDescription("the pool to continue (a branch continues from its fork point)")),
  until: untilOption,
  store: storeOption,
  json: jsonOption,
  quiet: quietOption
}

const eventsRead = (n: number): string => `${n.toLocaleString("en-US")} event${n === 1 ? "" : "s"} read`

const formatContinued = (o: ContinueOutput): string =>
  [
    `appended revisions ${o.firstRevision}..${o.lastRevision} to pool ${o.pool} at ${formatDurationUs(o.atUs)}`,
    `engine rebuilt from ${o.rebuilt.restRevision < 0 ? "the pool's start" : `its rest after @${o.rebuilt.restRevision}`} (${eventsRead(o.rebuilt.eventsRead)})`,
    formatRun(o),
    `try: xenpool events --pool ${o.pool} --from ${o.firstRevision}, xenpool at ${shellWord(formatDurationUs(o.simulatedUs))} --pool ${o.pool}`
  ].join("\n")

/** Runs the operations on the pool and prints what was appended. */
const continueWith = (
  args: {
    readonly pool: string
    readonly until: Option.Option<string>
    readonly store: Option.Option<string>
    readonly json: boolean
    readonly quiet: boolean
  },
  operations: Effect.Effect<
    {
      readonly operations: ReadonlyArray<Operation>
      readonly source?: string
      readonly lineOf?: (i: number) => number
    },
    XenpoolError | UsageFailure
  >
) =>
  Effect.gen(function* () {
    // usage errors first, before the store is opened
    const pool = yield* checkedPoolId(args.pool)
    const until = Option.isSome(args.until)
      ? yield* Either.match(parseWhen(args.until.value), { onLeft: Effect.fail, onRight: Effect.succeed })
      : undefined
    const asked = yield* operations
    yield* Effect.gen(function* () {
      const output = yield* continuePool(pool, asked.operations, {
        ...(until === undefined ? {} : { until }),
        ...(asked.source === undefined ? {} : { source: asked.source }),
        ...(asked.lineOf === undefined ? {} : { lineOf: asked.lineOf }),
        progress: makeProgress(!args.json && !args.quiet),
        onCommitted: noteWritten
      })
      if (args.json) return yield* printJson(output)
      yield* printLine(formatContinued(output))
    }).pipe(Effect.provide(timeTravelLayer(args.store)))
  })

const vmArg = Args.text({ name: "VM" }).pipe(Args.withDescription("the VM's id"))
const hostArg = Args.text({ name: "HOST" }).pipe(Args.withDescription("the host's id"))
const vmId = (text: string) => checkedId("VM", text, "VM")
const hostId = (text: string, option = "HOST") => checkedId("host", text, option)

const vmMigrate = Command.make(
  "vm-migrate",
  { vm: vmArg, to: Options.text("to").pipe(Options.withDescription("the destination host")), ...common },
  ({ vm, to, ...args }) =>
    continueWith(
      args,
      Effect.gen(function* () {
        return { operations: [{ op: "migrate", vm: yield* vmId(vm), to: yield* hostId(to, "--to") }] }
      })
    )
).pipe(Command.withDescription("live-migrate a VM to another host of the pool (xe vm-migrate), at the pool's end"))

const vmStart = Command.make(
  "vm-start",
  {
    vm: vmArg,
    on: Options.text("on").pipe(
      Options.withDescription("the host to start it on (default: where the pool's placement puts it)"),
      Options.optional
    ),
    ...common
  },
  ({ vm, on, ...args }) =>
    continueWith(
      args,
      Effect.gen(function* () {
        const host = Option.isSome(on) ? yield* hostId(on.value, "--on") : undefined
        return { operations: [{ op: "start-vm", vm: yield* vmId(vm), ...(host === undefined ? {} : { host }) }] }
      })
    )
).pipe(Command.withDescription("start a halted VM (xe vm-start), at the pool's end"))

const vmShutdown = Command.make(
  "vm-shutdown",
  {
    vm: vmArg,
    force: Options.boolean("force").pipe(Options.withDescription("a hard shutdown (xe vm-shutdown --force)")),
    ...common
  },
  ({ vm, force, ...args }) =>
    continueWith(
      args,
      Effect.gen(function* () {
        return { operations: [{ op: "shutdown-vm", vm: yield* vmId(vm), ...(force ? { hard: true } : {}) }] }
      })
    )
).pipe(Command.withDescription("shut a VM down (xe vm-shutdown), at the pool's end"))

/** The host commands: one operation naming the host, each after its `xe` namesake. */
const hostCommands = (
  [
    ["host-disable", "disable-host", "disable a host: nothing new starts or arrives on it (xe host-disable)"],
    ["host-enable", "enable-host", "enable a host again (xe host-enable)"],
    [
      "host-evacuate",
      "evacuate",
      "migrate every VM off a host, planned by the pool's placement, in batches of 10 (xe host-evacuate)"
    ],
    ["host-fail", "fail-host", "a host fails (with HA on, noticed after the liveness timeout and followed by restarts)"]
  ] as const
).map(([name, op, description]) =>
  Command.make(name, { host: hostArg, ...common }, ({ host, ...args }) =>
    continueWith(
      args,
      Effect.gen(function* () {
        return { operations: [{ op, host: yield* hostId(host) }] }
      })
    )
  ).pipe(Command.withDescription(`${description}, at the pool's end`))
)

/** A file of operations: one JSON object per line, as a scenario's schedule writes them, `at` optional. */
const readOperations = (path: string) =>
  Effect.gen(function* () {
    const text = yield* Effect.tryPromise({
      try: () => readFile(path, "utf8"),
      catch: (e) =>
        new XenpoolError({
          what: "cannot read operations",
          where: path,
          expected: (e as NodeJS.ErrnoException).code === "ENOENT" ? "an existing file" : String(e)
        })
    })
    const source = basename(path)
    const operations: Operation[] = []
    const lines: number[] = []
    for (const [i, raw] of text.split("\n").entries()) {
      const line = raw.trim()
      if (line === "" || line.startsWith("#")) continue
      let json: unknown
      try {
        json = JSON.parse(line)
      } catch (e) {
        return yield* inputFailure(
          "bad operation",
          inputError(source, "(line)", `one JSON object per line (${(e as Error).message})`, i + 1)
        )
      }
      if (typeof json !== "object" || json === null || Array.isArray(json))
        return yield* inputFailure("bad operation", inputError(source, "(line)", "one JSON object per line", i + 1))
      operations.push(json as Operation)
      lines.push(i + 1)
    }
    return { operations, source, lineOf: (index: number) => lines[index] ?? 0 }
  })

const runCommand = Command.make(
  "run",
  {
    file: Args.file({ name: "FILE", exists: "either" }).pipe(
      Args.withDescription(
        'operations, one JSON object per line as a scenario\'s schedule writes them ({"at":"6m","op":"evacuate","host":"h2"}; `at` optional: the pool\'s end)'
      )
    ),
    ...common
  },
  ({ file, ...args }) => continueWith(args, readOperations(file))
).pipe(
  Command.withDescription(
    "continue a pool with a file of operations (each at its `at`, at or after the pool's end), the engine run until quiescent"
  )
)

export const continueCommands = [vmMigrate, vmStart, vmShutdown, ...hostCommands, runCommand] as const
