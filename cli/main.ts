#!/usr/bin/env node
/**
 * The `xenpool` command. Commands compose Effect layers for the store they touch; every failure that
 * reaches the top is printed as one line (`xenpool: <what> (<where>): <expected>`) with a non-zero exit:
 * 2 for a usage error, 1 for any other. The line has no control character and no secret in it.
 */
import { constants } from "node:os"
import { Command, ValidationError } from "@effect/cli"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Cause, Effect, Exit } from "effect"
import { redact, urlsIn } from "../store/url.js"
import { exitCodeOf, formatFailure, oneLine, terminalLines } from "./errors.js"
import { cliConsole, colorEnabled, withTerminalColor } from "./terminal.js"
import { checkCommandLine, describeProgram, usageFailure } from "./usage.js"
import { demoCommand, simulateCommand } from "./commands/simulate.js"
import { migrateModelCommand } from "./commands/migrateModel.js"
import { eventsCommand, poolsCommand } from "./commands/pools.js"
import { importCommand } from "./commands/import.js"
import { replayCommand } from "./commands/replay.js"
import { exportCommand } from "./commands/export.js"
import { checkCommand } from "./commands/check.js"
import { atCommand, diffCommand, historyCommand } from "./commands/timeTravel.js"

const VERSION = "0.1.0"

const commands = [
  demoCommand,
  simulateCommand,
  migrateModelCommand,
  poolsCommand,
  eventsCommand,
  importCommand,
  replayCommand,
  exportCommand,
  checkCommand,
  atCommand,
  historyCommand,
  diffCommand
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

/** The commands print through the ordinary console; @effect/cli's own output goes through `cliConsole`. */
const run = Effect.gen(function* () {
  const refused = checkCommandLine(program, args, { stdinIsTerminal: process.stdin.isTTY === true })
  if (refused !== undefined) return yield* refused
  const ordinary = yield* Effect.console
  const color = colorEnabled(process.stdout, process.env)
  const root = xenpool.pipe(Command.transformHandler((effect) => Effect.withConsole(effect, ordinary)))
  const cli = Command.run(root, { name: "xenpool", version: VERSION })
  yield* withTerminalColor(cli(process.argv), color).pipe(Effect.withConsole(cliConsole(ordinary, color)))
})

const main = run.pipe(
  Effect.provide(NodeContext.layer),
  Effect.exit,
  Effect.flatMap((exit) =>
    Effect.sync(() => {
      if (Exit.isSuccess(exit)) return
      const failure = Cause.failureOption(exit.cause)
      const raw = failure._tag === "Some" ? failure.value : Cause.squash(exit.cause)
      const error = ValidationError.isValidationError(raw) ? usageFailure(program, args, raw) : raw
      printError(formatFailure(error))
      if (debug) process.stderr.write(`${terminalLines(redact(Cause.pretty(exit.cause), urls))}\n`)
      process.exitCode = exitCodeOf(error)
    })
  )
)

/** The signal that interrupted the run: the exit code is then 128 + its number (130, 143), as a shell's. */
let interruptedBy: "SIGINT" | "SIGTERM" | undefined
for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => (interruptedBy ??= signal))

NodeRuntime.runMain(main, {
  disableErrorReporting: true,
  disablePrettyLogger: true,
  // `main` handles every failure itself (process.exitCode); the default teardown would exit 0 on a signal.
  teardown: (exit, onExit) =>
    onExit(
      interruptedBy !== undefined
        ? 128 + constants.signals[interruptedBy]
        : Exit.isFailure(exit) && !Cause.isInterruptedOnly(exit.cause)
          ? 1
          : 0
    )
})
