/**
 * `xenpool view` and `xenpool report` in a real browser (Debian's Chromium through playwright-core), on
 * the demo pool. The page must say what the CLI says: where each VM is at 3m10s (`at --json`), how many
 * rounds m1 had and why it stopped (`history --vm --json`); the report must open from disk with no
 * request; a traversal must be refused; an unknown pool must show its error; no page may log an error.
 */
import * as fs from "node:fs"
import * as http from "node:http"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { Browser, Page } from "playwright-core"
import { tempDir, xenpool } from "../cli/run.js"
import { collectErrors, launchChromium, startView, type ViewServer } from "../../bench/viewBrowser.js"

const POOL = "rolling-1"
const AT_3M10S_US = 190_000_000

let dir: string
let store: string
let browser: Browser
let view: ViewServer
const pageErrors: string[] = []

const cliJson = <T>(args: ReadonlyArray<string>): T => {
  const result = xenpool([...args, "--store", store, "--json"])
  if (result.status !== 0) throw new Error(`xenpool ${args.join(" ")}: ${result.stderr}`)
  return JSON.parse(result.stdout) as T
}

const newPage = async (): Promise<Page> => {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } })
  collectErrors(page, pageErrors)
  return page
}

/** Where the page shows each VM (resident, not incoming): VM id → host id. */
/** Where the page shows each VM (resident, not incoming): VM id → host id. (Runs in the page: no DOM types here.) */
type Chip = { dataset: Record<string, string>; closest: (selector: string) => { dataset: Record<string, string> } }
const placements = (page: Page) =>
  page.$$eval(".host .vm:not(.incoming)", (chips) =>
    Object.fromEntries(
      chips.map((c) => [
        (c as unknown as Chip).dataset["vm"]!,
        (c as unknown as Chip).closest(".host").dataset["host"]!
      ])
    )
  )

interface AtJson {
  readonly revision: number
  readonly vms: ReadonlyArray<{ readonly id: string; readonly residentOn: string | null }>
}

beforeAll(async () => {
  dir = tempDir()
  store = `sqlite:${join(dir, "xenpool.db")}`
  const demo = xenpool(["demo", "--store", store])
  if (demo.status !== 0) throw new Error(`demo: ${demo.stderr}`)
  browser = await launchChromium()
  view = await startView(["--store", store])
}, 120_000)

afterAll(async () => {
  await browser?.close()
  view?.running.stop("SIGKILL")
})

