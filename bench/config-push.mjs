// Figure 1: config push → APPLIED, in restart and SIGHUP modes, with the health interval at
// its smallest sensible value, plus how the time splits (from the audit log).
import { OpampTestServer } from "../.bench-build/test/support/opamp-test-server.js";
import { auditLines, makeWorkspace, startSupervisor, waitForStub } from "../.bench-build/test/e2e/harness.js";
import { figure } from "./lib.mjs";

const PUSHES = Number(process.env.BENCH_PUSHES ?? 50);
const INTERVAL = process.env.BENCH_HEALTH_INTERVAL ?? "50ms";

export async function run() {
  const figures = [];
  for (const [mode, hup] of [
    ["restart", false],
    ["sighup", true],
  ]) {
    const server = await OpampTestServer.start();
    const ws = await makeWorkspace({ endpoint: server.wsUrl, hup, health: { interval: INTERVAL } });
    const sup = startSupervisor(ws);
    const totals = [];
    const totalByHash = new Map();
    let failed = 0;
    try {
      await server.waitFor((r) => r.msg.health?.healthy === true, { timeoutMs: 20_000 });
      await waitForStub(ws);
      for (let i = 0; i < PUSHES; i++) {
        const hash = new Uint8Array([0xbe, i >> 8, i & 0xff]);
        const body = new TextEncoder().encode(
          `exporters:\n  debug/p${i}: {}\nservice:\n  pipelines:\n    traces:\n      exporters: [debug/p${i}]\n`,
        );
        const from = server.received.length;
        const t0 = performance.now();
        server.push({
          remoteConfig: {
            configHash: hash,
            config: { configMap: { "remote.yaml": { body, contentType: "text/yaml" } } },
          },
        });
        // APPLIED (1) or FAILED (3) for this hash: a failed push is counted, not thrown.
        const done = await server.waitFor(
          (r) =>
            [1, 3].includes(r.msg.remoteConfigStatus?.status) &&
            Buffer.from(r.msg.remoteConfigStatus.lastRemoteConfigHash).equals(Buffer.from(hash)),
          { from, timeoutMs: 60_000 },
        );
        if (done.msg.remoteConfigStatus.status === 3) {
          failed++;
          console.error(`${mode} push ${i} FAILED: ${done.msg.remoteConfigStatus.errorMessage.split("\n")[0]}`);
          continue;
        }
        totals.push(performance.now() - t0);
        totalByHash.set(Buffer.from(hash).toString("hex"), totals.at(-1));
        if (process.env.BENCH_VERBOSE) console.error(mode, i, Math.round(totals.at(-1)));
      }
    } finally {
      await sup.stop();
      await server.close();
    }
    const applied = (await auditLines(ws)).filter((l) => l.action === "remote-config-applied");
    const pick = (k) => applied.map((l) => Number(l[k]));
    const phases = (l) => Number(l.validateMs) + Number(l.applyMs) + Number(l.healthMs);
    const own = applied.map((l) => Number(l.totalMs) - phases(l));
    // Everything between the server's send and its receipt of APPLIED that is not a collector
    // phase: decoding, the durable writes before and after the proof, composing, the loopback.
    const ownSeen = applied.filter((l) => totalByHash.has(l.hash)).map((l) => totalByHash.get(l.hash) - phases(l));
    const extra = { mode, healthInterval: INTERVAL, failedPushes: failed };
    figures.push(
      figure(`config push to APPLIED (${mode})`, "ms", totals, extra),
      figure(`  validate (${mode})`, "ms", pick("validateMs"), extra),
      figure(`  ${hup ? "SIGHUP" : "restart"} (${mode})`, "ms", pick("applyMs"), extra),
      figure(`  health window (${mode})`, "ms", pick("healthMs"), extra),
      figure(`  supervisor's own share (${mode})`, "ms", own, extra),
      figure(`  supervisor's own share, push to APPLIED at the server (${mode})`, "ms", ownSeen, extra),
    );
  }
  return figures;
}
