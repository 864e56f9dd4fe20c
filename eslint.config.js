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
  { files: pureFolders, rules: determinismRules }
)
