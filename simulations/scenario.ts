/**
 * The scenario format (JSON, `format: "xenpool-scenario"`, `version: 1`): a pool, hosts, VMs with
 * workloads, a policy and a schedule of operations and faults. Quantities are strings with units
 * (`64GiB`, `10Gbit/s`, `30ms`), parsed by domain/units.ts; every error names its JSON path.
 */
import { Either, ParseResult, Schema } from "effect"
import { IdString } from "../domain/ids.js"
import { VCPUS_EXPECTED, VCPUS_MAX } from "../domain/limits.js"
import { DEFAULT_WRITER } from "../engine/migration/writers.js"
import { ConsolidateItem, VmLoad } from "./load.js"
import { GuestAccessItem, SetPagingTargetItem } from "./memoryOps.js"

const Size = Schema.String.annotations({ description: "a size with a unit, e.g. 4GiB, 2048MiB, 1048576pages" })
const Rate = Schema.String.annotations({ description: "a rate with a unit, e.g. 125MiB/s, 1Gbit/s, 2000pages/s" })
const Duration = Schema.String.annotations({ description: "a duration with a unit, e.g. 30ms, 12.5s, 42us" })
/** Ids follow domain/ids.ts's one grammar; with `count`, a host or VM id is a prefix (compile.ts checks the ids it makes). */
const PoolIdText = IdString("pool")
const HostIdText = IdString("host")
const VmIdText = IdString("VM")
/** XAPI's VCPUs_max within Xen's HVM_MAX_VCPUS (domain/limits.ts). */
export const Vcpus = Schema.Int.pipe(
  Schema.between(1, VCPUS_MAX, { message: (issue) => `${VCPUS_EXPECTED}, got ${String(issue.actual)}` })
)
const Count = Schema.Int.pipe(Schema.between(1, 100_000))

export const HostSpec = Schema.Struct({
  /** With `count`, a prefix: ids are `${id}1` … `${id}${count}`. */
  id: HostIdText,
  count: Schema.optional(Count),
  memory: Size,
  overhead: Schema.optionalWith(Size, { default: () => "1GiB" }),
  nic: Schema.optionalWith(Rate, { default: () => "10Gbit/s" }),
  cpus: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 16 })
})
export type HostSpec = typeof HostSpec.Type

/** What a VM's migration carries besides the workload's writes (docs/migration.md). */
const migrationProfile = {
  /** vCPU and device-model state sent while paused; default the policy family's (1.45 MiB). */
  state: Schema.optional(Size)
}
const RateWorkload = Schema.Struct({
  model: Schema.Literal("rate"),
  dirtyRate: Rate,
  /** A size or a share of memory, `90%`; default all of memory but the untouched pages. */
  workingSet: Schema.optional(Schema.String),
  /** Memory never written since boot (zero pages), a size or a share; default none. Rate model only. */
  untouched: Schema.optional(Schema.String),
  ...migrationProfile
})
const PagesWorkload = Schema.Struct({
  model: Schema.Literal("pages"),
  /** A page writer of the registry (engine/migration/writers.ts) or one a run registers; checked when the input compiles. */
  writer: Schema.optionalWith(Schema.String.pipe(Schema.minLength(1, { message: () => "a page writer name" })), {
    default: () => DEFAULT_WRITER
  }),
  dirtyRate: Rate,
  workingSet: Schema.optional(Schema.String),
  /** Accepted only as none: zero pages are modelled by the rate model (compile.ts says so). */
  untouched: Schema.optional(Schema.String),
  ...migrationProfile
})
export const Workload = Schema.Union(RateWorkload, PagesWorkload)
export type Workload = typeof Workload.Type

const MemorySpec = Schema.Union(
  Size,
  Schema.Struct({
    staticMin: Schema.optional(Size),
    dynamicMin: Schema.optional(Size),
    target: Size,
    dynamicMax: Schema.optional(Size),
    staticMax: Schema.optional(Size)
  })
)

/** XAPI's three restart priorities; "" (or no `ha`) leaves the VM unprotected (docs/ha.md). */
const HaRestartPrioritySpec = Schema.Literal("restart", "best-effort", "")

/** A VM's HA settings: `ha-restart-priority`, `order` (default 0), `ha-always-run` (default: priority is restart). */
export const VmHaSpec = Schema.Struct({
  restartPriority: HaRestartPrioritySpec,
  order: Schema.optional(Schema.Int.pipe(Schema.between(0, 1_000_000))),
  alwaysRun: Schema.optional(Schema.Boolean)
})
export type VmHaSpec = typeof VmHaSpec.Type

