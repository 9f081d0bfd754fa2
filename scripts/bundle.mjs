// The second build step (`npm run build`): bundles the compiled entry points dist/cli.js and
// dist/main.js with their dependencies, in place, so a start loads a few files instead of a
// few hundred. Measured (bench/startup-profile.mjs, RESULTS.md): `validate` 0.5 s -> 0.2 s,
// RSS 74 -> 60 MiB. The rest of dist/ stays as tsc wrote it (the library entry, dist/index.js).
// Dependencies loaded on demand stay lazy: execa and tar become their own chunks; node-forge
// is required at run time from node_modules.
import { readdir, readFile, rm, writeFile } from "node:fs/promises";
import { builtinModules } from "node:module";
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

// An ESM import of a Node built-in builds its whole module namespace, which runs every lazy
// getter of the module: on Node 22 and 24 `import "node:http"` loads undici, http2 and
// worker_threads with it, and `node:util`, `node:fs` and `node:process` dozens of internal
// modules more. require() hands back the exports object and runs no getter. So each import
// of a built-in in an output file (with or without "node:"; static, or import() at run time)
// becomes a require() through the banner's createRequire (the banner's own import of
// node:module stays). Measured on the supervisor: -4 MiB RSS and -30 ms to start on Node 22.
const BUILTINS = new Set(builtinModules);
const STATIC_IMPORT = /^import\s+([^;]*?)\s+from\s+"([^"]+)";$/gm;
const DYNAMIC_IMPORT = /\bimport\(\s*"([^"]+)"\s*\)/g;
function builtinsThroughRequire(text) {
  return text
    .replace(STATIC_IMPORT, (whole, clause, specifier) => {
      if (!BUILTINS.has(specifier.replace(/^node:/, "")) || clause.includes("__bundleRequire")) return whole;
      const req = `require(${JSON.stringify(specifier)})`;
      const named = (list) => list.replace(/\s+as\s+/g, ": ").replace(/\s+/g, " ");
      const star = /^\*\s+as\s+([\w$]+)$/.exec(clause);
      if (star) return `const ${star[1]} = ${req};`;
      const both = /^([\w$]+)\s*,\s*(\{[^}]*\})$/.exec(clause);
      if (both) return `const ${both[1]} = ${req};\nconst ${named(both[2])} = ${both[1]};`;
      if (/^\{[^}]*\}$/.test(clause)) return `const ${named(clause)} = ${req};`;
      if (/^[\w$]+$/.test(clause)) return `const ${clause} = ${req};`;
      throw new Error(`bundle: cannot turn this import into a require(): ${whole}`);
    })
    .replace(DYNAMIC_IMPORT, (whole, specifier) =>
      // The code that imports a built-in at run time takes named exports (`{ request }`).
      BUILTINS.has(specifier.replace(/^node:/, ""))
        ? `Promise.resolve().then(() => require(${JSON.stringify(specifier)}))`
        : whole,
    );
}

// V8 keeps the source of every loaded script, one byte per character only while all of its
// characters are at most U+00FF. A single other one (a "μ" in a regular expression, a "→" in a
// comment esbuild keeps; it escapes them in strings only) doubles the bundle's in-memory size:
// +1.25 MB heap, ~1 MiB idle RSS, measured. Escape it in the source (\u03bc) or reword the comment.
for (const file of Object.keys(result.metafile.outputs)) {
  const text = builtinsThroughRequire(await readFile(file, "utf8")); // metafile paths are relative to the working directory
  await writeFile(file, text);
  for (const match of text.matchAll(/[^\u0000-\u00ff]/gu)) {
    const line = text.slice(0, match.index).split("\n").length;
    const context = JSON.stringify(text.slice(Math.max(0, match.index - 40), match.index + 10));
    console.error(`${file}:${line}: ${context} has a character above U+00FF`);
    process.exitCode = 1;
  }
}
