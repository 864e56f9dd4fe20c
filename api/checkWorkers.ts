/**
 * The property suite on worker processes: each property's runs cut into ranges (properties/runRanges.ts),
 * the ranges handed out in the suite's order to whichever worker is free, and the verdicts merged in
 * the suite's order, so the report is the same for any number of workers and any finishing order. One
 * worker takes whole properties, one after another: the check as it runs on one thread.
 *
 * Interrupting the effect (Ctrl-C in the CLI, an `AbortSignal` of the Promise API) terminates the
 * workers at once: a range is synchronous, so only a process of its own can be stopped mid-run.
 *
 * @internal
 */
import { Effect } from "effect"
import { existsSync } from "node:fs"
import { fork, type ChildProcess } from "node:child_process"
import {
  checkRanges,
  mergeRanges,
  rangeNeeded,
  type CheckReport,
  type RangeResult,
  type RunRange
} from "../properties/index.js"
import { XenpoolError } from "./errors.js"
import { checkWorkerScript } from "./paths.js"

/** The environment variable a worker process reads its setup from. */
export const CHECK_WORKER_SETUP = "XENPOOL_CHECK_WORKER_SETUP"

/** What every worker is started with: plain data, the same for every range. */
export interface WorkerSetup {
  readonly seed: number
  readonly path?: string
  /** A mutant of properties/mutants.ts, by name (its seams are functions, which cannot cross to another process). */
  readonly mutant?: string
}

/** Check to worker: run this range. */
export interface ToWorker {
  readonly index: number
  readonly range: RunRange
}

/** Worker to check: how far a range has got (runs begun, shrinking runs included), and its result. */
export type FromWorker =
  | { readonly kind: "progress"; readonly index: number; readonly run: number }
  | { readonly kind: "result"; readonly index: number; readonly result: RangeResult }

/**
 * Ranges per property for each worker: enough that the last ranges to finish even the workers out (a
 * property can take five times another's time), few enough that each range has runs to do.
 */
const RANGES_PER_WORKER = 4

export interface WorkersCheckOptions {
  readonly runs: number
  readonly seed: number
  readonly workers: number
  readonly only?: ReadonlyArray<string>
  readonly path?: string
  readonly mutant?: string
  /** As `check`'s: a property's runs so far, its ranges together; past `runs`, shrinking runs. */
  readonly onProgress?: (property: string, run: number, runs: number) => void
}

/** Runs the check on `workers` worker processes; the report is the one a single thread gives. */
export const checkOnWorkers = (options: WorkersCheckOptions): Effect.Effect<CheckReport, XenpoolError> =>
  Effect.gen(function* () {
    if (!(Number.isSafeInteger(options.workers) && options.workers >= 1))
      return yield* Effect.die(new Error(`checkOnWorkers: bad worker count ${options.workers}`))
    const script = checkWorkerScript()
    if (!existsSync(script))
      return yield* new XenpoolError({
        what: "no worker script for check",
        where: script,
        expected: "the built package (npm run build writes it beside dist/xenpool.mjs)"
      })
    const ranges = checkRanges({
      runs: options.runs,
      ...(options.only === undefined ? {} : { only: options.only }),
      ...(options.path === undefined ? {} : { path: options.path }),
      rangesPerProperty: options.workers === 1 ? 1 : options.workers * RANGES_PER_WORKER
    })
    const setup: WorkerSetup = {
      seed: options.seed,
      ...(options.path === undefined ? {} : { path: options.path }),
      ...(options.mutant === undefined ? {} : { mutant: options.mutant })
    }
    const results =
      ranges.length === 0
        ? []
        : yield* runRanges(script, ranges, setup, options.workers, rangeProgress(ranges, options))
    return { seed: options.seed, runs: options.runs, properties: mergeRanges(ranges, results, options.seed) }
  })

interface RangeProgress {
  /** Range `index` has begun `run` runs. */
  readonly ran: (index: number, run: number) => void
}

