import type { Benchmark } from "./harness.js"

export const foldBenchmarks: ReadonlyArray<Benchmark> = []
