#!/usr/bin/env node
/**
 * The `xenpool` command. Commands compose Effect layers for the store they touch; every failure that
 * reaches the top is printed as one line (`xenpool: <what> (<where>): <expected>`) with a non-zero exit:
 * 2 for a usage error, 1 for any other. The line has no control character and no secret in it.
 */
import { Command, ValidationError } from "@effect/cli"
import { NodeContext } from "@effect/platform-node"
import { Cause, Effect, Either } from "effect"
import { redact, urlsIn } from "../store/url.js"
import { exitCodeOf, formatFailure, oneLine, terminalLines } from "./errors.js"
import { cliConsole, colorEnabled, withTerminalColor } from "./terminal.js"
import { checkCommandLine, describeProgram, usageFailure } from "./usage.js"
import { runMain } from "./interrupt.js"
import { writtenInWords } from "./written.js"
import { demoCommand, simulateCommand } from "./commands/simulate.js"
import { migrateModelCommand } from "./commands/migrateModel.js"
import { calibrateCommand } from "./commands/calibrate.js"
import { eventsCommand, poolsCommand } from "./commands/pools.js"
import { importCommand } from "./commands/import.js"
import { replayCommand } from "./commands/replay.js"
import { exportCommand } from "./commands/export.js"
import { checkCommand } from "./commands/check.js"
import { atCommand, diffCommand, historyCommand, parseWhen } from "./commands/timeTravel.js"
import { viewCommand } from "./commands/view.js"
import { forkCommand } from "./commands/fork.js"
import { continueCommands } from "./commands/continue.js"
import { reportCommand } from "./commands/report.js"

import { version as VERSION } from "../api/version.js"

const commands = [
  demoCommand,
  simulateCommand,
  migrateModelCommand,
  calibrateCommand,
  poolsCommand,
  eventsCommand,
  importCommand,
  replayCommand,
  exportCommand,
  checkCommand,
  atCommand,
  historyCommand,
  diffCommand,
  forkCommand,
  ...continueCommands,
  viewCommand,
  reportCommand
] as const

const xenpool = Command.make("xenpool").pipe(
  Command.withDescription(
    "Event-sourced, deterministic simulator of a Xen resource pool with live migration. Every change is an event in a store (sqlite:xenpool.db by default)."
  ),
  Command.withSubcommands(commands)
)

const program = describeProgram(
  "xenpool",
  commands.map((command) => command.descriptor)
)
const args = process.argv.slice(2)
const debug = process.env.XENPOOL_DEBUG === "1"

/** Every URL the user gave (`--store`, XENPOOL_STORE): their secrets are hidden in whatever is printed. */
const urls = urlsIn([...args, process.env.XENPOOL_STORE ?? ""])

const printError = (text: string) => process.stderr.write(`xenpool: ${oneLine(redact(text, urls))}\n`)

/** The commands whose arguments are times (WHEN, FROM, TO). */
const timeCommands = new Set(
  ["at", "diff", "fork", ...continueCommands.map((c) => c.descriptor)].flatMap((c) =>
    typeof c === "string" ? [c] : []
  )
)

/** The commands print through the ordinary console; @effect/cli's own output goes through `cliConsole`. */
const run = Effect.gen(function* () {
  const refused = checkCommandLine(program, args, { stdinIsTerminal: process.stdin.isTTY === true })
  if (refused !== undefined) return yield* refused
  // `at -5s`, `diff -1s 2s`: @effect/cli would read a negative time as short flags; it is a bad time.
  const negativeTime = timeCommands.has(args[0] ?? "") ? args.find((a) => /^-[0-9.]/.test(a)) : undefined
  if (negativeTime !== undefined)
    yield* Either.match(parseWhen(negativeTime), { onLeft: Effect.fail, onRight: () => Effect.void })
  const ordinary = yield* Effect.console
  const color = colorEnabled(process.stdout, process.env)
  const root = xenpool.pipe(Command.transformHandler((effect) => Effect.withConsole(effect, ordinary)))
  const cli = Command.run(root, { name: "xenpool", version: VERSION })
  yield* withTerminalColor(cli(process.argv), color).pipe(Effect.withConsole(cliConsole(ordinary, color)))
})

const main = run.pipe(Effect.provide(NodeContext.layer))

runMain(main, {
  onFailure: (cause) => {
    const failure = Cause.failureOption(cause)
    const raw = failure._tag === "Some" ? failure.value : Cause.squash(cause)
    const error = ValidationError.isValidationError(raw) ? usageFailure(program, args, raw) : raw
    printError(formatFailure(error))
    if (debug) process.stderr.write(`${terminalLines(redact(Cause.pretty(cause), urls))}\n`)
    return exitCodeOf(error)
  },
  interruptedDetail: writtenInWords
})
