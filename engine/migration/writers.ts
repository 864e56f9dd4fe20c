/**
 * The page writers of the `pages` workload model: one list, from which the scenario and trace checks
 * (`workload.writer`), the docs and `migrate-model --writer` derive. A writer decides which page each
 * of a guest's writes lands on; the rate and the exact spacing of writes are the model's
 * (`evenlySpacedWriter`, workload.ts, which both built-ins are made of, as a user's would be). Each
 * built-in is a `WriterDefinition`; a run may add its own (`extensions.writers`), looked up by name after the built-ins.
 */
import { hotColdWriter, uniformWriter, type PageWriter, type WriterConfig } from "./workload.js"

export interface WriterDefinition {
  /** The name a workload's `writer` gives. */
  readonly name: string
  /** One line for `--help` and the docs. */
  readonly summary: string
  /** The writer of one migration: draw only from `config.prng`, so the same seed gives the same writes. */
  readonly make: (config: WriterConfig) => PageWriter
}

/** The built-in `uniform`: every write to a page drawn uniformly from the working set. */
export const uniform: WriterDefinition = {
  name: "uniform",
  summary: "each write to a page drawn uniformly from the working set",
  make: (config) => uniformWriter(config)
}

/** The built-in `hot-cold`: nine writes in ten to the working set's first tenth. */
export const hotCold: WriterDefinition = {
  name: "hot-cold",
  summary: "9 writes in 10 to the first tenth of the working set, the rest uniformly over the other pages",
  make: (config) => hotColdWriter(config)
}

/** The built-in writers, the default first. */
export const writers: ReadonlyArray<WriterDefinition> = [uniform, hotCold]

/** The default writer's name. */
export const DEFAULT_WRITER = uniform.name

/** The writer named `name`: a built-in, else one of `extra`; undefined when none is. */
export const findWriter = (name: string, extra: ReadonlyArray<WriterDefinition> = []): WriterDefinition | undefined =>
  writers.find((w) => w.name === name) ?? extra.find((w) => w.name === name)

/** The names a run may use, built-ins first, for a message listing them. */
export const knownWriterNames = (extra: ReadonlyArray<WriterDefinition> = []): ReadonlyArray<string> => [
  ...writers.map((w) => w.name),
  ...extra.map((w) => w.name)
]
