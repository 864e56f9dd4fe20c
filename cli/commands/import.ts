/**
 * `xenpool import planetlab FILE [--vms N] [--hosts N] [--seed N] [--setup xenpool|cloudsim]`: a scenario on stdout from the
 * PlanetLab CPU trace (simulations/planetlab.ts does the work; this is the I/O around it).
 */
import { Args, Command, Options } from "@effect/cli"
import { Effect } from "effect"
import { printLine } from "../output.js"
import { importPlanetlab, PLANETLAB_SETUPS } from "../../api/importPlanetlab.js"
import { UsageFailure } from "../errors.js"

const fileArg = Args.file({ name: "FILE", exists: "either" }).pipe(
  Args.withDescription(
    "the PlanetLab CSV (t_s, then one column per VM), e.g. simulations/data/planetlab-20110303-cpu.csv"
  )
)
const count = (name: string, fallback: number, description: string) =>
  Options.integer(name).pipe(Options.withDefault(fallback), Options.withDescription(description))

const vmsOption = count("vms", 100, "VM columns to pick (default 100)")
const hostsOption = count("hosts", 20, "hosts in the pool (default 20)")
const seedOption = count("seed", 1, "seed for the column pick, the VM types and the run (default 1)")
const setupOption = Options.choice("setup", PLANETLAB_SETUPS).pipe(
  Options.withDefault("xenpool" as const),
  Options.withDescription(
    "the pool: xenpool (default: hosts of 8 CPUs and 32 GiB, VM types drawn from the seed) or cloudsim (CloudSim's HP ProLiant ML110 G4 and G5 hosts alternating, 4096 MiB, its VM types in its order; docs/planetlab.md)"
  )
)

const requireAtLeast = (name: string, value: number, min: number) =>
  value >= min && Number.isSafeInteger(value)
    ? Effect.void
    : Effect.fail(
        new UsageFailure({ what: "bad option", where: `--${name} ${value}`, expected: `an integer ≥ ${min}` })
      )

const planetlabCommand = Command.make(
  "planetlab",
  { file: fileArg, vms: vmsOption, hosts: hostsOption, seed: seedOption, setup: setupOption },
  ({ file, vms, hosts, seed, setup }) =>
    Effect.gen(function* () {
      yield* requireAtLeast("vms", vms, 1)
      yield* requireAtLeast("hosts", hosts, 1)
      yield* requireAtLeast("seed", seed, 0)
      const imported = yield* importPlanetlab(file, { vms, hosts, seed, setup })
      yield* printLine(imported.text)
    })
).pipe(
  Command.withDescription(
    "a consolidation scenario (on stdout) from the PlanetLab CPU trace: N VM columns picked with the seed, CloudSim VM types, CPU load → dirty rate (docs/planetlab.md)"
  )
)

export const importCommand = Command.make("import").pipe(
  Command.withDescription("turn real data into a scenario"),
  Command.withSubcommands([planetlabCommand])
)
