/**
 * The real client against servers that are not KurrentDB or not there, on loopback only: each failure
 * is a one-line StoreError naming the URL (without its password) and what to check, within a bounded
 * time, through the adapter and through the built `xenpool` binary. No KurrentDB server is needed.
 */
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as http2 from "node:http2"
import * as net from "node:net"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { makeKurrentStores } from "../../store/kurrent.js"
import { StoreError } from "../../store/errors.js"

const bundle = path.resolve(import.meta.dirname, "../../dist/xenpool.mjs")

/** A loopback server for the test's duration. */
const listening = <S extends net.Server>(server: S) =>
  Effect.acquireRelease(
    Effect.async<number>((resume) => {
      server.listen(0, "127.0.0.1", () => resume(Effect.succeed((server.address() as net.AddressInfo).port)))
    }),
    () =>
      Effect.async<void>((resume) => {
        server.close(() => resume(Effect.void))
        ;(server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.()
      })
  )

/** Accepts connections and never answers. */
const silentServer = () => {
  const sockets = new Set<net.Socket>()
  const server = net.createServer((socket) => {
    sockets.add(socket)
    socket.on("error", () => {})
  })
  server.on("close", () => sockets.forEach((s) => s.destroy()))
  const close = server.close.bind(server)
  server.close = (callback?: (err?: Error) => void) => {
    sockets.forEach((s) => s.destroy())
    return close(callback)
  }
  return server
}

/** Plain HTTP/2 answering every gRPC call with one status (16: UNAUTHENTICATED). */
const grpcStatusServer = (status: number, message: string) => {
  const server = http2.createServer()
  server.on("stream", (stream) => {
    stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true })
    stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": String(status), "grpc-message": message }))
    stream.on("error", () => {})
    stream.end()
  })
  const sessions = new Set<http2.ServerHttp2Session>()
  server.on("session", (session) => sessions.add(session))
  const close = server.close.bind(server)
  server.close = (callback?: (err?: Error) => void) => {
    sessions.forEach((s) => s.destroy())
    return close(callback)
  }
  return server
}

/** The open's failure, timed. */
const openFailure = (url: string) =>
  Effect.gen(function* () {
    const started = Date.now()
    const error = yield* Effect.flip(Effect.scoped(makeKurrentStores(url)))
    return { error, ms: Date.now() - started }
  })

const assertOneLine = (error: StoreError) => {
  assert.instanceOf(error, StoreError)
  assert.notInclude(error.message, "\n")
  assert.strictEqual(error.operation, "open")
}

describe("KurrentDB adapter with the real client, no server", () => {
  it.live("a port nobody listens on: connection refused, within seconds", () =>
    Effect.gen(function* () {
      const { error, ms } = yield* openFailure("kurrentdb://127.0.0.1:1?tls=false")
      assertOneLine(error)
      assert.strictEqual(error.url, "kurrentdb://127.0.0.1:1?tls=false")
      assert.include(error.detail, "connection refused at 127.0.0.1:1: is KurrentDB running there")
      assert.isBelow(ms, 10_000)
    })
  )

  it.live("the password never reaches the message", () =>
    Effect.gen(function* () {
      const { error } = yield* openFailure("kurrentdb://admin:s3cret@127.0.0.1:1?tls=false")
      assert.strictEqual(error.url, "kurrentdb://admin:***@127.0.0.1:1?tls=false")
      assert.notInclude(error.message, "s3cret")
    })
  )

  it.live("esdb:// is accepted without the client's deprecation warning on stderr", () =>
    Effect.gen(function* () {
      const warnings: unknown[] = []
      const warn = console.warn
      console.warn = (...args: unknown[]) => void warnings.push(args)
      const { error } = yield* openFailure("esdb://127.0.0.1:1?tls=false").pipe(
        Effect.ensuring(Effect.sync(() => (console.warn = warn)))
      )
      assert.deepStrictEqual(warnings, [])
      assert.include(error.detail, "connection refused")
      assert.strictEqual(error.url, "esdb://127.0.0.1:1?tls=false")
    })
  )

  it.live("a bad connection string is refused before connecting, naming the option", () =>
    Effect.gen(function* () {
      const { error, ms } = yield* openFailure("kurrentdb://127.0.0.1:2113?tls=nope")
      assert.strictEqual(error.operation, "parse store URL")
      assert.include(error.detail, "tls must be true or false")
      assert.isBelow(ms, 1_000)
      const unknown = yield* openFailure("kurrentdb://127.0.0.1:2113?tsl=false")
      assert.include(unknown.error.detail, "unknown option tsl")
    })
  )

  it.scopedLive("a server that accepts connections and never answers: no answer within the deadline", () =>
    Effect.gen(function* () {
      const port = yield* listening(silentServer())
      const { error, ms } = yield* openFailure(`kurrentdb://127.0.0.1:${port}?tls=false&defaultDeadline=1000`)
      assertOneLine(error)
      assert.include(error.detail, `no answer from 127.0.0.1:${port} within 1 s`)
      assert.isBelow(ms, 8_000)
    })
  )

  it.scopedLive("TLS asked of a server without TLS: says to add tls=false", () =>
    Effect.gen(function* () {
      const port = yield* listening(grpcStatusServer(16, "Bad credentials"))
      const { error, ms } = yield* openFailure(`kurrentdb://localhost:${port}`)
      assertOneLine(error)
      assert.include(error.detail, "answered without TLS while the URL asks for TLS: add tls=false")
      assert.isBelow(ms, 10_000)
    })
  )

  it.scopedLive("wrong credentials: says to check the user name and password", () =>
    Effect.gen(function* () {
      const port = yield* listening(grpcStatusServer(16, "Bad credentials"))
      const { error } = yield* openFailure(`kurrentdb://admin:wrong@127.0.0.1:${port}?tls=false`)
      assertOneLine(error)
      assert.include(error.detail, "access denied")
      assert.include(error.detail, "check the user name and password")
      assert.notInclude(error.message, "wrong")
    })
  )

  it.live("through the CLI: one clean line and a non-zero exit, in seconds", () =>
    Effect.gen(function* () {
      if (!fs.existsSync(bundle)) return assert.fail(`${bundle} is missing: run npm run build first`)
      const started = Date.now()
      const result = yield* Effect.async<{ code: number | null; stdout: string; stderr: string }>((resume) => {
        execFile(
          process.execPath,
          [bundle, "pools", "--store", "kurrentdb://127.0.0.1:1?tls=false"],
          { timeout: 60_000, env: { ...process.env, XENPOOL_STORE: "", XENPOOL_DEBUG: "" } },
          (error, stdout, stderr) =>
            resume(Effect.succeed({ code: error === null ? 0 : (error.code as number | null), stdout, stderr }))
        )
      })
      const ms = Date.now() - started
      assert.notStrictEqual(result.code, 0)
      assert.deepStrictEqual(result.stderr.trim().split("\n").length, 1, result.stderr)
      assert.match(
        result.stderr,
        /^xenpool: open \(kurrentdb:\/\/127\.0\.0\.1:1\?tls=false\): connection refused at 127\.0\.0\.1:1/
      )
      assert.isBelow(ms, 20_000)
    })
  )
})
