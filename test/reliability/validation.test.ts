/**
 * Trust: every bad input refused. Each case is an input that today's code took (or half took): a pool id
 * that is a path, a scenario or trace header that defines an impossible pool, a recorded migration whose
 * rounds were edited, an option the chosen policy ignores. Each must end as one line on stderr naming the
 * file, the line (for traces) and the field, a non-zero exit, and no new pool in the store.
 */
import { describe, expect, it } from "vitest"
import { readFileSync, writeFileSync } from "node:fs"
import { join, resolve } from "node:path"
import { Effect, Either } from "effect"
import { checkedId } from "../../cli/poolId.js"
import { isCleanError, tempDir, xenpool, type CliResult } from "../cli/run.js"

const bundled = (name: string) => resolve(import.meta.dirname, `../../simulations/scenarios/${name}.json`)
const idle = JSON.parse(readFileSync(bundled("idle-migration"), "utf8")) as Record<string, unknown>

/** The id grammar's words, as every id error states them. */
const ID_WORDS = "1 to 128 letters, digits, '.', '_' or '-', starting with a letter or digit"

const dir = tempDir()
let files = 0
const file = (name: string, text: string): string => {
  const path = join(dir, `${++files}-${name}`)
  writeFileSync(path, text)
  return path
}
const storeOf = (): string => `sqlite:${join(dir, `store-${++files}.db`)}`

/** The pools of a store, as `xenpool pools --json` lists them. */
const poolsIn = (store: string): ReadonlyArray<string> => {
  const r = xenpool(["pools", "--store", store, "--json"])
  expect(r.status).toBe(0)
  return (JSON.parse(r.stdout) as Array<{ id: string }>).map((p) => p.id)
}

/** One store for every refusal, holding one pool, so that "nothing appended" is seen against something. */
let shared: string | undefined
const storeWithOnePool = (): string => {
  if (shared !== undefined) return shared
  const store = storeOf()
  expect(xenpool(["simulate", bundled("idle-migration"), "--store", store, "--pool", "before"]).status).toBe(0)
  shared = store
  return store
}

