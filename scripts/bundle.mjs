// The second build step (`npm run build`): bundles the compiled entry points dist/cli.js and
// dist/main.js with their dependencies, in place, so a start loads a few files instead of a
// few hundred. Measured (bench/startup-profile.mjs, RESULTS.md): `validate` 0.5 s -> 0.2 s,
// RSS 74 -> 60 MiB. The rest of dist/ stays as tsc wrote it (the library entry, dist/index.js).
// Dependencies loaded on demand stay lazy: execa and tar become their own chunks; node-forge
// is required at run time from node_modules.
import { readdir, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import * as esbuild from "esbuild";

const ROOT = dirname(import.meta.dirname);
const DIST = join(ROOT, "dist");

// Chunks of an earlier build would otherwise pile up next to the new ones; tsc's maps of the
// two entry points no longer describe the bundled files.
for (const name of await readdir(DIST)) {
  if (/^chunk-[A-Z0-9]+\.js$/.test(name) || name === "cli.js.map" || name === "main.js.map") await rm(join(DIST, name));
}

await esbuild.build({
  entryPoints: { cli: join(DIST, "cli.js"), main: join(DIST, "main.js") },
  outdir: DIST,
  allowOverwrite: true,
  bundle: true,
  splitting: true, // cli and main share one chunk instead of two copies of everything
  chunkNames: "chunk-[hash]",
  format: "esm",
  platform: "node",
  target: "node20",
  // Some CommonJS dependencies call require() for Node built-ins; an ESM bundle needs one.
  banner: {
    js: 'import { createRequire as __bundleRequire } from "node:module"; const require = __bundleRequire(import.meta.url);',
  },
  logLevel: "warning",
});
