/**
 * SimGrid's VM live-migration plugin as the peer of xenpool's rate-model figure (bench/migration.ts): builds
 * bench/simgrid/livemigration.cpp with g++ against libsimgrid into .tmpbench/ (once, again when the source
 * changes), runs it on the same workload and reads its JSON. Without g++ or libsimgrid-dev (Debian:
 * `apt-get install libsimgrid-dev g++`) the peer is skipped with the reason, and the bench goes on.
 *
 * Two runs of the driver: `time` (the migrations, timed inside the process around the loop, nothing of
 * the driver listening) and `observe` (one migration with SimGrid's link-load plugin and signals on, for
 * its simulated time, pause and bytes). docs/decisions.md, "Benchmarks: SimGrid as the migration figures' peer".
 */
import { spawnSync } from "node:child_process"
import { mkdirSync, statSync } from "node:fs"
import { resolve } from "node:path"
import type { BenchResult } from "./harness.js"

const repoRoot = resolve(import.meta.dirname, "../..")
const driverSource = resolve(repoRoot, "bench/simgrid/livemigration.cpp")
const platformFile = resolve(repoRoot, "bench/simgrid/platform.xml")
const buildDir = resolve(repoRoot, ".tmpbench")
const driverBinary = resolve(buildDir, "simgrid-livemigration")

const COMPILE_MS_MAX = 300_000
const RUN_MS_MAX = 300_000
/** Timed migrations in the driver's one process: about a second, so the process start does not count. */
const MIGRATIONS = 10_000

/** The workload both simulators run, in the units of `SingleMigrationConfig`. */
export interface PeerWorkload {
  readonly memoryBytes: number
  readonly bandwidthBytesPerS: number
  readonly dirtyRateBytesPerS: number
  readonly workingSetBytes: number
}

/** One migration as SimGrid simulated it. */
interface PeerMigration {
  readonly totalUs: number
  readonly downtimeUs: number
  readonly bytesSent: number
  readonly rounds: number
}

type SimgridPeer =
  | {
      readonly _tag: "measured"
      readonly version: string
      readonly migrations: number
      readonly migrationsPerS: number
      /** Inside the driver: the engine made and the platform loaded; then the timed loop. */
      readonly setupMs: number
      readonly loopMs: number
      /** The loop's process CPU time (user + system). */
      readonly loopCpuMs: number
      /** The `time` process from spawn to exit, as seen from here. */
      readonly processWallMs: number
      readonly one: PeerMigration
    }
  | { readonly _tag: "skipped"; readonly reason: string }

class Skip extends Error {}

const firstLine = (text: string): string => text.trim().split("\n")[0]?.trim() ?? ""

const run = (command: string, args: ReadonlyArray<string>, timeoutMs: number) => {
  const result = spawnSync(command, args, { encoding: "utf8", timeout: timeoutMs, maxBuffer: 16 * 2 ** 20 })
  if (result.error !== undefined) {
    const code = (result.error as NodeJS.ErrnoException).code
    throw new Skip(code === "ENOENT" ? `${command} not found` : `${command}: ${result.error.message}`)
  }
  return result
}

/** `pkg-config --cflags --libs simgrid`, or plain `-lsimgrid` where pkg-config or the .pc file is missing. */
const simgridFlags = (): ReadonlyArray<string> => {
  try {
    const r = run("pkg-config", ["--cflags", "--libs", "simgrid"], 10_000)
    if (r.status === 0) return r.stdout.trim().split(/\s+/).filter(Boolean)
  } catch (error) {
    if (!(error instanceof Skip)) throw error
  }
  return ["-lsimgrid"]
}

const isNewer = (a: string, b: string): boolean => {
  try {
    return statSync(a).mtimeMs > statSync(b).mtimeMs
  } catch {
    return true
  }
}

