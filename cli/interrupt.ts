/**
 * Ctrl-C and `kill`: how a command stops part-way (DESIGN.md §7: exit 130 on SIGINT, 143 on SIGTERM,
 * nothing written).
 *
 * Node delivers a signal to JavaScript only between turns of its event loop, so a long synchronous
 * computation (an engine run, a property check, a replay) never hears it. Long work is therefore done
 * in slices with `nextTurn` between them: the signal handler below interrupts the command's fiber,
 * the interruption lands at the next `nextTurn`, and the finalisers run (a store transaction rolls back,
 * the unlinked spool file is closed). A run's pool is written by one atomic append at the very end, so an
 * interrupted run has written nothing (docs/durability.md).
 */
import { type Cause, Effect, Exit, type Fiber, Scheduler } from "effect"

/** The exit codes of an interrupted command: 128 + the signal's number, as shells report it. */
const signalExitCodes = { SIGINT: 130, SIGTERM: 143 } as const
type StopSignal = keyof typeof signalExitCodes

/**
 * Effect's default scheduler yields a fiber to the microtask queue (every 2,048 operations), and to the
 * event loop only after 2,048 such yields in a row: a signal could wait seconds while a command reads a
 * long history. This one takes a turn of the event loop (`setImmediate`, a few µs) at every yield instead.
 */
const turnTaking = Scheduler.makeBatched((runBatch) => setImmediate(runBatch))

export interface MainOptions {
  /** Prints the failure of a command that ended in error; returns the exit code. */
  readonly onFailure: (cause: Cause.Cause<unknown>) => number
  /** What a signal means for this process's writes, in words: the end of the `interrupted` line. */
  readonly interruptedDetail: () => string
}

/**
 * Runs the program as the process's main fiber. SIGINT or SIGTERM interrupts it: finalisers run, then
 * one line `xenpool: interrupted (SIGINT): …` and exit 130 (143 for SIGTERM). A second signal while
 * the finalisers run exits at once with the same code.
 */
export const runMain = (program: Effect.Effect<void, unknown>, options: MainOptions): void => {
  let received: StopSignal | undefined
  // Keeps the process alive while the fiber waits on nothing but a promise (a silent server).
  const keepAlive = setInterval(() => undefined, 2 ** 31 - 1)
  const fiber: Fiber.RuntimeFiber<void, unknown> = Effect.runFork(Effect.withScheduler(program, turnTaking))
  const onSignal = (signal: StopSignal) => () => {
    if (received !== undefined) {
      process.stderr.write(`xenpool: interrupted again (${signal}): stopped without waiting for the clean-up\n`)
      process.exit(signalExitCodes[received])
    }
    received = signal
    fiber.unsafeInterruptAsFork(fiber.id())
  }
  const handlers = { SIGINT: onSignal("SIGINT"), SIGTERM: onSignal("SIGTERM") }
  process.on("SIGINT", handlers.SIGINT)
  process.on("SIGTERM", handlers.SIGTERM)
  fiber.addObserver((exit) => {
    clearInterval(keepAlive)
    process.removeListener("SIGINT", handlers.SIGINT)
    process.removeListener("SIGTERM", handlers.SIGTERM)
    if (received !== undefined) {
      process.stderr.write(`xenpool: interrupted (${received}): ${options.interruptedDetail()}\n`)
      process.exit(signalExitCodes[received])
    }
    if (Exit.isFailure(exit)) process.exitCode = options.onFailure(exit.cause)
    // Otherwise the process ends when the event loop is empty, after stdout has drained.
  })
}
