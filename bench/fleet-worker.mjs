// One process of the fleet simulation (bench/fleet.mjs): `count` simulated agents, each the
// project's own OpampClient from dist/ over WebSocket, with a small description, healthy
// health and a small effective config, as a supervisor reports them. Reports to the parent over
// IPC once a second: connected now, connects (wall-clock ms) since the last report, messages
// sent (and their payload bytes) and received. Started with: node fleet-worker.mjs <endpoint> <count>
// <rampPerSecond>; ends when the parent says "stop" (or the parent goes away).
import { randomBytes } from "node:crypto";
import WebSocket from "ws";
import { OpampClient } from "../dist/opamp/client.js";
import { agentCapabilityBits } from "../dist/opamp/convert.js";
import { silentLogger, systemClock } from "../dist/deps.js";

const [endpoint, countArg, rampArg] = process.argv.slice(2);
const COUNT = Number(countArg);
const RAMP_PER_S = Number(rampArg);

// Count what goes over the wire: every OpAMP message is one ws send (payload = OpAMP header +
// protobuf). The client uses this same ws module (one node_modules), so this sees all of it.
const wire = { sent: 0, sentBytes: 0, received: 0, attempts: 0 };
const errors = {}; // clientError code → count: why connects fail (refused, timeout, …)
const send = WebSocket.prototype.send;
WebSocket.prototype.send = function countedSend(data, ...rest) {
  wire.sent++;
  wire.sentBytes += data?.byteLength ?? data?.length ?? 0;
  return send.call(this, data, ...rest);
};

const deps = { clock: systemClock, random: Math.random, logger: silentLogger };
const caps = agentCapabilityBits(["reportsStatus", "reportsHealth", "reportsEffectiveConfig", "reportsHeartbeat"]);
const yaml = new TextEncoder().encode(
  "receivers:\n  otlp:\n    protocols:\n      http: {}\nexporters:\n  debug: {}\nservice:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [debug]\n",
);

const clients = [];
let connects = [];
const up = new Set();
for (let i = 0; i < COUNT; i++) {
  const client = new OpampClient({
    target: { endpoint },
    instanceUid: new Uint8Array(randomBytes(16)),
    capabilities: caps,
    deps,
  });
  // The client's domain types (src/opamp/domain.ts); it converts them to the wire itself.
  client.setStatus("agentDescription", {
    identifying: {
      "service.name": "otelcol-fleet",
      "service.instance.id": `fleet-${process.pid}-${i}`,
      "service.version": "0.149.0",
    },
    nonIdentifying: { "host.name": "fleet-sim", "os.type": "linux" },
  });
  client.setStatus("health", {
    healthy: true,
    startedAtMs: Date.now(),
    observedAtMs: Date.now(),
    status: "StatusOK",
    lastError: "",
  });
  client.setStatus("effectiveConfig", { configMap: { "": { body: yaml, contentType: "text/yaml" } } });
  client.on("state", (s) => {
    if (s.kind === "connecting") wire.attempts++;
    if (s.kind === "connected") {
      up.add(i);
      connects.push(Date.now());
    } else up.delete(i);
  });
  client.on("message", () => wire.received++);
  client.on("clientError", (err) => {
    const key = `${err.code}${err.cause?.code ? `/${err.cause.code}` : ""}`;
    errors[key] = (errors[key] ?? 0) + 1;
  });
  clients.push(client);
}

// Start `RAMP_PER_S` clients a second, evenly: 10,000 handshakes at once would measure the
// listen backlog, not the agents.
let started = 0;
const startTimer = setInterval(() => {
  const batch = Math.max(1, Math.round(RAMP_PER_S / 20));
  for (let k = 0; k < batch && started < COUNT; k++) clients[started++].start();
  if (started >= COUNT) clearInterval(startTimer);
}, 50);

const reportTimer = setInterval(() => {
  process.send?.({ type: "tick", at: Date.now(), connected: up.size, started, connects, errors, ...wire });
  connects = [];
}, 1_000);

process.on("message", (m) => {
  if (m?.type !== "stop") return;
  clearInterval(startTimer);
  clearInterval(reportTimer);
  for (const c of clients) c.destroy();
  setTimeout(() => process.exit(0), 200);
});
process.on("disconnect", () => process.exit(0));
