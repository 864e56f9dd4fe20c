/**
 * How long operations (a run, a replay, an export) tell their progress: a plain callback object, so a
 * library user can show it their own way and the CLI draws a bar with it (cli/progress.ts).
 */
export interface Progress {
  /** `value` of `total` units done; `label` says what is being done (it may change between phases). */
  readonly update: (label: string, value: number, total: number) => void
  /** The work is over (or moves on to printing): take the display down. */
  readonly stop: () => void
}

/** Progress that shows nothing: the default of every operation. */
export const silentProgress: Progress = { update: () => undefined, stop: () => undefined }
