// The second build step (`npm run build`): bundles the compiled entry points dist/cli.js and
// dist/main.js with their dependencies, in place, so a start loads a few files instead of a
// few hundred. Measured (bench/startup-profile.mjs, RESULTS.md): `validate` 0.5 s -> 0.2 s,
// RSS 74 -> 60 MiB. The rest of dist/ stays as tsc wrote it (the library entry, dist/index.js).
// Dependencies loaded on demand stay lazy: execa and tar become their own chunks; node-forge
// is required at run time from node_modules.
import { readdir, readFile, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import * as esbuild from "esbuild";

const ROOT = dirname(import.meta.dirname);
const DIST = join(ROOT, "dist");

// Chunks of an earlier build would otherwise pile up next to the new ones; tsc's maps of the
// two entry points no longer describe the bundled files.
for (const name of await readdir(DIST)) {
  if (/^chunk-[A-Z0-9]+\.js$/.test(name) || name === "cli.js.map" || name === "main.js.map") await rm(join(DIST, name));
}

const result = await esbuild.build({
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
  metafile: true,
});

// V8 keeps the source of every loaded script, one byte per character only while all of its
// characters are at most U+00FF. A single other one (a "μ" in a regular expression, a "→" in a
// comment esbuild keeps; it escapes them in strings only) doubles the bundle's in-memory size:
// +1.25 MB heap, ~1 MiB idle RSS, measured. Escape it in the source (\u03bc) or reword the comment.
for (const file of Object.keys(result.metafile.outputs)) {
  const text = await readFile(file, "utf8"); // metafile paths are relative to the working directory
  for (const match of text.matchAll(/[^\u0000-\u00ff]/gu)) {
    const line = text.slice(0, match.index).split("\n").length;
    const context = JSON.stringify(text.slice(Math.max(0, match.index - 40), match.index + 10));
    console.error(`${file}:${line}: ${context} has a character above U+00FF`);
    process.exitCode = 1;
  }
}
