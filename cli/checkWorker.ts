/**
 * `xenpool check` runs the property suite on a worker thread. A property run is synchronous from start to
 * end (fast-check drives the engine), so on the main thread it would keep Ctrl-C from being heard until
 * the whole suite was over; on a worker, the main thread stays free to hear the signal and ends the
 * worker at once (cli/interrupt.ts). Progress and the report come back as messages.
 *
 * The worker runs this same module: loaded with `workerData.xenpoolWorker === "check"` (the bundled
 * `xenpool.mjs` holds this module too, so the bundle is the worker's script), it runs the check and posts
 * its report.
 */
import { Effect } from "effect"
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads"
import { runCheck, type CheckOptions, type CheckReport } from "../properties/index.js"
import { XenpoolError } from "./errors.js"

/** What the worker needs: plain data (no seams, no callbacks cross a thread). */
export type WorkerCheckOptions = Omit<CheckOptions, "onProgress" | "seams">

type FromWorker =
  | { readonly kind: "progress"; readonly property: string; readonly run: number; readonly runs: number }
  | { readonly kind: "report"; readonly report: CheckReport }

const workerTag = "check"

/** Runs the check on a worker thread; interrupting the effect terminates the worker. */
export const runCheckOnWorker = (
  options: WorkerCheckOptions,
  onProgress: (property: string, run: number, runs: number) => void
): Effect.Effect<CheckReport, XenpoolError> =>
  Effect.async<CheckReport, XenpoolError>((resume) => {
    let settled = false
    const settle = (effect: Effect.Effect<CheckReport, XenpoolError>) => {
      if (settled) return
      settled = true
      resume(effect)
    }
    const worker = new Worker(new URL(import.meta.url), { workerData: { xenpoolWorker: workerTag, options } })
    worker.on("message", (message: FromWorker) => {
      if (message.kind === "progress") onProgress(message.property, message.run, message.runs)
      else settle(Effect.succeed(message.report))
    })
    worker.on("error", (error) =>
      settle(Effect.fail(new XenpoolError({ what: "check failed", where: "property worker", expected: error.message })))
    )
    worker.on("exit", (code) =>
      settle(
        Effect.fail(
          new XenpoolError({
            what: "check failed",
            where: "property worker",
            expected: `a report (the worker exited with code ${code} without one)`
          })
        )
      )
    )
    return Effect.promise(() => worker.terminate())
  })

/** The worker's side: runs the check, posting progress (at most every 100 ms) and then the report. */
const workerMain = (options: WorkerCheckOptions): void => {
  const port = parentPort!
  let lastMs = 0
  const report = runCheck(
    {
      ...options,
      onProgress: (property, run, runs) => {
        const now = performance.now()
        if (run !== 0 && now - lastMs < 100) return
        lastMs = now
        port.postMessage({ kind: "progress", property, run, runs } satisfies FromWorker)
      }
    },
    () => performance.now()
  )
  port.postMessage({ kind: "report", report } satisfies FromWorker)
}

const data = workerData as { readonly xenpoolWorker?: string; readonly options?: WorkerCheckOptions } | null
if (!isMainThread && data?.xenpoolWorker === workerTag && data.options !== undefined) workerMain(data.options)

/** Whether this thread is a check worker (the CLI's entry then does nothing of its own). */
export const isCheckWorker = !isMainThread && data?.xenpoolWorker === workerTag
