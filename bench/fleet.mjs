// Fleet simulation: many simulated agents (the project's own OpampClient from dist/, spread over
// several Node processes: bench/fleet-worker.mjs) against one opamp-go server
// (interop/bin/opamp-server) on loopback, at a 30 s heartbeat. Measures what our agents cost
// such a server in steady state (messages and bytes per second per agent, the server's CPU and
// memory per agent) and, after a server restart, connects per second over time (peak, time
// until all are back). Bounded: counts and every wait come from the knobs below; a timeout is
// reported (allConnected/allBack false), never thrown.
//
// BENCH_FLEET_AGENTS (10000), BENCH_FLEET_WORKERS (4), BENCH_FLEET_RAMP (1000 agents/s in
// total), BENCH_FLEET_WINDOW_S (60 s of steady state), BENCH_FLEET_TIMEOUT_S (180 s per wait).
import { fork } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { OpampServer } from "../.bench-build/test/interop/peers.js";
import { figure, sleep } from "./lib.mjs";
import { loadAverage, procSample } from "./helpers.mjs";
import { OPAMP_SERVER } from "./sbs-peers.mjs";
import { existsSync } from "node:fs";

const AGENTS = Number(process.env.BENCH_FLEET_AGENTS ?? 10_000);
const WORKERS = Math.max(1, Math.min(AGENTS, Number(process.env.BENCH_FLEET_WORKERS ?? 4)));
const RAMP = Number(process.env.BENCH_FLEET_RAMP ?? 1_000);
const WINDOW_S = Number(process.env.BENCH_FLEET_WINDOW_S ?? 60);
const TIMEOUT_S = Number(process.env.BENCH_FLEET_TIMEOUT_S ?? 180);
const HEARTBEAT_S = 30;
const PEER = "opamp-go server";

/** Open-file limit and ephemeral port range: 10,000 agents need both. */
async function limits() {
  const lim = await readFile("/proc/self/limits", "utf8");
  const m = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/m.exec(lim);
  const range = (await readFile("/proc/sys/net/ipv4/ip_local_port_range", "utf8").catch(() => "32768 60999"))
    .trim()
    .split(/\s+/)
    .map(Number);
  return { nofileSoft: m?.[1], nofileHard: m?.[2], ephemeralPorts: range[1] - range[0] + 1 };
}

/** Socket bytes a process wrote and read (syscall-level, so with WebSocket framing). */
async function ioBytes(pid) {
  const io = await readFile(`/proc/${pid}/io`, "utf8");
  const get = (k) => Number(new RegExp(`^${k}: (\\d+)`, "m").exec(io)?.[1] ?? NaN);
  return { wchar: get("wchar"), rchar: get("rchar") };
}

class Fleet {
  workers = [];
  last = new Map(); // worker index → last tick
  connects = []; // wall-clock ms of every "connected" event
  constructor(endpoint) {
    const per = Math.ceil(AGENTS / WORKERS);
    for (let w = 0, left = AGENTS; w < WORKERS; w++, left -= per) {
      const n = Math.min(per, left);
      const child = fork(join(import.meta.dirname, "fleet-worker.mjs"), [endpoint, String(n), String(RAMP / WORKERS)], {
        stdio: ["ignore", "ignore", "inherit", "ipc"],
      });
      child.on("message", (m) => {
        if (m?.type !== "tick") return;
        this.last.set(w, m);
        this.connects.push(...m.connects);
      });
      child.once("exit", (code, signal) => {
        if (!this.stopping) this.died = `a fleet worker exited (${code ?? signal})`;
      });
      this.workers.push(child);
    }
  }
  errors() {
    const total = {};
    for (const t of this.last.values())
      for (const [k, n] of Object.entries(t.errors ?? {})) total[k] = (total[k] ?? 0) + n;
    return total;
  }
  sum(key) {
    let total = 0;
    for (const t of this.last.values()) total += t[key];
    return total;
  }
  connected() {
    return this.last.size === this.workers.length ? this.sum("connected") : 0;
  }
  async io() {
    const all = await Promise.all(this.workers.map((w) => ioBytes(w.pid)));
    return { wchar: all.reduce((a, b) => a + b.wchar, 0), rchar: all.reduce((a, b) => a + b.rchar, 0) };
  }
  /** CPU seconds of all worker processes: the simulation's own cost, on the same cores as the server. */
  async cpuS() {
    return (await Promise.all(this.workers.map((w) => procSample(w.pid)))).reduce((a, b) => a + b.cpuS, 0);
  }
  async rssKiB() {
    return (await Promise.all(this.workers.map((w) => procSample(w.pid)))).reduce((a, b) => a + b.rssKiB, 0);
  }
  async stop() {
    this.stopping = true;
    for (const w of this.workers) if (w.connected) w.send({ type: "stop" });
    await Promise.race([
      Promise.all(this.workers.map((w) => new Promise((r) => (w.exitCode !== null ? r() : w.once("exit", r))))),
      sleep(5_000),
    ]);
    for (const w of this.workers) if (w.exitCode === null) w.kill("SIGKILL");
  }
}

