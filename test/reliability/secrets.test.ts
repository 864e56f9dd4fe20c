/**
 * "Passwords never appear in messages" (README), for every form a store URL takes: a password holding
 * `/`, `@`, `:`, `%`, `?` or any other character, an empty user name, the `esdb://` and `+discover`
 * schemes, a password passed as an option, with and without XENPOOL_DEBUG=1. The redaction is checked
 * in-process on many generated URLs, and on real commands against a closed port (127.0.0.1:1).
 */
import { createRequire } from "node:module"
import { fc, it as prop } from "@fast-check/vitest"
import { Either } from "effect"
import { describe, expect, it } from "vitest"
import { parseKurrentUrl } from "../../store/kurrentMapping.js"
import { redact, redactUrl, secretsOf, splitUrl, urlsIn } from "../../store/redact.js"
import { isCleanError } from "../cli/run.js"
import { xenpoolAsync } from "./cli.js"

/** The client's own connection-string parser: what it reads as the password is what it sends. */
const { parseConnectionString } = createRequire(import.meta.url)(
  "@kurrent/kurrentdb-client/dist/Client/parseConnectionString.js"
) as {
  parseConnectionString: (text: string) => {
    readonly hosts: ReadonlyArray<{ readonly address: string; readonly port: number }>
    readonly defaultCredentials?: { readonly username: string; readonly password: string }
  }
}

/** Every run against the closed port gives up within half a second. */
const fast = "tls=false&defaultDeadline=500"
const discoverFast = `${fast}&maxDiscoverAttempts=1&discoveryInterval=100&gossipTimeout=300`

/**
 * Stretches of the password that must not show: all of it, and any five characters in a row (a parser
 * that cut the password at its first `@` would print the rest as a host name).
 */
const leaks = (stderr: string, password: string): ReadonlyArray<string> => {
  const chars = [...password]
  const pieces = new Set([password, decodeURIComponentOr(password), encodeURIComponent(password)])
  for (let i = 0; i + 5 <= chars.length; i++) pieces.add(chars.slice(i, i + 5).join(""))
  return [...pieces].filter((piece) => stderr.includes(piece))
}

const decodeURIComponentOr = (text: string): string => {
  try {
    return decodeURIComponent(text)
  } catch {
    return text
  }
}

describe("redactUrl: the password hidden, whatever it holds", () => {
  it("the last @ before the host ends the credentials", () => {
    expect(redactUrl("kurrentdb://admin:p@ss@127.0.0.1:1")).toBe("kurrentdb://admin:***@127.0.0.1:1")
    expect(redactUrl("kurrentdb://admin:pa/ss@127.0.0.1:1")).toBe("kurrentdb://admin:***@127.0.0.1:1")
    expect(redactUrl("kurrentdb://:SECRETPW@127.0.0.1:1?tls=false")).toBe("kurrentdb://:***@127.0.0.1:1?tls=false")
    expect(redactUrl("esdb://admin:a/b:c%d@h:2113?tls=false")).toBe("esdb://admin:***@h:2113?tls=false")
    expect(redactUrl("kurrentdb+discover://admin:x@y@dns.example")).toBe("kurrentdb+discover://admin:***@dns.example")
  })

  it("credentials without a password may be a token: all of them are hidden", () => {
    expect(redactUrl("kurrentdb://s3cr3tt0ken@h:2113")).toBe("kurrentdb://***@h:2113")
  })

  it("an option the client does not know may hold a secret: its value is hidden, the client's are shown", () => {
    expect(redactUrl("kurrentdb://h:1?tls=false&password=SECRETQ&defaultDeadline=500")).toBe(
      "kurrentdb://h:1?tls=false&password=***&defaultDeadline=500"
    )
  })

  it("a ? before the last @ (a password, or an option?) hides everything after the scheme", () => {
    expect(redactUrl("kurrentdb://admin:pa?ss@h:1")).toBe("kurrentdb://***")
    expect(redactUrl("kurrentdb://h:1?tls=false&password=p@ss")).toBe("kurrentdb://***")
  })

  it("URLs without credentials are unchanged", () => {
    for (const url of ["kurrentdb://localhost:2113?tls=false", "sqlite:xenpool.db", "memory:", "esdb://a:1,b:2"]) {
      expect(redactUrl(url)).toBe(url)
    }
  })

  it("redact hides the given URLs' passwords anywhere in a text, and any URL's written in it", () => {
    const url = "kurrentdb://admin:Sw0rdf1sh@h:1"
    expect(redact(`client said: bad "Sw0rdf1sh" near ${url}`, [url])).toBe(
      'client said: bad "***" near kurrentdb://admin:***@h:1'
    )
    expect(redact("open (esdb://u:Zebra@h:1): refused")).toBe("open (esdb://u:***@h:1): refused")
    // xenpool's own hints keep their placeholder.
    expect(redact("give them (kurrentdb://USER:PASSWORD@HOST:PORT)")).toBe(
      "give them (kurrentdb://USER:PASSWORD@HOST:PORT)"
    )
  })

  it("a URL given as --store=URL is found in the arguments", () => {
    expect(urlsIn(["pools", "--store=kurrentdb://a:b@h:1", "--json"])).toEqual(["kurrentdb://a:b@h:1"])
    expect(secretsOf("kurrentdb://a:b%40cdef@h:1")).toEqual(["b%40cdef", "b@cdef"])
  })
})

