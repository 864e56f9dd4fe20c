/**
 * What both entry points (`xenpool` and `xenpool/effect`) export alike: the error classes, the types of
 * the answers, the extension points with their built-ins, and the pool's read helpers a controller or an
 * analysis uses.
 *
 * @internal
 */
export { version } from "./version.js"
export { XenpoolError, StoreError, EventDecodeError, WrongExpectedVersion, NoSuchRevision } from "./errors.js"
export { scenarioPath } from "./paths.js"
export { propertyNames } from "./check.js"
export type { Progress } from "./progress.js"
export type { RunOptions, RunOutput, ScenarioInput } from "./simulate.js"
export type { ReplayOptions, ReplayOutput } from "./replay.js"
export type { PoolListing, EventsOptions } from "./pools.js"
export type { ProvenanceJson, RunInput } from "./provenance.js"
export type { ForkOutput } from "./fork.js"
export type { ContinueOptions, ContinueOutput, Operation } from "./continue.js"
export type { ExportOptions } from "./export.js"
export type {
  When,
  DiffOptions,
  FocusInput,
  PoolAt,
  PoolChanges,
  VmHistoryJson,
  HostHistoryJson,
  TimeTravelTarget
} from "./timeTravel.js"
export type { CheckOptions, CheckReport } from "./check.js"
export type { CalibrationReport, Comparison } from "./calibrate.js"
export type { ImportPlanetlabOptions, PlanetlabScenario, PlanetlabSetup } from "./importPlanetlab.js"
export type { StoreOptions } from "./store.js"
export type { RecordedEvent } from "../store/EventStore.js"
export type { PoolEvent } from "../domain/events.js"
export type { HostId, VmId, PoolId, MigrationId } from "../domain/ids.js"
export type { Host, Vm, Migration, PoolRead } from "../domain/state.js"
export type { PowerState } from "../domain/events.js"
export { getHost, getVm, hostList, vmList, vmsResidentOn } from "../domain/state.js"
export {
  hostPlacementFreePages,
  hostPhysicalFreePages,
  vmPlacementPages,
  vmPhysicalPages,
  type AdmissionRule
} from "../domain/memory.js"
export type { Extensions } from "../simulations/extensions.js"
export type { MigrateModelOptions, Size, Rate, Duration } from "./migrateModel.js"
export type { SingleMigrationReport as MigrationReport } from "../engine/migration/single.js"
export {
  policies,
  xen,
  xenLegacy,
  maxDowntime,
  xenPolicy,
  simplePrecopyPolicy,
  type XenDecide
} from "../engine/migration/policies/index.js"
export type {
  PolicyDefinition,
  PolicyOptions,
  PolicyParameter,
  PrecopyPolicy,
  PrecopyDecision,
  PrecopyStats,
  RoundRecord,
  StopReason
} from "../engine/migration/policy.js"
export { writers, uniform, hotCold, type WriterDefinition } from "../engine/migration/writers.js"
export {
  evenlySpacedWriter,
  type WriterConfig,
  type PageWriter,
  type WriteRate,
  type WorkingSetLayout,
  type WriterRest,
  type WriterState
} from "../engine/migration/workload.js"
export type { Prng } from "../engine/prng.js"
export {
  placements,
  xapiDefault,
  type Placement,
  type PlannedMove,
  type EvacuationPlan
} from "../domain/placement/index.js"
export {
  consolidationControllers,
  minimiseMigrations,
  type ConsolidationController,
  type ConsolidationInput,
  type ConsolidationPlan,
  type ConsolidationAction,
  type ConsolidationThresholds,
  type ConsolidationReport,
  type CpuPctOf,
  type MoveReason
} from "../engine/consolidation/index.js"