describe("xenpool view", () => {
  it("lists the pool with its provenance and size", async () => {
    const page = await newPage()
    await page.goto(view.url)
    const row = page.locator("#pool-table tr", { hasText: POOL })
    await expect.poll(() => row.count()).toBe(1)
    const cells = await row.locator("td").allTextContents()
    const listed = cliJson<ReadonlyArray<{ id: string; events: number }>>(["pools"])
    expect(cells[0]).toBe(POOL)
    expect(cells[1]).toBe(POOL)
    expect(cells[2]).toBe("seed 42")
    expect(cells[3]).toBe(String(listed.find((p) => p.id === POOL)!.events))
    await page.close()
  })

  it("scrubbed to 3m10s, shows db-1 on h3 and every VM where `xenpool at 3m10s` puts it", async () => {
    const page = await newPage()
    await page.goto(`${view.url}?pool=${POOL}&t=0s`)
    await page.locator(".host").first().waitFor()
    await page.locator("#time").fill(String(AT_3M10S_US))
    await expect.poll(() => page.url()).toContain("t=3m10s")
    const cli = cliJson<AtJson>(["at", "190s", "--pool", POOL])
    await expect.poll(() => page.locator("#moment").textContent()).toContain(`revision ${cli.revision} of`)
    const shown = await placements(page)
    expect(shown["db-1"]).toBe("h3")
    const expected = Object.fromEntries(cli.vms.filter((v) => v.residentOn !== null).map((v) => [v.id, v.residentOn]))
    expect(shown).toEqual(expected)
    // A click on a VM asks for its every field (`at --vm`): the scrub's answer has only what is drawn.
    await page.locator('.host .vm[data-vm="db-1"]:not(.incoming)').click()
    await expect.poll(() => page.locator("#vm-detail").getAttribute("data-vm")).toBe("db-1")
    const detail = await page.locator("#vm-detail").textContent()
    expect(detail).toContain("residentOnh3")
    expect(detail).toContain("memoryTargetPages")
    // The events list follows: its current row is the moment's revision.
    await expect.poll(() => page.locator("#events tr.current").getAttribute("data-revision")).toBe(String(cli.revision))
    await page.close()
  })

  it("opens at the moment its URL names, and a click on an event moves the moment there", async () => {
    const page = await newPage()
    await page.goto(`${view.url}?pool=${POOL}&t=3m10s`)
    await expect.poll(async () => (await placements(page))["db-1"]).toBe("h3")
    const row = page.locator("#events tr[data-revision]").first()
    const atUs = Number(await row.getAttribute("data-at-us"))
    await row.click()
    // The moment is the event's time: every event at that time is in, as `xenpool at` counts them.
    const at = cliJson<AtJson>(["at", `${atUs}us`, "--pool", POOL])
    await expect.poll(() => page.locator("#moment").textContent()).toContain(`revision ${at.revision} of`)
    await page.close()
  })

  it("opens migration m1 with its rounds and stop reason, as `history --vm db-1` reports them", async () => {
    const page = await newPage()
    await page.goto(`${view.url}?pool=${POOL}&t=3m10s`)
    await page.locator('#gantt [data-migration="m1"]').click()
    const rows = page.locator("#migration table.rounds tbody tr")
    const history = cliJson<{ migrations: ReadonlyArray<{ id: string; rounds: number; stopReason?: string }> }>([
      "history",
      "--pool",
      POOL,
      "--vm",
      "db-1"
    ])
    const m1 = history.migrations.find((m) => m.id === "m1")!
    await expect.poll(() => rows.count()).toBe(m1.rounds)
    expect(m1.rounds).toBe(6)
    expect(await page.locator("#migration .stop-reason").textContent()).toContain(m1.stopReason!)
    // the round chart: a bar of pages sent per round
    expect(await page.locator("#migration .round-chart rect.round-bar").count()).toBeGreaterThanOrEqual(m1.rounds)
    expect(await page.locator("#migration table.rounds tbody tr.paused").count()).toBe(1)
    await page.close()
  })

  it("draws the charts over time and a VM's memory", async () => {
    const page = await newPage()
    await page.goto(`${view.url}?pool=${POOL}&t=1m`)
    for (const id of ["chart-memory", "chart-counts", "chart-links"])
      await page.locator(`#${id} canvas`).first().waitFor()
    await page.selectOption("#vm-select", "db-1")
    await page.locator("#chart-vm canvas").first().waitFor()
    await page.close()
  })

  it("shows an unknown pool's error in the page, with the pools the store has", async () => {
    const page = await newPage()
    await page.goto(`${view.url}?pool=nope`)
    const error = page.locator("#error")
    await error.waitFor()
    expect(await error.textContent()).toMatch(/unknown pool \(nope in .*\).*known pools: rolling-1/)
    await page.close()
  })

  it("shows a bad time's error in the page", async () => {
    const page = await newPage()
    await page.goto(`${view.url}?pool=${POOL}&t=soon`)
    await page.locator("#error").waitFor()
    expect(await page.locator("#error").textContent()).toContain("bad time")
    await page.close()
  })

  it("logged no error on any page", () => {
    // The pages above ran first (vitest runs a file's tests in order).
    expect(pageErrors).toEqual([])
  })
})

/** A raw GET (no client-side normalisation of the path): status and body. */
const rawGet = (base: string, path: string, method = "GET") =>
  new Promise<{ status: number; body: string }>((resolve, reject) => {
    const url = new URL(base)
    const request = http.request({ host: url.hostname, port: url.port, path, method }, (response) => {
      let body = ""
      response.setEncoding("utf8").on("data", (t: string) => (body += t))
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body }))
    })
    request.on("error", reject)
    request.end()
  })

