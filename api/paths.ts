/** Files shipped with the package (bundled scenarios), found from wherever the running code lives. */
import { existsSync, readFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

/** The folder of the installed package (its package.json names it xenpool). */
export const packageRoot = (): string => {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (let i = 0; i < 8; i++) {
    const manifest = join(dir, "package.json")
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, "utf8")) as { name?: string }).name === "xenpool")
      return dir
    dir = dirname(dir)
  }
  throw new Error("cannot find the xenpool package root")
}

/** The path of a scenario shipped with the package, e.g. `scenarioPath("write-heavy")`. */
export const scenarioPath = (name: string): string => join(packageRoot(), "simulations", "scenarios", `${name}.json`)

/**
 * The script of `check`'s worker threads: `dist/xenpool-check-worker.mjs`, bundled by `npm run build`
 * beside the CLI's `dist/xenpool.mjs` (api/checkWorker.ts is its entry). One script for every caller,
 * the bundled CLI, the compiled API and the sources under test alike: a worker thread loads JavaScript.
 */
export const checkWorkerScript = (): string => join(packageRoot(), "dist", "xenpool-check-worker.mjs")
