/**
 * Own-telemetry offers end to end (built CLI, stub collector): the server chooses where the
 * collector's own metrics and logs go; they arrive there with the offered header, the
 * server hears one ConnectionSettingsStatus, and the settings outlive a restart. An offer
 * that cannot work is refused, or rolled back, without losing the running collector.
 */
import { createServer } from "node:http";
import type { IncomingHttpHeaders, Server } from "node:http";
import type { AddressInfo } from "node:net";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ConnectionSettingsStatuses } from "../../src/gen/opamp_pb.js";
import type { Received, Reply } from "../support/opamp-test-server.js";
import { eventually } from "../support/eventually.js";
import { makeWorkspace, stubState, waitForStub } from "./harness.js";
import type { Workspace } from "./harness.js";
import { perTest } from "./per-test.js";

const S = ConnectionSettingsStatuses;
const SECRET = "own-telemetry-token-e2e";
const t = perTest();

interface Export {
  path: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** An OTLP/HTTP endpoint that records what is posted to it. */
async function otlpReceiver(): Promise<{ url: string; exports: Export[]; server: Server }> {
  const exports: Export[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      exports.push({ path: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks) });
      res.writeHead(200, { "content-type": "application/x-protobuf" }).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, exports, server };
}

const receivers: Server[] = [];
afterEach(async () => {
  for (const server of receivers.splice(0)) await new Promise((r) => server.close(r));
});

function ownTelemetryWorkspace(): Promise<Workspace> {
  return makeWorkspace({
    endpoint: t.server.wsUrl,
    capabilities: [
      "reports_own_metrics",
      "reports_own_logs",
      "reports_own_traces",
      "reports_connection_settings_status",
    ],
  });
}

const status =
  (hash: string, value: ConnectionSettingsStatuses) =>
  (r: Received): boolean =>
    r.msg.connectionSettingsStatus?.status === value &&
    Buffer.from(r.msg.connectionSettingsStatus.lastConnectionSettingsHash).toString("hex") === hash;

function offer(hash: string, own: NonNullable<Reply["connectionSettings"]>): Reply {
  return { connectionSettings: { ...own, hash: Buffer.from(hash, "hex") } };
}

const uuidText = (bytes: Uint8Array): string =>
  Buffer.from(bytes)
    .toString("hex")
    .replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, "$1-$2-$3-$4-$5");

