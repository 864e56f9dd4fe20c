/**
 * `xenpool report --pool ID [--out FILE] [--svg DIR] [--store URL]`: one self-contained HTML file of a
 * pool's history (view/report.ts), and with --svg its drawings as SVG files for LaTeX and the like.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Command, Options } from "@effect/cli"
import { Effect, Option } from "effect"
import { poolList, readPoolHistory } from "../../view/data.js"
import { REPORT_SERIES_POINTS, reportHtml, reportSvgs } from "../../view/report.js"
import { XenpoolError } from "../../api/errors.js"
import { describeWriteError, printLine } from "../output.js"
import { checkedPoolId } from "../poolId.js"
import { storeOption } from "../shared.js"
import { requirePool } from "../../api/pools.js"
import { timeTravelLayer } from "./timeTravel.js"

const outOption = Options.text("out").pipe(
  Options.withDescription("the HTML file to write (default xenpool-report-POOL.html)"),
  Options.optional
)
const svgOption = Options.text("svg").pipe(
  Options.withDescription("also write the charts as SVG files into this folder (made if missing)"),
  Options.optional
)

const writeFile = (file: string, text: string) =>
  Effect.try({
    try: () => fs.writeFileSync(file, text),
    catch: (error) =>
      new XenpoolError({
        what: "cannot write",
        where: file,
        expected: `a file this user can write (${describeWriteError(error)})`
      })
  })

export const reportCommand = Command.make(
  "report",
  {
    pool: Options.text("pool").pipe(Options.withDescription("pool id")),
    out: outOption,
    svg: svgOption,
    store: storeOption
  },
  ({ pool, out, svg, store }) =>
    Effect.gen(function* () {
      const id = yield* checkedPoolId(pool)
      const file = Option.getOrElse(out, () => `xenpool-report-${id}.html`)
      const { html, svgs } = yield* Effect.gen(function* () {
        yield* requirePool(id)
        const entry = (yield* poolList).find((p) => p.id === id)!
        const history = yield* readPoolHistory(id, REPORT_SERIES_POINTS)
        return {
          html: reportHtml(entry, history, `xenpool report --pool ${id}: ${history.overview.lastRevision + 1} events`),
          svgs: reportSvgs(history)
        }
      }).pipe(Effect.provide(timeTravelLayer(store)))
      yield* writeFile(file, html)
      yield* printLine(`wrote ${file} (${(Buffer.byteLength(html) / 1024).toFixed(0)} KiB)`)
      if (Option.isSome(svg)) {
        const dir = svg.value
        yield* Effect.try({
          try: () => fs.mkdirSync(dir, { recursive: true }),
          catch: (error) =>
            new XenpoolError({
              what: "cannot make folder",
              where: dir,
              expected: `a folder this user can write (${describeWriteError(error)})`
            })
        })
        for (const { name, svg: text } of svgs) yield* writeFile(path.join(dir, name), text)
        yield* printLine(`wrote ${svgs.length} SVG files into ${dir}: ${svgs.map((s) => s.name).join(", ")}`)
      }
    })
).pipe(
  Command.withDescription(
    "one self-contained HTML file of a pool's history (Gantt, rounds, memory); --svg DIR for SVG files"
  )
)
