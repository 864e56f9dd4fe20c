/**
 * Runs the built `xenpool` binary as test/cli/run.ts does, without blocking: a file of many processes
 * run back to back with spawnSync starves vitest's worker of its event loop (its RPC times out).
 */
import { execFile } from "node:child_process"
import { binary, type CliResult } from "../cli/run.js"

export interface RunOptions {
  readonly env?: Record<string, string>
  readonly cwd?: string
  /** Written to stdin, which is then closed; without it stdin is closed at once. */
  readonly input?: string
  readonly timeoutMs?: number
  /** Run inside `script`, which gives the command a terminal (its output then ends lines with \r\n). */
  readonly terminal?: boolean
}

const shellQuoted = (arg: string): string => `'${arg.replaceAll("'", `'\\''`)}'`

export const xenpoolAsync = (args: ReadonlyArray<string>, options: RunOptions = {}): Promise<CliResult> =>
  new Promise((resolve) => {
    const command = [process.execPath, binary, ...args]
    const [file, ...argv] =
      options.terminal === true ? ["script", "-qec", command.map(shellQuoted).join(" "), "/dev/null"] : command
    const child = execFile(
      file!,
      argv,
      {
        cwd: options.cwd ?? process.cwd(),
        env: { ...process.env, XENPOOL_STORE: "", XENPOOL_DEBUG: "", NO_COLOR: "", ...options.env },
        encoding: "utf8",
        timeout: options.timeoutMs ?? 60_000
      },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1
        resolve({ status: code, stdout, stderr })
      }
    )
    child.stdin?.end(options.input ?? "")
  })
