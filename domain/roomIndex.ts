/**
 * Internal to domain/: hosts ordered by their room so that each placement costs O(log hosts) instead of
 * a scan of every host. An evacuation plan builds one over its targets (domain/placement/xapiDefault.ts);
 * the live pool keeps one over all its hosts for the placement of single VMs (domain/tables.ts).
 *
 * The plan asks, for each VM: of the hosts with at least `physical` pages of physical room, which has the
 * most placement-free memory (the first in id order on ties), and does that cover `placement`? Hosts are
 * the nodes of a treap keyed by (physical free, position in id order); each node keeps the best host of
 * its subtree by (placement free desc, position asc). The hosts with enough physical room are a suffix
 * of the key order, so the answer is the best of O(depth) nodes and right subtrees. A planned move
 * lowers both figures of one host: it is taken out and put back with its new key.
 *
 * Plain TypeScript over typed arrays (STYLE.md 11). Priorities are a hash of the position, not a draw:
 * the tree's shape, like everything in domain/, follows from its input.
 */

/** No node: an empty subtree, or no host. */
export const NO_HOST = -1

/** A well-mixed 32-bit hash (murmur3's finaliser) of a position, as the node's heap priority. */
const priorityOf = (position: number): number => {
  let h = (position + 1) >>> 0
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

export class RoomIndex {
  private readonly left: Int32Array
  private readonly right: Int32Array
  private readonly priority: Uint32Array
  /** The best node of each node's subtree (itself included). */
  private readonly best: Int32Array
  private readonly placementFree: Float64Array
  private readonly physicalFree: Float64Array
  private root = NO_HOST
  /** What `split` hands back: the keys before the node's, and those after. */
  private splitLeft = NO_HOST
  private splitRight = NO_HOST

  /** Host i is the i-th target in id order, with these figures. */
  constructor(placementFreePages: ReadonlyArray<number>, physicalFreePages: ReadonlyArray<number>) {
    const count = placementFreePages.length
    if (physicalFreePages.length !== count) throw new Error("RoomIndex: one placement and one physical figure per host")
    this.left = new Int32Array(count).fill(NO_HOST)
    this.right = new Int32Array(count).fill(NO_HOST)
    this.priority = new Uint32Array(count)
    this.best = new Int32Array(count)
    this.placementFree = Float64Array.from(placementFreePages)
    this.physicalFree = Float64Array.from(physicalFreePages)
    for (let i = 0; i < count; i++) {
      this.priority[i] = priorityOf(i)
      this.best[i] = i
      this.root = this.insert(this.root, i)
    }
  }

  placementFreeOf(host: number): number {
    return this.placementFree[host]!
  }

  /** The host with the most placement-free memory of all (first on ties), or NO_HOST when there is none. */
  bestOverall(): number {
    return this.root === NO_HOST ? NO_HOST : this.best[this.root]!
  }

  /**
   * The host with the most placement-free memory (first on ties) among those with at least
   * `physicalPages` of physical room, if it has at least `placementPages` placement-free; else NO_HOST.
   */
  bestFit(placementPages: number, physicalPages: number): number {
    let found = NO_HOST
    let node = this.root
    // Bounded by the tree's depth: each step goes one level down.
    while (node !== NO_HOST) {
      if (this.physicalFree[node]! >= physicalPages) {
        // this node and every key after it (its right subtree) have the room
        found = this.better(this.better(found, node), this.bestOf(this.right[node]!))
        node = this.left[node]!
      } else node = this.right[node]!
    }
    return found !== NO_HOST && this.placementFree[found]! >= placementPages ? found : NO_HOST
  }

  /** A VM was planned onto `host`: both its figures go down by what the VM needs. */
  take(host: number, placementPages: number, physicalPages: number): void {
    this.set(host, this.placementFree[host]! - placementPages, this.physicalFree[host]! - physicalPages)
  }

  /** The host's figures are now these: it is taken out and put back with its new key (unless they are the same). */
  set(host: number, placementFreePages: number, physicalFreePages: number): void {
    if (this.placementFree[host] === placementFreePages && this.physicalFree[host] === physicalFreePages) return
    this.root = this.remove(this.root, host)
    this.placementFree[host] = placementFreePages
    this.physicalFree[host] = physicalFreePages
    this.left[host] = NO_HOST
    this.right[host] = NO_HOST
    this.best[host] = host
    this.root = this.insert(this.root, host)
  }

  private bestOf(subtree: number): number {
    return subtree === NO_HOST ? NO_HOST : this.best[subtree]!
  }

  /** More placement-free memory wins; on equal memory, the earlier host in id order. */
  private better(a: number, b: number): number {
    if (a === NO_HOST) return b
    if (b === NO_HOST) return a
    const pa = this.placementFree[a]!
    const pb = this.placementFree[b]!
    return pa > pb || (pa === pb && a < b) ? a : b
  }

  /** Key order: physical free ascending, then position (so keys are distinct). */
  private before(a: number, b: number): boolean {
    const pa = this.physicalFree[a]!
    const pb = this.physicalFree[b]!
    return pa < pb || (pa === pb && a < b)
  }

  private pull(node: number): void {
    this.best[node] = this.better(this.better(node, this.bestOf(this.left[node]!)), this.bestOf(this.right[node]!))
  }

  /** `node` (not in the tree) into the subtree; returns the subtree's new root. */
  private insert(subtree: number, node: number): number {
    if (subtree === NO_HOST) return node
    if (this.priority[node]! > this.priority[subtree]!) {
      this.split(subtree, node)
      this.left[node] = this.splitLeft
      this.right[node] = this.splitRight
      this.pull(node)
      return node
    }
    if (this.before(node, subtree)) this.left[subtree] = this.insert(this.left[subtree]!, node)
    else this.right[subtree] = this.insert(this.right[subtree]!, node)
    this.pull(subtree)
    return subtree
  }

  /** Splits the subtree into the keys before `node`'s and those after (in splitLeft, splitRight). */
  private split(subtree: number, node: number): void {
    if (subtree === NO_HOST) {
      this.splitLeft = NO_HOST
      this.splitRight = NO_HOST
      return
    }
    if (this.before(subtree, node)) {
      this.split(this.right[subtree]!, node)
      this.right[subtree] = this.splitLeft
      this.pull(subtree)
      this.splitLeft = subtree
    } else {
      this.split(this.left[subtree]!, node)
      this.left[subtree] = this.splitRight
      this.pull(subtree)
      this.splitRight = subtree
    }
  }

  /** `node` out of the subtree (it is in it); returns the subtree's new root. */
  private remove(subtree: number, node: number): number {
    if (subtree === node) return this.merge(this.left[node]!, this.right[node]!)
    if (subtree === NO_HOST) throw new Error(`RoomIndex: host ${node} is not in the tree`)
    if (this.before(node, subtree)) this.left[subtree] = this.remove(this.left[subtree]!, node)
    else this.right[subtree] = this.remove(this.right[subtree]!, node)
    this.pull(subtree)
    return subtree
  }

  /** Joins two subtrees whose keys are all in order (every key of `a` before every key of `b`). */
  private merge(a: number, b: number): number {
    if (a === NO_HOST) return b
    if (b === NO_HOST) return a
    if (this.priority[a]! > this.priority[b]!) {
      this.right[a] = this.merge(this.right[a]!, b)
      this.pull(a)
      return a
    }
    this.left[b] = this.merge(a, this.left[b]!)
    this.pull(b)
    return b
  }
}
