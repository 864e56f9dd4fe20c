#!/usr/bin/env node
/**
 * The `xenpool` command. Commands compose Effect layers for the store they touch; every failure that
 * reaches the top is printed as one line (`xenpool: <what> (<where>): <expected>`) with a non-zero exit.
 */
import { Command, ValidationError } from "@effect/cli"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Cause, Effect, Exit } from "effect"
import { redact, urlsIn } from "../store/url.js"
import { formatFailure } from "./errors.js"
import { demoCommand, simulateCommand } from "./commands/simulate.js"
import { migrateModelCommand } from "./commands/migrateModel.js"
import { eventsCommand, poolsCommand } from "./commands/pools.js"
import { importCommand } from "./commands/import.js"
import { replayCommand } from "./commands/replay.js"
import { exportCommand } from "./commands/export.js"
import { checkCommand } from "./commands/check.js"
import { atCommand, diffCommand, historyCommand } from "./commands/timeTravel.js"

const VERSION = "0.1.0"

const xenpool = Command.make("xenpool").pipe(
  Command.withDescription(
    "Event-sourced, deterministic simulator of a Xen resource pool with live migration. Every change is an event in a store (sqlite:xenpool.db by default)."
  ),
  Command.withSubcommands([
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
  ])
)

const cli = Command.run(xenpool, { name: "xenpool", version: VERSION })

const debug = process.env.XENPOOL_DEBUG === "1"

/** Every URL the user gave (`--store`, XENPOOL_STORE): their secrets are hidden in whatever is printed. */
const urls = urlsIn([...process.argv.slice(2), process.env.XENPOOL_STORE ?? ""])

const program = Effect.suspend(() => cli(process.argv)).pipe(
  Effect.provide(NodeContext.layer),
  Effect.exit,
  Effect.flatMap((exit) =>
    Effect.sync(() => {
      if (Exit.isSuccess(exit)) return
      const failure = Cause.failureOption(exit.cause)
      const error = failure._tag === "Some" ? failure.value : Cause.squash(exit.cause)
      // @effect/cli has already printed the help text for a validation error (its tags are e.g.
      // MissingValue, InvalidValue: none is "ValidationError").
      if (!(ValidationError.isValidationError(error) && !debug)) {
        process.stderr.write(`xenpool: ${redact(formatFailure(error), urls)}\n`)
      }
      if (debug) process.stderr.write(`${redact(Cause.pretty(exit.cause), urls)}\n`)
      process.exitCode = 1
    })
  )
)

NodeRuntime.runMain(program, { disableErrorReporting: true, disablePrettyLogger: true })
