/**
 * The entry of `check`'s worker processes, bundled as `dist/xenpool-check-worker.mjs` (api/paths.ts): it
 * runs the ranges of runs the check sends, one at a time, and sends back each one's progress and result
 * (api/checkWorkers.ts). A range runs synchronously from start to end; the check's process stays free to
 * hear Ctrl-C and ends the worker at once.
 *
 * @internal
 */
import { mutants, runRange } from "../properties/index.js"
import { CHECK_WORKER_SETUP, type FromWorker, type ToWorker, type WorkerSetup } from "./checkWorkers.js"

/** Progress goes to the main thread at most this often (a run can take well under a millisecond). */
const PROGRESS_EVERY_MS = 100

const send = process.send?.bind(process)
const setupText = process.env[CHECK_WORKER_SETUP]
if (send === undefined || setupText === undefined)
  throw new Error("api/checkWorker.ts is the entry of check's worker processes, not a program")
const setup = JSON.parse(setupText) as WorkerSetup
// the check that started it is gone (ended, killed): so is its work
process.on("disconnect", () => process.exit(0))
// A mutant's seams are functions, which cannot cross a thread: its name does (the tests' failing cases).
const mutant = setup.mutant === undefined ? undefined : mutants.find((m) => m.name === setup.mutant)
if (setup.mutant !== undefined && mutant === undefined) throw new Error(`no mutant named ${setup.mutant}`)

process.on("message", ({ index, range }: ToWorker) => {
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
        send({ kind: "progress", index, run } satisfies FromWorker)
      }
    },
    () => performance.now()
  )
  send({ kind: "result", index, result } satisfies FromWorker)
})
