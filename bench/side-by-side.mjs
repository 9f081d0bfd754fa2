// Side by side with the official Go supervisor (opampsupervisor v0.149.0): both supervisors,
// interleaved round by round, drive the same real collector (interop/bin/otelcol-gopeer)
// through the same opamp-go server (interop/bin/opamp-server). Every time is taken on the
// server's clock where the server sees the event (a message's arrival), from the moment the
// benchmark acts (spawn, push as the server sent it, command, kill). Loopback only; bounded
// counts; a run without a value (timeout, or FAILED where APPLIED was due) is counted in
// `misses` in the JSON and in the table's peer column, never thrown.
//
// Knobs: BENCH_SBS_ROUNDS (5) rounds; BENCH_SBS_PUSHES (3) pushes per session;
// BENCH_SBS_SCENARIOS (all: "defaults,tuned,idle,launches") picks sessions;
// BENCH_SBS_IDLE_S (60) seconds of idle sampling per side (CPU is
// counted in 10 ms ticks: 60 s resolve 0.017 % of a core), after BENCH_SBS_SETTLE_S (30)
// seconds from the first healthy report, whose CPU is a figure of its own (work that outlasts
// the start, such as V8's compiles and collections after it); BENCH_VERBOSE=1 prints each value.
import { createServer } from "node:net";
import { OpampServer, markedRemote } from "../.bench-build/test/interop/peers.js";
import { figure, sleep } from "./lib.mjs";
import { loadAverage, procSample } from "./helpers.mjs";
import {
  OURS_VARIANT,
  childrenOf,
  launches,
  makeSide,
  missingBinaries,
  removeSide,
  serverTime,
  startSide,
  stopSide,
  wallNow,
} from "./sbs-peers.mjs";

const ROUNDS = Number(process.env.BENCH_SBS_ROUNDS ?? 5);
const PUSHES = Number(process.env.BENCH_SBS_PUSHES ?? 3);
const IDLE_S = Number(process.env.BENCH_SBS_IDLE_S ?? 60);
const SETTLE_S = Number(process.env.BENCH_SBS_SETTLE_S ?? 30);
const SCENARIOS = new Set((process.env.BENCH_SBS_SCENARIOS ?? "defaults,tuned,idle,launches").split(","));
const TIMEOUT_MS = 30_000;
const SIDES = ["ours", "go"];
const PEER = "otelcol-gopeer 0.149.0";

/** Waits for the first message of `uid` after `afterSeq` that `match`es; undefined on timeout. */
async function waitMessage(server, uid, afterSeq, match, timeoutMs = TIMEOUT_MS) {
  const deadline = performance.now() + timeoutMs;
  let after = afterSeq;
  while (performance.now() < deadline) {
    for (const rec of await server.messages(uid, after)) {
      after = rec.seq;
      if (match(rec.message)) return rec;
    }
    await sleep(15);
  }
  return undefined;
}

const healthy = (m) => m.health?.healthy === true;
const startedAfter = (t0) => (m) =>
  healthy(m) && Number(BigInt(m.health.start_time_unix_nano ?? "0") / 1_000_000n) >= Math.floor(t0);
const hexToB64 = (hex) => Buffer.from(hex, "hex").toString("base64");
const configStatus = (hash) => (m) => {
  const s = m.remote_config_status;
  return s?.last_remote_config_hash === hexToB64(hash) && /_(APPLIED|FAILED)$/.test(String(s.status))
    ? s.status.replace(/^.*_/, "")
    : undefined;
};

class Samples {
  values = new Map();
  timeouts = new Map();
  /** `miss`: why there is no value ("timeout", or the status that came instead, e.g. "FAILED"). */
  add(key, side, value, miss = "timeout") {
    const k = `${key}\u0000${side}`;
    if (!this.values.has(k)) this.values.set(k, []);
    if (Number.isFinite(value)) this.values.get(k).push(value);
    else {
      const counts = this.timeouts.get(k) ?? {};
      counts[miss] = (counts[miss] ?? 0) + 1;
      this.timeouts.set(k, counts);
    }
    if (process.env.BENCH_VERBOSE)
      console.error(`side-by-side ${side} ${key}: ${Number.isFinite(value) ? value.toFixed(1) : miss}`);
  }
  get(key, side) {
    return this.values.get(`${key}\u0000${side}`) ?? [];
  }
  missesOf(key, side) {
    return this.timeouts.get(`${key}\u0000${side}`) ?? {};
  }
}

/** Spawns a side's supervisor; the figure is spawn → first healthy report at the server. */
async function launch(server, ws) {
  const seq = await server.lastSeq();
  const run = startSide(ws);
  const rec = await waitMessage(server, ws.uid, seq, healthy);
  if (!rec)
    console.error(
      `side-by-side: ${ws.side}: no healthy report ${TIMEOUT_MS} ms after launch; its output ends:\n${run.output.join("").slice(-3000)}`,
    );
  return { run, ms: rec ? serverTime(rec.time) - run.t0 : NaN };
}