// --- generated URLs -------------------------------------------------------------------------------

/**
 * Password characters: the ones a URL gives a meaning to, percent-escapes, unicode, and capitals no
 * message contains, so that any five of them in a row showing up in stderr is a leak.
 */
const passwordChar = fc.constantFrom(
  "/",
  "@",
  ":",
  "%",
  "?",
  "&",
  "=",
  "#",
  "+",
  "%40",
  "%2F",
  "Q",
  "X",
  "Z",
  "J",
  "é",
  "ü",
  "€",
  "漢",
  "🔑"
)
const password = fc.array(passwordChar, { minLength: 8, maxLength: 20 }).map((chars) => chars.join(""))
/** In an option value `&`, `=`, `?`, `#` and spaces would end it: a user escapes them there. */
const optionPassword = fc
  .array(fc.constantFrom("/", "@", ":", "%40", "Q", "X", "Z", "J", "é", "€", "🔑"), { minLength: 8, maxLength: 16 })
  .map((chars) => chars.join(""))
const user = fc.constantFrom("admin", "ops", "a")
const scheme = fc.constantFrom("kurrentdb", "esdb", "kurrentdb+discover")
const hostList = fc.constantFrom(["127.0.0.1:1"], ["node1:2113", "node2:2114"], ["db.example"])

describe("generated URLs, in-process", () => {
  prop.prop([scheme, user, password, hostList], { numRuns: 2000, seed: 20261207 })(
    "the redacted URL never holds the password; the client reads exactly that password and the hosts",
    (s, u, pw, hosts) => {
      const url = `${s}://${u}:${pw}@${hosts.join(",")}?tls=false`
      const parsed = parseKurrentUrl(url)
      if (pw.includes("?")) {
        // A password or an option? Refused, and shown with nothing after the scheme.
        expect(redactUrl(url)).toBe(`${s}://***`)
        expect(Either.isLeft(parsed) && parsed.left).toContain("%3F")
        return
      }
      const redacted = redactUrl(url)
      expect(redacted).toBe(`${s}://${u}:***@${hosts.join(",")}?tls=false`)
      expect(splitUrl(url)?.userinfo).toBe(`${u}:${pw}`)
      if (Either.isLeft(parsed)) throw new Error(`refused: ${parsed.left}`)
      expect(parsed.right.redacted).toBe(redacted)
      expect(parsed.right.hosts).toEqual(hosts.map((h) => (h.includes(":") ? h : `${h}:2113`)))
      const client = parseConnectionString(parsed.right.connectionString)
      expect(client.defaultCredentials).toEqual({ username: u, password: decodeURIComponentOr(pw) })
      expect(client.hosts.map((h) => `${h.address}:${h.port}`)).toEqual(parsed.right.hosts)
    }
  )

  prop.prop([scheme, password, optionPassword], { numRuns: 1000, seed: 20261207 })(
    "an option holding a password with an @ is refused as ambiguous, with none of it shown",
    (s, pw, optionPw) => {
      const url = `${s}://127.0.0.1:1?tls=false&password=${optionPw}@x${pw}`
      const parsed = parseKurrentUrl(url)
      expect(Either.isLeft(parsed)).toBe(true)
      const message = redact(`(${redactUrl(url)}): ${Either.isLeft(parsed) ? parsed.left : ""}`, [url])
      expect(leaks(message, `${optionPw}@x${pw}`)).toEqual([])
    }
  )

  prop.prop([scheme, user, password, fc.string({ maxLength: 40 })], { numRuns: 2000, seed: 20261207 })(
    "a text quoting the connection string the client was given keeps none of the password",
    (s, u, pw, noise) => {
      const parsed = parseKurrentUrl(`${s}://${u}:${pw.replaceAll("?", "%3F")}@127.0.0.1:1`)
      if (Either.isLeft(parsed)) throw new Error(`refused: ${parsed.left}`)
      const given = parsed.right.connectionString
      const text = redact(`${noise}${given}\n${noise} "${given.slice(given.indexOf(":") + 3)}"`, [given])
      expect(leaks(text, pw)).toEqual([])
    }
  )
})

