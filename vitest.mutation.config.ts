/**
 * The tests `npm run mutation` (Stryker) runs against each mutant of domain/ and engine/: the domain's
 * and the engine's own tests (paging included) and the property suite, with fewer runs per property (XENPOOL_MUTATION).
 * Not the CLI or store tests (the built binary, the adapters), nor the targeted-mutant test (it tests
 * the properties, not the sources).
 */
import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: [
      "test/domain/**/*.test.ts",
      "test/engine/**/*.test.ts",
      "test/paging/**/*.test.ts",
      "test/properties/properties.test.ts"
    ],
    env: { XENPOOL_MUTATION: "1" },
    testTimeout: 60_000
  }
})
