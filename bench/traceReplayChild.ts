/**
 * `node dist/bench/traceReplayChild.js TRACE`: validates a trace alone (timed), then replays it into a
 * memory store through the same function as `xenpool replay` (timed: one pass that reads, validates,
 * runs and appends) and prints one JSON line: records, events, both wall times, the replay's CPU time
 * (user + system) and the process's peak RSS. Run as a child of bench/traces.ts so that the peak is the replay's own.
 */
import { Effect } from "effect"
import { replayIntoStore, validateTraceFile } from "../api/replay.js"
import { poolId } from "../domain/ids.js"
import { layerMemory } from "../store/memory.js"
import { fileInput } from "../simulations/trace.js"

const main = async (path: string): Promise<void> => {
  const input = fileInput(path)
  const validateStart = performance.now()
  await Effect.runPromise(validateTraceFile(input))
  const validateMs = performance.now() - validateStart
  const replayStart = performance.now()
  const cpuStart = process.cpuUsage()
  const program = replayIntoStore(input, { pool: poolId("bench-1") }).pipe(Effect.provide(layerMemory))
  const output = await Effect.runPromise(program)
  const replayMs = performance.now() - replayStart
  const cpu = process.cpuUsage(cpuStart)
  input.close()
  process.stdout.write(
    `${JSON.stringify({
      records: output.records,
      events: output.events,
      validateMs,
      replayMs,
      cpuMs: (cpu.user + cpu.system) / 1000,
      maxRssKiB: process.resourceUsage().maxRSS
    })}\n`
  )
}

const path = process.argv[2]
if (path === undefined) {
  process.stderr.write("usage: traceReplayChild TRACE\n")
  process.exit(2)
}
main(path).catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
  process.exit(1)
})