/** Each property's progress, its ranges' runs added up, told through `onProgress`. */
const rangeProgress = (ranges: ReadonlyArray<RunRange>, options: WorkersCheckOptions): RangeProgress => {
  const onProgress = options.onProgress
  if (onProgress === undefined) return { ran: () => undefined }
  const begun = ranges.map(() => 0)
  // The indices of each property's ranges, so that a message adds up only its own property's.
  const byProperty = new Map<string, number[]>()
  ranges.forEach((range, i) => byProperty.set(range.property, [...(byProperty.get(range.property) ?? []), i]))
  return {
    ran: (index, run) => {
      begun[index] = Math.max(begun[index]!, run)
      const property = ranges[index]!.property
      let done = 0
      let shrinking = 0
      for (const i of byProperty.get(property)!) {
        done += Math.min(begun[i]!, ranges[i]!.runs)
        shrinking += Math.max(0, begun[i]! - ranges[i]!.runs)
      }
      onProgress(property, shrinking > 0 ? options.runs + shrinking : done, options.runs)
    }
  }
}

/**
 * Runs the ranges on `workers` processes (at most one per range), the next needed range to the next free
 * worker; a range after one of its property's that failed is not run. Each result lands at its
 * range's index.
 */
const runRanges = (
  script: string,
  ranges: ReadonlyArray<RunRange>,
  setup: WorkerSetup,
  workers: number,
  progress: RangeProgress
): Effect.Effect<ReadonlyArray<RangeResult | undefined>, XenpoolError> =>
  Effect.async<ReadonlyArray<RangeResult | undefined>, XenpoolError>((resume) => {
    const results: Array<RangeResult | undefined> = ranges.map(() => undefined)
    const failedFrom = new Map<string, number>()
    const threads: ChildProcess[] = []
    const terminateAll = () =>
      Promise.all(
        threads.map(
          (child) =>
            new Promise<void>((done) => {
              if (child.exitCode !== null || child.signalCode !== null) return done()
              child.once("exit", () => done())
              child.kill()
            })
        )
      )
    let next = 0
    let running = 0
    let settled = false
    const settle = (outcome: Effect.Effect<ReadonlyArray<RangeResult | undefined>, XenpoolError>) => {
      if (settled) return
      settled = true
      resume(Effect.zipRight(Effect.promise(terminateAll), outcome))
    }
    const failed = (expected: string) =>
      settle(Effect.fail(new XenpoolError({ what: "check failed", where: "property worker", expected })))
    const dispatch = (thread: ChildProcess) => {
      while (next < ranges.length && !rangeNeeded(ranges[next]!, failedFrom)) next++
      if (next === ranges.length) {
        if (running === 0) settle(Effect.succeed(results))
        return
      }
      const index = next++
      running++
      progress.ran(index, 0)
      thread.send({ index, range: ranges[index]! } satisfies ToWorker)
    }
    const onMessage = (thread: ChildProcess) => (message: FromWorker) => {
      if (settled) return
      if (message.kind === "progress") return progress.ran(message.index, message.run)
      const range = ranges[message.index]!
      results[message.index] = message.result
      running--
      if (!message.result.result.ok && rangeNeeded(range, failedFrom)) failedFrom.set(range.property, range.firstRun)
      else progress.ran(message.index, range.runs)
      dispatch(thread)
    }
    for (let i = 0; i < Math.min(workers, ranges.length); i++) {
      // A process each, not a thread: two threads of one process spent a third more CPU on the same runs
      // and gained nothing on two cores (docs/properties.md). Its own process group, so that a terminal's
      // Ctrl-C reaches this process alone, which ends them; an orphan ends when its channel closes.
      const thread = fork(script, [], {
        env: { ...process.env, [CHECK_WORKER_SETUP]: JSON.stringify(setup) },
        serialization: "advanced",
        detached: true,
        stdio: ["ignore", "ignore", "inherit", "ipc"]
      })
      threads.push(thread)
      thread.on("message", onMessage(thread))
      thread.on("error", (error) => failed(error.message))
      thread.on("exit", (code) => failed(`a report (a worker exited with code ${code} before the end)`))
    }
    for (const thread of threads) dispatch(thread)
    return Effect.promise(async () => {
      settled = true
      await terminateAll()
    })
  })
