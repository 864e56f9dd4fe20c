/**
 * Output that cannot be written is an error, for every command that writes stdout: to a full device
 * (/dev/full), or to a file that stops growing part-way (a file-size limit, as a disk filling up mid-run
 * would), each exits 1 with one line on stderr, never 0 with a truncated file. A reader that goes away
 * (`| head -1`, EPIPE) is not a failure: the command stops quietly and exits 0.
 */
import { spawnSync } from "node:child_process"
import { closeSync, openSync, readFileSync, statSync, writeFileSync } from "node:fs"
import { join, resolve } from "node:path"
import { beforeAll, describe, expect, it } from "vitest"
import { binary, isCleanError, tempDir, xenpool, type CliResult } from "../cli/run.js"

const data = resolve(import.meta.dirname, "../../simulations/data/planetlab-20110303-cpu.csv")
const scenarios = resolve(import.meta.dirname, "../../simulations/scenarios")

const env = { ...process.env, XENPOOL_STORE: "", XENPOOL_DEBUG: "" }

/** Runs xenpool with stdout sent to `path` (a file or a device). */
const xenpoolTo = (path: string, args: ReadonlyArray<string>): CliResult => {
  const fd = openSync(path, "w")
  try {
    const r = spawnSync(process.execPath, [binary, ...args], {
      stdio: ["ignore", fd, "pipe"],
      env,
      encoding: "utf8",
      timeout: 120_000
    })
    return { status: r.status ?? -1, stdout: "", stderr: r.stderr }
  } finally {
    closeSync(fd)
  }
}

/** Runs a shell line (bash, for PIPESTATUS); `$XENPOOL` is the command that runs the built binary. */
const shell = (line: string): CliResult => {
  const r = spawnSync("bash", ["-c", line], {
    env: { ...env, XENPOOL: `${process.execPath} ${binary}` },
    encoding: "utf8",
    timeout: 120_000
  })
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr }
}

const enospc = "xenpool: cannot write output (stdout): no space left on device (ENOSPC)"

let dir = ""
let store = ""
/** A small pool (the demo's, about 250 events) and a large one (about 3,100 events, ~1.2 MiB of --json). */
const small = "rolling-1"
const large = "planetlab-1"
let trace = ""

beforeAll(() => {
  dir = tempDir()
  store = `sqlite:${join(dir, "store.db")}`
  expect(xenpool(["demo", "--store", store]).status).toBe(0)
  expect(xenpool(["simulate", join(scenarios, "planetlab-consolidation.json"), "--store", store]).status).toBe(0)
  const exported = xenpool(["export", "--pool", small, "--store", store])
  expect(exported.status).toBe(0)
  trace = join(dir, "trace.jsonl")
  writeFileSync(trace, exported.stdout)
}, 120_000)

describe("a full device (/dev/full): one line on stderr, exit 1", () => {
  const commands: ReadonlyArray<[string, () => ReadonlyArray<string>]> = [
    ["import planetlab", () => ["import", "planetlab", data, "--vms", "12", "--hosts", "4"]],
    ["events --json", () => ["events", "--pool", small, "--store", store, "--json"]],
    ["events", () => ["events", "--pool", small, "--store", store]],
    ["pools", () => ["pools", "--store", store]],
    ["pools --json", () => ["pools", "--store", store, "--json"]],
    ["at", () => ["at", "60s", "--pool", small, "--store", store]],
    ["at --json", () => ["at", "60s", "--pool", small, "--store", store, "--json"]],
    ["history --vm", () => ["history", "--pool", small, "--vm", "db-1", "--store", store]],
    ["history --host --json", () => ["history", "--pool", small, "--host", "h1", "--store", store, "--json"]],
    ["diff", () => ["diff", "--pool", small, "--store", store, "10s", "60s"]],
    ["migrate-model", () => ["migrate-model", "--memory", "4GiB", "--bandwidth", "125MiB/s"]],
    ["migrate-model --json", () => ["migrate-model", "--memory", "4GiB", "--bandwidth", "125MiB/s", "--json"]],
    ["demo", () => ["demo", "--store", "memory:"]],
    ["demo --json", () => ["demo", "--store", "memory:", "--json"]],
    ["simulate", () => ["simulate", join(scenarios, "idle-migration.json"), "--store", "memory:"]],
    ["replay --json", () => ["replay", trace, "--store", "memory:", "--json"]],
    ["export", () => ["export", "--pool", small, "--store", store]],
    ["check", () => ["check", "--runs", "1"]],
    ["--help", () => ["--help"]],
    ["--version", () => ["--version"]],
    ["at --help", () => ["at", "--help"]]
  ]
  for (const [name, args] of commands) {
    it(`${name} > /dev/full`, () => {
      const r = xenpoolTo("/dev/full", args())
      expect(r.stderr.trim()).toBe(enospc)
      expect(isCleanError(r)).toBe(true)
      expect(r.status).toBe(1)
    })
  }
})

