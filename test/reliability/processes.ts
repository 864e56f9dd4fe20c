/**
 * The built `xenpool` as a child process the test can signal or kill at a chosen moment (test/cli/run.ts
 * runs it to the end instead).
 */
import { spawn, type ChildProcess } from "node:child_process"
import { mkdirSync, readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { binary, tempDir } from "../cli/run.js"

export interface Ended {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
  /** Wall time from the signal (or kill) sent with `stop` to the exit, when one was sent. */
  readonly afterStopMs?: number
}

export interface Running {
  readonly child: ChildProcess
  readonly ended: Promise<Ended>
  /** Sends a signal; `ended` then says how long the process took to exit after it. */
  readonly stop: (signal: NodeJS.Signals) => void
}

/** A temporary directory of its own for the child's TMPDIR, so that leftover spool files can be seen. */
export const privateTmp = (): string => {
  const dir = join(tempDir(), "tmp")
  mkdirSync(dir)
  return dir
}

export const leftovers = (dir: string): ReadonlyArray<string> => readdirSync(dir)

export const start = (
  args: ReadonlyArray<string>,
  options: { readonly cwd?: string; readonly env?: Record<string, string> } = {}
): Running => {
  const child = spawn(process.execPath, [binary, ...args], {
    cwd: options.cwd ?? process.cwd(),
    env: { ...process.env, XENPOOL_STORE: "", XENPOOL_DEBUG: "", ...options.env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  let stdout = ""
  let stderr = ""
  let stoppedAt: number | undefined
  child.stdout!.setEncoding("utf8").on("data", (text: string) => (stdout += text))
  child.stderr!.setEncoding("utf8").on("data", (text: string) => (stderr += text))
  const ended = new Promise<Ended>((resolve) =>
    child.on("close", (code, signal) =>
      resolve({
        code,
        signal,
        stdout,
        stderr,
        ...(stoppedAt === undefined ? {} : { afterStopMs: performance.now() - stoppedAt })
      })
    )
  )
  return {
    child,
    ended,
    stop: (signal) => {
      stoppedAt = performance.now()
      child.kill(signal)
    }
  }
}

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
