/**
 * What this process has committed to a store, for the line printed when a signal stops it. A run's pool
 * is appended in one atomic step at its end, so until then the answer is "nothing was written".
 */
const written: string[] = []

/** Records a commit that landed whole (e.g. `pool rolling-1 (sqlite:xenpool.db)`). */
export const noteWritten = (what: string): void => {
  written.push(what)
}

export const writtenInWords = (): string =>
  written.length === 0
    ? "nothing was written"
    : `${written.join(", ")} had been written whole before the signal; nothing else was written`
