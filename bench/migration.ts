import type { Benchmark } from "./harness.js"

export const migrationBenchmarks: ReadonlyArray<Benchmark> = []
