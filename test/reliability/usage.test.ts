/**
 * The command line's own mistakes (DESIGN.md §7): one line `xenpool: <what> (<where>): <expected>` naming
 * the argument at fault, exit code 2; control characters escaped in every message; no colour with
 * NO_COLOR or off a terminal; `--wizard` refused without a terminal instead of waiting for ever.
 */
import { execFileSync } from "node:child_process"
import { describe, expect, it } from "vitest"
import { isCleanError, tempDir } from "../cli/run.js"
import { xenpoolAsync } from "./cli.js"

const usage = (args: ReadonlyArray<string>) => xenpoolAsync(args, { cwd: tempDir() })

/** A usage error: exit 2, one clean line, nothing on stdout, none of @effect/cli's own wording. */
const expectUsageError = async (args: ReadonlyArray<string>, line: string) => {
  const r = await usage(args)
  expect(r.status, r.stderr).toBe(2)
  expect(isCleanError(r), r.stderr).toBe(true)
  expect(r.stderr).toBe(`${line}\n`)
  expect(r.stdout).toBe("")
}

describe("usage errors: one line naming the argument at fault, exit code 2", () => {
  const cases: ReadonlyArray<readonly [string, ReadonlyArray<string>, string]> = [
    ["a missing option", ["events"], "xenpool: missing option (--pool): pool id (see xenpool events --help)"],
    [
      "two missing options",
      ["migrate-model"],
      "xenpool: missing options (--memory, --bandwidth): --memory: guest memory, e.g. 4GiB, 4096MiB, 1048576pages; --bandwidth: link bandwidth, e.g. 1Gbit/s, 125MiB/s (see xenpool migrate-model --help)"
    ],
    [
      "a value that is not an integer",
      ["events", "--pool", "p", "--limit", "abc"],
      "xenpool: bad option (--limit abc): an integer (see xenpool events --help)"
    ],
    [
      "the same as --limit=abc",
      ["events", "--pool", "p", "--limit=abc"],
      "xenpool: bad option (--limit abc): an integer (see xenpool events --help)"
    ],
    [
      "a repeated option, blamed on itself and not on the next one",
      ["migrate-model", "--memory", "1GiB", "--memory", "2GiB", "--bandwidth", "1Gbit/s"],
      "xenpool: repeated option (--memory): give --memory once (see xenpool migrate-model --help)"
    ],
    [
      "a choice that is not one",
      ["migrate-model", "--memory", "1GiB", "--bandwidth", "1Gbit/s", "--policy", "fast"],
      "xenpool: bad option (--policy fast): one of xen, xen-legacy, max-downtime, or a module exporting a policy, e.g. ./my-policy.js (see xenpool migrate-model --help)"
    ],
    [
      "an option without its value",
      ["events", "--pool"],
      "xenpool: missing value (--pool): pool id (see xenpool events --help)"
    ],
    [
      "a missing argument",
      ["at", "--pool", "p"],
      "xenpool: missing argument (WHEN): a simulated time (12.5s, 800ms, 42us) or @REVISION (see xenpool at --help)"
    ],
    [
      "a misspelt option, with @effect/cli's suggestion",
      ["pools", "--stroe", "x"],
      "xenpool: unknown option (--stroe): did you mean --store? (see xenpool pools --help)"
    ],
    [
      "an unknown option without a close one",
      ["pools", "--frobnicate"],
      "xenpool: unknown option (--frobnicate): an option the command takes (see xenpool pools --help)"
    ],
    [
      "an argument too many",
      ["pools", "--json", "extra"],
      "xenpool: unexpected argument (extra): no further arguments (see xenpool pools --help)"
    ],
    [
      "a flag given a value that is not true or false",
      ["pools", "--json=maybe"],
      "xenpool: bad option (--json=maybe): true or false, or --json alone (see xenpool pools --help)"
    ],
    [
      "an option before the command",
      ["--store", "x", "pools"],
      "xenpool: option before the command (--store): write it after the command: xenpool pools --store (see xenpool pools --help)"
    ],
    [
      "a directory for a file",
      ["simulate", "/"],
      "xenpool: bad argument (/): a regular file (see xenpool simulate --help)"
    ],
    [
      "a subcommand's value that is not an integer, named under the subcommand",
      ["import", "planetlab", "data.csv", "--vms", "abc"],
      "xenpool: bad option (--vms abc): an integer (see xenpool import planetlab --help)"
    ],
    [
      "a subcommand's choice that is not one",
      ["import", "planetlab", "data.csv", "--setup", "simgrid"],
      "xenpool: bad option (--setup simgrid): one of xenpool, cloudsim (see xenpool import planetlab --help)"
    ],
    [
      "a subcommand's misspelt option, with a suggestion",
      ["import", "planetlab", "data.csv", "--vsm", "3"],
      "xenpool: unknown option (--vsm): did you mean --vms? (see xenpool import planetlab --help)"
    ],
    [
      "an option and no command",
      ["-x"],
      "xenpool: unknown option (-x): a command first: xenpool COMMAND [OPTIONS] (see xenpool --help)"
    ]
  ]
  for (const [name, args, line] of cases) {
    it(name, () => expectUsageError(args, line))
  }

  it("an unknown command lists the commands, with a suggestion when one is close", async () => {
    const commands =
      "demo, simulate, migrate-model, calibrate, pools, events, import, replay, export, check, at, history, diff, fork, vm-migrate, vm-start, vm-shutdown, host-disable, host-enable, host-evacuate, host-fail, run, view, report (see xenpool --help)"
    await expectUsageError(["frobnicate"], `xenpool: unknown command (frobnicate): one of ${commands}`)
    await expectUsageError(
      ["evnts", "--pool", "x"],
      `xenpool: unknown command (evnts): did you mean events? one of ${commands}`
    )
  })

  it("--help and --version still exit 0, on stdout", async () => {
    for (const args of [["--help"], ["--version"], ["pools", "--help"], []]) {
      const r = await usage(args)
      expect(r.status, args.join(" ")).toBe(0)
      expect(r.stderr).toBe("")
      expect(r.stdout).not.toBe("")
    }
  })

  it("a failure that is not a usage error still exits 1", async () => {
    const r = await usage(["events", "--pool", "nosuch", "--store", "memory:"])
    expect(r.status).toBe(1)
    expect(isCleanError(r)).toBe(true)
  })
})

