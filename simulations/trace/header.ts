/**
 * The header line of a trace: format, version, the pool (id, page size, link latency, and the hosts and
 * VMs present at time 0), the seed, the default policy and the limits. It compiles through the scenario
 * compiler, so a host or VM is described, defaulted and checked exactly as in a scenario.
 */
import type { Placement } from "../../domain/placement/index.js"
import type { Extensions } from "../extensions.js"
import { Either, Schema } from "effect"
import type { CreatePool, PoolCommand } from "../../domain/commands.js"
import { poolId, type VmId } from "../../domain/ids.js"
import type { PolicyConfig, VmWorkload } from "../../engine/config.js"
import { compileScenario } from "../compile.js"
import { inputError, type InputError, type Scenario } from "../scenario.js"
import { schemaIssue } from "./issues.js"
import { TraceHeader } from "./schema.js"

/** DEFAULT_PAGE_SIZE_BYTES (domain/units.ts) as a header writes it. */
const DEFAULT_PAGE_SIZE_TEXT = "4KiB"
const LINK_LATENCY_DEFAULT = "100us"
export const SIMULATED_TIME_DEFAULT = "30d"
export const EVENTS_MAX_DEFAULT = 10_000_000

type DecodedHeader = typeof TraceHeader.Type

export interface CompiledHeader {
  readonly name: string
  /** The header's pool id: the base of the new pool's id. */
  readonly poolId: string
  readonly seed: number
  readonly pageSizeBytes: number
  /** As written, for compiling the VMs of later records the same way. */
  readonly pageSizeText: string
  readonly policy: PolicyConfig
  readonly placement: Placement
  /** The user's extensions (API runs): the policies its records and the placement its header may name. */
  readonly extensions: Extensions
  /** CreatePool (with the header's pool id), then the header's hosts and VMs, as the scenario compiler makes them. */
  readonly setup: ReadonlyArray<PoolCommand>
  readonly workloads: ReadonlyMap<VmId, VmWorkload>
  readonly simulatedUsMax: number
  readonly eventsMax: number
  /** HA's liveness timeout when the header's `pool.ha` sets one. */
  readonly haLivenessTimeoutUs?: number
}

const decodeHeader = Schema.decodeUnknownEither(TraceHeader, { errors: "first", onExcessProperty: "error" })

/** The scenario compiler names hosts and VMs at the top level; in a trace they sit under `pool`. */
const headerPath = (path: string): string =>
  path.startsWith("hosts") || path.startsWith("vms") ? `pool.${path}` : path

const asScenario = (header: DecodedHeader, name: string): Scenario => ({
  format: "xenpool-scenario",
  version: 1,
  name,
  seed: header.seed ?? 1,
  pool: {
    id: header.pool.id,
    pageSize: header.pool.pageSize ?? DEFAULT_PAGE_SIZE_TEXT,
    linkLatency: header.pool.linkLatency ?? LINK_LATENCY_DEFAULT,
    ...(header.pool.ha === undefined ? {} : { ha: header.pool.ha })
  },
  policy: header.policy ?? "xen",
  ...(header.placement === undefined ? {} : { placement: header.placement }),
  hosts: header.pool.hosts ?? [],
  vms: header.pool.vms ?? [],
  schedule: [],
  limits: {
    simulatedTime: header.limits?.simulatedTime ?? SIMULATED_TIME_DEFAULT,
    events: header.limits?.events ?? EVENTS_MAX_DEFAULT
  }
})

/** Decodes and compiles the header line (its JSON already parsed); errors name `line`. */
export const compileHeader = (
  source: string,
  json: unknown,
  line: number,
  fallbackName: string,
  extensions: Extensions = {}
): Either.Either<CompiledHeader, InputError> => {
  const decoded = decodeHeader(json)
  if (Either.isLeft(decoded)) return Either.left(schemaIssue(source, decoded.left, line))
  const header = decoded.right
  const name = header.name ?? fallbackName
  // The header's VMs that start at time 0 can only go to its hosts; records may add hosts for the rest.
  const compiled = compileScenario(source, asScenario(header, name), { vmsMustFit: "started", extensions })
  if (Either.isLeft(compiled)) {
    const e = compiled.left
    return Either.left(inputError(source, headerPath(e.path), e.expected, line))
  }
  const c = compiled.right
  const createPool = c.setup[0] as CreatePool
  return Either.right({
    name,
    poolId: header.pool.id,
    seed: c.seed,
    pageSizeBytes: c.pageSizeBytes,
    pageSizeText: header.pool.pageSize ?? DEFAULT_PAGE_SIZE_TEXT,
    policy: c.policy,
    placement: c.placement,
    extensions,
    setup: [{ ...createPool, pool: poolId(header.pool.id) }, ...c.setup.slice(1)],
    workloads: c.workloads,
    simulatedUsMax: c.simulatedUsMax,
    eventsMax: c.eventsMax,
    ...(c.haLivenessTimeoutUs === undefined ? {} : { haLivenessTimeoutUs: c.haLivenessTimeoutUs })
  })
}

/** The header line's JSON, when the first line is not a header at all. */
export const headerExpected = `a header line {"format":"xenpool-trace","version":1,"pool":{...}}`
