/**
 * Scenario schedule operations for paging and ballooning (docs/paging.md): the paging target and guest
 * accesses. (`set-memory-target`, the balloon's target, is in scenario.ts with the other VM operations.)
 *
 *   { "at": "2s", "op": "set-paging-target", "vm": "db", "target": "512MiB" }
 *   { "at": "5s", "op": "guest-access", "vm": "db", "range": { "first": 0, "count": 4096 } }
 *   { "at": "6s", "op": "guest-access", "vm": "db", "gfns": [17, 4242, 65000] }
 *   { "at": "7s", "op": "guest-access", "vm": "db", "random": 1000 }
 *
 * An access to a paged page faults: the vCPU waits a page-in, and the event log says so
 * (VmPageFaultsServed). Gfns are checked against the VM's static max when the scenario compiles.
 */
import { Schema } from "effect"
import type { PoolCommand } from "../domain/commands.js"
import { IdString, vmId, type VmId } from "../domain/ids.js"
import { parseSizePages } from "../domain/units.js"
import { ACCESSES_PER_CALL_MAX } from "../engine/memory.js"
import type { Simulation } from "../engine/simulation.js"
import type { InputError } from "./scenario.js"

// scenario.ts imports this module's schemas: a value import back would be a cycle.
const inputError = (source: string, path: string, expected: string): InputError => ({
  _tag: "InputError",
  source,
  path,
  expected
})

const Duration = Schema.String.annotations({ description: "a duration with a unit, e.g. 30ms, 12.5s, 42us" })
const Size = Schema.String.annotations({ description: "a size with a unit, e.g. 4GiB, 2048MiB, 1048576pages" })
const VmIdString = IdString("VM")
const Gfn = Schema.Int.pipe(Schema.nonNegative())
const Burst = Schema.Int.pipe(Schema.between(1, ACCESSES_PER_CALL_MAX))

export const SetPagingTargetItem = Schema.Struct({
  at: Duration,
  op: Schema.Literal("set-paging-target"),
  vm: VmIdString,
  /** xenpaging's target for the VM's resident pages. */
  target: Size
})

export const GuestAccessItem = Schema.Struct({
  at: Duration,
  op: Schema.Literal("guest-access"),
  vm: VmIdString,
  /** Exactly one of `gfns`, `range`, `random`. */
  gfns: Schema.optional(Schema.Array(Gfn).pipe(Schema.maxItems(ACCESSES_PER_CALL_MAX))),
  range: Schema.optional(Schema.Struct({ first: Gfn, count: Burst })),
  /** This many gfns drawn uniformly from the guest's memory (the VM's own seeded stream). */
  random: Schema.optional(Burst)
})

export type MemoryItem = typeof SetPagingTargetItem.Type | typeof GuestAccessItem.Type

export const isMemoryItem = (item: { readonly op: string }): item is MemoryItem =>
  item.op === "set-paging-target" || item.op === "guest-access"

/**
 * What the schedule item asks is well formed for its VM (static max `staticMaxPages`): a target that
 * parses, one access form, gfns within the VM's memory. Undefined when it is, else the error.
 */
export const checkMemoryItem = (
  source: string,
  path: string,
  item: MemoryItem,
  staticMaxPages: number,
  pageSizeBytes: number
): InputError | undefined => {
  if (item.op === "set-paging-target") {
    const parsed = parseSizePages(item.target, pageSizeBytes)
    if (parsed._tag === "Left") return inputError(source, `${path}.target`, parsed.left.expected)
    if (parsed.right > staticMaxPages)
      return inputError(source, `${path}.target`, `at most the VM's static max (${staticMaxPages} pages)`)
    return undefined
  }
  const forms = [item.gfns, item.range, item.random].filter((f) => f !== undefined).length
  if (forms !== 1) return inputError(source, path, "exactly one of gfns, range, random")
  const beyond = (gfn: number) => gfn >= staticMaxPages
  if (item.gfns) {
    const at = item.gfns.findIndex(beyond)
    if (at >= 0)
      return inputError(source, `${path}.gfns[${at}]`, `a gfn below the VM's static max (${staticMaxPages} pages)`)
  }
  if (item.range && beyond(item.range.first + item.range.count - 1)) {
    return inputError(source, `${path}.range`, `gfns below the VM's static max (${staticMaxPages} pages)`)
  }
  return undefined
}

/** Static max of each VM the setup creates. */
export const staticMaxByVm = (setup: ReadonlyArray<PoolCommand>): ReadonlyMap<VmId, number> =>
  new Map(setup.flatMap((c) => (c._tag === "CreateVm" ? [[c.vm, c.memoryStaticMaxPages] as const] : [])))

/** Runs the item now (already checked by `checkMemoryItem`). */
export const performMemoryItem = (sim: Simulation, item: MemoryItem, pageSizeBytes: number): void => {
  const vm = vmId(item.vm)
  if (item.op === "set-paging-target") {
    const parsed = parseSizePages(item.target, pageSizeBytes)
    if (parsed._tag === "Left") throw new Error("validated at compile time")
    sim.attempt(
      { _tag: "SetPagingTarget", atUs: sim.nowUs, vm, targetPages: parsed.right },
      `set paging target of ${item.vm}`
    )
    return
  }
  if (item.gfns) sim.memory.access(vm, item.gfns)
  else if (item.range) sim.memory.accessRange(vm, item.range.first, item.range.count)
  else if (item.random !== undefined) sim.memory.accessRandom(vm, item.random)
}
