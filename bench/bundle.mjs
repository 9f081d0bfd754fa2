// Opt-in: bundles the built supervisor (dist/cli.js, dist/main.js) with its dependencies into
// dist-bundle/ (gitignored), one ESM file per entry point, to measure what bundling saves at
// start-up (bench/startup-profile.mjs; BENCH_SBS_OURS_CLI=dist-bundle/cli.js for the
// side-by-side launch). Not the shipped build. Needs `npm run build` first and the esbuild dev
// dependency.
import { dirname, join } from "node:path";

const ROOT = dirname(import.meta.dirname);
const CLI = join(ROOT, "dist/cli.js");

let esbuild;
try {
  esbuild = await import("esbuild");
} catch {
  console.error("bench/bundle.mjs: esbuild is not installed (npm ci installs the dev dependencies)");
  process.exit(2);
}

const t0 = performance.now();
const result = await esbuild.build({
  entryPoints: { cli: CLI, main: join(ROOT, "dist/main.js") },
  outdir: join(ROOT, "dist-bundle"),
  bundle: true,
  splitting: true, // cli and main share one chunk instead of two copies of everything
  format: "esm",
  platform: "node",
  target: "node20",
  // Some CommonJS dependencies call require() for Node built-ins; give the ESM bundle one.
  banner: { js: 'import { createRequire as __cr } from "node:module"; const require = __cr(import.meta.url);' },
  metafile: true,
  logLevel: "warning",
});
const outputs = Object.entries(result.metafile.outputs).map(([file, o]) => `${file.replace(`${ROOT}/`, "")} ${(o.bytes / 1024).toFixed(0)} KiB`);
console.log(`bundled in ${Math.round(performance.now() - t0)} ms: ${outputs.join(", ")}`);
