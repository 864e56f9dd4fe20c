/**
 * Usage errors in xenpool's one-line form, exit code 2 (DESIGN.md §7). @effect/cli reports a bad command
 * line in its own words, some of them naming the wrong option (a repeated `--memory` is blamed on
 * `--bandwidth`) or none (`'abc' is not a integer`); here the command line is read again to say which
 * argument is wrong and what was expected there.
 */
import { AutoCorrect, CliConfig, CommandDescriptor, HelpDoc, type Usage, type ValidationError } from "@effect/cli"
import { HashMap } from "effect"
import { UsageFailure } from "./errors.js"

/** An option or positional argument of a command, as its usage and help describe it. */
interface ParameterInfo {
  /** `--pool`, or `WHEN` for a positional argument. */
  readonly name: string
  /** What the value is (`text`, `integer`, `xen | xen-legacy`); undefined for a flag. */
  readonly type: string | undefined
  /** The help's words for it, e.g. `pool id`. */
  readonly description: string | undefined
}

export interface CommandInfo {
  /** As the command line names it: `pools`, or `import planetlab` for a subcommand. */
  readonly name: string
  readonly options: ReadonlyArray<ParameterInfo>
  readonly args: ReadonlyArray<ParameterInfo>
  /** Its subcommands, by their own name (`planetlab`). */
  readonly subcommands: ReadonlyMap<string, CommandInfo>
}

/** What the program accepts: its name, its commands, and the options @effect/cli adds to every command. */
export interface Program {
  readonly name: string
  readonly commands: ReadonlyArray<CommandInfo>
}

/** @effect/cli's own options (`--completions` and `--log-level` take a value). */
const builtIns: ReadonlyArray<ParameterInfo> = [
  { name: "--help", type: undefined, description: undefined },
  { name: "-h", type: undefined, description: undefined },
  { name: "--version", type: undefined, description: undefined },
  { name: "--wizard", type: undefined, description: undefined },
  { name: "--completions", type: "sh | bash | fish | zsh", description: undefined },
  { name: "--log-level", type: "level", description: undefined }
]

// --- what the commands accept ---------------------------------------------------------------------

const namedIn = (usage: Usage.Usage): ReadonlyArray<Usage.Named> => {
  switch (usage._tag) {
    case "Named":
      return [usage]
    case "Optional":
    case "Repeated":
      return namedIn(usage.usage)
    case "Alternation":
    case "Concat":
      return [...namedIn(usage.left), ...namedIn(usage.right)]
    case "Empty":
    case "Mixed":
      return []
  }
}

const spanText = (span: unknown): string => {
  const s = span as { _tag: string; value?: unknown; left?: unknown; right?: unknown }
  if (s._tag === "Sequence") return spanText(s.left) + spanText(s.right)
  return typeof s.value === "string" ? s.value : s.value === undefined ? "" : spanText(s.value)
}

const paragraphs = (doc: HelpDoc.HelpDoc): ReadonlyArray<string> => {
  switch (doc._tag) {
    case "Paragraph":
      return [spanText(doc.value)]
    case "Sequence":
      return [...paragraphs(doc.left), ...paragraphs(doc.right)]
    default:
      return []
  }
}

/**
 * Each option's and argument's description from a command's help: @effect/cli writes the type's
 * sentence first ("An integer."), then the command's own words, then "This setting is optional.".
 */
const descriptionsIn = (doc: HelpDoc.HelpDoc, into: Map<string, string>): void => {
  if (doc._tag === "Sequence") {
    descriptionsIn(doc.left, into)
    descriptionsIn(doc.right, into)
  } else if (doc._tag === "DescriptionList") {
    for (const [span, body] of doc.definitions) {
      const name = spanText(span)
        .split(" ")[0]!
        .replace(/^<(.*)>$/, "$1")
      const own = paragraphs(body)
        .slice(1)
        .find((text) => !text.startsWith("This setting is optional"))
      if (own !== undefined && own !== "") into.set(name, own)
    }
  }
}

