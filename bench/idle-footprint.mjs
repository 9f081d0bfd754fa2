// Figure 4: idle footprint: the supervisor alone (its own pid; the collector is a separate
// process and is not counted), idle for 60 s with a 1 s heartbeat. RSS from
// /proc/<pid>/status (VmRSS sampled every second; VmHWM = the kernel's peak since start) and
// CPU seconds (utime + stime) from /proc/<pid>/stat.
//
// supervisor.yaml has no heartbeat key, so the server sets it the protocol's way: the first
// reply on each connection carries ConnectionSettingsOffers.opamp.heartbeat_interval_seconds = 1.
// The main run uses the default health interval (1s), as deployed; a second, shorter run uses
// the 50ms interval of the other benchmarks to show what fast health polling costs.
//
// BENCH_IDLE_SECONDS (default 60) and BENCH_IDLE_FAST_SECONDS (default 20, 0 = skip) shorten it.
import { OpampTestServer } from "../.bench-build/test/support/opamp-test-server.js";
import { makeWorkspace, startSupervisor } from "../.bench-build/test/e2e/harness.js";
import { figure, median, sleep } from "./lib.mjs";
import { loadAverage, offerHeartbeatOnce, procSample, removeWorkspace } from "./helpers.mjs";

const SECONDS = Number(process.env.BENCH_IDLE_SECONDS ?? 60);
const FAST_SECONDS = Number(process.env.BENCH_IDLE_FAST_SECONDS ?? 20);
const WARMUP_MS = 3_000;
const MiB = (kib) => Math.round((kib / 1024) * 100) / 100;

async function measure(healthInterval, seconds) {
  const server = await OpampTestServer.start();
  offerHeartbeatOnce(server, 1);
  const ws = await makeWorkspace({ endpoint: server.wsUrl, health: { interval: healthInterval } });
  const sup = startSupervisor(ws);
  try {
    await server.waitFor((r) => r.msg.health?.healthy === true, { timeoutMs: 20_000 });
    await sleep(WARMUP_MS);
    const pid = sup.child.pid;
    const start = await procSample(pid);
    const from = server.received.length;
    const samples = [];
    const t0 = performance.now();
    for (let i = 1; i <= seconds; i++) {
      await sleep(Math.max(0, t0 + i * 1000 - performance.now()));
      samples.push(await procSample(pid));
    }
    const end = samples.at(-1);
    const window = (end.at - start.at) / 1000;
    const messages = server.received.slice(from);
    return { start, end, samples, window, messages: messages.length };
  } finally {
    await sup.stop();
    await server.close();
    await removeWorkspace(ws);
  }
}

export async function run() {
  const figures = [];
  const runs = [["1s", SECONDS]];
  if (FAST_SECONDS > 0) runs.push(["50ms", FAST_SECONDS]);
  for (const [interval, seconds] of runs) {
    const m = await measure(interval, seconds);
    const cpu = m.end.cpuS - m.start.cpuS;
    const extra = {
      healthInterval: interval,
      heartbeat: "1s",
      seconds: Math.round(m.window * 10) / 10,
      messagesReceived: m.messages,
      userS: Math.round((m.end.userS - m.start.userS) * 100) / 100,
      systemS: Math.round((m.end.systemS - m.start.systemS) * 100) / 100,
      load: await loadAverage(),
    };
    const tag = `health ${interval}, ${Math.round(m.window)} s`;
    figures.push(
      figure(
        `idle RSS, sampled 1/s (${tag})`,
        "MiB",
        m.samples.map((s) => MiB(s.rssKiB)),
        extra,
      ),
      figure(`  RSS peak since start, VmHWM (${tag})`, "MiB", [MiB(m.end.hwmKiB)], extra),
      figure(`  idle CPU, user+system (${tag})`, "s", [cpu], extra),
      figure(`  idle CPU, % of one core (${tag})`, "%", [(cpu / m.window) * 100], extra),
      figure(`  messages to server per second (${tag})`, "msgs", [m.messages / m.window], extra),
    );
    if (process.env.BENCH_VERBOSE) {
      console.error("idle", interval, { cpu, medianRss: median(m.samples.map((s) => s.rssKiB)), messages: m.messages });
      console.error("idle RSS MiB per second:", m.samples.map((s) => Math.round(s.rssKiB / 1024)).join(" "));
    }
  }
  return figures;
}
