// Figure 2: supervisor launch to collector first healthy (cold start): from spawning the
// built CLI to (a) the stub's health endpoint answering 200 and (b) the first healthy
// report the OpAMP server receives. Each launch gets a fresh workspace (empty state dir).
// The split comes from the supervisor's own log lines (ms resolution, wall clock).
import { spawn } from "node:child_process";
import { OpampTestServer } from "../.bench-build/test/support/opamp-test-server.js";
import { CLI, STUB, makeWorkspace, startSupervisor } from "../.bench-build/test/e2e/harness.js";
import { figure, sleep } from "./lib.mjs";
import { findLog, healthOk, loadAverage, logTime, pollUntil, removeWorkspace } from "./helpers.mjs";

const LAUNCHES = Number(process.env.BENCH_LAUNCHES ?? 12);
const POLL_MS = 5;

export async function run() {
  const rows = [];
  for (let i = 0; i < LAUNCHES; i++) {
    const server = await OpampTestServer.start();
    const ws = await makeWorkspace({ endpoint: server.wsUrl });
    const t0Wall = Date.now();
    const t0 = performance.now();
    const sup = startSupervisor(ws);
    const since = () => performance.now() - t0;
    const [stub, report, first] = await Promise.all([
      pollUntil(() => healthOk(ws.healthPort), { everyMs: POLL_MS, timeoutMs: 20_000 }).then((ok) =>
        ok ? since() : NaN,
      ),
      server.waitFor((r) => r.msg.health?.healthy === true, { timeoutMs: 20_000 }).then(since, () => NaN),
      server.waitFor(() => true, { timeoutMs: 20_000 }).then(since, () => NaN),
    ]);
    // Log lines are flushed asynchronously; give the pipe a moment.
    await sleep(50);
    const wall = (msg) => logTime(findLog(sup, msg)) - t0Wall;
    rows.push({
      stub,
      report,
      first,
      collectorStarted: wall("collector started"),
    });
    if (process.env.BENCH_VERBOSE) console.error("cold-start", i, rows.at(-1));
    await sup.stop();
    await server.close();
    // Two pieces of the path to "collector started", timed on their own once the launch is over:
    // node boot + loading the supervisor's modules + reading its config (`validate` does just
    // that), and the `<collector> --version` run the supervisor makes before it starts the collector.
    rows.at(-1).validate = await timeRun(process.execPath, [CLI, "validate", "--config", ws.configPath]);
    rows.at(-1).version = await timeRun(STUB, ["--version"]);
    await removeWorkspace(ws);
    await sleep(100);
  }
  const extra = { launches: LAUNCHES, healthInterval: "50ms", stubPollMs: POLL_MS, load: await loadAverage() };
  const pick = (k) => rows.map((r) => r[k]).filter(Number.isFinite);
  return [
    figure("cold start: spawn to first healthy report", "ms", pick("report"), {
      ...extra,
      firstLaunch: rows[0]?.report,
    }),
    figure("  spawn to stub health 200", "ms", pick("stub"), extra),
    figure("  spawn to collector started (log)", "ms", pick("collectorStarted"), extra),
    figure("  spawn to first OpAMP message", "ms", pick("first"), extra),
    figure("  of which: node + modules + config (validate run)", "ms", pick("validate"), extra),
    figure("  of which: collector --version", "ms", pick("version"), extra),
  ];
}

/** Wall time of one short command, ms; NaN if it fails. */
function timeRun(cmd, args) {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { stdio: "ignore" });
    child.on("error", () => resolve(NaN));
    child.on("exit", (code) => resolve(code === 0 ? performance.now() - t0 : NaN));
  });
}
