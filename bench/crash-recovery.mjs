// Figure 3: crash recovery: the collector is killed with SIGKILL (pid from the stub's
// /stub/state) and we time until it is healthy again, as the OpAMP server hears it and as
// the stub's health endpoint says it. One supervisor, many kills.
//
// The restart backoff is the harness's (initial_delay 100ms, jitter 0) with reset_after
// shortened to 300ms, and each kill waits until the previous run has been healthy longer
// than that: every kill is then a "first crash after a healthy period", as in production
// where crashes are rare. Back-to-back crashes would measure the backoff growth instead.
import { OpampTestServer } from "../.bench-build/test/support/opamp-test-server.js";
import { makeWorkspace, startSupervisor, stubState, waitForStub } from "../.bench-build/test/e2e/harness.js";
import { figure, sleep } from "./lib.mjs";
import { editSupervisorYaml, findLog, healthOk, loadAverage, logTime, pollUntil, removeWorkspace } from "./helpers.mjs";

const KILLS = Number(process.env.BENCH_KILLS ?? 25);
const RESET_AFTER_MS = 300;

export async function run() {
  const server = await OpampTestServer.start();
  const ws = await makeWorkspace({ endpoint: server.wsUrl });
  await editSupervisorYaml(ws, (t) =>
    t.replace("    jitter: 0\n", `    jitter: 0\n    reset_after: ${RESET_AFTER_MS}ms\n`),
  );
  const sup = startSupervisor(ws);
  const rows = [];
  try {
    await server.waitFor((r) => r.msg.health?.healthy === true, { timeoutMs: 20_000 });
    for (let i = 0; i < KILLS; i++) {
      const before = await waitForStub(ws, (s) => s.healthy, 20_000);
      await sleep(RESET_AFTER_MS + 200); // let the run count as healthy long enough to reset the backoff
      const from = server.received.length;
      const fromLog = sup.logs.length;
      const t0Wall = Date.now();
      const t0 = performance.now();
      process.kill(before.pid, "SIGKILL");
      const since = () => performance.now() - t0;
      const [down, up, stubHealthy] = await Promise.all([
        server.waitFor((r) => r.msg.health?.healthy === false, { from, timeoutMs: 20_000 }).then(since, () => NaN),
        server
          .waitFor((r) => r.msg.health?.healthy === false, { from, timeoutMs: 20_000 })
          .then((d) =>
            server.waitFor((r) => r.msg.health?.healthy === true, {
              from: server.received.indexOf(d),
              timeoutMs: 20_000,
            }),
          )
          .then(since, () => NaN),
        pollUntil(
          async () => {
            const s = await stubState(ws);
            return s && s.pid !== before.pid && s.healthy && (await healthOk(ws.healthPort));
          },
          { everyMs: 5, timeoutMs: 20_000 },
        ).then((ok) => (ok ? since() : NaN)),
      ]);
      await sleep(20); // let the log lines of this crash arrive
      const crashed = findLog(sup, "collector crashed; restarting after a delay", fromLog);
      const started = findLog(sup, "collector started", fromLog);
      rows.push({
        down,
        up,
        stubHealthy,
        noticed: logTime(crashed) - t0Wall,
        started: logTime(started) - t0Wall,
        delayMs: Number(crashed?.delayMs),
        attempt: Number(crashed?.attempt),
      });
      if (process.env.BENCH_VERBOSE) console.error("crash-recovery", i, rows.at(-1));
    }
  } finally {
    await sup.stop();
    await server.close();
    await removeWorkspace(ws);
  }
  const pick = (k) => rows.map((r) => r[k]).filter(Number.isFinite);
  const extra = {
    kills: KILLS,
    healthInterval: "50ms",
    restartDelay: [...new Set(pick("delayMs"))].join(",") + "ms",
    attempts: [...new Set(pick("attempt"))].join(","),
    load: await loadAverage(),
  };
  // Time the supervisor itself adds: total minus the configured restart delay and minus the
  // stub's own start (new process up to its health endpoint answering 200).
  return [
    figure("crash recovery: SIGKILL to healthy report", "ms", pick("up"), extra),
    figure("  SIGKILL to unhealthy report", "ms", pick("down"), extra),
    figure("  SIGKILL to crash noticed (log)", "ms", pick("noticed"), extra),
    figure("  SIGKILL to collector restarted (log)", "ms", pick("started"), extra),
    figure("  SIGKILL to new stub health 200", "ms", pick("stubHealthy"), extra),
  ];
}
