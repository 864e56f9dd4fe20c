/**
 * The migration policies: one list, from which `--policy`'s choices, the scenario and trace checks, the
 * property arbitraries and the docs derive. Each built-in is a `PolicyDefinition` in its own file,
 * written as a user writes theirs; a run may add its own (`extraPolicies`), looked up by name after the
 * built-ins.
 */
import { invariant } from "../exact.js"
import type {
  LoopContext,
  LoopRest,
  PolicyDefinition,
  PolicyOptions,
  PolicyParameter,
  PrecopyLoop,
  PrecopyPolicy
} from "../policy.js"
import { maxDowntime, maxDowntimeLoop } from "./maxDowntime.js"
import { xen, xenLoop } from "./xen.js"
import { xenLegacy, xenLegacyLoop } from "./xenLegacy.js"

export { xen, xenDefaultPolicy, xenPolicy, simplePrecopyPolicy, type XenDecide } from "./xen.js"
export { xenLegacy, xenLegacyPolicy } from "./xenLegacy.js"
export { maxDowntime, maxDowntimePolicy, estimatedDowntimeUs, MAX_DOWNTIME_US_DEFAULT } from "./maxDowntime.js"

/**
 * The loop of one migration under `policy`: the loop of its kind, with its constants; `from` a loop's
 * rest (`PrecopyLoop.rest`), it goes on from there.
 */
export const startLoop = (policy: PrecopyPolicy, context: LoopContext, from?: LoopRest): PrecopyLoop => {
  invariant(
    from === undefined || from.kind === policy.kind,
    () => `a ${from!.kind} loop's rest cannot go on under a ${policy.kind} policy`
  )
  switch (policy.kind) {
    case "xen":
      return xenLoop(policy, context, from?.kind === "xen" ? from : undefined)
    case "xen-legacy":
      return xenLegacyLoop(policy, context, from?.kind === "xen-legacy" ? from : undefined)
    case "max-downtime":
      return maxDowntimeLoop(policy, context, from?.kind === "max-downtime" ? from : undefined)
  }
}

/**
 * The most live rounds a policy value may run before its paused round: its own bound on passes (xen's
 * `roundsMax`, xen-legacy's `maxIterations`, max-downtime's round cap), whoever wrote it.
 */
export const liveRoundsBound = (policy: PrecopyPolicy): number => {
  switch (policy.kind) {
    case "xen":
      return policy.roundsMax
    case "xen-legacy":
      return policy.maxIterations
    case "max-downtime":
      return policy.roundsMax
  }
}

/** The built-in policies, the default first. */
export const policies: ReadonlyArray<PolicyDefinition> = [xen, xenLegacy, maxDowntime]

/** The built-ins' names, in list order. */
export const policyNames: ReadonlyArray<string> = policies.map((p) => p.name)

/** The default policy's name. */
export const DEFAULT_POLICY = xen.name

/** The definition named `name`: a built-in, else one of `extra`; undefined when none is. */
export const findPolicy = (name: string, extra: ReadonlyArray<PolicyDefinition> = []): PolicyDefinition | undefined =>
  policies.find((p) => p.name === name) ?? extra.find((p) => p.name === name)

/** The names a run may use, built-ins first, for a message listing them. */
export const knownPolicyNames = (extra: ReadonlyArray<PolicyDefinition> = []): ReadonlyArray<string> => [
  ...policyNames,
  ...extra.map((p) => p.name)
]

/** The policies that read `parameter`, in list order. */
const policiesUsing = (
  parameter: PolicyParameter,
  extra: ReadonlyArray<PolicyDefinition> = []
): ReadonlyArray<string> => [...policies, ...extra].filter((p) => p.parameters.includes(parameter)).map((p) => p.name)

/**
 * Why `policy` cannot take `parameter`, naming both as the input spells them (`maxDowntime` and `policy`
 * in a scenario, `--max-downtime` and `--policy` on the command line); undefined when the policy reads it
 * (or is unknown: that is reported on its own).
 */
export const ignoredParameter = (
  policy: string,
  parameter: PolicyParameter,
  spelling: { readonly parameter: string; readonly policy: string } = { parameter, policy: "policy" },
  extra: ReadonlyArray<PolicyDefinition> = []
): string | undefined => {
  const definition = findPolicy(policy, extra)
  if (definition === undefined || definition.parameters.includes(parameter)) return undefined
  const users = policiesUsing(parameter, extra)
  const list = users.length === 1 ? users[0]! : `${users.slice(0, -1).join(", ")} and ${users[users.length - 1]!}`
  return `no ${spelling.parameter} with ${spelling.policy} ${policy}: only ${list} ${users.length === 1 ? "uses" : "use"} it`
}

/** The policy value a name and options make; throws on an unknown name (inputs are checked before). */
export const policyByName = (
  name: string,
  options: PolicyOptions = {},
  extra: ReadonlyArray<PolicyDefinition> = []
): PrecopyPolicy => {
  const definition = findPolicy(name, extra)
  if (definition === undefined)
    throw new RangeError(`unknown policy ${name}: expected one of ${knownPolicyNames(extra).join(", ")}`)
  return definition.make(options)
}