/** What a command line's own value gets: a usage error (exit 2); a bad input file is a failure (exit 1). */
const commandLineError = /^xenpool: (bad (pool|VM|host) id \(--|option ignored \()/

/** A clean refusal: one line, `xenpool: <what> (<where>): <expected>`, exit 1 (2 for the command line), no stack trace. */
const expectRefused = (r: CliResult, ...parts: ReadonlyArray<string | RegExp>): void => {
  expect(isCleanError(r), `stderr: ${r.stderr}\nstdout: ${r.stdout.slice(0, 400)}`).toBe(true)
  expect(r.status).toBe(commandLineError.test(r.stderr) ? 2 : 1)
  expect(r.stderr).toMatch(/^xenpool: [^(]+ \([^)]*\): /)
  for (const part of parts) {
    if (typeof part === "string") expect(r.stderr).toContain(part)
    else expect(r.stderr).toMatch(part)
  }
}

/** Runs `args` against the store with one pool; it must be refused and the store must still hold only that pool. */
const refusedAndNothingAppended = (args: ReadonlyArray<string>, ...parts: ReadonlyArray<string | RegExp>): void => {
  const store = storeWithOnePool()
  const r = xenpool([...args, "--store", store])
  expectRefused(r, ...parts)
  expect(poolsIn(store)).toEqual(["before"])
}

const scenario = (edit: (s: Record<string, any>) => void): string => {
  const s = structuredClone(idle) as Record<string, any>
  edit(s)
  return file("scenario.json", JSON.stringify(s))
}

// --- 1. one id grammar ------------------------------------------------------------------------------

describe("ids: one grammar for pool, host, VM and migration ids", () => {
  for (const [name, bad] of [
    ["a path with '..' segments", "../x/y"],
    ["a path separator", "a/b"],
    ["a control character", "a\tb"],
    ["a leading dot", ".hidden"],
    ["an empty id", ""],
    ["129 characters", "p".repeat(129)]
  ] as const) {
    it(`simulate --pool with ${name} is refused, nothing appended`, () => {
      refusedAndNothingAppended(
        ["simulate", bundled("idle-migration"), "--pool", bad],
        "xenpool: bad pool id (--pool): expected a pool id: ",
        ID_WORDS
      )
    })
  }

  it("the refused id is quoted with its control characters escaped, so the error stays one line", () => {
    const r = xenpool(["simulate", bundled("idle-migration"), "--store", storeOf(), "--pool", "a\nb"])
    expectRefused(r, `(got "a\\nb")`)
  })

  it("replay --pool ../x/y is refused, nothing appended", () => {
    const trace = file(
      "ok.jsonl",
      `${JSON.stringify({ format: "xenpool-trace", version: 1, pool: { id: "t", hosts: [{ id: "h1", memory: "8GiB" }] } })}\n`
    )
    refusedAndNothingAppended(["replay", trace, "--pool", "../x/y"], "xenpool: bad pool id (--pool)", ID_WORDS)
  })

  for (const args of [["events"], ["export"], ["at", "1s"], ["history", "--vm", "idle-1"], ["diff", "0s", "1s"]]) {
    it(`${args[0]} --pool ../x/y is refused with the same words`, () => {
      refusedAndNothingAppended([...args, "--pool", "../x/y"], "xenpool: bad pool id (--pool)", ID_WORDS)
    })
  }

  it("--vm and --host get the same check and words (checkedId, for at and history)", () => {
    const refused = Effect.runSync(Effect.either(checkedId("VM", "../v", "--vm")))
    expect(Either.isLeft(refused) && refused.left.message).toBe(
      `bad VM id (--vm): expected a VM id: ${ID_WORDS} (got "../v")`
    )
    expect(Effect.runSync(checkedId("host", "h1", "--host"))).toBe("h1")
  })

  it("a scenario's VM id with a path separator names the field and the grammar", () => {
    const path = scenario((s) => {
      s.vms[0].id = "a/b"
      s.schedule = []
    })
    refusedAndNothingAppended(
      ["simulate", path],
      `xenpool: bad scenario (${path}, vms[0].id): expected a VM id: ${ID_WORDS} (got "a/b")`
    )
  })

  it("a host id prefix whose count makes an id of 129 characters is refused", () => {
    const path = scenario((s) => {
      s.hosts = [{ id: "h".repeat(128), count: 2, memory: "32GiB" }]
      s.vms = []
      s.schedule = []
    })
    refusedAndNothingAppended(["simulate", path], `(${path}, hosts[0].id)`, "a host id", "129 characters")
  })

  it("a scenario pool id too long for the -N suffix a run adds is refused (--pool names it instead)", () => {
    const path = scenario((s) => {
      s.pool.id = "p".repeat(127)
    })
    refusedAndNothingAppended(["simulate", path], "cannot name the new pool", "--pool")
  })

  it("a trace header's pool id and a record's VM id follow the same grammar", () => {
    const header = (id: string) =>
      JSON.stringify({ format: "xenpool-trace", version: 1, pool: { id, hosts: [{ id: "h1", memory: "8GiB" }] } })
    const badPool = file("pool.jsonl", `${header("../x")}\n`)
    refusedAndNothingAppended(
      ["replay", badPool],
      `xenpool: bad trace (${badPool}:1, pool.id): expected a pool id: ${ID_WORDS} (got "../x")`
    )
    const badVm = file(
      "vm.jsonl",
      `${header("t")}\n${JSON.stringify({ atUs: 0, op: "create-vm", vm: "../v", memory: "1GiB" })}\n`
    )
    refusedAndNothingAppended(
      ["replay", badVm],
      `xenpool: bad trace (${badVm}:2, vm): expected a VM id: ${ID_WORDS} (got "../v")`
    )
  })
})

// --- 2. scenarios and trace headers define a possible pool --------------------------------------------

interface PoolCase {
  readonly name: string
  readonly edit: (s: Record<string, any>) => void
  /** The field's path in a scenario; a trace header has the same under `pool.` for hosts and VMs. */
  readonly path: string
  readonly expected: string | RegExp
}

const poolCases: ReadonlyArray<PoolCase> = [
  {
    name: "two VMs with one id",
    edit: (s) => s.vms.push({ id: "idle-1", memory: "1GiB", host: "h2" }),
    path: "vms[1].id",
    expected: "a VM id not used by another VM (vms[0] declares 'idle-1')"
  },
  {
    name: "a VM id that a count expansion also makes",
    edit: (s) => s.vms.push({ id: "idle-", count: 2, memory: "1GiB", host: "h2" }),
    path: "vms[1].id",
    expected: "a VM id not used by another VM (vms[0] declares 'idle-1')"
  },
  {
    name: "two hosts with one id",
    edit: (s) => s.hosts.push({ id: "h2", memory: "8GiB" }),
    path: "hosts[1].id",
    expected: "a host id not used by another host (hosts[0] declares 'h2')"
  },
  {
    name: "a VM of 0 bytes",
    edit: (s) => (s.vms[0].memory = "0GiB"),
    path: "vms[0].memory",
    expected: "at least one page (got '0GiB')"
  },
  {
    name: "a VM whose target is 0 bytes",
    edit: (s) => (s.vms[0].memory = { staticMin: "0B", dynamicMin: "0B", target: "0B", staticMax: "1GiB" }),
    path: "vms[0].memory.target",
    expected: "at least one page (got '0B')"
  },
  {
    name: "a NIC of 0 bit/s",
    edit: (s) => (s.hosts[0].nic = "0Gbit/s"),
    path: "hosts[0].nic",
    expected: "a positive rate (got '0Gbit/s')"
  },
  {
    name: "more vCPUs than Xen gives an HVM guest",
    edit: (s) => (s.vms[0].vcpus = 129),
    path: "vms[0].vcpus",
    expected: "1 to 128 vCPUs (Xen's HVM_MAX_VCPUS), got 129"
  },
  {
    name: "a host whose overhead exceeds its memory",
    edit: (s) => (s.hosts[0].overhead = "40GiB"),
    path: "hosts[0].overhead",
    expected: "an overhead below the host's memory (8388608 pages), leaving room for VMs (got 10485760 pages)"
  },
  {
    name: "a host whose overhead equals its memory",
    edit: (s) => (s.hosts[0].overhead = "32GiB"),
    path: "hosts[0].overhead",
    expected: "an overhead below the host's memory (8388608 pages), leaving room for VMs (got 8388608 pages)"
  },
  {
    name: "a host of 0 bytes",
    edit: (s) => (s.hosts[0].memory = "0GiB"),
    path: "hosts[0].memory",
    expected: "at least one page (got '0GiB')"
  },
  {
    name: "a page size of 0 bytes",
    edit: (s) => (s.pool.pageSize = "0B"),
    path: "pool.pageSize",
    expected: "a positive size (got '0B')"
  },
  {
    name: "a VM that fits no host even when the pool is empty",
    edit: (s) => (s.vms[0].memory = "31GiB"),
    path: "vms[0].memory",
    expected:
      /a VM that fits on some host of the pool when it is empty: it needs 81\d{5} pages \(dynamic min \+ overhead\), the roomiest host has 8126464/
  },
  {
    name: "a policy option the policy ignores (xen has no maximum downtime)",
    edit: (s) => (s.policy = { name: "xen", maxDowntime: "10ms" }),
    path: "policy.maxDowntime",
    expected: "no maxDowntime with policy xen: only max-downtime uses it"
  },
  {
    name: "a policy option the policy ignores (xen-legacy has no round cap)",
    edit: (s) => (s.policy = { name: "xen-legacy", roundsMax: 3 }),
    path: "policy.roundsMax",
    expected: "no roundsMax with policy xen-legacy: only xen and max-downtime use it"
  }
]

describe("a scenario that defines an impossible pool is refused before anything runs", () => {
  for (const c of poolCases) {
    it(`${c.name}: ${c.path}`, () => {
      const path = scenario(c.edit)
      refusedAndNothingAppended(["simulate", path], `xenpool: bad scenario (${path}, ${c.path}): expected `, c.expected)
    })
  }

  it("the summary no longer crashes on negative free memory, and --json no longer shows it with exit 0", () => {
    const path = scenario((s) => (s.hosts[0].overhead = "40GiB"))
    refusedAndNothingAppended(["simulate", path, "--json"], "hosts[0].overhead")
  })
})

/** The scenario's pool as a trace header: hosts and VMs under `pool`, no schedule. */
const headerOf = (s: Record<string, any>): Record<string, unknown> => ({
  format: "xenpool-trace",
  version: 1,
  seed: s.seed,
  ...(s.policy === undefined ? {} : { policy: s.policy }),
  pool: { ...s.pool, hosts: s.hosts, vms: s.vms }
})

describe("a trace header defines a pool too: the same checks, at line 1", () => {
  for (const c of poolCases) {
    it(`${c.name}: ${c.path}`, () => {
      const s = structuredClone(idle) as Record<string, any>
      c.edit(s)
      const trace = file("header.jsonl", `${JSON.stringify(headerOf(s))}\n`)
      const path = c.path.startsWith("hosts") || c.path.startsWith("vms") ? `pool.${c.path}` : c.path
      refusedAndNothingAppended(["replay", trace], `xenpool: bad trace (${trace}:1, ${path}): expected `, c.expected)
    })
  }
})

describe("trace records that define hosts and VMs: the same checks, at their line", () => {
  const header = JSON.stringify({
    format: "xenpool-trace",
    version: 1,
    pool: { id: "t", hosts: [{ id: "h1", memory: "8GiB", overhead: "1GiB" }] }
  })
  for (const [name, record, path, expected] of [
    [
      "a join-host whose NIC is 0 bit/s",
      { atUs: 0, op: "join-host", host: "h2", memory: "8GiB", nic: "0Gbit/s" },
      "nic",
      "a positive rate (got '0Gbit/s')"
    ],
    [
      "a join-host whose overhead is all of its memory",
      { atUs: 0, op: "join-host", host: "h2", memory: "8GiB", overhead: "8GiB" },
      "overhead",
      "an overhead below the host's memory (2097152 pages), leaving room for VMs (got 2097152 pages)"
    ],
    [
      "a create-vm of 0 bytes",
      { atUs: 0, op: "create-vm", vm: "v", memory: "0B" },
      "memory",
      "at least one page (got '0B')"
    ],
    [
      "a create-vm with 129 vCPUs",
      { atUs: 0, op: "create-vm", vm: "v", vcpus: 129, memory: "1GiB" },
      "vcpus",
      "1 to 128 vCPUs (Xen's HVM_MAX_VCPUS), got 129"
    ],
    [
      "a migrate record whose policy option the policy ignores",
      { atUs: 0, op: "migrate", vm: "v", to: "h1", policy: { name: "xen", maxDowntime: "10ms" } },
      "policy.maxDowntime",
      "no maxDowntime with policy xen: only max-downtime uses it"
    ]
  ] as const) {
    it(name, () => {
      const vm = JSON.stringify({ atUs: 0, op: "create-vm", vm: "v", memory: "1GiB" })
      const lines = record.op === "migrate" ? [header, vm, JSON.stringify(record)] : [header, JSON.stringify(record)]
      const trace = file("records.jsonl", `${lines.join("\n")}\n`)
      refusedAndNothingAppended(
        ["replay", trace],
        `xenpool: bad trace (${trace}:${lines.length}, ${path}): expected ${expected}`
      )
    })
  }
})

// --- 3. a recorded migration whose rounds were edited ----------------------------------------------------

describe("a recorded migration whose rounds were edited is a bad trace at the edited line", () => {
  const exported = (): string => {
    const store = storeOf()
    expect(xenpool(["simulate", bundled("idle-migration"), "--store", store, "--pool", "rec"]).status).toBe(0)
    const r = xenpool(["export", "--pool", "rec", "--store", store])
    expect(r.status).toBe(0)
    return r.stdout
  }
  const original = exported()
  const lines = original.trim().split("\n")
  const lineOf = (pattern: string): number => lines.findIndex((l) => l.includes(pattern)) + 1

  it("the export replays as it is (exit 0, nothing refused)", () => {
    const store = storeOf()
    const r = xenpool(["replay", file("export.jsonl", original), "--store", store, "--json"])
    expect(r.status).toBe(0)
    expect(JSON.parse(r.stdout).refusals).toEqual([])
  })

  for (const [name, from, to, field, expected] of [
    [
      "a round number skipped",
      `"round":2,`,
      `"round":3,`,
      "round",
      /a recorded step the pool accepts at this point .*round 3 is not allowed in phase after round 1/
    ],
    [
      "a paused round marked live",
      `"round":2,"live":false`,
      `"round":2,"live":true`,
      "live",
      /a recorded step the pool accepts at this point .*a live round is not allowed in phase stop-and-copy/
    ],
    [
      "bytes that are not the pages sent",
      `"pagesSent":1048576,"pagesSkipped":0,"bytesSent":4294967296`,
      `"pagesSent":5,"pagesSkipped":0,"bytesSent":4294967296`,
      "bytesSent",
      "pagesSent × the page size (5 × 4096 = 20480 bytes), got 4294967296"
    ],
    [
      "more pages than the VM has",
      `"pagesSent":1048576,"pagesSkipped":0,"bytesSent":4294967296`,
      `"pagesSent":2097152,"pagesSkipped":0,"bytesSent":8589934592`,
      "pagesSent",
      "at most the VM's 1048576 pages (static max) sent and skipped in a round, got 2097152"
    ]
  ] as const) {
    it(name, () => {
      const line = lines.findIndex((l) => l.includes(from)) + 1
      expect(line).toBeGreaterThan(1)
      const edited = lines.map((l, i) => (i === line - 1 ? l.replace(from, to) : l)).join("\n")
      const trace = file("edited.jsonl", `${edited}\n`)
      refusedAndNothingAppended(
        ["replay", trace],
        `xenpool: bad trace (${trace}:${line}, ${field}): expected `,
        expected
      )
    })
  }

  it("a migration with its paused round deleted is refused at the next step, restore (which follows it)", () => {
    const paused = lineOf(`"live":false`)
    const edited = lines.filter((_, i) => i !== paused - 1)
    const restore = edited.findIndex((l) => l.includes(`"phase":"restore"`)) + 1
    const trace = file("deleted.jsonl", `${edited.join("\n")}\n`)
    refusedAndNothingAppended(
      ["replay", trace],
      `xenpool: bad trace (${trace}:${restore}, op): expected a recorded step the pool accepts at this point`,
      "restore is not allowed in phase stop-and-copy"
    )
  })
})

describe("refusals that are part of a scenario's story still run, exit 0", () => {
  for (const name of ["host-failure-during-evacuation", "write-heavy", "paging-and-ballooning"]) {
    it(name, () => {
      const r = xenpool(["simulate", bundled(name), "--store", "memory:", "--json"])
      expect(r.status, r.stderr).toBe(0)
      expect(JSON.parse(r.stdout).events).toBeGreaterThan(0)
    })
  }
})

// --- 4. options a chosen policy or model ignores ---------------------------------------------------------

describe("migrate-model refuses an option the chosen policy or model ignores, naming both", () => {
  const base = ["migrate-model", "--memory", "1GiB", "--bandwidth", "1Gbit/s"]
  for (const [extra, named] of [
    [
      ["--max-downtime", "10ms", "--policy", "xen"],
      ["--max-downtime", "--policy xen"]
    ],
    [
      ["--max-downtime", "10ms", "--policy", "xen-legacy"],
      ["--max-downtime", "--policy xen-legacy"]
    ],
    [
      ["--max-downtime", "10ms"],
      ["--max-downtime", "--policy xen"]
    ],
    [
      ["--seed", "7", "--dirty-rate", "10MiB/s"],
      ["--seed", "--model rate"]
    ],
    [
      ["--working-set", "50%"],
      ["--working-set", "--dirty-rate"]
    ],
    [
      ["--seed", "7", "--model", "pages"],
      ["--seed", "--dirty-rate"]
    ]
  ] as const) {
    it(extra.join(" "), () => {
      const r = xenpool([...base, ...extra])
      expectRefused(r, "xenpool: option ignored (", ...named)
    })
  }

  it("the options a policy or model uses still work", () => {
    for (const extra of [
      ["--max-downtime", "10ms", "--policy", "max-downtime", "--dirty-rate", "10MiB/s"],
      ["--seed", "7", "--model", "pages", "--dirty-rate", "10MiB/s", "--working-set", "50%"],
      ["--dirty-rate", "10MiB/s", "--working-set", "256MiB"]
    ]) {
      const r = xenpool([...base, ...extra, "--json"])
      expect(r.status, `${extra.join(" ")}: ${r.stderr}`).toBe(0)
    }
  })
})
