/**
 * Runs a generated scenario on the pool engine through its seams, the way the properties observe it:
 * the transfer factory, the pager's page states, the decide function and the event sink can each be
 * wrapped (by an observer or by a mutant), and the run records every event the engine emitted, what
 * reached the sink, and the engine's live state after every batch. An engine defect (a failed
 * assertion, an invariant broken in debug mode, a lost write the engine noticed) is caught and
 * reported, never thrown past the property.
 */
import { Either, Schema } from "effect"
import { PoolEvent } from "../domain/events.js"
import { persistentState, type PoolRead, type PoolState } from "../domain/state.js"
import type { TransferFactory } from "../engine/transfer.js"
import { pageStatesFactory as realPageStatesFactory, type PageStatesFactory } from "../engine/pageStates.js"
import { makeTransferFactory, transferFactory as realTransferFactory } from "../engine/migration/index.js"
import type { PolicyDefinition } from "../engine/migration/policy.js"
import { liveRoundsBound, policyByName } from "../engine/migration/policies/index.js"
import type { DecideFn, EmittedEvent, RunResult } from "../engine/simulation.js"
import { decide as realDecide } from "../domain/decide.js"
import { compileScenario, type CompiledScenario } from "../simulations/compile.js"
import { runScenario, type RunScenarioOptions } from "../simulations/run.js"
import { parseScenarioJson } from "../simulations/scenario.js"
import type { ScenarioJson } from "./arbitraries.js"

type Sink = (batch: ReadonlyArray<EmittedEvent>) => void

/** Wrappers around the engine's seams; each gets the real (or already wrapped) one. */
export interface Seams {
  readonly transferFactory?: (base: TransferFactory) => TransferFactory
  /** The pager's page states of each VM (engine/pageStates.ts). */
  readonly pageStates?: (base: PageStatesFactory) => PageStatesFactory
  readonly decide?: (base: DecideFn) => DecideFn
  readonly sink?: (base: Sink) => Sink
}

interface BatchEnd {
  /** Events the engine had emitted when the batch ended. */
  readonly emitted: number
  /** Events that had reached the sink's consumer (the store) by then. */
  readonly delivered: number
  readonly state: PoolState
}

export interface EngineRun {
  readonly compiled: CompiledScenario
  /** Every event the engine emitted, in order. */
  readonly emitted: ReadonlyArray<EmittedEvent>
  /** The batches as the consumer behind the sink saw them. */
  readonly delivered: ReadonlyArray<ReadonlyArray<EmittedEvent>>
  readonly batchEnds: ReadonlyArray<BatchEnd>
  readonly result: RunResult | undefined
  /** The engine stopped on a defect: its message. */
  readonly defect: string | undefined
}

/**
 * What a property's case runs with besides the scenario: the mutants' seams, and the policies of a
 * user's own that `check({ policies })` verifies (the case's scenario names one of them).
 */
export interface CaseEnv {
  readonly seams?: Seams
  readonly policies?: ReadonlyArray<PolicyDefinition>
}

export interface RunOptions extends CaseEnv {
  /** Assert every domain invariant after every event (the engine's debug mode). */
  readonly debug?: boolean
  /** Observers of the transfer factory (properties), inside the seams' wrappers. */
  readonly observeTransfers?: (base: TransferFactory) => TransferFactory
  /** Observers of the pager's page states (properties), around the seams' wrappers. */
  readonly observePageStates?: (base: PageStatesFactory) => PageStatesFactory
  /** Observers of decide (properties), around the seams' wrappers: they see the decisions the engine evolves. */
  readonly observeDecide?: (base: DecideFn) => DecideFn
  /** Receives each batch as delivered, after the sink's consumer. */
  readonly consumer?: Sink
  /** Hears the engine at rest inside the run (`RunScenarioOptions.rests`). */
  readonly rests?: RunScenarioOptions["rests"]
}

/** The most live rounds the case's policy may run, by its own bound (a user's policy included). */
export const liveRoundsMaxOf = (compiled: CompiledScenario): number =>
  liveRoundsBound(policyByName(compiled.policy.name, compiled.policy, compiled.policies))

