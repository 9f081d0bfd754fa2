// Figure 6: reconnect behaviour: 200 of our OpampClient (real clock, Math.random) in this one
// process, connected over WebSocket to one test server that goes away (all connections cut,
// port closed) and comes back on the same port after a downtime. For each downtime we report
// when clients are connected again, counted from the server coming back: the median and
// the time until all are back, the most reconnects in any one second (sliding window), a
// histogram per second, and how many connect attempts hit the closed port meanwhile.
//
// Each round starts after the clients have been connected longer than the client's
// stableAfterMs (10 s), so every round sees the same backoff state: "connection had been
// fine", i.e. an immediate first retry, then 500 ms × 1.5^n with ±50 % jitter.
//
// BENCH_CLIENTS (default 200), BENCH_DOWNTIMES_MS (default "0,1000,5000").
import { OpampTestServer } from "../.bench-build/test/support/opamp-test-server.js";
import { OpampClient } from "../.bench-build/src/opamp/client.js";
import { silentLogger, systemClock } from "../.bench-build/src/deps.js";
import { randomBytes } from "node:crypto";
import { figure, sleep } from "./lib.mjs";
import { loadAverage } from "./helpers.mjs";

const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 200);
const DOWNTIMES = (process.env.BENCH_DOWNTIMES_MS ?? "0,1000,5000").split(",").map(Number);
const STABLE_MS = 10_000; // the client's default stableAfterMs
const ROUND_TIMEOUT_MS = 60_000;

async function waitUntil(check, timeoutMs) {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) return false;
    await sleep(10);
  }
  return true;
}

/** Most events within any window of `ms` (sliding over the event times). */
function busiest(times, ms = 1000) {
  const t = [...times].sort((a, b) => a - b);
  let best = 0;
  for (let i = 0, j = 0; i < t.length; i++) {
    while (t[i] - t[j] >= ms) j++;
    best = Math.max(best, i - j + 1);
  }
  return best;
}

export async function run() {
  let server = await OpampTestServer.start();
  const port = server.port;
  const endpoint = server.wsUrl;
  const deps = { clock: systemClock, random: Math.random, logger: silentLogger };
  const clients = [];
  // Per client: when it last became connected, and connect attempts (state "connecting").
  const connectedAt = new Array(CLIENTS).fill(NaN);
  const attempts = new Array(CLIENTS).fill(0);
  for (let i = 0; i < CLIENTS; i++) {
    const client = new OpampClient({
      target: { endpoint },
      instanceUid: new Uint8Array(randomBytes(16)),
      capabilities: 1n,
      deps,
    });
    client.on("state", (s) => {
      if (s.kind === "connected") connectedAt[i] = performance.now();
      if (s.kind === "connecting") attempts[i]++;
    });
    client.on("clientError", () => {});
    clients.push(client);
  }
  const connected = () => clients.filter((c) => c.state.kind === "connected").length;
  const figures = [];
  try {
    const t0 = performance.now();
    for (const c of clients) c.start();
    await waitUntil(() => connected() === CLIENTS && server.openSockets === CLIENTS, ROUND_TIMEOUT_MS);
    const initial = connectedAt.map((t) => t - t0);
    figures.push(
      figure(`reconnect: ${CLIENTS} clients, first connect from start()`, "ms", initial, {
        peer: "test server",
        clients: CLIENTS,
      }),
    );

    for (const downMs of DOWNTIMES) {
      // Everyone connected for longer than stableAfterMs, so every client starts from the same state.
      const newest = Math.max(...connectedAt);
      await sleep(Math.max(0, newest + STABLE_MS + 500 - performance.now()));
      attempts.fill(0);
      const tDown = performance.now();
      await server.close(); // cuts every connection and closes the port
      await sleep(Math.max(0, tDown + downMs - performance.now()));
      const attemptsWhileDown = attempts.reduce((a, b) => a + b, 0);
      server = await OpampTestServer.start({ port });
      const tUp = performance.now();
      const allBack = await waitUntil(() => connected() === CLIENTS, ROUND_TIMEOUT_MS);
      await waitUntil(() => server.received.length >= CLIENTS, 5_000);
      const attemptsTotal = attempts.reduce((a, b) => a + b, 0);
      const back = connectedAt.map((t) => t - tUp).filter((t) => t >= 0);
      const histogram = [];
      for (const t of back) histogram[Math.floor(t / 1000)] = (histogram[Math.floor(t / 1000)] ?? 0) + 1;
      const extra = {
        peer: "test server",
        clients: CLIENTS,
        downtimeMs: downMs,
        actualDowntimeMs: Math.round(tUp - tDown),
        allBack,
        firstMessages: new Set(server.received.map((r) => Buffer.from(r.msg.instanceUid).toString("hex"))).size,
        perSecondFromServerBack: Array.from(histogram, (n) => n ?? 0),
        load: await loadAverage(),
      };
      figures.push(
        figure(`reconnect after ${downMs / 1000} s down: time from server back`, "ms", back, extra),
        figure(`  busiest second (${downMs / 1000} s down)`, "clients", [busiest(back)], extra),
        figure(`  connect attempts while down (${downMs / 1000} s down)`, "attempts", [attemptsWhileDown], extra),
        figure(`  connect attempts until all back (${downMs / 1000} s down)`, "attempts", [attemptsTotal], extra),
      );
      if (process.env.BENCH_VERBOSE) console.error("reconnect", downMs, extra);
    }
  } finally {
    for (const c of clients) c.destroy();
    await server.close();
  }
  return figures;
}
