/**
 * The README's and docs/view.md's screenshots of the view and the report, on the demo pool, taken with
 * the same Chromium as the browser tests: `npm run build && node dist/bench/viewScreenshots.js`
 * (writes docs/img/view-*.png and report.png).
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { packageRoot } from "../api/paths.js"
import { runXenpool } from "./killRuns.js"
import { launchChromium, startView } from "./viewBrowser.js"

const main = async () => {
  const out = path.join(packageRoot(), "docs", "img")
  fs.mkdirSync(out, { recursive: true })
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), "xenpool-shots-"))
  const store = `sqlite:${path.join(directory, "xenpool.db")}`
  if ((await runXenpool(["demo", "--store", store])).code !== 0) throw new Error("demo failed")
  const report = path.join(directory, "report.html")
  if ((await runXenpool(["report", "--pool", "rolling-1", "--store", store, "--out", report])).code !== 0)
    throw new Error("report failed")
  const browser = await launchChromium()
  const view = await startView(["--store", store])
  try {
    const page = await browser.newPage({ viewport: { width: 1360, height: 900 } })
    await page.goto(view.url)
    await page.locator("#pool-table tr td").first().waitFor()
    await page.screenshot({ path: path.join(out, "view-pools.png"), clip: { x: 0, y: 0, width: 1360, height: 220 } })
    await page.goto(`${view.url}?pool=rolling-1&t=3m10s`)
    await page.locator("#chart-memory canvas").first().waitFor()
    await page.locator('#gantt [data-migration="m1"]').click()
    const migration = await page.locator("#migration").boundingBox()
    await page.screenshot({
      path: path.join(out, "view-pool.png"),
      fullPage: true,
      clip: { x: 0, y: 0, width: 1360, height: Math.ceil(migration!.y + migration!.height + 10) }
    })
    await page.selectOption("#vm-select", "db-1")
    await page.locator("#chart-vm canvas").first().waitFor()
    const over = await page.locator("#overview-status").boundingBox()
    await page.screenshot({
      path: path.join(out, "view-charts.png"),
      fullPage: true,
      clip: { x: 0, y: Math.floor(over!.y - 40), width: 1360, height: 1500 }
    })
    await page.goto(`file://${report}`)
    await page.screenshot({
      path: path.join(out, "report.png"),
      fullPage: true,
      clip: { x: 0, y: 0, width: 1360, height: 1500 }
    })
  } finally {
    await browser.close()
    view.running.stop("SIGINT")
    fs.rmSync(directory, { recursive: true, force: true })
  }
}

await main()
