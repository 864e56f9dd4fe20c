/**
 * Ctrl-C and `kill`: every command stops within about a second, writes nothing of the interrupted run,
 * leaves no temporary file, prints one line and exits 130 (SIGINT) or 143 (SIGTERM) (DESIGN.md §7,
 * docs/durability.md). The bound checked here is looser than the second the closing note measures on a
 * quiet machine: the suite runs two test files at once on two cores.
 */
import { createServer, type Server } from "node:net"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { tempDir } from "../cli/run.js"
import { handlerInstalled, leftovers, poolsOf, privateTmp, sleep, start } from "./processes.js"
import { manyMigrations, writeScenario, writeTrace } from "../../bench/workloads.js"

/** Time from the signal to the exit that the suite accepts (the measured figure is well under a second). */
const STOP_MS_MAX = 4_000

let dir: string
let scenario: string
let trace: string

beforeAll(() => {
  dir = tempDir()
  // 40,000 migrations: about 200,000 events, several seconds of engine and append work.
  scenario = writeScenario(dir, manyMigrations(40_000, "long"))
  trace = writeTrace(dir, manyMigrations(40_000, "long"))
})

const interruptedLine = (signal: string) => `xenpool: interrupted (${signal}): nothing was written\n`

describe.each([
  ["SIGINT", 130],
  ["SIGTERM", 143]
] as const)("%s", (signal, code) => {
  it.each(["simulate", "replay"] as const)(
    `stops %s mid-run: exit ${code}, one line, nothing on stdout, no pool, no spool file`,
    async (command) => {
      const store = `sqlite:${join(tempDir(), `${command}.db`)}`
      const tmp = privateTmp()
      const input = command === "simulate" ? scenario : trace
      const running = start([command, input, "--store", store], { env: { TMPDIR: tmp } })
      await handlerInstalled(running)
      await sleep(1_500)
      running.stop(signal)
      const ended = await running.ended
      expect(ended.stderr).toBe(interruptedLine(signal))
      expect(ended.code).toBe(code)
      expect(ended.stdout).toBe("")
      expect(ended.afterStopMs).toBeLessThan(STOP_MS_MAX)
      expect(await poolsOf(store)).toEqual([])
      expect(leftovers(tmp)).toEqual([])
    }
  )
})

describe("check", () => {
  it("stops check --runs 20000 at once on SIGINT", async () => {
    const out = tempDir()
    const running = start(["check", "--runs", "20000", "--seed", "7", "--out", out])
    await handlerInstalled(running)
    await sleep(1_500)
    running.stop("SIGINT")
    const ended = await running.ended
    expect(ended.stderr).toBe(interruptedLine("SIGINT"))
    expect(ended.code).toBe(130)
    expect(ended.afterStopMs).toBeLessThan(STOP_MS_MAX)
    expect(leftovers(out)).toEqual([])
  })
})

describe("a command waiting on a silent KurrentDB", () => {
  let server: Server
  let port: number
  const sockets: Array<{ destroy(): void }> = []
  beforeAll(async () => {
    // Accepts connections and never answers: the client waits for its deadline.
    server = createServer((socket) => {
      sockets.push(socket)
    })
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    port = (server.address() as { port: number }).port
  })
  afterAll(async () => {
    for (const socket of sockets) socket.destroy()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })

  it.each([
    ["SIGINT", 130],
    ["SIGTERM", 143]
  ] as const)("stops on %s within the bound, with the line and exit %i", async (signal, code) => {
    const running = start(["pools", "--store", `kurrentdb://127.0.0.1:${port}?tls=false&defaultDeadline=60000`])
    await handlerInstalled(running)
    await sleep(1_500)
    running.stop(signal)
    const ended = await running.ended
    expect(ended.stderr).toBe(interruptedLine(signal))
    expect(ended.code).toBe(code)
    expect(ended.afterStopMs).toBeLessThan(STOP_MS_MAX)
  })
})

describe("a second signal", () => {
  it("exits at once, still with nothing written", async () => {
    const store = `sqlite:${join(tempDir(), "twice.db")}`
    const running = start(["simulate", scenario, "--store", store])
    await handlerInstalled(running)
    await sleep(1_500)
    running.stop("SIGINT")
    running.child.kill("SIGINT")
    const ended = await running.ended
    expect(ended.code).toBe(130)
    // Two outcomes, both right: the clean-up finished before the second signal was handled (the usual
    // line), or the second signal came during it and the process left at once, saying so.
    expect(ended.stderr).toMatch(
      /^xenpool: interrupted \(SIGINT\): nothing was written|^xenpool: interrupted again \(SIGINT\): stopped without waiting for the clean-up/
    )
    expect(await poolsOf(store)).toEqual([])
  })
})
