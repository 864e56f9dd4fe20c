/**
 * Kills a run of the built `xenpool` (SIGKILL) at seeded random moments and looks at what it left:
 * the pools of its store, SQLite's integrity check, files in its TMPDIR. Shared by the reliability test
 * (20 moments, with assertions) and `npm run bench -- reliability.kill` (more moments, as figures).
 */
import Database from "better-sqlite3"
import { spawn, type ChildProcess } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, readdirSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { packageRoot } from "../api/paths.js"

const xenpoolBinary = (): string => join(packageRoot(), "dist", "xenpool.mjs")

export interface Ended {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
  /** Wall time from the signal sent with `stop` to the exit, when one was sent. */
  readonly afterStopMs?: number
}

export interface Running {
  readonly child: ChildProcess
  readonly ended: Promise<Ended>
  /** Sends a signal; `ended` then says how long the process took to exit after it. */
  readonly stop: (signal: NodeJS.Signals) => void
}

/** Starts the built binary, which the caller may signal at a moment of its choosing. */
export const startXenpool = (
  args: ReadonlyArray<string>,
  options: { readonly cwd?: string; readonly env?: Record<string, string> } = {}
): Running => {
  const child = spawn(process.execPath, [xenpoolBinary(), ...args], {
    cwd: options.cwd ?? process.cwd(),
    env: { ...process.env, XENPOOL_STORE: "", XENPOOL_DEBUG: "", ...options.env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  let stdout = ""
  let stderr = ""
  let stoppedAt: number | undefined
  child.stdout.setEncoding("utf8").on("data", (text: string) => (stdout += text))
  child.stderr.setEncoding("utf8").on("data", (text: string) => (stderr += text))
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
  const stop = (signal: NodeJS.Signals) => {
    stoppedAt = performance.now()
    child.kill(signal)
  }
  return { child, ended, stop }
}

/** Runs the built binary to its end, or kills it (SIGKILL) after `killAfterMs` when given. */
export const runXenpool = async (
  args: ReadonlyArray<string>,
  options: { readonly env?: Record<string, string>; readonly killAfterMs?: number } = {}
): Promise<Ended> => {
  const running = startXenpool(args, options.env === undefined ? {} : { env: options.env })
  const timer =
    options.killAfterMs === undefined ? undefined : setTimeout(() => running.stop("SIGKILL"), options.killAfterMs)
  const ended = await running.ended
  if (timer !== undefined) clearTimeout(timer)
  return ended
}

export interface PoolListed {
  readonly id: string
  readonly events: number
  readonly lastAtUs: number
}

export const poolsIn = async (store: string): Promise<ReadonlyArray<PoolListed>> => {
  const listed = await runXenpool(["pools", "--json", "--store", store])
  if (listed.code !== 0) throw new Error(`pools failed: ${listed.stderr}`)
  return JSON.parse(listed.stdout) as ReadonlyArray<PoolListed>
}

const integrityOf = (file: string): string => {
  const db = new Database(file, { readonly: true })
  try {
    return String((db.prepare("PRAGMA integrity_check").get() as Record<string, unknown>)["integrity_check"])
  } finally {
    db.close()
  }
}

/** mulberry32: the kill moments from a seed, so that a failure names its moment. */
const prng = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

export interface KillOutcome {
  readonly atMs: number
  /** What `pools` listed afterwards. */
  readonly pools: ReadonlyArray<PoolListed>
  readonly integrity: string
  /** Files left in the run's own TMPDIR. */
  readonly leftovers: ReadonlyArray<string>
  /** The killed run's store, for a rerun. */
  readonly store: string
}

export interface KillReport {
  /** The uninterrupted run's pool, under the id the killed runs use. */
  readonly whole: PoolListed
  readonly runMs: number
  readonly outcomes: ReadonlyArray<KillOutcome>
}

/**
 * Runs `args` (a command and its input, without --pool and --store) once whole, then `kills` times, each
 * killed at a moment drawn over the whole run's duration and half as long again.
 */
export const killAtMoments = async (options: {
  readonly args: ReadonlyArray<string>
  readonly kills: number
  readonly seed: number
  readonly env?: Record<string, string>
}): Promise<KillReport> => {
  const dir = mkdtempSync(join(tmpdir(), "xenpool-kill-"))
  const pool = "p"
  const began = performance.now()
  const full = await runXenpool([...options.args, "--pool", pool, "--store", `sqlite:${join(dir, "whole.db")}`])
  const runMs = performance.now() - began
  if (full.code !== 0) throw new Error(`the whole run failed: ${full.stderr}`)
  const whole = (await poolsIn(`sqlite:${join(dir, "whole.db")}`))[0]!
  const next = prng(options.seed)
  const outcomes: KillOutcome[] = []
  for (let k = 0; k < options.kills; k++) {
    // Over the whole run and half as long again: a killed run started from scratch can be slower than the
    // timed one (a cold cache, another test file beside it), and the moments must reach past its commit.
    const atMs = Math.round(50 + next() * runMs * 1.5)
    const file = join(dir, `kill-${k}.db`)
    const tmp = join(dir, `tmp-${k}`)
    mkdirSync(tmp)
    await runXenpool([...options.args, "--pool", pool, "--store", `sqlite:${file}`], {
      env: { ...options.env, TMPDIR: tmp },
      killAfterMs: atMs
    })
    outcomes.push({
      atMs,
      pools: await poolsIn(`sqlite:${file}`),
      integrity: existsSync(file) ? integrityOf(file) : "ok",
      leftovers: readdirSync(tmp),
      store: `sqlite:${file}`
    })
  }
  return { whole, runMs, outcomes }
}

/** Whether an outcome is all or nothing: no pool, or exactly the whole one; an intact file; no leftovers. */
export const allOrNothing = (report: KillReport, outcome: KillOutcome): boolean =>
  outcome.integrity === "ok" &&
  outcome.leftovers.length === 0 &&
  (outcome.pools.length === 0 ||
    (outcome.pools.length === 1 && JSON.stringify(outcome.pools[0]) === JSON.stringify(report.whole)))
