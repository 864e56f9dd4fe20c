/** The live-migration transfer model: policies, dirtying models, the pre-copy machine, one-shot runs. */

export * from "./policy.js"
export * from "./policies/index.js"
export * from "./workload.js"
export * from "./pageTracker.js"
export * from "./precopy.js"
export * from "./single.js"
export * from "./phases.js"
