/**
 * The simulator's agenda: a binary min-heap ordered by (atUs, rank, seq). `rank` puts one kind of
 * happening ahead of another at the same microsecond (the engine's outside inputs before its own
 * happenings); `seq` is the insertion counter, so happenings of one rank at the same microsecond run in
 * the order they were scheduled, the same way every run.
 */
export interface Scheduled<T> {
  readonly atUs: number
  readonly rank: number
  readonly seq: number
  readonly item: T
}

const before = <T>(a: Scheduled<T>, b: Scheduled<T>): boolean =>
  a.atUs < b.atUs || (a.atUs === b.atUs && (a.rank < b.rank || (a.rank === b.rank && a.seq < b.seq)))

export class EventQueue<T> {
  private readonly heap: Array<Scheduled<T>> = []
  private nextSeq = 0

  get size(): number {
    return this.heap.length
  }

  /** Schedules `item` at `atUs`; at the same µs, a lower `rank` comes first (default 0). Returns its `seq`. */
  push(atUs: number, item: T, rank = 0): number {
    if (!Number.isSafeInteger(atUs) || atUs < 0)
      throw new RangeError(`schedule time must be a non-negative integer µs, got ${atUs}`)
    const entry: Scheduled<T> = { atUs, rank, seq: this.nextSeq++, item }
    const heap = this.heap
    heap.push(entry)
    let i = heap.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!before(entry, heap[parent]!)) break
      heap[i] = heap[parent]!
      i = parent
    }
    heap[i] = entry
    return entry.seq
  }

  peek(): Scheduled<T> | undefined {
    return this.heap[0]
  }

  pop(): Scheduled<T> | undefined {
    const heap = this.heap
    const top = heap[0]
    const last = heap.pop()
    if (top === undefined || last === undefined || heap.length === 0) return top
    let i = 0
    const n = heap.length
    for (;;) {
      const left = 2 * i + 1
      if (left >= n) break
      const right = left + 1
      const child = right < n && before(heap[right]!, heap[left]!) ? right : left
      if (!before(heap[child]!, last)) break
      heap[i] = heap[child]!
      i = child
    }
    heap[i] = last
    return top
  }
}