/** Compiles the driver unless the binary is newer than its source. */
const buildDriver = (): void => {
  if (!isNewer(driverSource, driverBinary)) return
  mkdirSync(buildDir, { recursive: true })
  const args = ["-std=c++17", "-O2", "-o", driverBinary, driverSource, ...simgridFlags()]
  const r = run("g++", args, COMPILE_MS_MAX)
  if (r.status !== 0) {
    // g++'s first error without its `file:line:col:` prefix, e.g. the missing SimGrid header.
    const error = (r.stderr.split("\n").find((l) => /error/.test(l)) ?? firstLine(r.stderr)).replace(
      /^\S+:\d+:\d+: /,
      ""
    )
    throw new Skip(
      `g++ could not build bench/simgrid/livemigration.cpp (is libsimgrid-dev installed?): ${error.trim()}`
    )
  }
}

const runDriver = (mode: "time" | "observe", workload: PeerWorkload): { json: Record<string, unknown>; ms: number } => {
  const args = [
    mode,
    platformFile,
    String(mode === "time" ? MIGRATIONS : 1),
    String(workload.memoryBytes),
    String(workload.bandwidthBytesPerS),
    String(workload.dirtyRateBytesPerS),
    String(workload.workingSetBytes)
  ]
  const start = performance.now()
  const r = run(driverBinary, args, RUN_MS_MAX)
  const ms = performance.now() - start
  if (r.status !== 0) {
    const why = r.signal === null ? `exit ${r.status}` : r.signal
    throw new Skip(`the SimGrid driver failed (${why}): ${firstLine(r.stderr)}`)
  }
  try {
    return { json: JSON.parse(r.stdout) as Record<string, unknown>, ms }
  } catch {
    throw new Skip(`the SimGrid driver printed no JSON: ${firstLine(r.stdout)}`)
  }
}

const numberField = (json: Record<string, unknown>, name: string): number => {
  const value = json[name]
  if (typeof value !== "number" || !Number.isFinite(value)) throw new Skip(`the SimGrid driver gave no number ${name}`)
  return value
}

/** Builds the driver if needed and measures SimGrid on the workload; a missing toolchain is a skip, never a throw. */
const measureSimgrid = (workload: PeerWorkload): SimgridPeer => {
  try {
    buildDriver()
    const observed = runDriver("observe", workload).json
    const { json: timed, ms: processWallMs } = runDriver("time", workload)
    return {
      _tag: "measured",
      version: String(timed["simgrid"]),
      migrations: numberField(timed, "migrations"),
      migrationsPerS: numberField(timed, "migrationsPerS"),
      setupMs: numberField(timed, "setupS") * 1000,
      loopMs: numberField(timed, "loopS") * 1000,
      loopCpuMs: numberField(timed, "loopCpuS") * 1000,
      processWallMs,
      one: {
        totalUs: numberField(observed, "totalUs"),
        downtimeUs: numberField(observed, "downtimeUs"),
        bytesSent: numberField(observed, "bytesSent"),
        rounds: numberField(observed, "rounds")
      }
    }
  } catch (error) {
    if (error instanceof Skip) return { _tag: "skipped", reason: error.message }
    throw error
  }
}

/**
 * SimGrid's figure named `name` on the workload (`described` says it in words), the baseline of xenpool's
 * figures on it; or, where SimGrid cannot run here, undefined and one line on stderr saying why.
 */
export const simgridFigure = (name: string, described: string, workload: PeerWorkload): BenchResult | undefined => {
  const peer = measureSimgrid(workload)
  if (peer._tag === "skipped") {
    console.error(`${name}: skipped: ${peer.reason} (no SimGrid baseline)`)
    return undefined
  }
  const n = (x: number) => Math.round(x).toLocaleString("en-US")
  return {
    name,
    workload:
      `SimGrid ${peer.version} live-migration plugin, ${described}, its loop (max downtime 30 ms, no phases), CM02 ` +
      `network; ${n(peer.migrations)} migrations of one VM between two hosts, timed inside the process (loop ` +
      `${n(peer.loopMs)} ms, CPU ${n(peer.loopCpuMs)} ms; setup ${peer.setupMs.toFixed(1)} ms, process ${n(peer.processWallMs)} ms) ` +
      `(${peer.one.rounds} rounds, ${n(peer.one.bytesSent)} bytes sent in ${n(peer.one.totalUs)} µs, downtime ${n(peer.one.downtimeUs)} µs)`,
    value: Math.round(peer.migrationsPerS),
    unit: "migrations/s"
  }
}
