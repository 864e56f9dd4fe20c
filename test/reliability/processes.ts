/**
 * The built `xenpool` as a child process the test can signal or kill at a chosen moment (bench/killRuns.ts
 * starts it; test/cli/run.ts runs it to the end instead), and what the tests look at around it.
 */
import { mkdirSync, readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { type Running } from "../../bench/killRuns.js"
import { tempDir } from "../cli/run.js"

export { startXenpool as start, type Running } from "../../bench/killRuns.js"

/** A temporary directory of its own for the child's TMPDIR, so that leftover spool files can be seen. */
export const privateTmp = (): string => {
  const dir = join(tempDir(), "tmp")
  mkdirSync(dir)
  return dir
}

export const leftovers = (dir: string): ReadonlyArray<string> => readdirSync(dir)

/**
 * Waits until the child has installed its SIGINT handler (Linux: the SigCgt mask in /proc/PID/status), so
 * that a signal sent after it reaches the command, not Node's default action during a slow start.
 */
export const handlerInstalled = async (running: Running): Promise<void> => {
  const pid = running.child.pid!
  // Bounded: 30 s of 20 ms polls.
  for (let i = 0; i < 1500; i++) {
    const status = (() => {
      try {
        return readFileSync(`/proc/${pid}/status`, "utf8")
      } catch {
        return ""
      }
    })()
    const caught = /^SigCgt:\s*([0-9a-f]+)$/m.exec(status)?.[1]
    if (caught !== undefined && (BigInt(`0x${caught}`) & 2n) !== 0n) return
    if (running.child.exitCode !== null) return
    await sleep(20)
  }
  throw new Error("the child never installed its SIGINT handler")
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Runs to the end (bench/killRuns.ts), and the pools of a store as `xenpool pools --json` lists them. */
export { poolsIn as poolsOf, runXenpool as run } from "../../bench/killRuns.js"
