/**
 * The supervisor's own telemetry (telemetry.*): a `pull` reader serves Prometheus /metrics
 * with the apply counter, the phase histogram, the connection state and the message
 * counters; a `periodic` reader and OTLP span / log processors post http/protobuf with the
 * configured header to the endpoint; without telemetry the SDK is never loaded.
 */
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { RemoteConfigStatuses } from "../../src/gen/opamp_pb.js";
import { eventually } from "../support/eventually.js";
import { freePort, makeWorkspace, waitForStub } from "./harness.js";
import { perTest } from "./per-test.js";

const { RemoteConfigStatuses_APPLIED: APPLIED } = RemoteConfigStatuses;
const SECRET = "otlp-api-key-0123456789";
const t = perTest();

interface Posted {
  path: string;
  headers: IncomingHttpHeaders;
  bytes: number;
}

/** An OTLP/HTTP receiver that records each request and answers an empty success. */
async function otlpReceiver(): Promise<{ url: string; posted: Posted[]; close(): Promise<void> }> {
  const posted: Posted[] = [];
  const server = createServer((req, res) => {
    let bytes = 0;
    req.on("data", (chunk: Buffer) => (bytes += chunk.length));
    req.on("end", () => {
      posted.push({ path: req.url ?? "", headers: req.headers, bytes });
      res.writeHead(200, { "content-type": "application/x-protobuf" }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    posted,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

function pushConfig(n: number): Uint8Array {
  const hash = new Uint8Array([0x7e, n]);
  const body = new TextEncoder().encode(
    `exporters:\n  debug/m${n}: {}\nservice:\n  pipelines:\n    traces:\n      exporters: [debug/m${n}]\n`,
  );
  t.server.push({ remoteConfig: { configHash: hash, config: { configMap: { "r.yaml": { body, contentType: "" } } } } });
  return hash;
}

async function applied(hash: Uint8Array): Promise<void> {
  await t.server.waitFor(
    (r) =>
      r.msg.remoteConfigStatus?.status === APPLIED &&
      Buffer.from(r.msg.remoteConfigStatus.lastRemoteConfigHash).equals(Buffer.from(hash)),
    { timeoutMs: 15_000 },
  );
}

/** The value of the first sample of `name` that carries every label in `labels` (`a="x",b="y"`). */
function sample(text: string, name: string, labels = ""): number | undefined {
  const wanted = labels === "" ? [] : labels.split(",");
  const line = text.split("\n").find((l) => {
    if (!l.startsWith(`${name}{`) && !l.startsWith(`${name} `)) return false;
    const inside = l.slice(name.length + 1, l.lastIndexOf("}"));
    return wanted.every((label) => inside.split(",").includes(label));
  });
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(" ") + 1));
}

describe("the supervisor's own telemetry", () => {
  it("serves /metrics from a pull reader: applies by result, phase durations, connection state, messages", async () => {
    const port = await freePort();
    const ws = await makeWorkspace({
      endpoint: t.server.wsUrl,
      extra: `  metrics:\n    readers:\n      - pull:\n          exporter:\n            prometheus:\n              host: 127.0.0.1\n              port: ${port}\n`,
    });
    const sup = t.launch(ws);
    await waitForStub(ws);
    await applied(pushConfig(1));
    const scrape = async (): Promise<string> =>
      (await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(2_000) })).text();
    const text = await eventually(
      async () => {
        const body = await scrape();
        return sample(body, "opamp_supervisor_config_applies_total", 'source="remote",result="applied"') === 1 && body;
      },
      { timeoutMs: 10_000, what: "the applied counter on /metrics", retryErrors: true },
    );
    if (process.env["PRINT_METRICS"]) process.stdout.write(text);
    for (const phase of ["validate", "apply", "health"]) {
      const count = sample(
        text,
        "opamp_supervisor_config_apply_duration_count",
        `source="remote",result="applied",phase="${phase}"`,
      );
      expect(count, phase).toBe(1);
    }
    expect(text).toContain("# UNIT opamp_supervisor_config_apply_duration s");
    expect(sample(text, "opamp_supervisor_opamp_connection_state", 'state="connected"')).toBe(1);
    expect(sample(text, "opamp_supervisor_opamp_connection_state", 'state="backoff"')).toBe(0);
    expect(sample(text, "opamp_supervisor_opamp_messages_sent_total")).toBeGreaterThan(1);
    expect(sample(text, "opamp_supervisor_opamp_messages_received_total")).toBeGreaterThan(1);
    expect(sample(text, "opamp_supervisor_opamp_bytes_sent_total")).toBeGreaterThan(10);
    expect(sample(text, "opamp_supervisor_opamp_bytes_received_total")).toBeGreaterThan(10);
    expect(sample(text, "opamp_supervisor_collector_health_checks_total", 'result="healthy"')).toBeGreaterThan(0);
    expect(sample(text, "opamp_supervisor_collector_restarts_total", 'cause="requested"')).toBe(1);
    expect(text).toContain('service_name="opamp-supervisor"');
    expect(sup.logs.some((l) => l.msg.includes("OpenTelemetry SDK is loaded"))).toBe(true);
    await sup.stop();
  });

  it("pushes metrics, spans and log records over OTLP http/protobuf with the configured header", async () => {
    const otlp = await otlpReceiver();
    closers.push(() => otlp.close());
    const exporter = `exporter:\n            otlp:\n              protocol: http/protobuf\n              endpoint: ${otlp.url}\n              headers:\n                - name: x-api-key\n                  value: ${SECRET}\n`;
    const ws = await makeWorkspace({
      endpoint: t.server.wsUrl,
      // The harness's telemetry section ends inside `logs:` (level: debug): processors go there first.
      extra:
        `    processors:\n      - batch:\n          schedule_delay: 100\n          ${exporter}` +
        `  metrics:\n    readers:\n      - periodic:\n          interval: 200\n          ${exporter}` +
        `  traces:\n    processors:\n      - simple:\n          ${exporter}`,
    });
    const sup = t.launch(ws);
    await waitForStub(ws);
    await applied(pushConfig(2));
    const posted = (path: string): Promise<Posted> =>
      eventually(() => otlp.posted.find((p) => p.path === path && p.bytes > 0), 10_000, `an OTLP POST to ${path}`);
    for (const path of ["/v1/metrics", "/v1/traces", "/v1/logs"]) {
      const request = await posted(path);
      expect(request.headers["content-type"]).toBe("application/x-protobuf");
      expect(request.headers["x-api-key"]).toBe(SECRET);
    }
    await sup.stop();
    expect(JSON.stringify(sup.logs)).not.toContain(SECRET);
  });

  it("never loads the SDK when nothing is exported", async () => {
    const ws = await makeWorkspace({ endpoint: t.server.wsUrl });
    const sup = t.launch(ws);
    await waitForStub(ws);
    await sup.log((l) => l.msg.startsWith("supervisor started"));
    expect(sup.logs.some((l) => l.msg.includes("OpenTelemetry SDK"))).toBe(false);
    await sup.stop();
  });
});