describe("own telemetry offers (built CLI)", () => {
  it("sends the collector's own metrics and logs where the server says, with the offered header, and keeps it across a restart", async () => {
    const rx = await otlpReceiver();
    receivers.push(rx.server);
    const ws = await ownTelemetryWorkspace();
    const first = t.launch(ws);
    const hello = await t.server.waitFor((r) => r.msg.health?.healthy === true, { timeoutMs: 15_000 });
    const uid = uuidText(hello.msg.instanceUid);
    const headers = { headers: [{ key: "X-Token", value: SECRET }] };
    t.server.push(
      offer("07e1", {
        ownMetrics: { destinationEndpoint: `${rx.url}/v1/metrics`, headers },
        ownLogs: { destinationEndpoint: `${rx.url}/v1/logs`, headers },
        ownTraces: { destinationEndpoint: `${rx.url}/v1/traces` },
      }),
    );
    await t.server.waitFor(status("07e1", S.ConnectionSettingsStatuses_APPLIED), { timeoutMs: 15_000 });
    // The collector runs with all three destinations (the stub has no spans of its own to send).
    const runs = await waitForStub(ws);
    const telemetry = (runs.config.service as { telemetry: Record<string, unknown> }).telemetry;
    expect(JSON.stringify(telemetry.traces)).toContain(`${rx.url}/v1/traces`);
    expect(JSON.stringify(telemetry.logs)).toContain(`${rx.url}/v1/logs`);

    const metrics = await eventually(() => rx.exports.find((e) => e.path === "/v1/metrics"), 10_000, "own metrics");
    expect(metrics.headers["x-token"]).toBe(SECRET);
    expect(metrics.headers["content-type"]).toBe("application/x-protobuf");
    expect(metrics.body.includes("otelcol_process_uptime")).toBe(true);
    // The agent's instance uid is in the resource: the server can tell whose metrics these are.
    expect(metrics.body.includes(uid)).toBe(true);
    await eventually(() => rx.exports.find((e) => e.path === "/v1/logs"), 10_000, "own logs");

    // The reported effective config names the destination but not the credential.
    const effective = await t.server.waitFor(
      (r) => Buffer.from(r.msg.effectiveConfig?.configMap?.configMap[""]?.body ?? []).includes("/v1/metrics"),
      { timeoutMs: 5_000 },
    );
    const reported = Buffer.from(effective.msg.effectiveConfig?.configMap?.configMap[""]?.body ?? []).toString();
    expect(reported).toContain("[masked]");
    expect(reported).not.toContain(SECRET);
    expect((await first.stop()).code).toBe(0);

    // A restart runs the collector with the kept settings and reports the same status.
    const before = rx.exports.length;
    const received = t.server.received.length;
    const second = t.launch(ws);
    const again = await t.server.waitFor(() => true, { from: received, timeoutMs: 15_000 });
    expect(status("07e1", S.ConnectionSettingsStatuses_APPLIED)(again)).toBe(true);
    await eventually(() => rx.exports.slice(before).find((e) => e.path === "/v1/metrics"), 10_000, "metrics again");
    expect((await second.stop()).code).toBe(0);
    const logs = JSON.stringify([...first.logs, ...second.logs]) + first.stderr.join("") + second.stderr.join("");
    expect(logs).toContain("own telemetry settings applied");
    expect(logs).not.toContain(SECRET);
    const audit = await readFile(join(ws.stateDir, "audit.log"), "utf8");
    expect(audit).toContain('"action":"own-telemetry-applied"');
    expect(audit).not.toContain(SECRET);
  });

  it("refuses an endpoint the collector's exporter cannot use with the reason, and leaves the collector as it was", async () => {
    const ws = await ownTelemetryWorkspace();
    t.launch(ws);
    await t.server.waitFor((r) => r.msg.health?.healthy === true, { timeoutMs: 15_000 });
    const running = await waitForStub(ws);
    t.server.push(offer("0bad", { ownMetrics: { destinationEndpoint: "ftp://127.0.0.1/v1/metrics" } }));
    const failed = await t.server.waitFor(status("0bad", S.ConnectionSettingsStatuses_FAILED), { timeoutMs: 15_000 });
    expect(failed.msg.connectionSettingsStatus?.errorMessage).toMatch(
      /^own_metrics: the endpoint must be http:\/\/ or https:\/\//,
    );
    const now = await stubState(ws);
    expect(now?.pid).toBe(running.pid);
    expect(now?.configHash).toBe(running.configHash);
  });

  it("rolls back when the collector cannot start with the offered settings, and keeps the ones in force", async () => {
    const rx = await otlpReceiver();
    receivers.push(rx.server);
    const ws = await ownTelemetryWorkspace();
    t.launch(ws);
    await t.server.waitFor((r) => r.msg.health?.healthy === true, { timeoutMs: 15_000 });
    t.server.push(offer("0001", { ownMetrics: { destinationEndpoint: `${rx.url}/v1/metrics` } }));
    await t.server.waitFor(status("0001", S.ConnectionSettingsStatuses_APPLIED), { timeoutMs: 15_000 });
    const good = await waitForStub(ws, (s) => s.healthy && JSON.stringify(s.config).includes("/v1/metrics"));

    // PEM-shaped but no certificate inside: only the collector finds out, when it starts.
    const notACert = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    t.server.push(
      offer("0002", {
        ownMetrics: {
          destinationEndpoint: "https://127.0.0.1:1/v1/metrics",
          certificate: { cert: new Uint8Array(), privateKey: new Uint8Array(), caCert: Buffer.from(notACert) },
        },
      }),
    );
    const failed = await t.server.waitFor(status("0002", S.ConnectionSettingsStatuses_FAILED), { timeoutMs: 20_000 });
    expect(failed.msg.connectionSettingsStatus?.errorMessage).toContain(
      "could not create certificate authority chain from certificate",
    );
    const back = await waitForStub(ws, (s) => s.healthy && s.pid !== good.pid, 15_000);
    expect(back.configHash).toBe(good.configHash);
    const stored = JSON.parse(await readFile(join(ws.stateDir, "own-telemetry.json"), "utf8")) as { hash: string };
    expect(stored.hash).toBe("0001");
  });

  it("answers FAILED naming the capability when own telemetry is offered to an agent that does not report it", async () => {
    const ws = await makeWorkspace({ endpoint: t.server.wsUrl, capabilities: ["reports_connection_settings_status"] });
    t.launch(ws);
    await t.server.waitFor((r) => r.msg.health?.healthy === true, { timeoutMs: 15_000 });
    t.server.push(offer("0ff0", { ownTraces: { destinationEndpoint: "http://127.0.0.1:1/v1/traces" } }));
    const failed = await t.server.waitFor(status("0ff0", S.ConnectionSettingsStatuses_FAILED), { timeoutMs: 15_000 });
    expect(failed.msg.connectionSettingsStatus?.errorMessage).toContain(
      "own_traces (capabilities.reports_own_traces is false)",
    );
  });

  it("says so when its kept settings are damaged, runs without them, and takes the same offer again", async () => {
    const rx = await otlpReceiver();
    receivers.push(rx.server);
    const ws = await ownTelemetryWorkspace();
    const first = t.launch(ws);
    await t.server.waitFor((r) => r.msg.health?.healthy === true, { timeoutMs: 15_000 });
    const same = offer("0d0d", { ownMetrics: { destinationEndpoint: `${rx.url}/v1/metrics` } });
    t.server.push(same);
    await t.server.waitFor(status("0d0d", S.ConnectionSettingsStatuses_APPLIED), { timeoutMs: 15_000 });
    expect((await first.stop()).code).toBe(0);

    await writeFile(join(ws.stateDir, "own-telemetry.json"), '{"version": 1, "hash": "0d');
    const received = t.server.received.length;
    t.launch(ws);
    const lost = await t.server.waitFor(status("0d0d", S.ConnectionSettingsStatuses_FAILED), {
      from: received,
      timeoutMs: 15_000,
    });
    expect(lost.msg.connectionSettingsStatus?.errorMessage).toContain("own-telemetry settings were lost");
    const without = await waitForStub(ws);
    expect(JSON.stringify(without.config)).not.toContain("/v1/metrics");

    t.server.push(same);
    await t.server.waitFor(status("0d0d", S.ConnectionSettingsStatuses_APPLIED), { from: received, timeoutMs: 15_000 });
    await waitForStub(ws, (s) => s.healthy && JSON.stringify(s.config).includes("/v1/metrics"));
  });
});