/** One push; push (server clock) → APPLIED or FAILED for its hash (server clock). */
async function push(server, ws, files, want) {
  const seq = await server.lastSeq();
  const pushed = await server.pushTimed(ws.uid, files);
  const match = configStatus(pushed.hash);
  const rec = await waitMessage(server, ws.uid, seq, (m) => match(m) !== undefined);
  const status = rec ? configStatus(pushed.hash)(rec.message) : "timeout";
  return { status, ms: rec && status === want ? serverTime(rec.time) - serverTime(pushed.time) : NaN };
}

let markers = 0;
const marker = () => `m${Date.now().toString(36)}${(markers++).toString(36)}`;

async function collectorPid(run) {
  for (let i = 0; i < 200; i++) {
    const [pid] = await childrenOf(run.child.pid);
    if (pid) return pid;
    await sleep(25);
  }
  return undefined;
}

/** Defaults session: launch, pushes, bad config, restart command, SIGKILL. */
async function defaultsSession(server, side, s, busyPort) {
  const ws = await makeSide(side, { endpoint: server.wsUrl });
  const { run, ms } = await launch(server, ws);
  s.add("launch", side, ms);
  try {
    if (!Number.isFinite(ms)) return;
    for (let i = 0; i < PUSHES; i++) {
      const r = await push(server, ws, { "bench.yaml": markedRemote(marker()) }, "APPLIED");
      s.add("push", side, r.ms, r.status);
      await sleep(200);
    }
    const bad = await push(
      server,
      ws,
      {
        "bench.yaml": `${markedRemote(marker())}receivers:\n  otlp:\n    protocols:\n      http:\n        endpoint: 127.0.0.1:${busyPort}\n`,
      },
      "FAILED",
    );
    s.add("bad", side, bad.ms, bad.status);
    // Back to a good config before the next scenario (the Go supervisor keeps restarting the
    // failing one every 5 s; ours has rolled back already).
    await push(server, ws, { "bench.yaml": markedRemote(marker()) }, "APPLIED");
    await sleep(300);

    let seq = await server.lastSeq();
    const t0 = wallNow();
    await server.restart(ws.uid);
    const restarted = await waitMessage(server, ws.uid, seq, startedAfter(t0));
    s.add("restart", side, restarted ? serverTime(restarted.time) - t0 : NaN);
    await sleep(300);

    const pid = await collectorPid(run);
    seq = await server.lastSeq();
    const t1 = wallNow();
    if (pid) process.kill(pid, "SIGKILL");
    const back = pid ? await waitMessage(server, ws.uid, seq, startedAfter(t1)) : undefined;
    s.add("crash", side, back ? serverTime(back.time) - t1 : NaN);
  } finally {
    await stopSide(run);
    await removeSide(ws);
  }
}

/** Tuned session: launch, then pushes with ours at 50 ms probes and Go at a 100 ms apply timeout. */
async function tunedSession(server, side, s) {
  const ws = await makeSide(side, { endpoint: server.wsUrl, tuned: true });
  const { run, ms } = await launch(server, ws);
  s.add("launch tuned", side, ms);
  try {
    if (!Number.isFinite(ms)) return;
    for (let i = 0; i < PUSHES; i++) {
      const r = await push(server, ws, { "bench.yaml": markedRemote(marker()) }, "APPLIED");
      s.add("push tuned", side, r.ms, r.status);
      await sleep(200);
    }
  } finally {
    await stopSide(run);
    await removeSide(ws);
  }
}

/** Idle footprint of the supervisor process alone (not its collector), at defaults. */
async function idleSession(server, side, s) {
  const ws = await makeSide(side, { endpoint: server.wsUrl });
  const { run, ms } = await launch(server, ws);
  try {
    if (!Number.isFinite(ms)) return;
    const launched = await procSample(run.child.pid);
    await sleep(SETTLE_S * 1_000);
    const first = await procSample(run.child.pid);
    s.add("settle cpu", side, ((first.cpuS - launched.cpuS) / ((first.at - launched.at) / 1000)) * 100);
    for (let i = 0; i < IDLE_S; i++) {
      await sleep(1_000);
      s.add("idle rss", side, (await procSample(run.child.pid)).rssKiB / 1024);
    }
    const last = await procSample(run.child.pid);
    s.add("idle cpu", side, ((last.cpuS - first.cpuS) / ((last.at - first.at) / 1000)) * 100);
    s.add("idle hwm", side, last.hwmKiB / 1024);
  } finally {
    await stopSide(run);
    await removeSide(ws);
  }
}

