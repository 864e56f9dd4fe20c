/**
 * A moment of a pool's history as the view's URL writes it (`?t=3m10s`): the compound form the CLI
 * prints for times of a minute or more (`3m10s`, `1h02m03s`), any duration `xenpool at` accepts
 * (`190.5s`, `800ms`, `42us`), or `@REVISION`. One grammar for the page and the server.
 */
import { Either } from "effect"
import { parseDurationUs } from "../domain/units.js"

export type Moment = { readonly atUs: number } | { readonly revision: number }

const compound = /^(?:([0-9]+)h)?(?:([0-9]+)m(?!s))?(?:([0-9]+)s)?$/

/** The moment `text` names, or a sentence saying what would have been accepted. */
export const parseMoment = (text: string): Either.Either<Moment, string> => {
  const input = text.trim()
  if (/^@[0-9]+$/.test(input)) return Either.right({ revision: Number(input.slice(1)) })
  const parts = compound.exec(input)
  if (parts !== null && input !== "" && (parts[1] !== undefined || parts[2] !== undefined)) {
    const [h, m, s] = [parts[1], parts[2], parts[3]].map((p) => Number(p ?? 0))
    return Either.right({ atUs: ((h! * 60 + m!) * 60 + s!) * 1_000_000 })
  }
  return Either.mapBoth(parseDurationUs(input), {
    onLeft: () => `'${text}' is not a moment: a time like 3m10s, 12.5s, 800ms, 42us, or @REVISION`,
    onRight: (atUs) => ({ atUs })
  })
}

/** The shortest text `parseMoment` reads back as exactly `atUs`: `3m10s`, `42s`, `190.5s`. */
export const formatMoment = (atUs: number): string => {
  if (atUs % 1_000_000 !== 0) return `${atUs / 1_000_000}s`
  const totalS = atUs / 1_000_000
  const h = Math.floor(totalS / 3600)
  const m = Math.floor((totalS % 3600) / 60)
  const s = totalS % 60
  if (h > 0) return `${h}h${String(m).padStart(2, "0")}m${String(s).padStart(2, "0")}s`
  if (m > 0) return `${m}m${String(s).padStart(2, "0")}s`
  return `${s}s`
}
