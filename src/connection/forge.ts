/**
 * node-forge, loaded the CommonJS way. Its entry point re-exports through
 * `module.exports = require('./forge')`, which Node's ESM loader cannot see through, so
 * `import * as forge` would yield an empty namespace at run time.
 */
import { createRequire } from "node:module";
import type * as Forge from "node-forge";

let loaded: typeof Forge | undefined;

/** Loaded on first use: only the CSR flow needs it, and it costs start-up time. */
export function forge(): typeof Forge {
  loaded ??= createRequire(import.meta.url)("node-forge") as typeof Forge;
  return loaded;
}