const commandInfo = (name: string, command: CommandDescriptor.Command<unknown>, parent?: string): CommandInfo => {
  const descriptions = new Map<string, string>()
  descriptionsIn(CommandDescriptor.getHelp(command, CliConfig.defaultConfig), descriptions)
  const parameters = namedIn(CommandDescriptor.getUsage(command)).flatMap((named) =>
    named.names
      .filter((n) => n !== name)
      .map((n) => {
        const bare = n.replace(/^<(.*)>$/, "$1")
        const type = named.acceptedValues._tag === "Some" ? named.acceptedValues.value : undefined
        return { name: bare, type, description: descriptions.get(bare) }
      })
  )
  const path = parent === undefined ? name : `${parent} ${name}`
  // A command without subcommands lists itself as its one subcommand; nesting is one level deep in xenpool.
  const subcommands = new Map(
    parent !== undefined
      ? []
      : [...HashMap.entries(CommandDescriptor.getSubcommands(command))]
          .filter(([sub]) => sub !== name)
          .map(([sub, descriptor]) => [sub, commandInfo(sub, descriptor, path)] as const)
  )
  return {
    name: path,
    options: parameters.filter((p) => p.name.startsWith("-")),
    args: parameters.filter((p) => !p.name.startsWith("-")),
    subcommands
  }
}

/** A program and its subcommands, in the order its help lists them. */
export const describeProgram = (
  name: string,
  subcommands: ReadonlyArray<CommandDescriptor.Command<unknown>>
): Program => ({
  name,
  commands: subcommands.map((command) => commandInfo([...CommandDescriptor.getNames(command)][0]!, command))
})

// --- reading the command line again ---------------------------------------------------------------

interface OptionToken {
  readonly name: string
  /** Given before the command, where only @effect/cli's own options go. */
  readonly beforeCommand: boolean
  readonly value: string | undefined
  readonly known: ParameterInfo | undefined
}

/** The command line as @effect/cli reads it: the command is the first argument naming one. */
interface CommandLine {
  readonly program: Program
  readonly command: CommandInfo | undefined
  /** The first plain argument before any command (a misspelt command). */
  readonly stray: string | undefined
  readonly options: ReadonlyArray<OptionToken>
  readonly args: ReadonlyArray<string>
}

const same = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase()

const findParameter = (list: ReadonlyArray<ParameterInfo>, name: string) => list.find((p) => same(p.name, name))

/** Splits the arguments (after the program's own path) into command, options with their values, arguments. */
const readCommandLine = (program: Program, argv: ReadonlyArray<string>): CommandLine => {
  let command: CommandInfo | undefined
  let stray: string | undefined
  const options: OptionToken[] = []
  const args: string[] = []
  // Bounded by argv: each pass consumes one or two arguments.
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === "--") {
      args.push(...argv.slice(i + 1))
      break
    }
    if (arg.startsWith("-") && arg.length > 1) {
      const eq = arg.startsWith("--") ? arg.indexOf("=") : -1
      const name = eq < 0 ? arg : arg.slice(0, eq)
      const known = findParameter([...(command?.options ?? []), ...builtIns], name)
      const takesValue = known?.type !== undefined && eq < 0
      const value = eq >= 0 ? arg.slice(eq + 1) : takesValue ? argv[++i] : undefined
      options.push({ name, value, known, beforeCommand: command === undefined })
      continue
    }
    // A subcommand (`import planetlab`) takes over from its command until the first plain argument.
    const named =
      command === undefined
        ? program.commands.find((c) => c.name === arg)
        : args.length === 0
          ? command.subcommands.get(arg)
          : undefined
    if (named !== undefined) command = named
    else if (command === undefined) stray ??= arg
    else args.push(arg)
  }
  return { program, command, stray, options, args }
}

// --- the one-line form ----------------------------------------------------------------------------

const seeHelp = (line: CommandLine): string =>
  `see ${line.program.name}${line.command === undefined ? "" : ` ${line.command.name}`} --help`

const failure = (line: CommandLine, what: string, where: string, expected: string): UsageFailure =>
  new UsageFailure({ what, where, expected: `${expected} (${seeHelp(line)})` })

/** The closest name within @effect/cli's own auto-correction distance. */
const suggestion = (word: string, candidates: ReadonlyArray<string>): string | undefined => {
  const config = CliConfig.defaultConfig
  let best: { readonly name: string; readonly distance: number } | undefined
  for (const name of candidates) {
    const distance = AutoCorrect.levensteinDistance(word, name, config)
    if (distance <= config.autoCorrectLimit && (best === undefined || distance < best.distance)) {
      best = { name, distance }
    }
  }
  return best?.name
}