/** The pool's HA: on from the start, with `ha-host-failures-to-tolerate` and the liveness timeout (default 60s). */
export const PoolHaSpec = Schema.Struct({
  hostFailuresToTolerate: Schema.Int.pipe(Schema.between(0, 100_000)),
  livenessTimeout: Schema.optional(Duration)
})

export const VmSpec = Schema.Struct({
  id: VmIdText,
  count: Schema.optional(Count),
  vcpus: Schema.optionalWith(Vcpus, { default: () => 2 }),
  memory: MemorySpec,
  /** Start on this host; without it the pool places the VM. Omit `start: false` to leave it Halted. */
  host: Schema.optional(HostIdText),
  start: Schema.optionalWith(Schema.Boolean, { default: () => true }),
  workload: Schema.optional(Workload),
  /** CPU load over time (simulations/load.ts): drives the dirty rate and the consolidation controller. */
  load: Schema.optional(VmLoad),
  /** HA protection (docs/ha.md). */
  ha: Schema.optional(VmHaSpec)
})
export type VmSpec = typeof VmSpec.Type

/**
 * A policy of the registry (engine/migration/policies: xen, xen-legacy, max-downtime) or one a run
 * registers, by name; the name is checked against them when the input compiles.
 */
const PolicyNameText = Schema.String.pipe(Schema.minLength(1, { message: () => "a policy name" }))

export const PolicySpec = Schema.Union(
  PolicyNameText,
  Schema.Struct({
    name: PolicyNameText,
    maxDowntime: Schema.optional(Duration),
    roundsMax: Schema.optional(Schema.Int.pipe(Schema.positive())),
    /** Setup and the stop-and-copy parts: `default` (sourced, docs/migration.md) or `none` (the pure model). */
    phases: Schema.optional(Schema.Literal("default", "none"))
  })
)
export type PolicySpec = typeof PolicySpec.Type

/**
 * A placement of the registry (domain/placement: xapi-default) or one a run registers, by name: where a
 * VM started without a host goes and where an evacuation sends each VM. Checked when the input compiles.
 */
export const PlacementName = Schema.String.pipe(Schema.minLength(1, { message: () => "a placement name" }))

/** How long rolling maintenance keeps each emptied host disabled, unless `maintenance` says otherwise. */
export const MAINTENANCE_DEFAULT = "60s"

const at = { at: Duration }
export const ScheduleItem = Schema.Union(
  Schema.Struct({ ...at, op: Schema.Literal("migrate"), vm: VmIdText, to: HostIdText }),
  Schema.Struct({ ...at, op: Schema.Literal("evacuate"), host: HostIdText }),
  Schema.Struct({
    ...at,
    op: Schema.Literal("rolling-maintenance"),
    /** Hosts in order; default every host in id order. */
    hosts: Schema.optional(Schema.Array(HostIdText)),
    /** Time a host stays in maintenance once empty, before it is enabled again. */
    maintenance: Schema.optionalWith(Duration, { default: () => MAINTENANCE_DEFAULT })
  }),
  Schema.Struct({
    ...at,
    op: Schema.Literal("disable-host", "enable-host", "fail-host", "recover-host"),
    host: HostIdText
  }),
  Schema.Struct({ ...at, op: Schema.Literal("start-vm"), vm: VmIdText, host: Schema.optional(HostIdText) }),
  Schema.Struct({
    ...at,
    op: Schema.Literal("shutdown-vm", "pause-vm", "unpause-vm", "suspend-vm", "resume-vm", "destroy-vm"),
    vm: VmIdText,
    hard: Schema.optional(Schema.Boolean),
    host: Schema.optional(HostIdText)
  }),
  Schema.Struct({ ...at, op: Schema.Literal("set-memory-target"), vm: VmIdText, target: Size }),
  /** HA (docs/ha.md): on with ntol (and the liveness timeout), off, ntol changed, a VM's protection. */
  Schema.Struct({
    ...at,
    op: Schema.Literal("enable-ha"),
    hostFailuresToTolerate: PoolHaSpec.fields.hostFailuresToTolerate,
    livenessTimeout: Schema.optional(Duration)
  }),
  Schema.Struct({ ...at, op: Schema.Literal("disable-ha") }),
  Schema.Struct({
    ...at,
    op: Schema.Literal("set-ha-failures-to-tolerate"),
    hostFailuresToTolerate: PoolHaSpec.fields.hostFailuresToTolerate
  }),
  Schema.Struct({ ...at, op: Schema.Literal("set-vm-ha"), vm: VmIdText, ...VmHaSpec.fields }),
  Schema.Struct({ ...at, op: Schema.Literal("fail-link", "restore-link"), host: HostIdText }),
  /** The host's NIC runs at `percent` of its bandwidth until restored. */
  Schema.Struct({
    ...at,
    op: Schema.Literal("slow-link"),
    host: HostIdText,
    percent: Schema.Int.pipe(Schema.between(1, 100))
  }),
  /** The consolidation controller (engine/consolidation.ts), every `every` until `until`. */
  ConsolidateItem,
  /** Paging: xenpaging's target and guest accesses (simulations/memoryOps.ts). */
  SetPagingTargetItem,
  GuestAccessItem
)
export type ScheduleItem = typeof ScheduleItem.Type

