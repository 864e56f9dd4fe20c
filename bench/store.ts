import type { Benchmark } from "./harness.js"

export const storeBenchmarks: ReadonlyArray<Benchmark> = []
