/**
 * The determinism ban (STYLE.md 6, DESIGN.md §5) is checked, not hoped for: every ambient source of time
 * or randomness in a fixture is an ESLint error when the text sits in a pure folder, and is left alone
 * in cli/. The fixtures live in test/fixtures/lint/ (ignored by the repo's config), so their text is
 * linted under a virtual path inside each folder.
 */
import { readFileSync } from "node:fs"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { ESLint, type Linter } from "eslint"
import { beforeAll, describe, expect, it } from "vitest"
import { untyped } from "./untyped.js"

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..")

const fixtures = join(root, "test/fixtures/lint")

/** The repo's config module (plain JavaScript), loaded by URL so the type checker need not resolve it. */
interface EslintConfigModule {
  readonly determinismRules: Readonly<Record<string, unknown>>
  readonly pureFolders: ReadonlyArray<string>
}
let config: EslintConfigModule
let determinismRuleIds: ReadonlyArray<string>

/** Each fixture with the rule that must catch it and the line of the banned construct. */
const banned = [
  { fixture: "date-now.ts", construct: "Date.now", rule: "no-restricted-properties", line: 2 },
  { fixture: "new-date.ts", construct: "new Date()", rule: "no-restricted-syntax", line: 2 },
  { fixture: "date-call.ts", construct: "Date()", rule: "no-restricted-syntax", line: 2 },
  { fixture: "math-random.ts", construct: "Math.random", rule: "no-restricted-properties", line: 2 },
  { fixture: "set-timeout.ts", construct: "setTimeout", rule: "no-restricted-globals", line: 2 },
  { fixture: "set-interval.ts", construct: "setInterval", rule: "no-restricted-globals", line: 2 },
  { fixture: "crypto-random-uuid.ts", construct: "crypto.randomUUID", rule: "no-restricted-properties", line: 2 },
  { fixture: "performance-now.ts", construct: "performance.now", rule: "no-restricted-properties", line: 2 },
  { fixture: "node-crypto-import.ts", construct: 'import from "node:crypto"', rule: "no-restricted-imports", line: 2 }
] as const

const pure = ["domain", "engine", "projections"] as const

let eslint: ESLint
beforeAll(async () => {
  config = (await import(pathToFileURL(join(root, "eslint.config.js")).href)) as EslintConfigModule
  determinismRuleIds = Object.keys(config.determinismRules)
  eslint = new ESLint({ cwd: root, overrideConfigFile: join(root, "eslint.config.js"), overrideConfig: untyped })
})

const lintAs = async (fixture: string, folder: string): Promise<ReadonlyArray<Linter.LintMessage>> => {
  const text = readFileSync(join(fixtures, fixture), "utf8")
  const [result] = await eslint.lintText(text, { filePath: join(root, folder, "__fixture__.ts") })
  expect(result, `a lint result for ${folder}/${fixture}`).toBeDefined()
  return result!.messages
}

const describeMessages = (messages: ReadonlyArray<Linter.LintMessage>) =>
  messages.map((m) => `${m.line}:${m.column} ${m.ruleId}: ${m.message}`).join("\n")

describe("the config", () => {
  it("names domain/, engine/ and projections/ as the pure folders", () => {
    expect(determinismRuleIds).toEqual(
      expect.arrayContaining([
        "no-restricted-properties",
        "no-restricted-globals",
        "no-restricted-syntax",
        "no-restricted-imports"
      ])
    )
    expect(config.pureFolders).toEqual(["domain/**/*.ts", "engine/**/*.ts", "projections/**/*.ts"])
  })

  it("ignores the fixtures folder, so the fixtures never fail `npm run lint`", async () => {
    expect(await eslint.isPathIgnored(join(fixtures, "date-now.ts"))).toBe(true)
  })
})

describe.each(pure)("in %s/", (folder) => {
  it.each(banned)("$construct is an error ($rule)", async ({ fixture, rule, line }) => {
    const messages = await lintAs(fixture, folder)
    const caught = messages.filter((m) => m.ruleId === rule && m.severity === 2)
    expect(caught.length, describeMessages(messages)).toBeGreaterThan(0)
    expect(caught[0]!.line).toBe(line)
    expect(caught[0]!.message.length).toBeGreaterThan(0)
  })

  it("code that takes time and randomness as inputs is clean", async () => {
    const messages = await lintAs("clean.ts", folder)
    expect(messages, describeMessages(messages)).toEqual([])
  })
})

describe("in cli/, outside the pure core", () => {
  it.each(banned)("$construct is not a determinism error", async ({ fixture }) => {
    const messages = await lintAs(fixture, "cli")
    const determinism = messages.filter((m) => m.ruleId !== null && determinismRuleIds.includes(m.ruleId))
    expect(determinism, describeMessages(determinism)).toEqual([])
    expect(
      messages.filter((m) => m.fatal),
      describeMessages(messages)
    ).toEqual([])
  })
})

describe("the real pure folders", () => {
  it("domain/, engine/ and projections/ lint clean", async () => {
    const results = await new ESLint({
      cwd: root,
      overrideConfigFile: join(root, "eslint.config.js"),
      overrideConfig: untyped,
      errorOnUnmatchedPattern: false
    }).lintFiles(pure.map((folder) => `${folder}/**/*.ts`))
    const withErrors = results.filter((r) => r.errorCount > 0)
    const report = withErrors.map((r) => `${r.filePath}\n${describeMessages(r.messages)}`).join("\n")
    expect(withErrors, report).toEqual([])
    expect(
      results.some((r) => r.filePath.includes(`${join(root, "domain")}`)),
      "domain/ was linted"
    ).toBe(true)
  })
})