/** A generated scenario is valid by construction; failing to compile one is a bug in the arbitraries. */
const compileJson = (json: ScenarioJson, policies?: ReadonlyArray<PolicyDefinition>): CompiledScenario => {
  const parsed = parseScenarioJson("generated", JSON.stringify(json))
  if (Either.isLeft(parsed)) throw new Error(`generated scenario: ${parsed.left.path}: ${parsed.left.expected}`)
  const compiled = compileScenario(
    "generated",
    parsed.right,
    policies === undefined ? {} : { extensions: { policies } }
  )
  if (Either.isLeft(compiled)) throw new Error(`generated scenario: ${compiled.left.path}: ${compiled.left.expected}`)
  return compiled.right
}

/** The transfer factory, page states and decide a case runs with: the real ones, in the seams' and observers' wrappers. */
export const engineSeams = (options: RunOptions) => {
  const seams = options.seams ?? {}
  let transferFactory: TransferFactory =
    options.policies === undefined ? realTransferFactory : makeTransferFactory({ policies: options.policies })
  if (seams.transferFactory) transferFactory = seams.transferFactory(transferFactory)
  if (options.observeTransfers) transferFactory = options.observeTransfers(transferFactory)
  let pageStates: PageStatesFactory = realPageStatesFactory
  if (seams.pageStates) pageStates = seams.pageStates(pageStates)
  if (options.observePageStates) pageStates = options.observePageStates(pageStates)
  let decide: DecideFn = seams.decide ? seams.decide(realDecide) : realDecide
  if (options.observeDecide) decide = options.observeDecide(decide)
  return { transferFactory, pageStates, decide }
}

export const runEngine = (json: ScenarioJson, options: RunOptions = {}): EngineRun => {
  const compiled = compileJson(json, options.policies)
  const seams = options.seams ?? {}
  const emitted: EmittedEvent[] = []
  const delivered: Array<ReadonlyArray<EmittedEvent>> = []
  const batchEnds: BatchEnd[] = []
  let deliveredCount = 0
  const consumer: Sink = (batch) => {
    delivered.push(batch)
    deliveredCount += batch.length
    options.consumer?.(batch)
  }
  const sink = seams.sink ? seams.sink(consumer) : consumer
  const { transferFactory: factory, pageStates, decide: inner } = engineSeams(options)
  // The engine's live state is observed through the decide seam: it changes only by evolving the events
  // a decision returns, so the state the next decision sees is the state at the end of the last batch.
  const pending: Array<{ readonly emitted: number; readonly delivered: number }> = []
  const settle = (state: PoolRead) => {
    if (pending.length === 0) return
    const kept = persistentState(state)
    for (const p of pending) batchEnds.push({ ...p, state: kept })
    pending.length = 0
  }
  const decide: DecideFn = (state, command, placement) => {
    settle(state)
    return inner(state, command, placement)
  }
  let result: RunResult | undefined
  let defect: string | undefined
  try {
    const run = runScenario(compiled, {
      transferFactory: factory,
      debug: options.debug ?? false,
      decide,
      pageStates,
      ...(options.rests === undefined ? {} : { rests: options.rests }),
      sink: (batch) => {
        emitted.push(...batch)
        sink(batch)
        pending.push({ emitted: emitted.length, delivered: deliveredCount })
      }
    })
    result = run.result
    settle(run.result.state)
  } catch (error) {
    defect = error instanceof Error ? `${error.name}: ${error.message}` : String(error)
  }
  return { compiled, emitted, delivered, batchEnds, result, defect }
}

const encodeEvent = Schema.encodeSync(PoolEvent)

/** One event as a store would hold it: its id and its encoded fields, as one JSON line. */
export const eventLine = (e: EmittedEvent): string => JSON.stringify({ id: e.id, event: encodeEvent(e.event) })

/** The event log as bytes: one `eventLine` per event. */
export const logBytes = (events: ReadonlyArray<EmittedEvent>): string => events.map(eventLine).join("\n")