describe("a file that stops growing part-way (file-size limit): exit 1, not a silently truncated file", () => {
  // `ulimit -f 64`: 64 KiB per file (bash counts 1024-byte blocks), room for the store's 32 KiB -shm file
  // and far below the outputs (~900 KiB). The write(2) that crosses the limit is cut short, the next one
  // fails with EFBIG (Node ignores SIGXFSZ).
  const limitKiB = 64
  const limited = (args: string, out: string) => shell(`ulimit -f ${limitKiB}; exec $XENPOOL ${args} > ${out}`)

  it("events --json of a large pool", () => {
    const out = join(dir, "limited-events.json")
    const r = limited(`events --pool ${large} --store ${store} --json`, out)
    expect(r.stderr.trim()).toBe("xenpool: cannot write output (stdout): file too large (EFBIG)")
    expect(r.status).toBe(1)
    expect(statSync(out).size).toBeLessThanOrEqual(limitKiB * 1024)
  })

  it("import planetlab", () => {
    const r = limited(`import planetlab ${data}`, join(dir, "limited-import.json"))
    expect(r.stderr.trim()).toBe("xenpool: cannot write output (stdout): file too large (EFBIG)")
    expect(r.status).toBe(1)
  })

  it("without a limit the same outputs are written to a file whole, byte for byte as to a pipe", () => {
    for (const args of [
      ["events", "--pool", large, "--store", store, "--json"],
      ["import", "planetlab", data]
    ]) {
      const out = join(dir, "whole.out")
      expect(xenpoolTo(out, args)).toMatchObject({ status: 0, stderr: "" })
      const piped = xenpool(args)
      expect(piped.status).toBe(0)
      expect(readFileSync(out, "utf8")).toBe(piped.stdout)
    }
  })
})

describe("a reader that goes away (EPIPE) is not a failure: exit 0, nothing on stderr", () => {
  // The large pool's --json is about 1.2 MiB, many times a pipe's 64 KiB: the writes after `head` has
  // gone get EPIPE.
  const headOne = (args: string) => shell(`$XENPOOL ${args} | head -1; exit \${PIPESTATUS[0]}`)

  it("events --json | head -1", () => {
    const r = headOne(`events --pool ${large} --store ${store} --json`)
    expect(r).toEqual({ status: 0, stdout: "[\n", stderr: "" })
  })

  it("events | head -1", () => {
    const r = headOne(`events --pool ${large} --store ${store}`)
    expect(r.status).toBe(0)
    expect(r.stderr).toBe("")
    expect(r.stdout.split("\n")).toHaveLength(2)
  })

  it("export | head -1", () => {
    const r = headOne(`export --pool ${large} --store ${store}`)
    expect(r.status).toBe(0)
    expect(r.stderr).toBe("")
    expect(JSON.parse(r.stdout)).toMatchObject({})
  })

  it("a reader that has gone before anything is written (| true)", () => {
    for (const args of [`pools --store ${store}`, `events --pool ${large} --store ${store} --json`]) {
      const r = shell(`$XENPOOL ${args} | true; exit \${PIPESTATUS[0]}`)
      expect(r).toEqual({ status: 0, stdout: "", stderr: "" })
    }
  })
})
