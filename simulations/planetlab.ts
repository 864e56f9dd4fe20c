/**
 * The PlanetLab CPU trace importer (docs/planetlab.md): parses the CSV of simulations/data (a header
 * `t_s,<VM name>,…`, then one row per 300 s sample of integer CPU percentages), picks N VM columns with a
 * seeded PRNG, gives each VM a CloudSim instance type (vCPUs and memory), maps its CPU load to a dirty
 * rate, and builds a `xenpool-scenario` v1 with a consolidation controller, on one of two set-ups: ours
 * (8-CPU 32 GiB hosts, VM types drawn from the seed) or CloudSim's (its two host types alternating, VM
 * types in its order). Pure: text in, a scenario (or the first error, with its line and field) out; the
 * CLI does the I/O.
 */
import { Either } from "effect"
import { Prng } from "../engine/prng.js"
import { compileScenario } from "./compile.js"
import { inputError, parseScenarioJson, Scenario, type InputError } from "./scenario.js"

export interface PlanetlabTrace {
  readonly source: string
  readonly intervalS: number
  /** VM names, in file order (the header without `t_s`). */
  readonly columns: ReadonlyArray<string>
  /** cpuPct[column][sample]. */
  readonly cpuPct: ReadonlyArray<Uint8Array>
}

/** Rows at most (a day of 300 s samples is 288; a year of them fits). */
const PLANETLAB_ROWS_MAX = 200_000

const CELL = /^[0-9]{1,3}$/
const T_S = /^[0-9]{1,12}$/

const fieldPath = (index: number, name: string): string => `field ${index + 1} '${name}'`

/** Parses the CSV; the first problem is reported with its 1-based line and field. */
export const parsePlanetlabCsv = (source: string, text: string): Either.Either<PlanetlabTrace, InputError> => {
  const lines = text.split("\n")
  while (lines.length > 0 && lines[lines.length - 1]!.replace(/\r$/, "") === "") lines.pop()
  const fail = (line: number, path: string, expected: string) => Either.left(inputError(source, path, expected, line))
  if (lines.length === 0) return fail(1, "header", "a header row 't_s,<VM name>,…' (the file is empty)")
  const header = lines[0]!.replace(/\r$/, "").split(",")
  if (header[0] !== "t_s")
    return fail(1, fieldPath(0, header[0]!), `a header row starting with 't_s' (got '${header[0]!.slice(0, 40)}')`)
  if (header.length < 2) return fail(1, "header", "at least one VM column after 't_s'")
  const seen = new Map<string, number>()
  for (let k = 1; k < header.length; k++) {
    const name = header[k]!
    if (name.trim() === "") return fail(1, fieldPath(k, name), "a non-empty VM name")
    const before = seen.get(name)
    if (before !== undefined) return fail(1, fieldPath(k, name), `a VM name not already used (field ${before + 1})`)
    seen.set(name, k)
  }
  const rows = lines.length - 1
  if (rows === 0) return fail(2, "row", "at least one sample row after the header")
  if (rows > PLANETLAB_ROWS_MAX) return fail(PLANETLAB_ROWS_MAX + 2, "row", `at most ${PLANETLAB_ROWS_MAX} rows`)
  const columns = header.length - 1
  const cpuPct = Array.from({ length: columns }, () => new Uint8Array(rows))
  let intervalS = 300
  for (let r = 0; r < rows; r++) {
    const line = r + 2
    const cells = lines[r + 1]!.replace(/\r$/, "").split(",")
    if (cells.length !== header.length)
      return fail(line, "row", `${header.length} comma-separated fields, like the header (got ${cells.length})`)
    const t = cells[0]!
    if (!T_S.test(t)) return fail(line, fieldPath(0, "t_s"), `a whole number of seconds (got '${t.slice(0, 40)}')`)
    const tS = Number(t)
    if (r === 1) intervalS = tS
    if (r === 0 ? tS !== 0 : r === 1 ? tS <= 0 : tS !== r * intervalS)
      return fail(
        line,
        fieldPath(0, "t_s"),
        r === 0
          ? `0 in the first row (got ${tS})`
          : `row index × ${r === 1 ? "a positive interval" : intervalS} s (got ${tS})`
      )
    for (let k = 1; k < cells.length; k++) {
      const cell = cells[k]!
      if (!CELL.test(cell) || Number(cell) > 100)
        return fail(
          line,
          fieldPath(k, header[k]!),
          `an integer CPU percentage from 0 to 100 (got '${cell.slice(0, 40)}')`
        )
      cpuPct[k - 1]![r] = Number(cell)
    }
  }
  return Either.right({ source, intervalS, columns: header.slice(1), cpuPct })
}

