/**
 * Secrets kept out of messages (README: "Passwords never appear in messages"). One rule says where a
 * URL's credentials end, and the KurrentDB connection-string parser uses it too, so that what is hidden
 * is exactly what the client is given as the password.
 */
import { flatOptionName, knownOptions } from "./kurrentOptions.js"

export interface UrlParts {
  readonly scheme: string
  /** Between `://` and the last `@`, as written; undefined when there is no `@`. */
  readonly userinfo: string | undefined
  /** After the userinfo: hosts, path, options. */
  readonly rest: string
}

const schemePrefix = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//

/**
 * A URL cut at its credentials. The userinfo ends at the last `@` (`admin:p@ss@host`: user `admin`,
 * password `p@ss`): a host never holds an `@`, a password may, and so may its `/`, `:` and `%`.
 * A `?` before that `@` makes the URL ambiguous (see `isAmbiguous`).
 */
export const splitUrl = (text: string): UrlParts | undefined => {
  const match = schemePrefix.exec(text)
  if (match === null) return undefined
  const scheme = match[1]!
  const after = text.slice(match[0].length)
  const at = after.lastIndexOf("@")
  return at < 0
    ? { scheme, userinfo: undefined, rest: after }
    : { scheme, userinfo: after.slice(0, at), rest: after.slice(at + 1) }
}

/**
 * `A:B?C@D` is a password `B?C` before host `D`, or an option `C@D` (`?password=p@ss`): nothing tells
 * them apart, so such a URL is refused (a password writes `?` as `%3F`, an option value `@` as `%40`),
 * and shown with everything after the scheme hidden.
 */
export const isAmbiguous = (parts: UrlParts): boolean => parts.userinfo?.includes("?") === true

/** `USER:PASSWORD` at its first `:` (a user name has none); no `:` leaves the password undefined. */
export const splitUserinfo = (userinfo: string): { readonly user: string; readonly password: string | undefined } => {
  const colon = userinfo.indexOf(":")
  return colon < 0
    ? { user: userinfo, password: undefined }
    : { user: userinfo.slice(0, colon), password: userinfo.slice(colon + 1) }
}

/** Percent-encoding undone; text that is not valid percent-encoding (`100%`) is taken as written. */
export const percentDecoded = (text: string): string => {
  try {
    return decodeURIComponent(text)
  } catch {
    return text
  }
}

const hidden = "***"

/** Options whose values are shown: the client's, none of which holds a secret. */
const shownOptions: ReadonlySet<string> = new Set(knownOptions.map(flatOptionName))

interface QueryPair {
  readonly key: string
  readonly value: string | undefined
}

const queryPairs = (query: string): ReadonlyArray<QueryPair> =>
  query.split("&").map((pair) => {
    const eq = pair.indexOf("=")
    return eq < 0 ? { key: pair, value: undefined } : { key: pair.slice(0, eq), value: pair.slice(eq + 1) }
  })

/** Options the client does not know may carry a secret (`password=...`): their values are hidden. */
const isShown = (key: string): boolean => shownOptions.has(flatOptionName(key))

const maskRest = (rest: string): string => {
  const question = rest.indexOf("?")
  if (question < 0) return rest
  const pairs = queryPairs(rest.slice(question + 1)).map(({ key, value }) =>
    value === undefined ? key : `${key}=${isShown(key) ? value : hidden}`
  )
  return `${rest.slice(0, question)}?${pairs.join("&")}`
}

const maskUserinfo = (userinfo: string): string => {
  const { user, password } = splitUserinfo(userinfo)
  // Without a `:` the whole userinfo may be a token: all of it is hidden.
  return password === undefined ? hidden : `${user}:${hidden}`
}

/** One URL as it may appear in a message: the password and unknown options' values hidden. */
export const redactUrl = (url: string): string => {
  const parts = splitUrl(url)
  if (parts === undefined) return url
  if (isAmbiguous(parts)) return `${parts.scheme}://${hidden}`
  const userinfo = parts.userinfo === undefined ? "" : `${maskUserinfo(parts.userinfo)}@`
  return `${parts.scheme}://${userinfo}${maskRest(parts.rest)}`
}

/**
 * Below this length a secret is not searched for as text: a one-letter password would blank every such
 * letter of a message. Shorter secrets are still hidden wherever a URL is shown (`redactUrl`).
 */
const secretLengthMin = 4

/** A secret as written, decoded, and encoded as the client is given it. */
const formsOf = (written: string): ReadonlyArray<string> => {
  const decoded = percentDecoded(written)
  return [written, decoded, encodeURIComponent(decoded)]
}

const optionSecrets = (text: string): ReadonlyArray<string> => {
  const question = text.indexOf("?")
  if (question < 0) return []
  return queryPairs(text.slice(question + 1)).flatMap(({ key, value }) =>
    value !== undefined && !isShown(key) ? formsOf(value) : []
  )
}

/**
 * The secrets of a URL: its password (or whole userinfo without one) and unknown options' values; for an
 * ambiguous URL, under either reading.
 */
export const secretsOf = (url: string): ReadonlyArray<string> => {
  const parts = splitUrl(url.trim())
  if (parts === undefined) return []
  const secrets: string[] = [...optionSecrets(parts.rest)]
  if (parts.userinfo !== undefined) {
    secrets.push(...formsOf(splitUserinfo(parts.userinfo).password ?? parts.userinfo))
  }
  if (isAmbiguous(parts)) secrets.push(...formsOf(parts.rest), ...optionSecrets(`${parts.userinfo}@${parts.rest}`))
  return [...new Set(secrets)].filter((secret) => [...secret].length >= secretLengthMin)
}

const urlsInText = /[A-Za-z][A-Za-z0-9+.-]*:\/\/\S*/g

/** What closes a sentence around a URL (`(kurrentdb://h:1):`) is not part of it. */
const trailing = /[)\]}>,.;:'"]+$/

/** The placeholder in xenpool's own hints (`kurrentdb://USER:PASSWORD@HOST`), which hides nothing. */
const placeholder = /^\[?USER:PASSWORD$/

const redactInText = (token: string): string => {
  const tail = trailing.exec(token)?.[0] ?? ""
  const url = token.slice(0, token.length - tail.length)
  const parts = splitUrl(url)
  if (parts?.userinfo !== undefined && placeholder.test(parts.userinfo)) return token
  return redactUrl(url) + tail
}

/**
 * A text with the secrets of the given URLs hidden wherever they appear (a client's error may echo its
 * connection string, a stack trace anything), and the password of any other URL written in it.
 */
export const redact = (text: string, urls: ReadonlyArray<string> = []): string => {
  const secrets = [...new Set(urls.flatMap(secretsOf))].sort((a, b) => b.length - a.length)
  let out = text
  for (const secret of secrets) out = out.split(secret).join(hidden)
  return out.replace(urlsInText, redactInText)
}

/** The URLs in command-line arguments: `--store=kurrentdb://...` holds one after its `=`. */
export const urlsIn = (args: ReadonlyArray<string>): ReadonlyArray<string> =>
  args.flatMap((arg) => {
    const at = arg.search(/[A-Za-z][A-Za-z0-9+.-]*:\/\//)
    return at < 0 ? [] : [arg.slice(at)]
  })
