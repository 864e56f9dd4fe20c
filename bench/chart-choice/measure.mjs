/* global window, process, console, URL */
// The charting libraries' measurement behind docs/view.md (run once, by hand; not part of `npm run bench`):
//   npm install --no-save uplot echarts @observablehq/plot && node bench/chart-choice/measure.mjs
// Each library draws one line of N points (1e5, 1e6) into a 1000x300 chart in headless Chromium; the
// figure is from the call to two animation frames later (the frame painted), median of 3 fresh pages.
import { build } from "esbuild"
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { chromium } from "playwright-core"

const dir = mkdtempSync(join(tmpdir(), "chart-choice-"))
const common = `export const series = (n) => {
  const x = new Float64Array(n), y = new Float64Array(n); let s = 12345
  for (let i = 0; i < n; i++) { s = (s * 1103515245 + 12345) % 2147483648; x[i] = i * 1000; y[i] = 1e9 + Math.sin(i / 5000) * 3e8 + (s / 2147483648) * 5e7 }
  return { x, y } }
export const run = async (draw) => {
  const n = Number(new URLSearchParams(location.search).get("n")); const { x, y } = series(n)
  const t0 = performance.now(); await draw(document.getElementById("c"), x, y)
  await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))); window.result = performance.now() - t0 }`
const entries = {
  uplot: `import uPlot from "uplot"; import { run } from "./common.js"
run((el, x, y) => { new uPlot({ width: 1000, height: 300, series: [{}, { stroke: "blue" }] }, [x, y], el) })`,
  echarts: `import * as echarts from "echarts"; import { run } from "./common.js"
run((el, x, y) => new Promise((res) => { const c = echarts.init(el, null, { width: 1000, height: 300, renderer: "canvas" })
  const data = new Float64Array(x.length * 2); for (let i = 0; i < x.length; i++) { data[2*i] = x[i]; data[2*i+1] = y[i] }
  c.on("finished", res); c.setOption({ animation: false, xAxis: { type: "value" }, yAxis: { type: "value" },
  series: [{ type: "line", showSymbol: false, sampling: "lttb", large: true, data, dimensions: ["x", "y"] }] }) }))`,
  plot: `import * as Plot from "@observablehq/plot"; import { run } from "./common.js"
run((el, x, y) => { el.append(Plot.lineY(y, { x }).plot({ width: 1000, height: 300 })) })`
}
writeFileSync(join(dir, "common.js"), common)
for (const [name, source] of Object.entries(entries)) {
  writeFileSync(join(dir, `${name}.js`), source)
  await build({
    entryPoints: [join(dir, `${name}.js`)],
    bundle: true,
    minify: true,
    format: "iife",
    outfile: join(dir, `out-${name}.js`),
    nodePaths: [join(process.cwd(), "node_modules")]
  })
}
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run"
  ]
})
for (const n of [100_000, 1_000_000])
  for (const name of Object.keys(entries)) {
    const times = []
    for (let rep = 0; rep < 3; rep++) {
      const page = await browser.newPage()
      await page.route("**/*", (r) =>
        new URL(r.request().url()).pathname === "/"
          ? r.fulfill({ contentType: "text/html", body: `<div id=c></div><script src="/lib.js"></script>` })
          : r.fulfill({ contentType: "text/javascript", body: readFileSync(join(dir, `out-${name}.js`)) })
      )
      await page.goto(`http://chart-choice.invalid/?n=${n}`)
      times.push(await page.waitForFunction(() => window.result, null, { timeout: 120_000 }).then((h) => h.jsonValue()))
      await page.close()
    }
    times.sort((a, b) => a - b)
    console.log(
      `${name}\t${n}\t${times[1].toFixed(0)} ms\tbundle ${readFileSync(join(dir, `out-${name}.js`)).length} bytes`
    )
  }
await browser.close()
