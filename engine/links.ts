/**
 * Migration links as a fluid model, the way SimGrid shares a network: each host's NIC has a transmit
 * and a receive capacity; a migration uses its source's transmit side and its destination's receive
 * side; rates are max-min fair (progressive filling) and are recomputed whenever a migration starts or
 * ends or a link changes. Two equal migrations through one host each get half of it.
 */

export interface Flow {
  readonly id: string
  readonly source: string
  readonly destination: string
}

export interface LinkCapacity {
  /** Current capacity of a host's NIC in each direction, bytes/s (after slowdowns); 0 = link down. */
  readonly capacityBytesPerS: (host: string) => number
}

/** Max-min fair rates (bytes/s, integers, rounded down) for the flows, in the order given. */
export const maxMinFairRates = (flows: ReadonlyArray<Flow>, links: LinkCapacity): ReadonlyArray<number> => {
  const rates = new Array<number>(flows.length).fill(0)
  const fixed = new Array<boolean>(flows.length).fill(false)
  const remaining = new Map<string, number>()
  const users = new Map<string, number[]>()
  flows.forEach((flow, i) => {
    for (const resource of [`${flow.source}:tx`, `${flow.destination}:rx`]) {
      if (!remaining.has(resource)) remaining.set(resource, links.capacityBytesPerS(resource.slice(0, -3)))
      let list = users.get(resource)
      if (!list) users.set(resource, (list = []))
      list.push(i)
    }
  })
  // Each pass fixes the flows of the most constrained resource; at most one pass per resource.
  for (let pass = 0; pass <= users.size; pass++) {
    let bottleneck: string | undefined
    let share = Infinity
    for (const [resource, list] of users) {
      const open = list.filter((i) => !fixed[i]).length
      if (open === 0) continue
      const fair = remaining.get(resource)! / open
      if (fair < share || (fair === share && bottleneck !== undefined && resource < bottleneck)) {
        share = fair
        bottleneck = resource
      }
    }
    if (bottleneck === undefined) break
    const rate = Math.floor(share)
    for (const i of users.get(bottleneck)!) {
      if (fixed[i]) continue
      fixed[i] = true
      rates[i] = rate
      const flow = flows[i]!
      for (const resource of [`${flow.source}:tx`, `${flow.destination}:rx`]) {
        remaining.set(resource, Math.max(0, remaining.get(resource)! - rate))
      }
    }
  }
  return rates
}
