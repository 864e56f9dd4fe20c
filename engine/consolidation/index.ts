/**
 * Consolidation: the controller extension point, the built-in controllers (one list), and the runner
 * that performs a controller's plans on the engine's clock.
 */
import type { ConsolidationController } from "./controller.js"
import { minimiseMigrations } from "./minimiseMigrations.js"

export * from "./controller.js"
export { ConsolidationRunner, type ConsolidationParams, type ConsolidationReport, type RunnerRest } from "./runner.js"
export { minimiseMigrations, planConsolidation } from "./minimiseMigrations.js"

/** The built-in consolidation controllers: scenarios name one with `controller` (default the first). */
export const consolidationControllers: ReadonlyArray<ConsolidationController> = [minimiseMigrations]

/** The controller a scenario names without one. */
export const defaultConsolidationController: ConsolidationController = minimiseMigrations