export const Scenario = Schema.Struct({
  format: Schema.Literal("xenpool-scenario"),
  version: Schema.Literal(1),
  name: Schema.String,
  description: Schema.optional(Schema.String),
  seed: Schema.optionalWith(Schema.Int.pipe(Schema.nonNegative()), { default: () => 1 }),
  pool: Schema.Struct({
    id: PoolIdText,
    pageSize: Schema.optionalWith(Size, { default: () => "4KiB" }),
    linkLatency: Schema.optionalWith(Duration, { default: () => "100us" }),
    /** HA on from time 0, after the VMs started (docs/ha.md). */
    ha: Schema.optional(PoolHaSpec)
  }),
  policy: Schema.optionalWith(PolicySpec, { default: () => "xen" as const }),
  placement: Schema.optional(PlacementName),
  hosts: Schema.Array(HostSpec).pipe(Schema.minItems(1)),
  vms: Schema.optionalWith(Schema.Array(VmSpec), { default: () => [] }),
  schedule: Schema.optionalWith(Schema.Array(ScheduleItem), { default: () => [] }),
  limits: Schema.optionalWith(
    Schema.Struct({
      simulatedTime: Schema.optionalWith(Duration, { default: () => "30d" }),
      events: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 10_000_000 })
    }),
    { default: () => ({ simulatedTime: "30d", events: 10_000_000 }) }
  )
})
export type Scenario = typeof Scenario.Type

export interface InputError {
  readonly _tag: "InputError"
  /** The file (or "<stdin>"), for the message. */
  readonly source: string
  /** A 1-based line, when the input is line-oriented. */
  readonly line?: number
  /** The JSON path of the field, e.g. `hosts[2].memory`. */
  readonly path: string
  readonly expected: string
}

export const formatPath = (path: ReadonlyArray<PropertyKey>): string =>
  path.reduce<string>(
    (acc, key) => (typeof key === "number" ? `${acc}[${key}]` : acc ? `${acc}.${String(key)}` : String(key)),
    ""
  )

export const inputError = (source: string, path: string, expected: string, line?: number): InputError =>
  line === undefined
    ? { _tag: "InputError", source, path, expected }
    : { _tag: "InputError", source, path, expected, line }

/** The first schema issue as an InputError (path and what was expected). */
const firstIssue = (source: string, error: ParseResult.ParseError, line?: number): InputError => {
  const issues = ParseResult.ArrayFormatter.formatErrorSync(error)
  const issue = issues[0]
  // effect's own messages read "Expected a number, actual …"; the error already says "expected".
  const expected = (issue?.message ?? "a valid value").replace(/^Expected /, "")
  return inputError(source, formatPath(issue?.path ?? []) || "(root)", expected, line)
}

const decodeScenario = Schema.decodeUnknownEither(Scenario, { errors: "first", onExcessProperty: "error" })

const decodeScheduleItem = Schema.decodeUnknownEither(ScheduleItem, { errors: "first", onExcessProperty: "error" })

/** One schedule item (an operation asked of an existing pool), the first problem naming its field. */
export const parseScheduleItem = (
  source: string,
  json: unknown,
  line?: number
): Either.Either<ScheduleItem, InputError> =>
  Either.mapLeft(decodeScheduleItem(json), (e) => firstIssue(source, e, line))

/** A scenario as JSON text (a file's contents). */
export const parseScenarioJson = (source: string, text: string): Either.Either<Scenario, InputError> => {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (error) {
    return Either.left(
      inputError(source, "(json)", `valid JSON (${error instanceof Error ? error.message : String(error)})`)
    )
  }
  return parseScenario(source, json)
}

/** A scenario given as a value (the JSON shape, units as strings), checked as a file's would be. */
export const parseScenario = (source: string, json: unknown): Either.Either<Scenario, InputError> =>
  Either.mapLeft(decodeScenario(json), (e) => firstIssue(source, e))