describe("control characters never reach the terminal raw", () => {
  it("a pool id with an escape sequence and a newline is written escaped, on one line", async () => {
    const r = await usage(["events", "--pool", "\x1b[31mred\nforged line\x07\x7f\u009b", "--store", "memory:"])
    // Not a pool id at all: a usage error.
    expect(r.status).toBe(2)
    expect(isCleanError(r), r.stderr).toBe(true)
    expect(r.stderr).not.toMatch(/\p{Cc}(?!$)/u)
    expect(r.stderr).toContain("\\x1b[31mred\\nforged line\\x07\\x7f\\x9b")
  })

  it("so is an option name in a usage error", async () => {
    const r = await usage(["pools", "--st\x1b[2Jore", "x"])
    expect(r.status).toBe(2)
    expect(r.stderr).toBe(
      "xenpool: unknown option (--st\\x1b[2Jore): an option the command takes (see xenpool pools --help)\n"
    )
  })

  it("and a tab or carriage return in a value", async () => {
    const r = await usage(["events", "--pool", "p", "--limit", "1\r2\t"])
    expect(r.status).toBe(2)
    expect(r.stderr).toBe("xenpool: bad option (--limit 1\\r2\\t): an integer (see xenpool events --help)\n")
  })
})

// eslint-disable-next-line no-control-regex
const escapeSequence = /\x1b\[/

/** `script` gives the command a terminal, the one case where colour is allowed. */
const hasScript = (() => {
  try {
    execFileSync("script", ["--version"], { stdio: "ignore" })
    return true
  } catch {
    return false
  }
})()

const onTerminal = (args: ReadonlyArray<string>, env: Record<string, string>) =>
  xenpoolAsync(args, { env, terminal: true })

describe("colour: never with NO_COLOR, never off a terminal", () => {
  it("help piped to another program has no escape codes", async () => {
    for (const args of [["--help"], ["pools", "--help"], ["--version"]]) {
      const r = await usage(args)
      expect(r.status).toBe(0)
      expect(r.stdout).not.toMatch(escapeSequence)
    }
  })

  it.skipIf(!hasScript)("help on a terminal is coloured, and not with NO_COLOR=1 (any non-empty value)", async () => {
    const coloured = await onTerminal(["--help"], { NO_COLOR: "" })
    expect(coloured.stdout).toMatch(escapeSequence)
    for (const value of ["1", "yes", "0"]) {
      const plain = await onTerminal(["--help"], { NO_COLOR: value })
      expect(plain.status).toBe(0)
      expect(plain.stdout).toContain("USAGE")
      expect(plain.stdout).not.toMatch(escapeSequence)
    }
  })
})

describe("--wizard without a terminal", () => {
  it("with stdin at end of file: a usage error at once, not a wait for ever", async () => {
    for (const args of [["--wizard"], ["pools", "--wizard"]]) {
      const r = await xenpoolAsync(args, { input: "", timeoutMs: 10_000 })
      expect(r.status, `${args.join(" ")}: ${r.stderr}`).toBe(2)
      expect(isCleanError(r)).toBe(true)
      expect(r.stderr).toContain("--wizard needs a terminal (stdin is not a terminal)")
    }
  }, 30_000)
})
