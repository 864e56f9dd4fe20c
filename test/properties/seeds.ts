/**
 * The seeds `npm test` runs the properties with: two fixed ones, and one derived from the commit being
 * tested (so each commit explores new cases, yet any run can be repeated). Printed, so that a failure
 * is reproducible with `xenpool check --property NAME --seed N`. `XENPOOL_PROPERTY_SEED` adds one.
 */
import { execFileSync } from "node:child_process"
import { resolve } from "node:path"

const FIXED_SEEDS: ReadonlyArray<number> = [1, 20_251_125]

const head = (): string | undefined => {
  try {
    return execFileSync("git", ["rev-parse", "HEAD"], {
      cwd: resolve(import.meta.dirname, "../.."),
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"]
    }).trim()
  } catch {
    return undefined
  }
}

const commit = head()
/** The commit's first 7 hex digits as a seed below 2^31 (3 outside a git checkout). */
const COMMIT_SEED = commit === undefined ? 3 : parseInt(commit.slice(0, 7), 16) % 2 ** 31

const extra = process.env.XENPOOL_PROPERTY_SEED
export const SEEDS: ReadonlyArray<number> = [
  ...FIXED_SEEDS,
  COMMIT_SEED,
  ...(extra === undefined || extra === "" ? [] : [Number(extra)])
]

/** Under Stryker (`npm run mutation`) every property runs far fewer cases, with one seed. */
export const MUTATION_RUN = process.env.XENPOOL_MUTATION === "1"

export const describeSeeds = (): string =>
  `property seeds: ${SEEDS.join(", ")} (${COMMIT_SEED} from commit ${commit?.slice(0, 12) ?? "none"}); reproduce a failure with: xenpool check --property NAME --seed N`
