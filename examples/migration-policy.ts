/**
 * A pre-copy policy of your own, beside Xen's default, on the bundled write-heavy scenario (a VM that
 * dirties 1.5 GiB/s over a 6 GiB working set, on 10 Gbit/s): both round tables.
 *
 * The policy, `stop-when-outpaced`, is a `precopy_policy` decision in libxenguest's loop, as a toolstack
 * gives one to libxenguest: it stops pre-copy as soon as the guest dirtied pages faster during the last
 * round than the link sent them, or as fast (more rounds would not converge), instead of `simple_precopy_policy`'s
 * five iterations. It is a plain value with a name, a summary and `make`, as the built-ins are.
 *
 *   node migration-policy.js
 */
import { readFileSync } from "node:fs"
import {
  events,
  openStore,
  scenarioPath,
  simulate,
  xenPolicy,
  type PolicyDefinition,
  type ScenarioInput
} from "xenpool"

const stopWhenOutpaced: PolicyDefinition = {
  name: "stop-when-outpaced",
  summary: "stop pre-copy once a round dirtied as many pages as it sent, or more",
  parameters: ["roundsMax"],
  make: (options) =>
    xenPolicy(
      (stats, lastRound) =>
        lastRound !== undefined && lastRound.live && lastRound.dirtyPagesAfter >= lastRound.pagesSent
          ? "stop"
          : "continue",
      "stop-when-outpaced",
      options.roundsMax ?? 30
    )
}

const scenario = JSON.parse(readFileSync(scenarioPath("write-heavy"), "utf8")) as ScenarioInput
const store = await openStore("memory:")
try {
  for (const policy of ["xen", stopWhenOutpaced.name]) {
    const run = await simulate(
      { ...scenario, policy },
      { store, pool: `heavy-${policy}`, extensions: { policies: [stopWhenOutpaced] } }
    )
    const m = run.migrations[0]!
    console.log(
      `${policy}: ${m.rounds} rounds, ${(m.bytesSent / 2 ** 30).toFixed(2)} GiB sent, total ${(m.totalUs / 1e6).toFixed(2)} s, downtime ${(m.downtimeUs / 1e3).toFixed(0)} ms`
    )
    console.log("  round  live    pages sent  dirtied   duration")
    for await (const { event } of events(store, run.pool))
      if (event._tag === "VmMigrationRoundCompleted")
        console.log(
          `  ${String(event.round).padStart(5)}  ${event.live ? "live  " : "paused"}  ${String(event.pagesSent).padStart(10)}  ${String(event.pagesDirtied).padStart(8)}  ${(event.durationUs / 1e3).toFixed(1).padStart(8)} ms`
        )
  }
} finally {
  await store.close()
}
