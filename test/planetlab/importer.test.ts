/**
 * The PlanetLab importer: parsing (exact values, every bad-input case with its line and field), the
 * column pick and VM types from the seed, the load → dirty-rate mapping to the byte, CloudSim's set-up
 * (its host types alternating, its VM types in its order), and the bundled data and scenarios (each is
 * exactly what the importer makes with the stated arguments).
 */
import { createHash } from "node:crypto"
import { readFileSync } from "node:fs"
import { resolve } from "node:path"
import { Either } from "effect"
import { describe, expect, it } from "vitest"
import { vmId } from "../../domain/ids.js"
import type { VmWorkload } from "../../engine/config.js"
import { compileScenario } from "../../simulations/compile.js"
import { dirtyRateBytesPerS } from "../../simulations/load.js"
import {
  CLOUDSIM_HOST_TYPES,
  cpusOfMips,
  importPlanetlab,
  MIPS_PER_VCPU,
  migrationsMaxFor,
  parsePlanetlabCsv,
  pickColumns,
  PLANETLAB_MAPPING,
  VM_TYPES,
  vmTypesFor,
  type PlanetlabImportOptions,
  type PlanetlabTrace
} from "../../simulations/planetlab.js"
import { parseScenarioJson } from "../../simulations/scenario.js"

const dataFile = resolve(import.meta.dirname, "../../simulations/data/planetlab-20110303-cpu.csv")
const bundledScenario = resolve(import.meta.dirname, "../../simulations/scenarios/planetlab-consolidation.json")
const bundledCloudsim = resolve(import.meta.dirname, "../../simulations/scenarios/planetlab-cloudsim.json")

const csv = ["t_s,a,b c,d", "0,0,50,100", "300,10,20,30", "600,99,0,1", ""].join("\n")

const parsed = (text: string): PlanetlabTrace => {
  const r = parsePlanetlabCsv("mini.csv", text)
  if (Either.isLeft(r)) throw new Error(`${r.left.line} ${r.left.path}: ${r.left.expected}`)
  return r.right
}

const failure = (text: string) => {
  const r = parsePlanetlabCsv("bad.csv", text)
  if (Either.isRight(r)) throw new Error("expected a parse error")
  return r.left
}

const options = (o: Partial<PlanetlabImportOptions> = {}): PlanetlabImportOptions => ({
  vms: 3,
  hosts: 2,
  seed: 1,
  fileLabel: "mini.csv",
  ...o
})

const imported = (trace: PlanetlabTrace, o: Partial<PlanetlabImportOptions> = {}) => {
  const r = importPlanetlab(trace, options(o))
  if (Either.isLeft(r)) throw new Error(`${r.left.path}: ${r.left.expected}`)
  return r.right
}