async function waitFor(check, timeoutS) {
  const deadline = performance.now() + timeoutS * 1000;
  while (performance.now() < deadline) {
    if (await check()) return true;
    await sleep(250);
  }
  return false;
}

export async function run() {
  if (!existsSync(OPAMP_SERVER)) {
    console.error("fleet: skipped: interop/bin/opamp-server is missing (npm run interop:build)");
    return [];
  }
  const lim = await limits();
  const per = Math.ceil(AGENTS / WORKERS);
  if (Number(lim.nofileSoft) < per + 100 || Number(lim.nofileHard) < AGENTS + 100) {
    console.error(
      `fleet: warning: open-file limit ${lim.nofileSoft}/${lim.nofileHard} is low for ${AGENTS} agents in ${WORKERS} processes`,
    );
  }
  if (AGENTS * 2 > lim.ephemeralPorts)
    console.error(
      `fleet: warning: ${lim.ephemeralPorts} ephemeral ports for ${AGENTS} agents (a restart needs new ports while old ones sit in TIME_WAIT)`,
    );
  const loadBefore = await loadAverage();
  let server = await OpampServer.start({ heartbeatSeconds: HEARTBEAT_S });
  const listen = server.opampAddr;
  await sleep(500);
  const serverEmpty = await procSample(server.child.pid);
  const t0 = performance.now();
  const fleet = new Fleet(server.wsUrl);
  const figures = [];
  try {
    const allConnected = await waitFor(() => fleet.died || fleet.connected() >= AGENTS, TIMEOUT_S);
    if (fleet.died) {
      console.error(`fleet: stopped: ${fleet.died}`);
      return [];
    }
    const rampS = (performance.now() - t0) / 1000;
    console.error(`fleet: ${fleet.connected()}/${AGENTS} connected after ${rampS.toFixed(1)} s`);
    await sleep(5_000); // the first reports of the last agents, and their answers

    // Steady state: a window of heartbeats only.
    const s0 = {
      srv: await procSample(server.child.pid),
      io: await fleet.io(),
      sent: fleet.sum("sent"),
      bytes: fleet.sum("sentBytes"),
      recv: fleet.sum("received"),
      at: performance.now(),
    };
    await sleep(WINDOW_S * 1000);
    const s1 = {
      srv: await procSample(server.child.pid),
      io: await fleet.io(),
      sent: fleet.sum("sent"),
      bytes: fleet.sum("sentBytes"),
      recv: fleet.sum("received"),
      at: performance.now(),
    };
    const secs = (s1.at - s0.at) / 1000;
    const n = fleet.connected();
    // Per 1000 agents: a heartbeat every 30 s is 0.033 msg/s per agent, too small for two decimals.
    const per1000PerS = (d) => (d / secs / n) * 1000;
    const clientRss = await fleet.rssKiB();
    const base = {
      peer: PEER,
      agents: AGENTS,
      connectedInWindow: n,
      workers: WORKERS,
      heartbeatS: HEARTBEAT_S,
      windowS: Math.round(secs),
      allConnected,
      rampS: Math.round(rampS * 10) / 10,
      loadBefore,
      ...lim,
    };
    figures.push(
      figure(`fleet: agents connected (of ${AGENTS})`, "agents", [n], base),
      figure(
        "fleet: agent → server messages per second, per 1000 agents",
        "msg/s",
        [per1000PerS(s1.sent - s0.sent)],
        base,
      ),
      figure(
        "fleet: server → agent messages per second, per 1000 agents",
        "msg/s",
        [per1000PerS(s1.recv - s0.recv)],
        base,
      ),
      figure(
        "fleet: agent → server payload bytes per second, per 1000 agents",
        "B/s",
        [per1000PerS(s1.bytes - s0.bytes)],
        base,
      ),
      figure(
        "fleet: agents' socket bytes written per second, per 1000 agents (ws framing, IPC)",
        "B/s",
        [per1000PerS(s1.io.wchar - s0.io.wchar)],
        base,
      ),
      figure(
        "fleet: agents' socket bytes read per second, per 1000 agents (ws framing, IPC)",
        "B/s",
        [per1000PerS(s1.io.rchar - s0.io.rchar)],
        base,
      ),
      figure("fleet: server CPU at steady state", "% core", [((s1.srv.cpuS - s0.srv.cpuS) / secs) * 100], base),
      figure(
        "fleet: server CPU at steady state, per 1000 agents",
        "% core",
        [((s1.srv.cpuS - s0.srv.cpuS) / secs) * 100 * (1000 / n)],
        base,
      ),
      figure("fleet: server RSS with all agents", "MiB", [s1.srv.rssKiB / 1024], {
        ...base,
        serverEmptyMiB: Math.round(serverEmpty.rssKiB / 102.4) / 10,
      }),
      figure(
        "fleet: server memory per agent (RSS over empty)",
        "KiB",
        [(s1.srv.rssKiB - serverEmpty.rssKiB) / n],
        base,
      ),
      figure("fleet: simulated agents' RSS per agent (client side)", "KiB", [clientRss / n], base),
    );

    // Server restart: stop it (every connection drops), start it again on the same port.
    const connectsBefore = fleet.connects.length;
    const attemptsBefore = fleet.sum("attempts");
    const errorsBefore = fleet.errors();
    const tDown = Date.now();
    await server.stop();
    server = await OpampServer.start({ listen, heartbeatSeconds: HEARTBEAT_S });
    const tUp = Date.now();
    const cpuUp = await procSample(server.child.pid);
    const agentsCpuUp = await fleet.cpuS();
    const allBack = await waitFor(
      () => fleet.connects.length - connectsBefore >= n && fleet.connected() >= n,
      TIMEOUT_S,
    );
    await sleep(1_500); // the last ticks
    const back = fleet.connects
      .slice(connectsBefore)
      .filter((t) => t >= tDown)
      .map((t) => t - tUp);
    const cpuBack = await procSample(server.child.pid);
    const agentsCpuBack = await fleet.cpuS();
    const histogram = [];
    for (const t of back)
      histogram[Math.max(0, Math.floor(t / 1000))] = (histogram[Math.max(0, Math.floor(t / 1000))] ?? 0) + 1;
    const perSecond = Array.from(histogram, (x) => x ?? 0);
    const errorsAfter = fleet.errors();
    const errorsDuring = Object.fromEntries(
      Object.entries(errorsAfter)
        .map(([k, v]) => [k, v - (errorsBefore[k] ?? 0)])
        .filter(([, v]) => v > 0),
    );
    const r = {
      ...base,
      allBack,
      downMs: tUp - tDown,
      reconnects: back.length,
      connectAttempts: fleet.sum("attempts") - attemptsBefore,
      errorsDuring,
      connectsPerSecondFromServerBack: perSecond,
      loadAfter: await loadAverage(),
    };
    figures.push(
      figure("fleet restart: connects in the busiest second", "conn/s", [Math.max(0, ...perSecond)], r),
      figure(
        "fleet restart: time from server back until all are back",
        "s",
        [back.length ? Math.max(...back) / 1000 : NaN],
        r,
      ),
      figure(
        "fleet restart: median agent back after",
        "s",
        back.map((t) => t / 1000),
        r,
      ),
      figure(
        "fleet restart: server CPU until all back",
        "% core",
        [((cpuBack.cpuS - cpuUp.cpuS) / ((cpuBack.at - cpuUp.at) / 1000)) * 100],
        r,
      ),
      // When this is near the machine's cores, the simulation (not the agents' backoff nor the
      // server) sets how fast everyone is back: real agents do not share the server's cores.
      figure(
        "fleet restart: simulated agents' CPU until all back (all workers)",
        "% core",
        [((agentsCpuBack - agentsCpuUp) / ((cpuBack.at - cpuUp.at) / 1000)) * 100],
        r,
      ),
    );
  } finally {
    await fleet.stop();
    await server.stop();
  }
  return figures;
}
