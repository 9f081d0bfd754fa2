// Figure 5: bytes on the wire per AgentToServer message: the first message of a connection,
// a heartbeat, a health change (crash, then healthy again) and the remote config status
// reports of one push (APPLYING, APPLIED). The test server records each message's encoded
// protobuf (`bytes`); the figure adds the 1-byte OpAMP-over-WebSocket header (0x00), so it
// is the WebSocket message payload. Not counted: the RFC 6455 frame header a client adds
// (2 bytes + 4 mask bytes below 126 bytes of payload, 4 + 4 up to 64 KiB; given as
// `wsFrameBytes`) and TCP/IP headers.
//
// The server offers a 1 s heartbeat (ConnectionSettingsOffers) so that heartbeats happen.
import { OpampTestServer } from "../.bench-build/test/support/opamp-test-server.js";
import { makeWorkspace, startSupervisor, waitForStub } from "../.bench-build/test/e2e/harness.js";
import { figure } from "./lib.mjs";
import { offerHeartbeatOnce, removeWorkspace } from "./helpers.mjs";

const HEARTBEATS = 5;
const SUB_MESSAGES = [
  "agentDescription",
  "health",
  "effectiveConfig",
  "remoteConfigStatus",
  "packageStatuses",
  "agentDisconnect",
  "connectionSettingsRequest",
  "customCapabilities",
  "customMessage",
  "availableComponents",
  "connectionSettingsStatus",
];

/** Which sub-messages a message carries (a heartbeat carries none). */
const contents = (msg) => SUB_MESSAGES.filter((k) => msg[k] !== undefined);
const payload = (r) => r.bytes.length + 1;
const wsFrame = (n) => n + (n < 126 ? 2 : n < 65536 ? 4 : 10) + 4;

export async function run() {
  const server = await OpampTestServer.start();
  offerHeartbeatOnce(server, 1);
  const ws = await makeWorkspace({ endpoint: server.wsUrl });
  const sup = startSupervisor(ws);
  const picked = []; // [label, Received[]]
  const totals = []; // [label, Received[]]: summed into one value
  try {
    await server.waitFor((r) => r.msg.health?.healthy === true, { timeoutMs: 20_000 });
    picked.push(["first message of a connection", [server.received[0]]]);
    const firstHealthy = server.received.find((r) => r.msg.health?.healthy === true);
    if (firstHealthy !== server.received[0]) picked.push(["health change: starting -> healthy", [firstHealthy]]);

    // Heartbeats: messages with no sub-message at all.
    const isHeartbeat = (r) => contents(r.msg).length === 0;
    for (let n = 0; n < HEARTBEATS; n++) {
      const ok = await server
        .waitFor((r) => server.received.filter(isHeartbeat).length > n && isHeartbeat(r), { timeoutMs: 5_000 })
        .then(
          () => true,
          () => false,
        );
      if (!ok) break; // the 1 s offer was not applied: report what came, do not fail
    }
    const heartbeats = server.received.filter(isHeartbeat).slice(0, HEARTBEATS);
    if (heartbeats.length) picked.push(["heartbeat", heartbeats]);
    else console.error("wire-bytes: no heartbeat within 5 s; the heartbeat figure is missing");

    // Health change: SIGKILL the collector; the crash report, then healthy again.
    const before = await waitForStub(ws);
    let from = server.received.length;
    process.kill(before.pid, "SIGKILL");
    // The crash report (StatusFatalError, lastError = exit + collector log tail). A probe that
    // meets the closed port first may report StatusRecoverableError just before it.
    const crash = await server.waitFor((r) => r.msg.health?.status === "StatusFatalError", { from, timeoutMs: 20_000 });
    const up = await server.waitFor((r) => r.msg.health?.healthy === true, {
      from: server.received.indexOf(crash),
      timeoutMs: 20_000,
    });
    const between = server.received.slice(from, server.received.indexOf(up) + 1).filter((r) => r.msg.health);
    const steps = between.filter((r) => r !== crash && r !== up);
    picked.push(["health change: crash (lastError)", [crash]]);
    if (steps.length) picked.push(["health change: other steps of a crash", steps]);
    picked.push(["health change: -> healthy", [up]]);
    totals.push(["one crash, all health reports (sum)", between]);

    // A remote config push: the APPLYING and APPLIED status reports.
    await waitForStub(ws);
    const hash = new Uint8Array(32).fill(0xab);
    const body = new TextEncoder().encode(
      "exporters:\n  debug/wire: {}\nservice:\n  pipelines:\n    traces:\n      exporters: [debug/wire]\n",
    );
    from = server.received.length;
    server.push({
      remoteConfig: { configHash: hash, config: { configMap: { "remote.yaml": { body, contentType: "text/yaml" } } } },
    });
    const applied = await server.waitFor((r) => r.msg.remoteConfigStatus?.status === 1, { from, timeoutMs: 30_000 });
    const statuses = server.received
      .slice(from, server.received.indexOf(applied) + 1)
      .filter((r) => r.msg.remoteConfigStatus);
    const applying = statuses.filter((r) => r.msg.remoteConfigStatus.status === 2);
    if (applying.length) picked.push(["config status: APPLYING", applying]);
    picked.push(["config status: APPLIED", [applied]]);
    totals.push([
      "one config push, all reports (sum)",
      server.received.slice(from, server.received.indexOf(applied) + 1),
    ]);

    if (process.env.BENCH_VERBOSE) {
      for (const r of server.received) {
        console.error(
          "wire",
          r.connection,
          payload(r),
          contents(r.msg).join("+") || "heartbeat",
          r.msg.health?.status ?? "",
          r.msg.remoteConfigStatus?.status ?? "",
          JSON.stringify(r.msg.health?.lastError ?? ""),
        );
      }
    }
  } finally {
    await sup.stop();
    await server.close();
    await removeWorkspace(ws);
  }
  const carries = (rs) => [...new Set(rs.map((r) => contents(r.msg).join("+") || "nothing (heartbeat)"))].join(" | ");
  return [
    ...picked.map(([label, rs]) =>
      figure(`wire: ${label}`, "bytes", rs.map(payload), {
        includesOpampHeaderByte: true,
        carries: carries(rs),
        wsFrameBytes: Math.max(...rs.map((r) => wsFrame(payload(r)))),
        protobufBytes: Math.max(...rs.map((r) => r.bytes.length)),
      }),
    ),
    ...totals.map(([label, rs]) =>
      figure(`wire: ${label}`, "bytes", [rs.reduce((n, r) => n + payload(r), 0)], {
        includesOpampHeaderByte: true,
        messages: rs.length,
        carries: carries(rs),
        wsFrameBytes: rs.reduce((n, r) => n + wsFrame(payload(r)), 0),
        healthStatuses: rs
          .map(
            (r) =>
              r.msg.health?.status ?? (r.msg.remoteConfigStatus ? `config:${r.msg.remoteConfigStatus.status}` : "-"),
          )
          .join(","),
      }),
    ),
  ];
}
