// @ts-check
import js from "@eslint/js"
import tseslint from "typescript-eslint"

/**
 * Determinism: the pure folders get time and randomness only from their inputs (DESIGN.md §5).
 * These are the ambient sources a simulator must never touch there.
 */
export const determinismRules = {
  "no-restricted-properties": [
    "error",
    { object: "Date", property: "now", message: "Simulated time only: take atUs from the clock you are given." },
    { object: "Math", property: "random", message: "Use a PRNG derived from the root seed (engine/prng.ts)." },
    { object: "crypto", property: "randomUUID", message: "Ids come from the seeded PRNG." },
    { object: "crypto", property: "getRandomValues", message: "Ids come from the seeded PRNG." },
    { object: "performance", property: "now", message: "Simulated time only." },
    { object: "globalThis", property: "setTimeout", message: "No timers: schedule on the simulated clock." }
  ],
  "no-restricted-globals": [
    "error",
    { name: "setTimeout", message: "No timers: schedule on the simulated clock." },
    { name: "setInterval", message: "No timers: schedule on the simulated clock." },
    { name: "setImmediate", message: "No timers: schedule on the simulated clock." },
    { name: "queueMicrotask", message: "No ambient scheduling in the pure core." },
    { name: "performance", message: "Simulated time only." }
  ],
  "no-restricted-syntax": [
    "error",
    { selector: "NewExpression[callee.name='Date']", message: "Simulated time only: no new Date() in the pure core." },
    { selector: "CallExpression[callee.name='Date']", message: "Simulated time only: no Date() in the pure core." }
  ],
  "no-restricted-imports": [
    "error",
    {
      paths: [
        { name: "node:crypto", message: "Ids and randomness come from the seeded PRNG." },
        { name: "crypto", message: "Ids and randomness come from the seeded PRNG." },
        { name: "node:timers", message: "No timers in the pure core." },
        { name: "node:timers/promises", message: "No timers in the pure core." },
        { name: "node:perf_hooks", message: "Simulated time only." }
      ]
    }
  ]
}

export const pureFolders = ["domain/**/*.ts", "engine/**/*.ts", "projections/**/*.ts"]

/**
 * The folder layering of DESIGN.md §1 (and api/ between the core and cli/): what each folder may import
 * of ours. A folder not listed (bench/, test/, examples/) may import anything.
 */
export const layers = {
  domain: [],
  store: ["domain"],
  projections: ["domain", "store"],
  engine: ["domain"],
  simulations: ["domain", "engine"],
  properties: ["domain", "store", "projections", "engine", "simulations"],
  api: ["domain", "store", "projections", "engine", "simulations", "properties"],
  /** The page (a browser bundle): pure helpers of domain/ (units), and the server only through its endpoints. */
  web: ["domain"],
  /** The view's server and the report writer, which draws with the page's own SVG module. */
  view: ["domain", "store", "projections", "engine", "simulations", "properties", "api", "web"],
  cli: ["domain", "store", "projections", "engine", "simulations", "properties", "api", "view"]
}

const ownFolders = [...Object.keys(layers), "bench", "test", "examples"]

/** The import ban of `folder`: any of our folders it may not import, at any depth of `../`. */
const layerPatterns = (folder) => {
  const banned = ownFolders.filter((f) => f !== folder && !layers[folder].includes(f))
  return banned.length === 0
    ? []
    : [
        {
          regex: `^(\\.\\./)+(${banned.join("|")})(/|$)`,
          message: `${folder}/ may import only ${layers[folder].join(", ") || "nothing of ours"} (DESIGN.md §1)`
        }
      ]
}

const determinismImports = determinismRules["no-restricted-imports"][1].paths

/** no-restricted-imports for one folder: the layering, and in the pure folders the determinism bans too. */
const importRules = (folder) => ({
  "no-restricted-imports": [
    "error",
    {
      paths: pureFolders.some((glob) => glob.startsWith(`${folder}/`)) ? determinismImports : [],
      patterns: layerPatterns(folder)
    }
  ]
})

export default tseslint.config(
  {
    ignores: [
      ".lead/**",
      ".scratch/**",
      ".tmpbench/**",
      "dist/**",
      "node_modules/**",
      "coverage/**",
      "reports/**",
      ".stryker-tmp/**",
      "test/fixtures/lint/**"
    ]
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/no-explicit-any": "off",
      "@typescript-eslint/no-namespace": "off",
      "@typescript-eslint/no-empty-object-type": "off"
    }
  },
  {
    // Switches the compiler checks (STYLE.md): a switch over a union names every member, or says why not.
    files: ["**/*.ts"],
    ignores: ["web/**", "examples/**", "vitest.config.ts", "vitest.mutation.config.ts"],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      "@typescript-eslint/switch-exhaustiveness-check": [
        "error",
        { considerDefaultExhaustiveForUnions: true, requireDefaultForNonUnion: false }
      ]
    }
  },
  { files: pureFolders, rules: determinismRules },
  ...Object.keys(layers).map((folder) => ({ files: [`${folder}/**/*.ts`], rules: importRules(folder) }))
)
