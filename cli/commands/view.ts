/**
 * `xenpool view [--pool ID] [--store URL] [--port N] [--host ADDR] [--open]`: the pool's history as a local
 * web timeline (docs/view.md). Starts the read-only server of view/server.ts on 127.0.0.1 (another
 * address only with --host, with a warning), prints its URL and serves until Ctrl-C.
 */
import { spawn } from "node:child_process"
import { join } from "node:path"
import { Command, Options } from "@effect/cli"
import { Effect, Option } from "effect"
import { isLoopback, serve } from "../../view/server.js"
import { UsageFailure } from "../errors.js"
import { printLine } from "../output.js"
import { packageRoot } from "../../api/paths.js"
import { checkedPoolId } from "../poolId.js"
import { storeOption } from "../shared.js"
import { requirePool } from "../../api/pools.js"
import { timeTravelLayer } from "./timeTravel.js"

/** The port when none is given. */
const VIEW_PORT_DEFAULT = 7340

const portOption = Options.integer("port").pipe(
  Options.withDescription(`the port to listen on (default ${VIEW_PORT_DEFAULT}; 0: any free port)`),
  Options.withDefault(VIEW_PORT_DEFAULT)
)
const hostOption = Options.text("host").pipe(
  Options.withDescription("the address to listen on (default 127.0.0.1: this machine only)"),
  Options.withDefault("127.0.0.1")
)
const openOption = Options.boolean("open").pipe(Options.withDescription("open the page in the default browser"))
const viewPoolOption = Options.text("pool").pipe(Options.withDescription("the pool to show first"), Options.optional)

const checkedPort = (port: number) =>
  Number.isInteger(port) && port >= 0 && port <= 65_535
    ? Effect.succeed(port)
    : Effect.fail(new UsageFailure({ what: "bad option", where: `--port ${port}`, expected: "a port from 0 to 65535" }))

/** Best effort: a desktop's opener; a machine without one gets a note, not a failure. */
const openBrowser = (url: string) =>
  Effect.sync(() => {
    const opener = process.platform === "darwin" ? "open" : process.platform === "win32" ? "explorer" : "xdg-open"
    const child = spawn(opener, [url], { stdio: "ignore", detached: true })
    child.on("error", () => process.stderr.write(`xenpool: could not start ${opener}; open ${url} yourself\n`))
    child.unref()
  })

export const viewCommand = Command.make(
  "view",
  { pool: viewPoolOption, store: storeOption, port: portOption, host: hostOption, open: openOption },
  ({ pool, store, port, host, open }) =>
    Effect.gen(function* () {
      const checkedPortNumber = yield* checkedPort(port)
      const first = Option.isSome(pool) ? yield* checkedPoolId(pool.value) : undefined
      yield* Effect.scoped(
        Effect.gen(function* () {
          if (first !== undefined) yield* requirePool(first)
          if (!isLoopback(host))
            process.stderr.write(
              `xenpool: warning: listening on ${host}: anyone who can reach this address can read the store's pools\n`
            )
          const server = yield* serve({ staticRoot: join(packageRoot(), "dist", "www"), host, port: checkedPortNumber })
          const url = first === undefined ? server.url : `${server.url}?pool=${encodeURIComponent(first)}`
          yield* printLine(`xenpool view: ${url} (Ctrl-C stops it)`)
          if (open) yield* openBrowser(url)
          return yield* Effect.never
        })
      ).pipe(Effect.provide(timeTravelLayer(store)))
    })
).pipe(Command.withDescription("the pool's history as a local web timeline, served on 127.0.0.1 until Ctrl-C"))