describe("parsePlanetlabCsv", () => {
  it("reads the header's VM names (spaces kept) and every sample as an integer", () => {
    const t = parsed(csv)
    expect(t.intervalS).toBe(300)
    expect(t.columns).toEqual(["a", "b c", "d"])
    expect(t.cpuPct.map((c) => [...c])).toEqual([
      [0, 10, 99],
      [50, 20, 0],
      [100, 30, 1]
    ])
  })

  it("accepts CRLF line ends and trailing empty lines", () => {
    expect(parsed(csv.replace(/\n/g, "\r\n") + "\r\n\r\n").cpuPct[1]![0]).toBe(50)
  })

  const bad: ReadonlyArray<[string, string, number, string, RegExp]> = [
    ["an empty file", "", 1, "header", /empty/],
    ["a missing header", "0,1,2\n300,3,4\n", 1, "field 1 '0'", /header row starting with 't_s'/],
    ["a header without VM columns", "t_s\n0\n", 1, "header", /at least one VM column/],
    ["a duplicate VM name", "t_s,a,a\n0,1,2\n", 1, "field 3 'a'", /not already used \(field 2\)/],
    ["an empty VM name", "t_s,a,\n0,1,2\n", 1, "field 3 ''", /non-empty/],
    ["no sample rows", "t_s,a\n", 2, "row", /at least one sample row/],
    ["a non-numeric cell", "t_s,a,b\n0,1,2\n300,3,x\n", 3, "field 3 'b'", /integer CPU percentage .* \(got 'x'\)/],
    ["a negative cell", "t_s,a,b\n0,-1,2\n", 2, "field 2 'a'", /got '-1'/],
    ["a fractional cell", "t_s,a,b\n0,1.5,2\n", 2, "field 2 'a'", /got '1.5'/],
    ["a cell above 100", "t_s,a,b\n0,101,2\n", 2, "field 2 'a'", /from 0 to 100 \(got '101'\)/],
    ["an empty cell", "t_s,a,b\n0,1,\n", 2, "field 3 'b'", /got ''/],
    ["a short (ragged) row", "t_s,a,b\n0,1,2\n300,3\n", 3, "row", /3 comma-separated fields.*got 2/],
    ["a long (ragged) row", "t_s,a,b\n0,1,2,3\n", 2, "row", /got 4/],
    ["a blank line inside", "t_s,a\n0,1\n\n600,2\n", 3, "row", /got 1/],
    ["a first t_s other than 0", "t_s,a\n300,1\n", 2, "field 1 't_s'", /0 in the first row/],
    ["uneven sample times", "t_s,a\n0,1\n300,2\n700,3\n", 4, "field 1 't_s'", /row index × 300 s \(got 700\)/],
    ["a non-numeric t_s", "t_s,a\n0,1\nnoon,2\n", 3, "field 1 't_s'", /whole number of seconds/]
  ]
  it.each(bad)("%s: the error names the line and the field", (_, text, line, path, expected) => {
    const e = failure(text)
    expect(e.source).toBe("bad.csv")
    expect(e.line).toBe(line)
    expect(e.path).toBe(path)
    expect(e.expected).toMatch(expected)
  })
})

describe("the load → dirty rate mapping", () => {
  const workload = (memoryPages: number): VmWorkload => ({
    model: "rate",
    writer: "uniform",
    dirtyRateBytesPerS: 256 * 4096,
    workingSetPages: Math.floor((memoryPages * 25) / 100)
  })

  it("is base + k × cpu% × working set per second, in whole pages", () => {
    // 1740 MiB = 445,440 pages; working set 111,360; k = 10 %/s.
    const w = workload(445_440)
    expect(dirtyRateBytesPerS(w, 0, 10, 4096)).toBe(256 * 4096)
    // floor(10 × 50 × 111,360 / 10^4) = 5,568 pages/s, + 256 = 5,824 pages/s
    expect(dirtyRateBytesPerS(w, 50, 10, 4096)).toBe(5_824 * 4096)
    // floor(10 × 100 × 111,360 / 10^4) = 11,136, + 256 = 11,392 pages/s = 46,661,632 B/s
    expect(dirtyRateBytesPerS(w, 100, 10, 4096)).toBe(46_661_632)
    // 613 MiB = 156,928 pages; working set 39,232; 7 % → floor(10 × 7 × 39,232 / 10^4) = 274, + 256 = 530
    expect(dirtyRateBytesPerS(workload(156_928), 7, 10, 4096)).toBe(530 * 4096)
  })

  it("is capped at the working set per second", () => {
    const w = workload(445_440)
    expect(dirtyRateBytesPerS(w, 100, 100, 4096)).toBe(111_360 * 4096)
    // floor(100 × 99 × 111,360 / 10^4) = 110,246, + 256 = 110,502: just under the cap
    expect(dirtyRateBytesPerS(w, 99, 100, 4096)).toBe(110_502 * 4096)
    expect(dirtyRateBytesPerS(w, 90, 100, 4096)).toBe((100_224 + 256) * 4096)
  })
})