// --- the scenario -------------------------------------------------------------------------------

/** CloudSim MIPS per vCPU: its VM types are 2500, 2000, 1000 and 500 MIPS, so 5, 4, 2 and 1 vCPUs. */
export const MIPS_PER_VCPU = 500

/**
 * CloudSim's four VM types for this workload (Constants.java of its power examples: MIPS 2500, 2000,
 * 1000, 500 and RAM 870, 1740, 1740, 613 MB), with one vCPU per 500 MIPS. The `xenpool` set-up draws a
 * type uniformly per VM; the `cloudsim` set-up assigns them as CloudSim does (`PLANETLAB_SETUPS`).
 */
export const VM_TYPES = [
  { name: "high-cpu-medium", mips: 2500, vcpus: 5, memory: "870MiB" },
  { name: "extra-large", mips: 2000, vcpus: 4, memory: "1740MiB" },
  { name: "small", mips: 1000, vcpus: 2, memory: "1740MiB" },
  { name: "micro", mips: 500, vcpus: 1, memory: "613MiB" }
] as const
type VmType = (typeof VM_TYPES)[number]

/**
 * CloudSim's two host types (Constants.java: HOST_MIPS 1860, 2660 with HOST_PES 2, HOST_RAM 4096 MB,
 * HOST_BW 1 Gbit/s), as whole CPUs of `MIPS_PER_VCPU`: 3,720 MIPS → 7 CPUs, 5,320 MIPS → 11 CPUs (the
 * nearest whole number; docs/planetlab.md says what the rounding costs). No memory is set aside for Xen
 * and dom0: CloudSim sets none aside either.
 */
export const CLOUDSIM_HOST_TYPES = [
  { name: "g4", model: "HP ProLiant ML110 G4", mips: 2 * 1860, memory: "4096MiB" },
  { name: "g5", model: "HP ProLiant ML110 G5", mips: 2 * 2660, memory: "4096MiB" }
] as const

/** A host type's whole CPUs: its MIPS in vCPUs of `MIPS_PER_VCPU`, to the nearest. */
export const cpusOfMips = (mips: number): number => Math.max(1, Math.round(mips / MIPS_PER_VCPU))

/** Every constant of the mapping, stated once (docs/planetlab.md says why each is what it is). */
export const PLANETLAB_MAPPING = {
  /** 8 vCPU-sized CPUs (4,000 CloudSim MIPS, between its 3,720 and 5,320 MIPS hosts). */
  hostCpus: 8,
  hostMemory: "32GiB",
  hostOverhead: "1GiB",
  /** CloudSim's host bandwidth. */
  hostNic: "1Gbit/s",
  linkLatency: "100us",
  /** The writable working set: a quarter of the VM's memory. */
  workingSetPct: 25,
  /** What an idle guest dirties (the base of the mapping): 1 MiB/s. */
  dirtyBase: "256pages/s",
  /** k: the share of the working set dirtied per second at 100 % CPU. */
  fullCpuDirtyPctPerS: 10,
  overloadPct: 80,
  underloadPct: 20,
  /** Drained VMs fill a host to 60 % at most: 20 points of headroom below the overload threshold. */
  packPct: 60,
  /** The per-interval bound is this or half the hosts, whichever is more (`migrationsMaxFor`). */
  migrationsMaxPerInterval: 10
} as const

/** 10 migrations per interval, or one per two hosts in a larger pool (800 hosts would need 11 h at 10). */
export const migrationsMaxFor = (hosts: number): number =>
  Math.max(PLANETLAB_MAPPING.migrationsMaxPerInterval, Math.ceil(hosts / 2))