/** Collector launches from a supervisor start until it is healthy (+2 s), for one push, and per restart on the same state. */
async function launchCount(server, side, s) {
  const ws = await makeSide(side, { endpoint: server.wsUrl, countLaunches: true });
  let { run, ms } = await launch(server, ws);
  try {
    if (!Number.isFinite(ms)) return;
    await sleep(2_000);
    const atStart = await launches(ws);
    s.add("launches", side, atStart.length);
    s.kinds = { ...s.kinds, [side]: atStart.map((a) => a.replace(/--config \S+/, "--config <effective>")) };
    const r = await push(server, ws, { "bench.yaml": markedRemote(marker()) }, "APPLIED");
    await sleep(500);
    s.add("launches push", side, Number.isFinite(r.ms) ? (await launches(ws)).length - atStart.length : NaN);
    // Restarts of the supervisor on the state its earlier start left (systemctl restart, a reboot).
    for (let i = 0; i < ROUNDS; i++) {
      await stopSide(run);
      const before = (await launches(ws)).length;
      ({ run, ms } = await launch(server, ws));
      s.add("launch again", side, ms);
      if (!Number.isFinite(ms)) return;
      await sleep(1_000);
      s.add("launches again", side, (await launches(ws)).length - before);
    }
  } finally {
    await stopSide(run);
    await removeSide(ws);
  }
}

const FIGURES = [
  ["launch", "launch → first healthy report at the server", "ms"],
  ["launch tuned", "launch → first healthy report (tuned settings)", "ms"],
  ["push", "push → APPLIED at each side's defaults", "ms"],
  ["push tuned", "push → APPLIED tuned (ours 50ms probes; Go 100ms apply timeout)", "ms"],
  ["bad", "bad config (port in use) → FAILED", "ms"],
  ["restart", "restart command → healthy", "ms"],
  ["crash", "collector SIGKILL → healthy again", "ms"],
  ["idle rss", "idle RSS, supervisor alone (1/s)", "MiB"],
  ["idle hwm", "peak RSS since start (VmHWM), supervisor alone", "MiB"],
  ["settle cpu", "CPU in the settle period after the first healthy report, supervisor alone", "% core"],
  ["idle cpu", "idle CPU after the settle period, supervisor alone", "% core"],
  ["launch again", "launch → first healthy, restarted on its own earlier state", "ms"],
  ["launches", "collector launches per supervisor start", "runs"],
  ["launches again", "collector launches per supervisor restart on its earlier state", "runs"],
  ["launches push", "collector launches per config push", "runs"],
];

export async function run() {
  const missing = missingBinaries();
  if (missing) {
    console.error(`side-by-side: skipped: ${missing}`);
    return [];
  }
  const startedAt = Date.now();
  const loadBefore = await loadAverage();
  const busy = createServer();
  await new Promise((r) => busy.listen(0, "127.0.0.1", r));
  const busyPort = busy.address().port;
  const server = await OpampServer.start();
  const s = new Samples();
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? SIDES : [...SIDES].reverse();
      if (SCENARIOS.has("defaults")) for (const side of order) await defaultsSession(server, side, s, busyPort);
      if (SCENARIOS.has("tuned")) for (const side of order) await tunedSession(server, side, s);
      console.error(
        `side-by-side: round ${round + 1}/${ROUNDS} done (${Math.round((Date.now() - startedAt) / 1000)} s)`,
      );
    }
    if (SCENARIOS.has("idle")) for (const side of SIDES) await idleSession(server, side, s);
    if (SCENARIOS.has("launches")) for (const side of SIDES) await launchCount(server, side, s);
  } finally {
    await server.stop();
    await new Promise((r) => busy.close(r));
  }
  const extra = {
    ours: OURS_VARIANT,
    rounds: ROUNDS,
    pushes: PUSHES,
    idleSeconds: IDLE_S,
    settleSeconds: SETTLE_S,
    loadBefore,
    loadAfter: await loadAverage(),
    seconds: Math.round((Date.now() - startedAt) / 1000),
  };
  const out = [];
  for (const [key, name, unit] of FIGURES) {
    const ours = s.get(key, "ours");
    const go = s.get(key, "go");
    if (ours.length === 0 && go.length === 0) continue;
    const timeouts = (side) => ({ misses: s.missesOf(key, side) });
    const missNote = (side) =>
      Object.entries(s.missesOf(key, side))
        .map(([why, n]) => ` [${n} ${why}]`)
        .join("");
    const fo = figure(`${name}: ours`, unit, ours, {
      ...extra,
      ...timeouts("ours"),
      peer: `ours, ${PEER}${missNote("ours")}`,
      ...(key === "launches" ? { kinds: s.kinds?.ours } : {}),
    });
    const fg = figure(`${name}: Go`, unit, go, {
      ...extra,
      ...timeouts("go"),
      peer: `Go v0.149.0, ${PEER}${missNote("go")}`,
      ...(key === "launches" ? { kinds: s.kinds?.go } : {}),
    });
    // No ratio against a zero (e.g. the Go side used no CPU tick in the window): null.
    const ratio = (a, b) => (b > 0 ? Math.round((a / b) * 100) / 100 : null);
    out.push(fo, fg, {
      name: `${name}: ratio ours/Go`,
      unit: "×",
      median: ratio(fo.median, fg.median),
      p99: ratio(fo.p99, fg.p99),
      max: ratio(fo.max, fg.max),
      runs: Math.min(fo.runs, fg.runs),
      peer: "ours / Go",
    });
  }
  return out;
}
