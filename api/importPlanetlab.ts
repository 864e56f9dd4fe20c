/**
 * `xenpool import planetlab`: a consolidation scenario from the PlanetLab CPU trace (docs/planetlab.md).
 */
import { readFile } from "node:fs/promises"
import { basename } from "node:path"
import { Effect, Either } from "effect"
import {
  importPlanetlab as importTrace,
  parsePlanetlabCsv,
  PLANETLAB_SETUPS,
  type PlanetlabSetup
} from "../simulations/planetlab.js"
import { inputFailure, XenpoolError } from "./errors.js"

/** The set-ups `setup` takes (the first is the default). */
export { PLANETLAB_SETUPS, type PlanetlabSetup }

export interface ImportPlanetlabOptions {
  /** VM columns to pick (default 100). */
  readonly vms?: number
  /** Hosts in the pool (default 20). */
  readonly hosts?: number
  /** Seed of the column pick, the VM types and the run (default 1). */
  readonly seed?: number
  /**
   * The pool's set-up (default `xenpool`: 8-CPU 32 GiB hosts, VM types drawn from the seed); `cloudsim`:
   * CloudSim's ML110 G4 and G5 hosts alternating (4,096 MiB) and its VM types in its order (docs/planetlab.md).
   */
  readonly setup?: PlanetlabSetup
}

export interface PlanetlabScenario {
  /** The scenario as JSON text, as `xenpool import planetlab` prints it. */
  readonly text: string
}

const atLeast = (field: string, value: number, min: number) =>
  Number.isSafeInteger(value) && value >= min
    ? Effect.void
    : Effect.fail(new XenpoolError({ what: `bad ${field}`, where: String(value), expected: `an integer ≥ ${min}` }))

/**
 * Reads the PlanetLab CSV at `file` (t_s, then one column per VM) and makes the scenario: N columns
 * picked with the seed, CloudSim's VM types, CPU load as dirty rate, on our set-up or CloudSim's
 * (`setup`). The scenario has been through the schema and the compiler, so `simulate` takes it.
 *
 * @example
 * const { text } = yield* importPlanetlab("simulations/data/planetlab-20110303-cpu.csv", { vms: 50 })
 * const all = yield* importPlanetlab("simulations/data/planetlab-20110303-cpu.csv", { vms: 1052, hosts: 800, setup: "cloudsim" })
 */
export const importPlanetlab = (
  file: string,
  options: ImportPlanetlabOptions = {}
): Effect.Effect<PlanetlabScenario, XenpoolError> =>
  Effect.gen(function* () {
    const vms = options.vms ?? 100
    const hosts = options.hosts ?? 20
    const seed = options.seed ?? 1
    yield* atLeast("vms", vms, 1)
    yield* atLeast("hosts", hosts, 1)
    yield* atLeast("seed", seed, 0)
    const setup = options.setup ?? "xenpool"
    if (!PLANETLAB_SETUPS.includes(setup))
      return yield* Effect.fail(
        new XenpoolError({ what: "bad setup", where: String(setup), expected: `one of ${PLANETLAB_SETUPS.join(", ")}` })
      )
    const text = yield* Effect.tryPromise({
      try: () => readFile(file, "utf8"),
      catch: (e) =>
        new XenpoolError({
          what: "cannot read PlanetLab CSV",
          where: file,
          expected: (e as NodeJS.ErrnoException).code === "ENOENT" ? "an existing file" : String(e)
        })
    })
    const trace = parsePlanetlabCsv(file, text)
    if (Either.isLeft(trace)) return yield* inputFailure("bad PlanetLab CSV", trace.left)
    const imported = importTrace(trace.right, { vms, hosts, seed, setup, fileLabel: basename(file) })
    if (Either.isLeft(imported)) return yield* inputFailure("cannot import PlanetLab CSV", imported.left)
    return { text: imported.right.text }
  })
