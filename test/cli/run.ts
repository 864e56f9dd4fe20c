/** Runs the built `xenpool` binary as a user would (npm test builds it first). */
import { spawnSync } from "node:child_process"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"

export const binary = resolve(import.meta.dirname, "../../dist/xenpool.mjs")

export interface CliResult {
  readonly status: number
  readonly stdout: string
  readonly stderr: string
}

export const xenpool = (
  args: ReadonlyArray<string>,
  options: { cwd?: string; env?: Record<string, string> } = {}
): CliResult => {
  const result = spawnSync(process.execPath, [binary, ...args], {
    cwd: options.cwd ?? process.cwd(),
    env: { ...process.env, XENPOOL_STORE: "", XENPOOL_DEBUG: "", ...options.env },
    encoding: "utf8",
    timeout: 120_000,
    // a whole pool's --json passes the default 1 MiB (the child would be killed, status 143)
    maxBuffer: 256 * 2 ** 20
  })
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr }
}

export const tempDir = (): string => mkdtempSync(join(tmpdir(), "xenpool-cli-"))

/** A user-facing error: one line on stderr, no stack trace. */
export const isCleanError = (r: CliResult): boolean =>
  r.status !== 0 &&
  r.stderr.trim().split("\n").length === 1 &&
  r.stderr.startsWith("xenpool: ") &&
  !/^\s+at |node:internal/m.test(r.stderr)
