import { describe, expect, it } from "vitest"
import { join } from "node:path"
import { isCleanError, tempDir, xenpool } from "./run.js"

describe("xenpool --help", () => {
  it("lists the commands and exits 0", () => {
    const r = xenpool(["--help"])
    expect(r.status).toBe(0)
    for (const command of ["demo", "simulate", "migrate-model", "pools", "events"]) expect(r.stdout).toContain(command)
  })
})

describe("xenpool pools / events", () => {
  it("pools --json on a new SQLite store prints []", () => {
    const dir = tempDir()
    const r = xenpool(["pools", "--store", `sqlite:${join(dir, "e.db")}`, "--json"])
    expect(r.status).toBe(0)
    expect(JSON.parse(r.stdout)).toEqual([])
  })

  it("a wrong store URL is one clear line and a non-zero exit", () => {
    const r = xenpool(["pools", "--store", "nosuch://x"])
    expect(isCleanError(r)).toBe(true)
    expect(r.stderr).toContain("nosuch://x")
  })

  it("XENPOOL_STORE is honoured when --store is absent", () => {
    const r = xenpool(["pools"], { env: { XENPOOL_STORE: "nosuch://from-env" } })
    expect(isCleanError(r)).toBe(true)
    expect(r.stderr).toContain("nosuch://from-env")
  })

  it("a store file in a missing directory is a clear error", () => {
    const r = xenpool(["pools", "--store", "sqlite:/nonexistent-dir/x/y.db"])
    expect(isCleanError(r)).toBe(true)
    expect(r.stderr).toContain("/nonexistent-dir/x/y.db")
  })

  it("events of an unknown pool is a clear error naming the pool", () => {
    const dir = tempDir()
    const r = xenpool(["events", "--pool", "nope", "--store", `sqlite:${join(dir, "e.db")}`])
    expect(isCleanError(r)).toBe(true)
    expect(r.stderr).toContain("unknown pool")
    expect(r.stderr).toContain("nope")
  })

  it("a file that is not a SQLite database is a clear error", async () => {
    const dir = tempDir()
    const { writeFileSync } = await import("node:fs")
    writeFileSync(join(dir, "junk.db"), "this is not a database, just text ".repeat(100))
    const r = xenpool(["pools", "--store", `sqlite:${join(dir, "junk.db")}`])
    expect(isCleanError(r)).toBe(true)
  })
})
