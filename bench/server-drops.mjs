// Figure: 100 server drops in a row. The test server cuts the supervisor's WebSocket (no
// close handshake) 100 times; after each drop we time the reconnect and sample the
// supervisor's RSS (/proc/<pid>/status VmRSS) and open file descriptors (/proc/<pid>/fd).
// A leak per connection shows as growth from the first samples to the last.
//
// The retry stays short: each drop comes after the connection has lived longer than the
// client's stableAfterMs (10 s), so every reconnect is the "had been fine" case (at once,
// spread over up to 500 ms) instead of the growing backoff. So 100 drops take ~17 minutes
// of mostly idle time. BENCH_DROPS (default 100), BENCH_DROP_SPACING_MS (default 10200).
import { readFile, readdir } from "node:fs/promises";
import { OpampTestServer } from "../.bench-build/test/support/opamp-test-server.js";
import { makeWorkspace, startSupervisor, waitForStub } from "../.bench-build/test/e2e/harness.js";
import { figure, median, sleep } from "./lib.mjs";

const DROPS = Number(process.env.BENCH_DROPS ?? 100);
const SPACING_MS = Number(process.env.BENCH_DROP_SPACING_MS ?? 10_200);
/** Samples averaged at each end, so one GC does not decide the growth. */
const EDGE = Math.min(10, Math.max(1, Math.floor(DROPS / 5)));

async function sample(pid) {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const rssKiB = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? NaN);
  const fds = (await readdir(`/proc/${pid}/fd`)).length;
  return { rssKiB, fds };
}

async function connected(server, connection, timeoutMs) {
  await server.waitFor((r) => r.connection === connection, { timeoutMs });
}

export async function run() {
  const server = await OpampTestServer.start();
  const ws = await makeWorkspace({ endpoint: server.wsUrl });
  const sup = startSupervisor(ws);
  const pid = sup.child.pid;
  const reconnectMs = [];
  const samples = [];
  try {
    await server.waitFor((r) => r.msg.health?.healthy === true, { timeoutMs: 20_000 });
    await waitForStub(ws, (s) => s.healthy, 20_000);
    let connection = server.received.at(-1).connection;
    samples.push(await sample(pid));
    for (let i = 0; i < DROPS; i++) {
      await sleep(SPACING_MS);
      const t0 = performance.now();
      server.dropConnections();
      connection++;
      await connected(server, connection, 30_000);
      reconnectMs.push(performance.now() - t0);
      await sleep(200); // let the first exchange on the new connection finish
      samples.push(await sample(pid));
      if ((i + 1) % 10 === 0)
        console.error(`server-drops: ${i + 1}/${DROPS}, rss ${samples.at(-1).rssKiB} KiB, fds ${samples.at(-1).fds}`);
    }
  } finally {
    await sup.stop();
    await server.close();
  }
  const avg = (list, key) => list.reduce((s, x) => s + x[key], 0) / list.length;
  const first = samples.slice(0, EDGE);
  const last = samples.slice(-EDGE);
  const extra = {
    drops: DROPS,
    spacingMs: SPACING_MS,
    rssFirstKiB: Math.round(avg(first, "rssKiB")),
    rssLastKiB: Math.round(avg(last, "rssKiB")),
    fdsFirst: median(first.map((s) => s.fds)),
    fdsLast: median(last.map((s) => s.fds)),
  };
  return [
    figure("server drop: reconnect", "ms", reconnectMs, extra),
    figure(
      "server drops: RSS growth (last vs first samples)",
      "KiB",
      [avg(last, "rssKiB") - avg(first, "rssKiB")],
      extra,
    ),
    figure("server drops: open fd growth", "fds", [extra.fdsLast - extra.fdsFirst], {
      ...extra,
      fdsMax: Math.max(...samples.map((s) => s.fds)),
    }),
  ];
}