describe("importPlanetlab", () => {
  it("builds a valid scenario: hosts, VM types, the mapping's constants, every sample, and the controller", () => {
    const { scenario } = imported(parsed(csv))
    expect(scenario.format).toBe("xenpool-scenario")
    expect(scenario.hosts).toEqual([{ id: "h", count: 2, memory: "32GiB", overhead: "1GiB", nic: "1Gbit/s", cpus: 8 }])
    expect(scenario.vms.map((v) => v.id)).toEqual(["pl-001", "pl-002", "pl-003"])
    const byName = new Map(VM_TYPES.map((t) => [`${t.vcpus}/${t.memory}`, t]))
    for (const vm of scenario.vms) {
      expect(byName.has(`${vm.vcpus}/${vm.memory as string}`)).toBe(true)
      expect(vm.workload).toEqual({ model: "rate", dirtyRate: "256pages/s", workingSet: "25%" })
      expect(vm.load?.intervalS).toBe(300)
      expect(vm.load?.fullCpuDirtyPctPerS).toBe(PLANETLAB_MAPPING.fullCpuDirtyPctPerS)
    }
    // All three columns picked, in file order, with every sample.
    expect(scenario.vms.map((v) => v.load?.cpuPct)).toEqual([
      [0, 10, 99],
      [50, 20, 0],
      [100, 30, 1]
    ])
    expect(scenario.vms[1]!.load?.origin).toMatch(/^mini\.csv field 3 'b c' \(/)
    expect(scenario.schedule).toEqual([
      {
        at: "0s",
        op: "consolidate",
        every: "300s",
        overloadPct: 80,
        underloadPct: 20,
        packPct: 60,
        migrationsMaxPerInterval: 10
      }
    ])
  })

  it("compiles each VM's series into per-interval dirty rates with the stated numbers", () => {
    const { scenario } = imported(parsed(csv))
    const compiled = compileScenario("t", scenario)
    if (Either.isLeft(compiled)) throw new Error(compiled.left.expected)
    const pagesOf = { "870MiB": 222_720, "1740MiB": 445_440, "613MiB": 156_928 } as const
    for (const vm of scenario.vms) {
      const load = compiled.right.loads!.get(vmId(vm.id))!
      const workingSetPages = Math.floor(pagesOf[vm.memory as keyof typeof pagesOf] / 4)
      expect(load.workload.workingSetPages).toBe(workingSetPages)
      expect(load.intervalUs).toBe(300_000_000)
      expect(load.dirtyRateBytesPerS).toEqual(
        vm.load!.cpuPct.map((cpu) => (256 + Math.floor((10 * cpu * workingSetPages) / 10_000)) * 4096)
      )
      // The workload in force at the start is interval 0's.
      expect(compiled.right.workloads.get(vmId(vm.id))!.dirtyRateBytesPerS).toBe(load.dirtyRateBytesPerS[0])
    }
  })

  it("is deterministic: the same seed gives the same text; another seed picks other columns and types", () => {
    const trace = parsed(readFileSync(dataFile, "utf8"))
    const a = imported(trace, { vms: 20, seed: 7 }).text
    expect(imported(trace, { vms: 20, seed: 7 }).text).toBe(a)
    const b = imported(trace, { vms: 20, seed: 8 }).scenario
    const origins = (s: typeof b) => s.vms.map((v) => v.load?.origin)
    expect(origins(b)).not.toEqual(origins(imported(trace, { vms: 20, seed: 7 }).scenario))
  })

  it("refuses more VMs than the file has columns, naming the file and the header line", () => {
    const r = importPlanetlab(parsed(csv), options({ vms: 4 }))
    expect(Either.isLeft(r) && r.left).toMatchObject({
      source: "mini.csv",
      line: 1,
      path: "header",
      expected: "at least 4 VM columns for --vms 4 (the file has 3)"
    })
  })
})

describe("importPlanetlab with CloudSim's set-up", () => {
  const trace = () => parsed(readFileSync(dataFile, "utf8"))

  it("CloudSim's sizes, as its Constants.java states them: VM MIPS and RAM, host MIPS, 500 MIPS per vCPU", () => {
    expect(VM_TYPES.map((t) => [t.mips, t.memory])).toEqual([
      [2500, "870MiB"],
      [2000, "1740MiB"],
      [1000, "1740MiB"],
      [500, "613MiB"]
    ])
    for (const t of VM_TYPES) expect(t.vcpus * MIPS_PER_VCPU).toBe(t.mips)
    expect(CLOUDSIM_HOST_TYPES.map((t) => [t.model, t.mips, t.memory])).toEqual([
      ["HP ProLiant ML110 G4", 2 * 1860, "4096MiB"],
      ["HP ProLiant ML110 G5", 2 * 2660, "4096MiB"]
    ])
    // 3,720 / 500 = 7.44 and 5,320 / 500 = 10.64, to the nearest whole CPU.
    expect(CLOUDSIM_HOST_TYPES.map((t) => cpusOfMips(t.mips))).toEqual([7, 11])
  })

  it("the host types alternate, G4 first, as CloudSim's `i % HOST_TYPES`: half of each (the odd one a G4)", () => {
    const { scenario } = imported(trace(), { vms: 10, hosts: 5, setup: "cloudsim" })
    expect(scenario.hosts).toEqual(
      ["h001-g4", "h002-g5", "h003-g4", "h004-g5", "h005-g4"].map((id, i) => ({
        id,
        memory: "4096MiB",
        overhead: "0MiB",
        nic: "1Gbit/s",
        cpus: i % 2 === 0 ? 7 : 11
      }))
    )
    // Zero-padded ids: the pool's id order (its listings and tie-breaks) is CloudSim's list order.
    const ids = imported(trace(), { vms: 10, hosts: 800, setup: "cloudsim" }).scenario.hosts.map((h) => h.id)
    expect(ids.slice(-2)).toEqual(["h799-g4", "h800-g5"])
    expect([...ids].sort()).toEqual(ids)
    expect(ids.filter((id) => id.endsWith("-g4"))).toHaveLength(400)
  })

  it("VM types in CloudSim's order: VM i is type i / ⌈N / 4⌉ (the first quarter high-CPU medium, …)", () => {
    expect(vmTypesFor("cloudsim", 10, 1).map((t) => t.name)).toEqual([
      ...Array<string>(3).fill("high-cpu-medium"),
      ...Array<string>(3).fill("extra-large"),
      ...Array<string>(3).fill("small"),
      "micro"
    ])
    const all = imported(trace(), {
      vms: 1052,
      hosts: 800,
      setup: "cloudsim",
      fileLabel: "planetlab-20110303-cpu.csv"
    }).scenario
    const counts = new Map<string, number>()
    for (const vm of all.vms)
      counts.set(`${vm.vcpus}/${vm.memory as string}`, (counts.get(`${vm.vcpus}/${vm.memory as string}`) ?? 0) + 1)
    expect([...counts]).toEqual([
      ["5/870MiB", 263],
      ["4/1740MiB", 263],
      ["2/1740MiB", 263],
      ["1/613MiB", 263]
    ])
    // Every column, in file order (the seed picks none out when all are taken).
    expect(all.vms[0]!.load?.origin).toBe(
      `planetlab-20110303-cpu.csv field 2 '${trace().columns[0]}' (high-cpu-medium)`
    )
    expect(all.vms[1051]!.load?.origin).toMatch(/field 1053 .* \(micro\)$/)
    expect(all.name).toBe("planetlab-cloudsim")
    expect(all.description).toMatch(/--setup cloudsim\. /)
    expect(all.schedule[0]).toMatchObject({ op: "consolidate", migrationsMaxPerInterval: 400 })
  })

  it("same arguments, same bytes; the set-up changes the hosts and types, not the load series", () => {
    const t = trace()
    const a = imported(t, { vms: 30, hosts: 9, seed: 4, setup: "cloudsim" })
    expect(imported(t, { vms: 30, hosts: 9, seed: 4, setup: "cloudsim" }).text).toBe(a.text)
    const ours = imported(t, { vms: 30, hosts: 9, seed: 4 }).scenario
    expect(a.scenario.vms.map((v) => v.load?.cpuPct)).toEqual(ours.vms.map((v) => v.load?.cpuPct))
  })

  it('the default set-up is today\'s, byte for byte: `setup: "xenpool"` or none, the same text as before the option', () => {
    const t = trace()
    const fileLabel = "planetlab-20110303-cpu.csv"
    const none = imported(t, { vms: 100, hosts: 20, seed: 1, fileLabel }).text
    expect(imported(t, { vms: 100, hosts: 20, seed: 1, fileLabel, setup: "xenpool" }).text).toBe(none)
    // The sha256 of `xenpool import planetlab …csv` (the defaults) before `--setup` existed.
    expect(createHash("sha256").update(`${none}\n`).digest("hex")).toBe(
      "ebfa9a14161e554fe9391b751c9fd19476991ce52fc0188ca6473f3e984e9729"
    )
  })
})

describe("migrationsMaxFor", () => {
  it("is 10 per interval, or one per two hosts in a larger pool", () => {
    expect([1, 20, 21, 800].map(migrationsMaxFor)).toEqual([10, 10, 11, 400])
  })
})

describe("pickColumns", () => {
  it("picks N distinct columns in file order; all of them when N is the column count", () => {
    const picked = pickColumns(1052, 100, 1)
    expect(new Set(picked).size).toBe(100)
    expect([...picked].sort((a, b) => a - b)).toEqual(picked)
    expect(picked.every((c) => c >= 0 && c < 1052)).toBe(true)
    expect(pickColumns(5, 5, 3)).toEqual([0, 1, 2, 3, 4])
    expect(pickColumns(1052, 100, 1)).toEqual(picked)
    expect(pickColumns(1052, 100, 2)).not.toEqual(picked)
  })
})

describe("the bundled data and scenario", () => {
  it("the CSV is the documented file: 1,052 VMs × 288 samples of 300 s, sha256 as in simulations/data/README.md", () => {
    const bytes = readFileSync(dataFile)
    expect(createHash("sha256").update(bytes).digest("hex")).toBe(
      "b1ee2823017ca931baac1f30f2aaf8ed503dd6a5f9d84490f12ee54659b2bc37"
    )
    const t = parsed(bytes.toString("utf8"))
    expect(t.columns).toHaveLength(1052)
    expect(t.cpuPct[0]).toHaveLength(288)
    expect(t.columns.filter((c) => c.includes(" "))).toHaveLength(50)
  })

  it("planetlab-consolidation.json is what `import planetlab` makes with --vms 100 --hosts 20 --seed 1", () => {
    const trace = parsed(readFileSync(dataFile, "utf8"))
    const fresh = imported(trace, { vms: 100, hosts: 20, seed: 1, fileLabel: "planetlab-20110303-cpu.csv" })
    const bundled = parseScenarioJson(bundledScenario, readFileSync(bundledScenario, "utf8"))
    if (Either.isLeft(bundled)) throw new Error(bundled.left.expected)
    expect(bundled.right).toEqual(fresh.scenario)
  })

  it("planetlab-cloudsim.json is what `import planetlab` makes with --vms 1052 --hosts 800 --seed 1 --setup cloudsim", () => {
    const trace = parsed(readFileSync(dataFile, "utf8"))
    const fileLabel = "planetlab-20110303-cpu.csv"
    const fresh = imported(trace, { vms: 1052, hosts: 800, seed: 1, fileLabel, setup: "cloudsim" })
    const bundled = parseScenarioJson(bundledCloudsim, readFileSync(bundledCloudsim, "utf8"))
    if (Either.isLeft(bundled)) throw new Error(bundled.left.expected)
    expect(bundled.right).toEqual(fresh.scenario)
  })
})