describe("the view's server", () => {
  it.each([
    "/../package.json",
    "/../../package.json",
    "/%2e%2e/package.json",
    "/%2E%2E/%2e%2e/package.json",
    "/%252e%252e/package.json",
    "/..%2fpackage.json",
    "/..%5cpackage.json",
    "/%5c..%5cpackage.json",
    "/api/../../package.json",
    "/.%2e/xenpool.mjs"
  ])("refuses the traversal %s", async (path) => {
    const answer = await rawGet(view.url, path)
    expect(answer.status).toBe(400)
    expect(JSON.parse(answer.body)).toMatchObject({ error: { what: "path refused" } })
  })

  it("serves its own files and no other", async () => {
    expect((await rawGet(view.url, "/")).status).toBe(200)
    expect((await rawGet(view.url, "/main.js")).status).toBe(200)
    expect((await rawGet(view.url, "/xenpool.mjs")).status).toBe(404)
    expect((await rawGet(view.url, "/package.json")).status).toBe(404)
  })

  it("is read-only: any method but GET and HEAD is refused, and the store is unchanged", async () => {
    const before = xenpool(["events", "--pool", POOL, "--store", store, "--json"]).stdout
    for (const method of ["POST", "PUT", "DELETE", "PATCH"]) {
      const answer = await rawGet(view.url, "/api/pools", method)
      expect(answer.status).toBe(405)
    }
    expect(xenpool(["events", "--pool", POOL, "--store", store, "--json"]).stdout).toBe(before)
  })

  it("answers /api/pools/ID/at with `at --json`'s document (hosts with two fields added)", async () => {
    const answer = JSON.parse((await rawGet(view.url, `/api/pools/${POOL}/at?t=3m10s`)).body)
    const cli = cliJson<Record<string, unknown> & { hosts: ReadonlyArray<Record<string, unknown>> }>([
      "at",
      "190s",
      "--pool",
      POOL
    ])
    const { hosts, ...rest } = answer as typeof cli
    const { hosts: cliHosts, ...cliRest } = cli
    expect(rest).toEqual(cliRest)
    expect(hosts.map(({ memoryUsedPages: _u, memoryOverheadPages: _o, ...h }) => h)).toEqual(cliHosts)
  })

  it("answers /api/pools/ID/hosts with /at's document, each VM cut to the fields the page draws", async () => {
    const hosts = JSON.parse((await rawGet(view.url, `/api/pools/${POOL}/hosts?t=3m10s`)).body)
    const at = JSON.parse((await rawGet(view.url, `/api/pools/${POOL}/at?t=3m10s`)).body)
    const fields = [
      "id",
      "powerState",
      "residentOn",
      "scheduledToBeResidentOn",
      "domid",
      "currentOperation",
      "migration"
    ]
    const cut = (vm: Record<string, unknown>) => Object.fromEntries(fields.map((f) => [f, vm[f]]))
    expect(hosts).toEqual({ ...at, vms: at.vms.map(cut) })
    expect(hosts.vms.length).toBeGreaterThan(0)
    const one = JSON.parse((await rawGet(view.url, `/api/pools/${POOL}/at?t=3m10s&vm=db-1`)).body)
    const { hosts: oneHosts, ...oneRest } = one as { hosts: ReadonlyArray<Record<string, unknown>> }
    const { hosts: cliHosts, ...cliRest } = cliJson<typeof one>(["at", "190s", "--vm", "db-1", "--pool", POOL])
    expect(oneRest).toEqual(cliRest)
    expect(oneHosts.map(({ memoryUsedPages: _u, memoryOverheadPages: _o, ...h }) => h)).toEqual(cliHosts)
    expect(oneRest).toMatchObject({ vms: [{ id: "db-1", residentOn: "h3" }] })
    const unknown = await rawGet(view.url, `/api/pools/${POOL}/at?t=3m10s&vm=nope`)
    expect(unknown.status).toBe(404)
    expect(JSON.parse(unknown.body)).toMatchObject({ error: { what: "unknown VM" } })
  })

  it("answers /api/pools/ID/migrations with `demo --json`'s migrations (rounds and end added)", async () => {
    const answer = JSON.parse((await rawGet(view.url, `/api/pools/${POOL}/migrations`)).body)
    const demo = xenpool(["demo", "--json", "--store", `sqlite:${join(dir, "again.db")}`])
    const summary = JSON.parse(demo.stdout) as { migrations: ReadonlyArray<Record<string, unknown>> }
    expect(answer.overlapping).toBe(summary.migrations.length)
    expect(answer.migrations.map(({ endedAtUs: _e, roundList: _r, ...m }: Record<string, unknown>) => m)).toEqual(
      summary.migrations
    )
  })

  it("answers an unknown pool with 404 and the error", async () => {
    const answer = await rawGet(view.url, "/api/pools/nope/at?t=1s")
    expect(answer.status).toBe(404)
    expect(JSON.parse(answer.body)).toMatchObject({ error: { what: "unknown pool", where: "nope" } })
  })

  it("warns when it listens on another address than 127.0.0.1", async () => {
    const other = await startView(["--store", store, "--host", "0.0.0.0"])
    other.running.stop("SIGINT")
    const ended = await other.running.ended
    expect(ended.stderr).toContain("warning: listening on 0.0.0.0")
  })

  it("stops cleanly on Ctrl-C: the interrupted line, exit 130, the port closed", async () => {
    const own = await startView(["--store", store, "--pool", POOL])
    expect(own.url).toContain(`?pool=${POOL}`)
    expect((await rawGet(own.url, "/api/pools")).status).toBe(200)
    own.running.stop("SIGINT")
    const ended = await own.running.ended
    expect(ended.code).toBe(130)
    expect(ended.stderr.trim()).toBe("xenpool: interrupted (SIGINT): nothing was written")
    expect(ended.afterStopMs!).toBeLessThan(5_000)
    await expect(rawGet(own.url, "/")).rejects.toThrow()
  })

  it("refuses an unknown --pool at the start, with the CLI's one-line error", () => {
    const result = xenpool(["view", "--port", "0", "--pool", "nope", "--store", store])
    expect(result.status).toBe(1)
    expect(result.stderr.trim()).toMatch(/^xenpool: unknown pool \(nope in .*\): known pools: rolling-1$/)
  })

  it("shows a store with no pools as an error in the page", async () => {
    const empty = await startView(["--store", `sqlite:${join(dir, "empty.db")}`])
    const page = await browser.newPage()
    const errors: string[] = []
    collectErrors(page, errors)
    await page.goto(empty.url)
    await page.locator("#error").waitFor()
    expect(await page.locator("#error").textContent()).toContain("no pools")
    expect(errors).toEqual([])
    await page.close()
    empty.running.stop("SIGKILL")
  })

  it("shows a store that went away as an error in the page (503), not a blank page", async () => {
    const file = join(dir, "gone.db")
    const made = xenpool(["demo", "--store", `sqlite:${file}`])
    if (made.status !== 0) throw new Error(`demo: ${made.stderr}`)
    const gone = await startView(["--store", `sqlite:${file}`])
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } })
    const errors: string[] = []
    collectErrors(page, errors)
    try {
      await page.goto(`${gone.url}?pool=${POOL}&t=0s`)
      await page.locator(".host").first().waitFor()
      await page.locator("#gantt svg").first().waitFor()
      // The file emptied under the open store: its next read finds no database.
      fs.truncateSync(file)
      for (const side of ["-wal", "-shm"]) fs.rmSync(file + side, { force: true })
      expect((await rawGet(gone.url, `/api/pools/${POOL}/hosts?t=3m10s`)).status).toBe(503)
      await page.locator("#time").fill(String(AT_3M10S_US))
      const error = page.locator("#error")
      await error.waitFor()
      expect(await error.textContent()).toMatch(/^store unavailable \(.*gone\.db.*\)a store the server can read/)
      // The page keeps what it drew: the hosts of the last moment it could read.
      expect(await page.locator(".host").count()).toBeGreaterThan(0)
      // The browser logs each failed request; nothing else may be logged (no exception in the page).
      expect(errors.length).toBeGreaterThan(0)
      for (const logged of errors) expect(logged).toMatch(/console: Failed to load resource: .*status of 503/)
    } finally {
      await page.close()
      gone.running.stop("SIGKILL")
    }
  })
})

