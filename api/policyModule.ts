/**
 * A migration policy of one's own, from a JavaScript module (`xenpool migrate-model --policy ./mine.js`):
 * its default export, or its export named `policy`, must be a `PolicyDefinition` (`{ name, summary,
 * parameters, make }`).
 */
import { Effect } from "effect"
import { resolve } from "node:path"
import { pathToFileURL } from "node:url"
import type { PolicyDefinition } from "../engine/migration/policy.js"
import { XenpoolError } from "./errors.js"

const isDefinition = (value: unknown): value is PolicyDefinition =>
  typeof value === "object" &&
  value !== null &&
  typeof (value as PolicyDefinition).name === "string" &&
  (value as PolicyDefinition).name !== "" &&
  typeof (value as PolicyDefinition).make === "function" &&
  Array.isArray((value as PolicyDefinition).parameters)

/** Whether `--policy`'s text names a module rather than a registered policy. */
export const isModulePath = (text: string): boolean => /[/\\]/.test(text) || /\.(c|m)?js$/.test(text)

/** Loads the module at `path` and returns the policy it exports. */
export const loadPolicyModule = (path: string): Effect.Effect<PolicyDefinition, XenpoolError> =>
  Effect.gen(function* () {
    const module = yield* Effect.tryPromise({
      try: () => import(pathToFileURL(resolve(path)).href) as Promise<Record<string, unknown>>,
      catch: (e) =>
        new XenpoolError({
          what: "cannot load the policy module",
          where: path,
          expected: `a JavaScript module that loads (${e instanceof Error ? e.message.split("\n")[0] : String(e)})`
        })
    })
    const candidate = isDefinition(module.default) ? module.default : module.policy
    if (isDefinition(candidate)) return candidate
    return yield* new XenpoolError({
      what: "no policy in the module",
      where: path,
      expected:
        "a default export (or an export named policy) that is a PolicyDefinition: { name, summary, parameters, make }"
    })
  })