/**
 * The pool a PlanetLab scenario runs on:
 * - `xenpool` (the default): N hosts of 8 CPUs and 32 GiB, so that CPU load, not memory, decides
 *   (docs/planetlab.md), and each VM's type drawn from the seed;
 * - `cloudsim`: CloudSim's power examples: host i is type `i % 2` (ML110 G4, G5, G4, …, as its
 *   `Helper.createHostList`), 4,096 MiB each, and VM i (in file order) is type `i / ⌈N / 4⌉` (as its
 *   `Helper.createVmList`: the first quarter high-CPU medium, then extra-large, small, micro).
 */
export const PLANETLAB_SETUPS = ["xenpool", "cloudsim"] as const
export type PlanetlabSetup = (typeof PLANETLAB_SETUPS)[number]

export interface PlanetlabImportOptions {
  readonly vms: number
  readonly hosts: number
  readonly seed: number
  /** How the scenario names the input (a file name, not a path, so the output does not depend on where it ran). */
  readonly fileLabel: string
  /** The pool's set-up (default `xenpool`). */
  readonly setup?: PlanetlabSetup
}

/** N distinct column indices from the seed (a partial Fisher–Yates shuffle), in file order. */
export const pickColumns = (columns: number, n: number, seed: number): ReadonlyArray<number> => {
  if (!(Number.isInteger(n) && n >= 1 && n <= columns)) throw new RangeError(`cannot pick ${n} of ${columns}`)
  const prng = Prng.fromSeed(seed).fork("planetlab:columns")
  const index = Array.from({ length: columns }, (_, i) => i)
  for (let i = 0; i < n; i++) {
    const j = i + prng.nextInt(columns - i)
    const swap = index[i]!
    index[i] = index[j]!
    index[j] = swap
  }
  return index.slice(0, n).sort((a, b) => a - b)
}

/** The type of each of `vms` VMs, in VM order, as the set-up assigns them. */
export const vmTypesFor = (setup: PlanetlabSetup, vms: number, seed: number): ReadonlyArray<VmType> => {
  if (setup === "cloudsim") {
    // CloudSim's Helper.createVmList: `vmType = i / (int) Math.ceil((double) vmsNumber / VM_TYPES)`.
    const block = Math.ceil(vms / VM_TYPES.length)
    return Array.from({ length: vms }, (_, i) => VM_TYPES[Math.floor(i / block)]!)
  }
  const types = Prng.fromSeed(seed).fork("planetlab:vm-types")
  return Array.from({ length: vms }, () => VM_TYPES[types.nextInt(VM_TYPES.length)]!)
}

/** The hosts, as the scenario's `hosts` list: one counted spec, or CloudSim's alternating types one by one. */
const hostsJson = (setup: PlanetlabSetup, hosts: number) => {
  const map = PLANETLAB_MAPPING
  if (setup === "xenpool")
    return [
      {
        id: "h",
        count: hosts,
        memory: map.hostMemory,
        overhead: map.hostOverhead,
        nic: map.hostNic,
        cpus: map.hostCpus
      }
    ]
  // Zero-padded ids keep the pool's id order (every listing, every tie-break) the order CloudSim made them in.
  const width = Math.max(3, String(hosts).length)
  return Array.from({ length: hosts }, (_, i) => {
    // CloudSim's Helper.createHostList: `hostType = i % Constants.HOST_TYPES`.
    const type = CLOUDSIM_HOST_TYPES[i % CLOUDSIM_HOST_TYPES.length]!
    return {
      id: `h${String(i + 1).padStart(width, "0")}-${type.name}`,
      memory: type.memory,
      overhead: "0MiB",
      nic: map.hostNic,
      cpus: cpusOfMips(type.mips)
    }
  })
}

