/**
 * Migration links as a fluid model, the way SimGrid shares a network: each host's NIC has a transmit
 * and a receive capacity; a migration uses its source's transmit side and its destination's receive
 * side; rates are max-min fair (progressive filling) and are recomputed whenever a migration starts or
 * ends or a link changes. Two equal migrations through one host each get half of it.
 */

export interface Flow {
  /** For people reading a flow; the sharing does not look at it. */
  readonly id?: string
  readonly source: string
  readonly destination: string
}

export interface LinkCapacity {
  /** Current capacity of a host's NIC in each direction, bytes/s (after slowdowns); 0 = link down. */
  readonly capacityBytesPerS: (host: string) => number
}

/**
 * Max-min fair rates (bytes/s, integers, rounded down) for the flows, in the order given. Resources are
 * numbered once per call (each host's transmit and receive side) and the passes work on arrays: it runs
 * whenever a migration starts or ends.
 */
export const maxMinFairRates = (flows: ReadonlyArray<Flow>, links: LinkCapacity): ReadonlyArray<number> => {
  if (flows.length === 0) return []
  if (flows.length === 1) {
    // A flow alone gets the smaller of its two sides: what the passes below give, without their tables.
    const { source, destination } = flows[0]!
    return [Math.floor(Math.min(links.capacityBytesPerS(source), links.capacityBytesPerS(destination)))]
  }
  const rates = new Array<number>(flows.length).fill(0)
  const fixed = new Array<boolean>(flows.length).fill(false)
  const numbered = new Map<string, number>()
  const keys: string[] = []
  const remaining: number[] = []
  const open: number[] = []
  const users: number[][] = []
  const resourceOf = (host: string, side: "tx" | "rx"): number => {
    const key = `${host}:${side}`
    let r = numbered.get(key)
    if (r === undefined) {
      r = keys.length
      numbered.set(key, r)
      keys.push(key)
      remaining.push(links.capacityBytesPerS(host))
      open.push(0)
      users.push([])
    }
    return r
  }
  const uses: number[] = []
  flows.forEach((flow, i) => {
    for (const r of [resourceOf(flow.source, "tx"), resourceOf(flow.destination, "rx")]) {
      users[r]!.push(i)
      open[r]!++
      uses.push(r)
    }
  })
  // Each pass fixes the open flows of the most constrained resource (ties: the lower key), so at most one
  // pass per resource.
  for (let pass = 0; pass <= keys.length; pass++) {
    let bottleneck = -1
    let share = Infinity
    for (let r = 0; r < keys.length; r++) {
      if (open[r] === 0) continue
      const fair = remaining[r]! / open[r]!
      if (fair < share || (fair === share && bottleneck >= 0 && keys[r]! < keys[bottleneck]!)) {
        share = fair
        bottleneck = r
      }
    }
    if (bottleneck < 0) break
    const rate = Math.floor(share)
    for (const i of users[bottleneck]!) {
      if (fixed[i]) continue
      fixed[i] = true
      rates[i] = rate
      for (const r of [uses[2 * i]!, uses[2 * i + 1]!]) {
        remaining[r] = Math.max(0, remaining[r]! - rate)
        open[r]!--
      }
    }
  }
  return rates
}
