// Where our launch time and idle memory go, piece by piece (issue 15, item 3): each piece is a
// short child process, run interleaved with the others BENCH_PROFILE_RUNS times (default 15):
//   node alone; node importing dist/main.js (the bundled build: all the supervisor's code,
//   nothing run); the same under V8 flags that trade speed for memory; node importing
//   dist/supervisor/supervisor.js (tsc's unbundled modules, for comparison); `cli.js validate`
//   (node + modules + reading the config); the collector's `--version` (our supervisor runs it
//   before the first start).
// Each run prints its own wall time to exit and its RSS after the import. Loopback-free;
// bounded; reports only.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CLI, ROOT } from "../.bench-build/test/e2e/harness.js";
import { figure } from "./lib.mjs";
import { loadAverage } from "./helpers.mjs";
import { GO_COLLECTOR } from "./sbs-peers.mjs";

const RUNS = Number(process.env.BENCH_PROFILE_RUNS ?? 15);
const MAIN = join(ROOT, "dist/main.js");
const UNBUNDLED = join(ROOT, "dist/supervisor/supervisor.js");

// Prints the RSS (MiB) once `target` is imported and a GC ran, like an idle supervisor after start-up.
const importAndMeasure = (target) =>
  `await import(${JSON.stringify(target)}); globalThis.gc?.(); process.stdout.write(String(process.memoryUsage().rss / 1048576));`;

function pieces(configPath) {
  const node = process.execPath;
  const list = [
    ["node -e 0", node, ["-e", "0"]],
    ["node: import dist/main.js", node, ["--expose-gc", "--input-type=module", "-e", importAndMeasure(MAIN)]],
    [
      "node --max-semi-space-size=1: import dist/main.js",
      node,
      ["--expose-gc", "--max-semi-space-size=1", "--input-type=module", "-e", importAndMeasure(MAIN)],
    ],
    [
      "node --optimize-for-size: import dist/main.js",
      node,
      ["--expose-gc", "--optimize-for-size", "--input-type=module", "-e", importAndMeasure(MAIN)],
    ],
    [
      "node --jitless: import dist/main.js",
      node,
      ["--expose-gc", "--jitless", "--input-type=module", "-e", importAndMeasure(MAIN)],
    ],
    ["node: cli.js validate", node, [CLI, "validate", "--config", configPath]],
  ];
  if (existsSync(GO_COLLECTOR)) list.push(["collector --version (otelcol-gopeer)", GO_COLLECTOR, ["--version"]]);
  list.push([
    "node: import dist/supervisor/supervisor.js (unbundled modules)",
    node,
    ["--expose-gc", "--input-type=module", "-e", importAndMeasure(UNBUNDLED)],
  ]);
  return list;
}

function timeRun(cmd, args) {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "ignore"], cwd: ROOT });
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (c) => (out += c));
    child.on("error", () => resolve({ ms: NaN }));
    child.on("exit", (code) => resolve({ ms: code === 0 ? performance.now() - t0 : NaN, rss: Number.parseFloat(out) }));
  });
}

export async function run() {
  const dir = await mkdtemp(join(tmpdir(), "startup-profile-"));
  const configPath = join(dir, "supervisor.yaml");
  await writeFile(
    configPath,
    `server:\n  endpoint: ws://127.0.0.1:4320/v1/opamp\nagent:\n  executable: ${process.execPath}\nstorage:\n  directory: ${join(dir, "state")}\n`,
  );
  const list = pieces(configPath);
  const rows = new Map(list.map(([name]) => [name, { ms: [], rss: [] }]));
  try {
    for (let i = 0; i < RUNS; i++) {
      for (const [name, cmd, args] of i % 2 ? [...list].reverse() : list) {
        const r = await timeRun(cmd, args);
        if (Number.isFinite(r.ms)) rows.get(name).ms.push(r.ms);
        if (Number.isFinite(r.rss)) rows.get(name).rss.push(r.rss);
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const extra = { runs: RUNS, node: process.version, load: await loadAverage(), peer: "none" };
  const out = [];
  for (const [name, r] of rows) {
    out.push(figure(`startup: ${name}, wall time`, "ms", r.ms, extra));
    if (r.rss.length) out.push(figure(`startup: ${name}, RSS after import + GC`, "MiB", r.rss, extra));
  }
  return out;
}
