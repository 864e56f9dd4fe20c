import type { Linter } from "eslint"

/**
 * The repo's ESLint config without its one type-aware rule: the lint tests lint text under paths that
 * are in no tsconfig (a fixture placed in each folder), which the type-aware parser cannot load.
 */
export const untyped: Linter.Config = {
  languageOptions: { parserOptions: { projectService: false } },
  rules: { "@typescript-eslint/switch-exhaustiveness-check": "off" }
}