// --- real commands --------------------------------------------------------------------------------

const run = (url: string, options: { debug?: boolean; viaEnv?: boolean } = {}) =>
  xenpoolAsync(options.viaEnv === true ? ["pools"] : ["pools", "--store", url], {
    env: {
      XENPOOL_DEBUG: options.debug === true ? "1" : "",
      ...(options.viaEnv === true ? { XENPOOL_STORE: url } : {})
    }
  })

describe("xenpool pools --store URL: the password never reaches stderr", () => {
  const cases: ReadonlyArray<readonly [string, string]> = [
    ["an empty user name", "kurrentdb://:SECRETPW@127.0.0.1:1?tls=false"],
    ["a / in the password", `kurrentdb://admin:pa/SsWRD@127.0.0.1:1?${fast}`],
    ["a space and a colon in the password", `kurrentdb://admin:pa SsWRD:x@127.0.0.1:1?${fast}`],
    ["an @ in the password", `kurrentdb://admin:p@SsWRD@127.0.0.1:1?${fast}`],
    ["esdb://", `esdb://admin:p@SsWRD@127.0.0.1:1?${fast}`],
    ["kurrentdb+discover://", `kurrentdb+discover://admin:p@SsWRD@127.0.0.1:1?${discoverFast}`],
    ["a password option", `kurrentdb://127.0.0.1:1?${fast}&password=SsWRDQ`],
    ["a password option with an @", `kurrentdb://127.0.0.1:1?${fast}&password=Ss@WRDQ`],
    ["a ? in the password", `kurrentdb://admin:pa?SsWRD@127.0.0.1:1?${fast}`]
  ]
  for (const [name, url] of cases) {
    const secret = name === "an empty user name" ? "SECRETPW" : name.endsWith("with an @") ? "WRDQ" : "SsWRD"
    it(`${name}: one clean line without the password`, async () => {
      const r = await run(url)
      expect(isCleanError(r), r.stderr).toBe(true)
      expect(r.stderr).not.toContain(secret)
      expect(r.stderr).toContain("***")
    })
    it(`${name}, with XENPOOL_DEBUG=1: nor in the debug output`, async () => {
      const r = await run(url, { debug: true })
      expect(r.status).toBe(1)
      expect(r.stderr.split("\n").length).toBeGreaterThan(2)
      expect(r.stderr).not.toContain(secret)
    })
  }

  it("an @ in the password: the host is the one after the last @, and the message says so", async () => {
    const r = await run(`kurrentdb://admin:p@SsWRD@127.0.0.1:1?${fast}`)
    expect(r.stderr).toContain(`open (kurrentdb://admin:***@127.0.0.1:1?${fast}): connection refused at 127.0.0.1:1`)
  })

  it("XENPOOL_STORE and --store=URL are redacted the same way", async () => {
    const url = `kurrentdb://admin:p@SsWRD/x@127.0.0.1:1?${fast}`
    for (const r of [
      await run(url, { viaEnv: true }),
      await xenpoolAsync(["pools", `--store=${url}`]),
      await run(url, { viaEnv: true, debug: true })
    ]) {
      expect(r.status).toBe(1)
      expect(r.stderr).not.toContain("SsWRD")
    }
  })

  prop.prop(
    [
      fc.oneof(
        fc.record({ kind: fc.constant("userinfo" as const), scheme, user, password }),
        fc.record({ kind: fc.constant("option" as const), scheme, user, password: optionPassword })
      ),
      fc.boolean(),
      fc.boolean()
    ],
    { numRuns: 25, seed: 20261207 }
  )(
    "generated passwords, real commands: none of the password in stderr",
    async (url, debug, viaEnv) => {
      const options = url.scheme === "kurrentdb+discover" ? discoverFast : fast
      const text =
        url.kind === "userinfo"
          ? `${url.scheme}://${url.user}:${url.password}@127.0.0.1:1?${options}`
          : `${url.scheme}://127.0.0.1:1?${options}&password=${url.password}`
      const r = await run(text, { debug, viaEnv })
      expect(r.status).toBe(1)
      expect(r.stderr.startsWith("xenpool: ")).toBe(true)
      expect(leaks(r.stderr, url.password)).toEqual([])
    },
    // About 25 processes of a second or two each, on a shared machine.
    240_000
  )
})
