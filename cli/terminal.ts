/**
 * Colour only where it is wanted: never with NO_COLOR set (no-color.org: any non-empty value), nor on a
 * dumb terminal, nor when the output is not a terminal. @effect/cli colours its help, version and wizard
 * unconditionally; the text is uncoloured here on its way out.
 */
import * as Terminal from "@effect/platform/Terminal"
import { type Console, Effect } from "effect"
import { printLine } from "./output.js"

export const colorEnabled = (stream: { readonly isTTY?: boolean }, env: NodeJS.ProcessEnv): boolean =>
  (env["NO_COLOR"] ?? "") === "" && env["TERM"] !== "dumb" && stream.isTTY === true

// Select Graphic Rendition only (colours, bold): the wizard's cursor movements stay.
// eslint-disable-next-line no-control-regex
const sgr = /\x1b\[[0-9;]*m/g

const stripColor = (text: string): string => text.replace(sgr, "")

const uncoloured = (args: ReadonlyArray<unknown>) =>
  args.map((arg) => (typeof arg === "string" ? stripColor(arg) : arg))

/**
 * The console @effect/cli prints through outside the commands: its help and version without colour when
 * colour is off, and none of its own error text (main.ts prints the one-line form instead).
 */
export const cliConsole = (base: Console.Console, color: boolean): Console.Console => ({
  ...base,
  // Through cli/output.ts, so that help written to a full device fails (as a defect: a Console cannot fail).
  log: (...args) => Effect.orDie(printLine((color ? args : uncoloured(args)).map(String).join(" "))),
  error: () => Effect.void
})

/** The wizard's prompts, uncoloured when colour is off. */
export const withTerminalColor = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  color: boolean
): Effect.Effect<A, E, R | Terminal.Terminal> =>
  color
    ? effect
    : Effect.updateService(effect, Terminal.Terminal, (terminal) => ({
        ...terminal,
        display: (text: string) => terminal.display(stripColor(text))
      }))