describe("xenpool report", () => {
  it("writes one HTML file that opens from disk with no request, with m1's 6 rounds, and SVG files", async () => {
    const file = join(dir, "report.html")
    const svgDir = join(dir, "svg")
    const result = xenpool(["report", "--pool", POOL, "--store", store, "--out", file, "--svg", svgDir])
    expect(result.status).toBe(0)
    const bytes = fs.statSync(file).size
    expect(bytes).toBeLessThan(3 * 1024 * 1024)
    const page = await browser.newPage()
    const errors: string[] = []
    collectErrors(page, errors)
    const requests: string[] = []
    await page.route("**/*", (route) => {
      const url = route.request().url()
      if (url.startsWith("file://")) return route.continue()
      requests.push(url)
      return route.abort()
    })
    await page.goto(`file://${file}`)
    expect(await page.locator('svg [data-migration="m1"]').count()).toBe(1)
    expect(await page.locator("#migration-m1 table.rounds tbody tr").count()).toBe(6)
    const embedded = JSON.parse((await page.locator("#xenpool-data").textContent())!)
    expect(embedded.overview.migrations.count).toBe(18)
    expect(embedded.migrations.length).toBe(18)
    expect(requests).toEqual([])
    expect(errors).toEqual([])
    await page.close()
    const svgs = fs.readdirSync(svgDir).sort()
    expect(svgs).toEqual(expect.arrayContaining(["gantt.svg", "memory.svg", "hosts-in-use.svg", "rounds-m1.svg"]))
    for (const name of svgs)
      expect(fs.readFileSync(join(svgDir, name), "utf8")).toMatch(
        /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"[^]*<\/svg>$/
      )
  })
})
