import { defineConfig } from "vitest/config";

/**
 * The interop suite: the built supervisor (dist/cli.js) between two real peers built from
 * published Go modules by `npm run interop:build` (interop/bin/). Files run one at a time:
 * each test runs a real collector and a real OpAMP server, and the machine has 2 cores.
 */
export default defineConfig({
  test: {
    include: ["test/interop/**/*.test.ts"],
    testTimeout: 90_000,
    hookTimeout: 30_000,
    pool: "forks",
    fileParallelism: false,
  },
});
