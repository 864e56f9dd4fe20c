/**
 * A time-travel analysis over a stored pool: downtime per destination host, and the busiest minute (the
 * most events), then the pool as it was in that minute, all from `events` and `stateAt`.
 *
 *   node time-travel-analysis.js [STORE_URL] [POOL]
 *
 * Without a pool, it first runs the bundled rolling-maintenance scenario into the store.
 */
import { events, openStore, scenarioPath, simulate, stateAt } from "xenpool"

const store = await openStore(process.argv[2] ?? "memory:")
try {
  const pool = process.argv[3] ?? (await simulate(scenarioPath("rolling-maintenance"), { store })).pool

  const downtimeUsByHost = new Map<string, number>()
  const eventsByMinute = new Map<number, number>()
  for await (const { event } of events(store, pool)) {
    const minute = Math.floor(event.atUs / 60_000_000)
    eventsByMinute.set(minute, (eventsByMinute.get(minute) ?? 0) + 1)
    if (event._tag === "VmMigrationCommitted")
      downtimeUsByHost.set(event.destination, (downtimeUsByHost.get(event.destination) ?? 0) + event.downtimeUs)
  }

  console.log(`pool ${pool}: downtime of the migrations into each host`)
  for (const [host, us] of [...downtimeUsByHost].sort(([a], [b]) => a.localeCompare(b)))
    console.log(`  ${host}  ${(us / 1000).toFixed(2)} ms`)

  const [busiest, count] = [...eventsByMinute].reduce((best, next) => (next[1] > best[1] ? next : best))
  const then = await stateAt(store, pool, { atUs: busiest * 60_000_000 + 30_000_000 })
  console.log(
    `busiest minute: ${busiest}m–${busiest + 1}m with ${count} events; halfway through it (revision ${then.revision}):`
  )
  for (const host of then.hosts)
    console.log(`  ${host.id}  ${host.enabled ? "enabled " : "disabled"}  VMs: ${host.vms.join(", ") || "-"}`)
  for (const m of then.migrations)
    console.log(`  migration ${m.id}: ${m.vm} ${m.source} → ${m.destination}, ${m.phase}, round ${m.rounds}`)
} finally {
  await store.close()
}
