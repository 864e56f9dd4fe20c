/**
 * Text that goes into a one-line message: no control character is left raw (a user's `\x1b[31m` would
 * recolour the terminal, a `\n` would forge a second line). One rule, used by the domain's messages that
 * quote user input and by the CLI for every line it prints (cli/errors.ts).
 */

const controlNames: Readonly<Record<string, string>> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" }

/** A control character (C0, DEL, C1) as text: `\n`, `\r`, `\t`, else `\xNN`. */
const escapeControl = (char: string): string =>
  controlNames[char] ?? `\\x${char.charCodeAt(0).toString(16).padStart(2, "0")}`

/** The text with every control character escaped. */
export const oneLine = (text: string): string => text.replace(/\p{Cc}/gu, escapeControl)

/** A user's value quoted in a message: escaped, its quotes escaped, cut at `max` characters. */
export const quoted = (text: string, max = 60): string =>
  `"${oneLine(text.length > max ? `${text.slice(0, max)}…` : text).replaceAll('"', '\\"')}"`
