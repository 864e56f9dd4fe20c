/**
 * Progress of long work on stderr (cli-progress): on a terminal, a bar with the percentage and the time
 * left, redrawn in place; elsewhere (a CI log, a file), the same line every few seconds; nothing at all
 * with `--quiet` or `--json`, or for work that is over before the first line is due. No colours, so
 * NO_COLOR holds. The CLI is outside the deterministic core: it may read the wall clock here.
 */
import { SingleBar } from "cli-progress"
import { silentProgress, type Progress } from "../api/progress.js"

/** How often the plain line is written when stderr is not a terminal. */
const plainLineEveryMs = 5_000

/** The bar waits this long before it first appears (the plain line, a whole period), so that short commands print nothing. */
const firstShowAfterMs = (tty: boolean) => (tty ? 500 : plainLineEveryMs)

const formatSeconds = (s: number): string => {
  if (!Number.isFinite(s) || s < 0) return "?"
  if (s < 60) return `${Math.round(s)}s`
  const m = Math.floor(s / 60)
  return m < 60
    ? `${m}m${String(Math.round(s % 60)).padStart(2, "0")}s`
    : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`
}

/** A progress display; `enabled` is false with `--quiet` or `--json`. */
export const makeProgress = (enabled: boolean, stream: NodeJS.WriteStream = process.stderr): Progress => {
  if (!enabled) return silentProgress
  const tty = stream.isTTY === true
  const bar = new SingleBar({
    stream,
    format: (options, params, payload: { label?: string }) => {
      const pct = params.total > 0 ? Math.min(100, Math.floor((100 * params.value) / params.total)) : 0
      const barSize = options.barsize ?? 20
      const filled = Math.round((pct / 100) * barSize)
      const bar = tty ? ` [${"#".repeat(filled)}${".".repeat(barSize - filled)}]` : ""
      const eta =
        params.value > 0 && params.value < params.total && Number.isFinite(params.eta) && params.eta >= 0
          ? `, ${formatSeconds(params.eta)} left`
          : ""
      return `${tty ? "" : "xenpool: "}${payload.label ?? ""}${bar} ${pct} %${eta}`
    },
    barsize: 20,
    hideCursor: false,
    clearOnComplete: true,
    linewrap: false,
    noTTYOutput: !tty,
    notTTYSchedule: plainLineEveryMs,
    etaBuffer: 50,
    fps: 5
  })
  const startedMs = performance.now()
  let started = false
  let shownTotal = 0
  return {
    update: (label, value, total) => {
      if (!started && performance.now() - startedMs < firstShowAfterMs(tty)) return
      // A new total is a new phase (simulating, then writing): start again, so that its ETA is its own.
      if (!started || total !== shownTotal) {
        started = true
        shownTotal = total
        bar.start(Math.max(1, total), Math.min(value, total), { label })
        return
      }
      bar.update(Math.min(value, total), { label })
    },
    stop: () => {
      if (started) bar.stop()
      started = false
    }
  }
}
