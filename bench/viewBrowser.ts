/**
 * Debian's Chromium driven by playwright-core (its own browser download does not work here), and the
 * built `xenpool view` as a child process: what the browser tests and the view benchmark share.
 */
import { chromium, type Browser, type Page } from "playwright-core"
import { startXenpool, type Running } from "./killRuns.js"

const CHROMIUM_PATH = "/usr/bin/chromium"

/** A fresh browser: playwright gives each launch a new temporary profile (its own --user-data-dir). */
export const launchChromium = (): Promise<Browser> =>
  chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--no-first-run"
    ]
  })

export interface ViewServer {
  readonly url: string
  readonly running: Running
}

/** Starts `xenpool view --port 0 …` and waits for the URL it prints. */
export const startView = async (args: ReadonlyArray<string>, cwd?: string): Promise<ViewServer> => {
  const running = startXenpool(["view", "--port", "0", ...args], cwd === undefined ? {} : { cwd })
  const url = await new Promise<string>((resolve, reject) => {
    let out = ""
    running.child.stdout!.on("data", (text: string) => {
      out += text
      const found = /(http:\/\/[^\s]+)/.exec(out)
      if (found) resolve(found[1]!)
    })
    void running.ended.then((e) => reject(new Error(`view exited ${e.code}: ${e.stderr}`)))
  })
  return { url, running }
}

/** Every console error and uncaught exception of the page, to assert there are none. */
export const collectErrors = (page: Page, into: string[]): void => {
  page.on("console", (message) => {
    if (message.type() === "error") into.push(`${page.url()}: console: ${message.text()}`)
  })
  page.on("pageerror", (error) => into.push(`${page.url()}: ${error.message}`))
}