const typeWords: Readonly<Record<string, string>> = {
  integer: "an integer",
  float: "a number",
  date: "a date",
  boolean: "true or false",
  text: "a value"
}

const expectedOf = (parameter: ParameterInfo | undefined): string => {
  if (parameter === undefined) return "a value"
  if (parameter.description !== undefined) return parameter.description
  const type = parameter.type ?? "text"
  return typeWords[type] ?? (type.includes(" | ") ? `one of ${type.split(" | ").join(", ")}` : `a ${type}`)
}

const unknownCommand = (line: CommandLine, word: string): UsageFailure => {
  const names = line.program.commands.map((c) => c.name)
  const close = suggestion(word, names)
  const list = `one of ${names.join(", ")}`
  return failure(line, "unknown command", word, close === undefined ? list : `did you mean ${close}? ${list}`)
}

const unknownOption = (line: CommandLine, name: string, beforeCommand: boolean): UsageFailure => {
  const command = line.command
  if (command === undefined && line.stray === undefined) {
    return failure(line, "unknown option", name, `a command first: ${line.program.name} COMMAND [OPTIONS]`)
  }
  if (beforeCommand && command !== undefined && findParameter(command.options, name) !== undefined) {
    const after = `${line.program.name} ${command.name} ${name}`
    return failure(line, "option before the command", name, `write it after the command: ${after}`)
  }
  const close = suggestion(
    name,
    (command?.options ?? []).map((o) => o.name)
  )
  return failure(
    line,
    "unknown option",
    name,
    close === undefined ? "an option the command takes" : `did you mean ${close}?`
  )
}

/** The first option given twice: none of xenpool's options repeats, and @effect/cli blames another. */
const repeatedOption = (line: CommandLine): UsageFailure | undefined => {
  const seen = new Set<string>()
  for (const option of line.options) {
    const key = option.name.toLowerCase()
    if (seen.has(key)) return failure(line, "repeated option", option.name, `give ${option.name} once`)
    seen.add(key)
  }
  return undefined
}

/**
 * What is wrong with a command line before @effect/cli reads it: an option given twice, or `--wizard`
 * with no terminal to ask on (its prompts would wait for ever on a closed or redirected stdin).
 */
export const checkCommandLine = (
  program: Program,
  argv: ReadonlyArray<string>,
  terminal: { readonly stdinIsTerminal: boolean }
): UsageFailure | undefined => {
  const line = readCommandLine(program, argv)
  if (!terminal.stdinIsTerminal && line.options.some((o) => same(o.name, "--wizard"))) {
    return failure(
      line,
      "--wizard needs a terminal",
      "stdin is not a terminal",
      "run it in an interactive terminal, or give the command and its options"
    )
  }
  return repeatedOption(line)
}

const optionWithValue = (line: CommandLine, value: string) =>
  line.options.find((o) => o.value === value && o.known !== undefined)

const badValue = (line: CommandLine, value: string, expected: (o: ParameterInfo | undefined) => string) => {
  const option = optionWithValue(line, value)
  return option === undefined
    ? failure(line, "bad argument", value, expected(undefined))
    : failure(line, "bad option", `${option.name} ${value}`, expected(option.known))
}

/** A choice option whose value is not one of its choices. */
const badChoice = (line: CommandLine, choices: string): UsageFailure => {
  const option = line.options.find(
    (o) =>
      o.known?.type?.includes(" | ") === true && o.value !== undefined && !o.known.type.split(" | ").includes(o.value)
  )
  const expected = `one of ${choices}`
  return option === undefined
    ? failure(line, "bad option", line.command?.name ?? line.program.name, expected)
    : failure(line, "bad option", `${option.name} ${option.value}`, expected)
}

/** A leftover argument: a flag's `=value` that is not true or false, or one argument too many. */
const unexpectedArgument = (line: CommandLine, arg: string): UsageFailure => {
  const flag = line.options.find((o) => o.value === arg && o.known !== undefined && o.known.type === undefined)
  return flag === undefined
    ? failure(line, "unexpected argument", arg, "no further arguments")
    : failure(line, "bad option", `${flag.name}=${arg}`, `true or false, or ${flag.name} alone`)
}

