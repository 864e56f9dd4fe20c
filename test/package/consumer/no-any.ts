/**
 * Compiled in a consumer project against the packed package (test/package/examples.test.ts): each public
 * operation's result type is checked not to be `any` (or to contain an `any` at its first level), so
 * that no `any` leaks to a user with `strict: true`.
 */
import type { Effect } from "effect"
import * as Plain from "xenpool"
import * as Fx from "xenpool/effect"

type IsAny<T> = 0 extends 1 & T ? true : false
type NoAnyField<T> = true extends { [K in keyof T]-?: IsAny<T[K]> }[keyof T] ? false : true
type Check<T extends true> = T

type Resolved<F extends (...args: never[]) => unknown> = Awaited<ReturnType<F>>

export type Checks = [
  Check<NoAnyField<Resolved<typeof Plain.simulate>>>,
  Check<NoAnyField<Resolved<typeof Plain.replay>>>,
  Check<NoAnyField<Resolved<typeof Plain.stateAt>>>,
  Check<NoAnyField<Resolved<typeof Plain.diff>>>,
  Check<NoAnyField<Resolved<typeof Plain.check>>>,
  Check<NoAnyField<Resolved<typeof Plain.openStore>>>,
  Check<NoAnyField<Resolved<typeof Plain.migrateModel>>>,
  Check<IsAny<Resolved<typeof Plain.exportTrace>> extends false ? true : false>,
  Check<NoAnyField<Awaited<ReturnType<typeof Plain.history>>>>,
  Check<NoAnyField<Plain.RecordedEvent>>,
  Check<NoAnyField<Effect.Effect.Success<ReturnType<typeof Fx.simulate>>>>,
  Check<NoAnyField<Effect.Effect.Success<ReturnType<typeof Fx.stateAt>>>>,
  Check<IsAny<Effect.Effect.Error<ReturnType<typeof Fx.simulate>>> extends false ? true : false>,
  Check<IsAny<Effect.Effect.Context<ReturnType<typeof Fx.simulate>>> extends false ? true : false>,
  Check<NoAnyField<Plain.ConsolidationController>>,
  Check<NoAnyField<Plain.PolicyDefinition>>,
  Check<NoAnyField<Plain.PrecopyPolicy>>
]

/** Errors are Error subclasses with a `_tag`. */
export const tagOf = (e: unknown): string | undefined =>
  e instanceof Plain.XenpoolError || e instanceof Plain.StoreError ? e._tag : undefined
