/**
 * The entry of `check`'s worker threads, bundled as `dist/xenpool-check-worker.mjs` (api/paths.ts): it
 * runs the ranges of runs the main thread posts, one at a time, and posts back each one's progress and
 * result (api/checkWorkers.ts). A range runs synchronously from start to end; the main thread stays free
 * to hear Ctrl-C and ends the worker at once.
 *
 * @internal
 */
import { parentPort, workerData } from "node:worker_threads"
import { mutants, runRange } from "../properties/index.js"
import type { FromWorker, ToWorker, WorkerSetup } from "./checkWorkers.js"

/** Progress goes to the main thread at most this often (a run can take well under a millisecond). */
const PROGRESS_EVERY_MS = 100

const port = parentPort
if (port === null) throw new Error("api/checkWorker.ts is the entry of a worker thread, not a program")
const setup = workerData as WorkerSetup
// A mutant's seams are functions, which cannot cross a thread: its name does (the tests' failing cases).
const mutant = setup.mutant === undefined ? undefined : mutants.find((m) => m.name === setup.mutant)
if (setup.mutant !== undefined && mutant === undefined) throw new Error(`no mutant named ${setup.mutant}`)

port.on("message", ({ index, range }: ToWorker) => {
  let run = 0
  let lastMs = Number.NEGATIVE_INFINITY
  const result = runRange(
    range,
    {
      seed: setup.seed,
      ...(setup.path === undefined ? {} : { path: setup.path }),
      ...(mutant === undefined ? {} : { seams: mutant.seams }),
      onRun: () => {
        run++
        const nowMs = performance.now()
        if (nowMs - lastMs < PROGRESS_EVERY_MS) return
        lastMs = nowMs
        port.postMessage({ kind: "progress", index, run } satisfies FromWorker)
      }
    },
    () => performance.now()
  )
  port.postMessage({ kind: "result", index, result } satisfies FromWorker)
})