const missing = (line: CommandLine, what: string, names: ReadonlyArray<string>): UsageFailure => {
  const known = names.map((name) =>
    findParameter([...(line.command?.options ?? []), ...(line.command?.args ?? [])], name)
  )
  return failure(
    line,
    names.length > 1 ? `${what}s` : what,
    names.join(", "),
    known.map((parameter, i) => (names.length > 1 ? `${names[i]}: ` : "") + expectedOf(parameter)).join("; ")
  )
}

const allMatches = (text: string, pattern: RegExp): ReadonlyArray<string> =>
  [...text.matchAll(pattern)].map((m) => m[1]!)

/** @effect/cli's sentences (0.77), each read back into xenpool's form; the tests pin every one. */
const fromText = (line: CommandLine, text: string): UsageFailure | undefined => {
  let m: RegExpExecArray | null
  const missingOptions = allMatches(text, /Expected to find option: '([^']+)'/g)
  if (missingOptions.length > 0) return missing(line, "missing option", missingOptions)
  if ((m = /Expected a value following option: '([^']+)'/.exec(text))) return missing(line, "missing value", [m[1]!])
  const missingArgs = allMatches(text, /Missing argument <([^>]+)>/g)
  if (missingArgs.length > 0) return missing(line, "missing argument", missingArgs)
  if ((m = /'(.*)' is not a (\w+)$/s.exec(text))) {
    const type = m[2]!
    return badValue(line, m[1]!, () => typeWords[type] ?? `a ${type}`)
  }
  if ((m = /Unable to recognize '(.*)' as a valid boolean/s.exec(text))) {
    return badValue(line, m[1]!, () => "true or false")
  }
  if ((m = /Expected one of the following cases: (.*)$/s.exec(text))) return badChoice(line, m[1]!)
  if ((m = /The flag '([^']+)' is not recognized/.exec(text))) return unknownOption(line, m[1]!, false)
  if ((m = /More than one reference to option '([^']+)'/.exec(text))) {
    return failure(line, "repeated option", m[1]!, `give ${m[1]} once`)
  }
  if ((m = /Received unknown argument: '(.*)'$/s.exec(text))) return unexpectedArgument(line, m[1]!)
  if ((m = /Expected path '(.*)' to be a (regular file|directory)$/s.exec(text))) {
    return failure(line, "bad argument", m[1]!, `a ${m[2]}`)
  }
  if ((m = /Path '(.*)' must (not )?exist$/s.exec(text))) {
    return failure(line, "bad argument", m[1]!, m[2] === undefined ? "an existing path" : "a path that does not exist")
  }
  return undefined
}

/** The words of @effect/cli's message, as they were written (values keep their own whitespace). */
const docText = (doc: HelpDoc.HelpDoc): string => {
  switch (doc._tag) {
    case "Header":
    case "Paragraph":
      return spanText(doc.value)
    case "Sequence":
      return [docText(doc.left), docText(doc.right)].filter((text) => text !== "").join(" ")
    case "Enumeration":
      return doc.elements.map(docText).join(" ")
    case "DescriptionList":
      return doc.definitions.map(([span, body]) => `${spanText(span)} ${docText(body)}`).join(" ")
    case "Empty":
      return ""
  }
}

/** A ValidationError from @effect/cli as a UsageFailure that names the argument at fault. */
export const usageFailure = (
  program: Program,
  argv: ReadonlyArray<string>,
  error: ValidationError.ValidationError
): UsageFailure => {
  const line = readCommandLine(program, argv)
  if (line.stray !== undefined && line.command === undefined) return unknownCommand(line, line.stray)
  const unknown = line.options.find((o) => o.known === undefined)
  if (unknown !== undefined) return unknownOption(line, unknown.name, unknown.beforeCommand)
  const repeated = repeatedOption(line)
  if (repeated !== undefined) return repeated
  const text = docText(error.error)
  if (line.command === undefined && error._tag === "CommandMismatch") {
    return failure(
      line,
      "missing command",
      line.program.name,
      `one of ${line.program.commands.map((c) => c.name).join(", ")}`
    )
  }
  return (
    fromText(line, text) ??
    failure(
      line,
      "bad command line",
      line.command?.name ?? line.program.name,
      text === "" ? "a valid command line" : text
    )
  )
}