const describeScenario = (trace: PlanetlabTrace, options: PlanetlabImportOptions, setup: PlanetlabSetup): string => {
  const map = PLANETLAB_MAPPING
  const pool =
    setup === "xenpool"
      ? `on ${options.hosts} hosts`
      : `on ${options.hosts} hosts in CloudSim's set-up (HP ProLiant ML110 G4 and G5 alternating, ` +
        `${cpusOfMips(CLOUDSIM_HOST_TYPES[0].mips)} and ${cpusOfMips(CLOUDSIM_HOST_TYPES[1].mips)} CPUs, 4096 MiB; VM types in CloudSim's order)`
  return (
    `PlanetLab CPU load of ${options.vms} VMs (columns picked with seed ${options.seed} from ${options.fileLabel}, ` +
    `${trace.cpuPct[0]!.length} samples of ${trace.intervalS} s) ${pool}, with a consolidation ` +
    `controller every ${trace.intervalS} s (overload ${map.overloadPct} %, underload ${map.underloadPct} %, pack ${map.packPct} %). ` +
    `Generated by: xenpool import planetlab ${options.fileLabel} --vms ${options.vms} --hosts ${options.hosts} ` +
    `--seed ${options.seed}${setup === "xenpool" ? "" : ` --setup ${setup}`}. Mapping and constants: docs/planetlab.md.`
  )
}

/** Scenario JSON (the encoded form, as a file holds it); validated by `importPlanetlab`. */
const planetlabScenarioJson = (trace: PlanetlabTrace, options: PlanetlabImportOptions) => {
  const map = PLANETLAB_MAPPING
  const setup = options.setup ?? "xenpool"
  const chosen = pickColumns(trace.columns.length, options.vms, options.seed)
  const types = vmTypesFor(setup, chosen.length, options.seed)
  const width = Math.max(3, String(options.vms).length)
  const vms = chosen.map((column, i) => {
    const type = types[i]!
    return {
      id: `pl-${String(i + 1).padStart(width, "0")}`,
      vcpus: type.vcpus,
      memory: type.memory,
      workload: { model: "rate" as const, dirtyRate: map.dirtyBase, workingSet: `${map.workingSetPct}%` },
      load: {
        intervalS: trace.intervalS,
        fullCpuDirtyPctPerS: map.fullCpuDirtyPctPerS,
        origin: `${options.fileLabel} field ${column + 2} '${trace.columns[column]}' (${type.name})`,
        cpuPct: Array.from(trace.cpuPct[column]!)
      }
    }
  })
  const days = (trace.intervalS * trace.cpuPct[0]!.length) / 86_400
  return {
    format: "xenpool-scenario" as const,
    version: 1 as const,
    name: setup === "xenpool" ? "planetlab-consolidation" : `planetlab-${setup}`,
    description: describeScenario(trace, options, setup),
    seed: options.seed,
    pool: { id: "planetlab", linkLatency: map.linkLatency },
    policy: "xen" as const,
    hosts: hostsJson(setup, options.hosts),
    vms,
    schedule: [
      {
        at: "0s",
        op: "consolidate" as const,
        every: `${trace.intervalS}s`,
        overloadPct: map.overloadPct,
        underloadPct: map.underloadPct,
        packPct: map.packPct,
        migrationsMaxPerInterval: migrationsMaxFor(options.hosts)
      }
    ],
    limits: { simulatedTime: `${Math.ceil(days * 24) + 1}h` }
  } satisfies typeof Scenario.Encoded
}

/** JSON with each number array on one line (a day's series is 288 numbers). */
const formatScenarioJson = (json: unknown): string =>
  JSON.stringify(json, null, 2).replace(
    /\[\n\s+(-?\d+(?:,\n\s+-?\d+)*)\n\s+\]/g,
    (_, body: string) => `[${body.split(/,\n\s+/).join(", ")}]`
  )

export interface PlanetlabImport {
  readonly text: string
  readonly scenario: Scenario
}

/**
 * The scenario as text, after it has been through the scenario schema and the compiler (what
 * `simulate` will do with it), so the importer never prints a scenario that `simulate` refuses.
 */
export const importPlanetlab = (
  trace: PlanetlabTrace,
  options: PlanetlabImportOptions
): Either.Either<PlanetlabImport, InputError> => {
  if (options.vms > trace.columns.length)
    return Either.left(
      inputError(
        trace.source,
        "header",
        `at least ${options.vms} VM columns for --vms ${options.vms} (the file has ${trace.columns.length})`,
        1
      )
    )
  const text = formatScenarioJson(planetlabScenarioJson(trace, options))
  return Either.flatMap(parseScenarioJson("<imported scenario>", text), (scenario) =>
    Either.map(compileScenario("<imported scenario>", scenario), () => ({ text, scenario }))
  )
}
