/**
 * A canonical text form of pool state, for comparing two states whatever built them (the engine's live
 * fold, a fold read back from a store, a projection at a revision): hosts, VMs and migrations in id
 * order, every object's keys sorted, `undefined` fields dropped.
 */
import { HashMap } from "effect"
import type { PoolState } from "../domain/state.js"

const sortKeys = (value: unknown): unknown => {
  if (Array.isArray(value)) return value.map(sortKeys)
  if (value === null || typeof value !== "object") return value
  const out: Record<string, unknown> = {}
  for (const key of Object.keys(value).sort()) {
    const v = (value as Record<string, unknown>)[key]
    if (v !== undefined) out[key] = sortKeys(v)
  }
  return out
}

const byId = <T extends { readonly id: string }>(map: HashMap.HashMap<string, T>): ReadonlyArray<T> =>
  Array.from(HashMap.values(map)).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))

const canonicalState = (state: PoolState): string =>
  JSON.stringify(
    sortKeys({
      pool: state.pool,
      atUs: state.atUs,
      hosts: byId(state.hosts),
      vms: byId(state.vms),
      migrations: byId(state.migrations)
    })
  )

/** The first line where two canonical states differ, for a readable counterexample. */
export const stateDifference = (expected: PoolState, actual: PoolState): string | undefined => {
  const a = canonicalState(expected)
  const b = canonicalState(actual)
  if (a === b) return undefined
  let i = 0
  while (i < a.length && a[i] === b[i]) i++
  const from = Math.max(0, a.lastIndexOf('"id"', i))
  return `expected …${a.slice(from, i + 60)}… got …${b.slice(from, i + 60)}…`
}
