/**
 * Internal to projections/snapshotCodec.ts: what changed between two versions of one persistent map, at
 * a cost proportional to the change rather than to the map.
 *
 * effect's `HashMap` is a hash array mapped trie whose unchanged subtrees are shared, as the same
 * objects, between a map and the maps derived from it (a `set` or `mutate` copies only the path to what
 * it changes, and a node of a finished map is never changed again: the maps are persistent). So two
 * versions are compared by walking both tries side by side and skipping every subtree they share; only
 * the paths to the changes are visited. Both tries place a key by its hash, so a key is found at the
 * same position in both and each position's subtrees can be compared on their own (by their entries,
 * where the shapes differ). The walk goes in the tries' order, which is also `HashMap.values`'s order:
 * the changed values come out in the order the new map lists them, the gone keys in the old map's.
 *
 * This reads effect's internal node layout (`_root`, the node classes' `_tag`s and fields). A layout it
 * does not recognise gives `undefined`, and the caller walks the whole maps instead: slower, never
 * wrong. `test/timeTravel/hashMapDiff.test.ts` checks the walk against the whole-map comparison.
 */
import type { HashMap } from "effect"

/** What changed from `before` to `after`: values not the same object as before (or new), keys gone. */
export interface MapChanges<K, V> {
  readonly changed: ReadonlyArray<V>
  readonly gone: ReadonlyArray<K>
}

/** The node shapes of effect's trie (effect/src/internal/hashMap/node.ts), as far as the walk reads them. */
type Node =
  | { readonly _tag: "EmptyNode" }
  | { readonly _tag: "LeafNode"; readonly key: unknown; readonly value: OptionValue }
  | { readonly _tag: "CollisionNode"; readonly children: ReadonlyArray<Node | undefined> }
  | { readonly _tag: "IndexedNode"; readonly mask: number; readonly children: ReadonlyArray<Node> }
  | { readonly _tag: "ArrayNode"; readonly children: ReadonlyArray<Node | undefined> }

type OptionValue = { readonly _tag: "Some"; readonly value: unknown } | { readonly _tag: "None" }

/** Children per branch node: 5 bits of the hash per level. */
const BRANCH_WIDTH = 32

/** Thrown inside the walk when a node is not one of the shapes above; caught in `hashMapChanges`. */
class UnknownLayout extends Error {}

const rootOf = (map: HashMap.HashMap<unknown, unknown>): Node | undefined => {
  const root = (map as unknown as { readonly _root?: Node })._root
  return typeof root === "object" && root !== null && typeof root._tag === "string" ? root : undefined
}

const isBranch = (node: Node): node is Extract<Node, { _tag: "IndexedNode" | "ArrayNode" }> =>
  node._tag === "IndexedNode" || node._tag === "ArrayNode"

/** The child of a branch node at the hash fragment `fragment` (0..31), if any. */
const childAt = (node: Extract<Node, { _tag: "IndexedNode" | "ArrayNode" }>, fragment: number): Node | undefined => {
  if (node._tag === "ArrayNode") return node.children[fragment]
  const bit = 1 << fragment
  if ((node.mask & bit) === 0) return undefined
  return node.children[popcount(node.mask & (bit - 1))]
}

const popcount = (x: number): number => {
  let v = x - ((x >>> 1) & 0x55555555)
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333)
  return ((((v + (v >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24) & 0xff
}

/** The entries of a subtree, in iteration order, into `out` (keys and values alternate). */
const collect = (node: Node | undefined, out: unknown[]): void => {
  if (node === undefined) return
  switch (node._tag) {
    case "EmptyNode":
      return
    case "LeafNode":
      if (node.value._tag === "Some") out.push(node.key, node.value.value)
      else if (node.value._tag !== "None") throw new UnknownLayout()
      return
    case "CollisionNode":
    case "IndexedNode":
    case "ArrayNode":
      for (const child of node.children) collect(child, out)
      return
    default:
      throw new UnknownLayout()
  }
}

/** Compares two subtrees at one position by their entries (their shapes differ, or are leaves). */
const compareEntries = (before: Node | undefined, after: Node | undefined, changed: unknown[], gone: unknown[]) => {
  const old: unknown[] = []
  const now: unknown[] = []
  collect(before, old)
  collect(after, now)
  const oldValues = new Map<unknown, unknown>()
  for (let i = 0; i < old.length; i += 2) oldValues.set(old[i], old[i + 1])
  const nowKeys = new Set<unknown>()
  for (let i = 0; i < now.length; i += 2) {
    nowKeys.add(now[i])
    if (oldValues.get(now[i]) !== now[i + 1] || !oldValues.has(now[i])) changed.push(now[i + 1])
  }
  for (let i = 0; i < old.length; i += 2) if (!nowKeys.has(old[i])) gone.push(old[i])
}

/** Walks two subtrees at the same position; bounded by the tries' depth (32-bit hashes, 5 bits a level). */
const walk = (before: Node | undefined, after: Node | undefined, changed: unknown[], gone: unknown[]): void => {
  if (before === after) return
  if (before !== undefined && after !== undefined && isBranch(before) && isBranch(after)) {
    for (let fragment = 0; fragment < BRANCH_WIDTH; fragment++)
      walk(childAt(before, fragment), childAt(after, fragment), changed, gone)
    return
  }
  compareEntries(before, after, changed, gone)
}

/**
 * The changes from `before` to `after` (values compared by identity), found by walking only the parts
 * of the tries that differ; `undefined` when the maps' layout is not one this module knows.
 */
export const hashMapChanges = <K, V>(
  before: HashMap.HashMap<K, V>,
  after: HashMap.HashMap<K, V>
): MapChanges<K, V> | undefined => {
  const beforeRoot = rootOf(before)
  const afterRoot = rootOf(after)
  if (beforeRoot === undefined || afterRoot === undefined) return undefined
  const changed: unknown[] = []
  const gone: unknown[] = []
  try {
    walk(beforeRoot, afterRoot, changed, gone)
  } catch (error) {
    if (error instanceof UnknownLayout) return undefined
    throw error
  }
  return { changed: changed as V[], gone: gone as K[] }
}
