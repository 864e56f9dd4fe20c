/**
 * The view's HTTP server: plain node:http at the edge (docs/view.md says why), answering GET and HEAD
 * only. `/api/…` goes to the endpoints (view/endpoints.ts); any other path is a file of the package's own
 * `dist/www` folder, or 404. A path with `..`, a backslash, a NUL or an encoded form of them (`%2e%2e`,
 * `%252e`, …) is refused with 400 before anything is looked up. Requests whose Host header is not the
 * address the server was started on are refused (a page of another site cannot reach it by DNS rebinding).
 */
import * as fs from "node:fs"
import * as http from "node:http"
import * as path from "node:path"
import { Cause, Effect, Exit, Runtime } from "effect"
import type { EventStore } from "../store/EventStore.js"
import type { SnapshotStore } from "../store/SnapshotStore.js"
import {
  endpoint,
  endpointFailure,
  errorBody,
  type EndpointFailure,
  failureOf,
  OverviewCache,
  type EndpointContext
} from "./endpoints.js"

const contentTypes: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".woff2": "font/woff2",
  ".json": "application/json; charset=utf-8"
}

const securityHeaders = {
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  // Everything comes from this server: no CDN, no inline script.
  "Content-Security-Policy":
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
}

/** How many times a path is percent-decoded looking for a hidden `..`: `%25252e` is three. */
const DECODE_ROUNDS_MAX = 4

/**
 * The path's segments, or undefined when it must be refused: a segment `.` or `..`, a backslash or a
 * NUL, in the path as sent or in any of its percent-decoded forms, or a malformed encoding.
 */
export const safeSegments = (rawPath: string): ReadonlyArray<string> | undefined => {
  let text = rawPath
  for (let round = 0; round <= DECODE_ROUNDS_MAX; round++) {
    if (text.includes("\\") || text.includes("\0")) return undefined
    if (text.split("/").some((segment) => segment === ".." || segment === ".")) return undefined
    if (!text.includes("%")) break
    if (round === DECODE_ROUNDS_MAX) return undefined
    try {
      text = decodeURIComponent(text)
    } catch {
      return undefined
    }
  }
  return text.split("/").filter((segment) => segment !== "")
}

/** The addresses only this machine reaches. */
export const isLoopback = (host: string): boolean => host === "127.0.0.1" || host === "::1" || host === "localhost"

export interface ServerOptions {
  /** The folder static files come from (the package's `dist/www`). */
  readonly staticRoot: string
  readonly host: string
  readonly port: number
}

type Services = EventStore | SnapshotStore

const send = (res: http.ServerResponse, status: number, type: string, body: string | Buffer, head: boolean) => {
  res.writeHead(status, {
    ...securityHeaders,
    "Content-Type": type,
    "Content-Length": Buffer.byteLength(body),
    "Cache-Control": "no-store"
  })
  res.end(head ? undefined : body)
}

const sendJson = (res: http.ServerResponse, status: number, value: unknown, head: boolean) =>
  send(res, status, "application/json; charset=utf-8", JSON.stringify(value), head)

const sendFailure = (res: http.ServerResponse, failure: EndpointFailure, head: boolean) =>
  sendJson(res, failure.status, errorBody(failure), head)

/** A file of the static root, or undefined: only regular files strictly inside the root. */
const staticFile = (root: string, segments: ReadonlyArray<string>): string | undefined => {
  const file = path.resolve(root, ...(segments.length === 0 ? ["index.html"] : segments))
  if (!file.startsWith(root + path.sep)) return undefined
  try {
    // A symlink inside the root that leads out of it is not followed.
    const real = fs.realpathSync(file)
    return real.startsWith(fs.realpathSync(root) + path.sep) && fs.statSync(real).isFile() ? real : undefined
  } catch {
    return undefined
  }
}

/** The request handler; `runtime` holds the store the command opened. */
const handler = (options: ServerOptions, runtime: Runtime.Runtime<Services>, allowedHosts: ReadonlySet<string>) => {
  const run = <A>(effect: Effect.Effect<A, unknown, Services>): Promise<A> =>
    Runtime.runPromiseExit(runtime)(effect).then((exit) =>
      Exit.isSuccess(exit) ? exit.value : Promise.reject(Cause.squash(exit.cause))
    )
  const context: EndpointContext = { overviews: new OverviewCache(), run }
  const root = path.resolve(options.staticRoot)
  return (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const head = req.method === "HEAD"
    if (req.method !== "GET" && !head) {
      res.setHeader("Allow", "GET, HEAD")
      return sendFailure(
        res,
        endpointFailure(
          405,
          "read-only server",
          `${req.method} ${req.url}`,
          "GET or HEAD: the view never changes the store"
        ),
        false
      )
    }
    if (allowedHosts.size > 0 && !allowedHosts.has(req.headers.host ?? ""))
      return sendFailure(
        res,
        endpointFailure(
          400,
          "unexpected Host header",
          req.headers.host ?? "(none)",
          `one of ${[...allowedHosts].join(", ")}`
        ),
        head
      )
    const raw = req.url ?? "/"
    const queryAt = raw.indexOf("?")
    const rawPath = queryAt < 0 ? raw : raw.slice(0, queryAt)
    const segments = safeSegments(rawPath)
    if (segments === undefined)
      return sendFailure(
        res,
        endpointFailure(400, "path refused", rawPath, "a path inside the view, without '..' or its encodings"),
        head
      )
    const params = new URLSearchParams(queryAt < 0 ? "" : raw.slice(queryAt + 1))
    const answer = endpoint(context, `/${segments.join("/")}`, params)
    if (answer !== undefined) {
      run(answer).then(
        (body) => sendJson(res, 200, body, head),
        (error: unknown) => sendFailure(res, failureOf(error), head)
      )
      return
    }
    const file = staticFile(root, segments)
    if (file === undefined)
      return sendFailure(res, endpointFailure(404, "no such file", rawPath, "a file of the view (start at /)"), head)
    send(res, 200, contentTypes[path.extname(file)] ?? "application/octet-stream", fs.readFileSync(file), head)
  }
}

/**
 * Listens until the scope closes, then closes every connection (Ctrl-C stops the command at once).
 * Answers the address it listens on (the port is the one the system chose for port 0).
 */
export const serve = (options: ServerOptions) =>
  Effect.gen(function* () {
    const runtime = yield* Effect.runtime<Services>()
    const allowedHosts = new Set<string>()
    const server = http.createServer()
    const port = yield* Effect.acquireRelease(
      Effect.async<number, EndpointFailure>((resume) => {
        server.once("error", (error: NodeJS.ErrnoException) =>
          resume(
            Effect.fail(
              endpointFailure(
                500,
                "cannot listen",
                `${options.host}:${options.port}`,
                error.code === "EADDRINUSE" ? "a free port (--port N; 0 picks one)" : error.message
              )
            )
          )
        )
        server.listen(options.port, options.host, () =>
          resume(Effect.succeed((server.address() as { port: number }).port))
        )
      }),
      () =>
        Effect.async<void>((resume) => {
          server.closeAllConnections()
          server.close(() => resume(Effect.void))
        })
    )
    const hostPart = options.host.includes(":") ? `[${options.host}]` : options.host
    // Another address (--host) is reached under names the server cannot know: no Host check there.
    if (isLoopback(options.host)) for (const name of [hostPart, "localhost"]) allowedHosts.add(`${name}:${port}`)
    server.on("request", handler(options, runtime, allowedHosts))
    return { url: `http://${hostPart}:${port}/`, port }
  })
