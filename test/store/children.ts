/**
 * Child Node processes for the multi-process store tests. The fixtures import the compiled store from
 * dist/ (`npm test` builds it first; by hand: `npx tsc -p tsconfig.build.json`).
 */
import { spawn, type ChildProcess } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Effect } from "effect"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..")

const fixture = (name: string): string => path.join(root, "test", "fixtures", name)

/** Fails clearly when the compiled store the fixtures import is missing. */
export const requireCompiledStore = (): void => {
  const compiled = path.join(root, "dist", "store", "sqlite.js")
  if (!fs.existsSync(compiled)) {
    throw new Error(`${compiled} is missing: run \`npm run build\` (npm test does) before these tests`)
  }
}

export interface Exited {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

export interface Child {
  readonly process: ChildProcess
  /** Complete stdout lines so far. */
  readonly lines: () => ReadonlyArray<string>
  /** Resolves when a complete stdout line satisfies `predicate` (or rejects if the child exits first). */
  readonly lineMatching: (predicate: (line: string) => boolean) => Promise<string>
  readonly exited: Promise<Exited>
}

export const spawnFixture = (name: string, args: ReadonlyArray<string>): Child => {
  const child = spawn(process.execPath, [fixture(name), ...args], { stdio: ["ignore", "pipe", "pipe"] })
  let stdout = ""
  let stderr = ""
  const waiters: Array<() => void> = []
  child.stdout.setEncoding("utf8").on("data", (text: string) => {
    stdout += text
    for (const wake of waiters.splice(0)) wake()
  })
  child.stderr.setEncoding("utf8").on("data", (text: string) => (stderr += text))
  const exited = new Promise<Exited>((resolve) =>
    child.on("close", (code, signal) => {
      for (const wake of waiters.splice(0)) wake()
      resolve({ code, signal, stdout, stderr })
    })
  )
  const lines = () => stdout.split("\n").slice(0, -1)
  const lineMatching = (predicate: (line: string) => boolean): Promise<string> =>
    new Promise((resolve, reject) => {
      const check = () => {
        const found = lines().find(predicate)
        if (found !== undefined) return resolve(found)
        if (child.exitCode !== null || child.signalCode !== null) {
          return reject(new Error(`${name} exited (${child.exitCode ?? child.signalCode}) first: ${stderr}`))
        }
        waiters.push(check)
      }
      check()
    })
  return { process: child, lines, lineMatching, exited }
}

/** Kills a child this test started, by its pid, when the scope closes (if it is still running). */
export const killOnExit = (child: Child) =>
  Effect.addFinalizer(() =>
    Effect.sync(() => {
      if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill("SIGKILL")
    })
  )
