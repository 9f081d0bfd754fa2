/**
 * Per-component health end to end: a stub build with healthcheckv2 gets that extension
 * injected, and the server receives its per-pipeline, per-component status as the
 * component health map (a failing exporter unhealthy, its pipeline degraded, the collector
 * still up); a config that degrades an exporter still proves itself (the rollout window
 * judges the overall status). A build with only health_check keeps the single status.
 */
import { describe, expect, it } from "vitest";
import type { ComponentHealth } from "../../src/gen/opamp_pb.js";
import { RemoteConfigStatuses } from "../../src/gen/opamp_pb.js";
import { BASE_COLLECTOR, makeWorkspace, waitForStub } from "./harness.js";
import { perTest } from "./per-test.js";

const t = perTest();
const V2_BUILD = { OTELCOL_STUB_HEALTHCHECKV2: "1" };

const TWO_EXPORTERS = `receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
exporters:
  debug: {}
  debug/backend: {}
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [debug, debug/backend]
    logs:
      receivers: [otlp]
      exporters: [debug]
`;

const ALL_CAPABILITIES = ["reports_available_components", "reports_effective_config", "reports_health"];

const child = (h: ComponentHealth | undefined, ...keys: string[]): ComponentHealth | undefined =>
  keys.reduce<ComponentHealth | undefined>((node, key) => node?.componentHealthMap[key], h);

describe("component health (healthcheckv2)", () => {
  it("injects healthcheckv2 and reports the failing exporter unhealthy in the map, the pipeline degraded", async () => {
    const ws = await makeWorkspace({
      endpoint: t.server.wsUrl,
      capabilities: ALL_CAPABILITIES,
      collectorYaml: `${TWO_EXPORTERS}stub:\n  failing_exporter: debug/backend\n  exporter_error_after_ms: 150\n`,
    });
    t.launch(ws, V2_BUILD);
    const state = await waitForStub(ws);
    expect(state.config).toHaveProperty(["extensions", "healthcheckv2", "use_v2"], true);
    expect(state.config).toHaveProperty(
      ["extensions", "healthcheckv2", "http", "endpoint"],
      `127.0.0.1:${ws.healthPort}`,
    );
    expect(state.config).not.toHaveProperty(["extensions", "health_check"]);

    const ok = await t.server.waitFor(
      (r) => child(r.msg.health, "pipeline:traces", "exporter:debug/backend")?.healthy === true,
      {
        timeoutMs: 10_000,
      },
    );
    expect(ok.msg.health?.healthy).toBe(true);
    expect(ok.msg.health?.status).toBe("StatusOK");
    expect(Object.keys(ok.msg.health?.componentHealthMap ?? {}).sort()).toEqual([
      "extensions",
      "pipeline:logs",
      "pipeline:traces",
    ]);
    expect(child(ok.msg.health, "extensions", "extension:healthcheckv2")?.healthy).toBe(true);

    const failing = await t.server.waitFor(
      (r) => child(r.msg.health, "pipeline:traces", "exporter:debug/backend")?.healthy === false,
      { timeoutMs: 10_000 },
    );
    const health = failing.msg.health!;
    expect(health.healthy).toBe(true); // up: the overall status is 200
    expect(health.status).toBe("StatusRecoverableError");
    expect(health.lastError).toMatch(/debug\/backend.*connection refused/);
    const traces = child(health, "pipeline:traces")!;
    expect(traces).toMatchObject({ healthy: false, status: "StatusRecoverableError" });
    const exporter = child(traces, "exporter:debug/backend")!;
    expect(exporter.status).toBe("StatusRecoverableError");
    expect(exporter.lastError).toMatch(/connection refused/);
    expect(exporter.statusTimeUnixNano).toBeGreaterThan(exporter.startTimeUnixNano);
    expect(exporter.startTimeUnixNano).toBeGreaterThan(0n);
    expect(child(traces, "exporter:debug")).toMatchObject({ healthy: true, status: "StatusOK", lastError: "" });
    expect(child(traces, "receiver:otlp")).toMatchObject({ healthy: true, status: "StatusOK" });
    expect(child(health, "pipeline:logs")).toMatchObject({ healthy: true, status: "StatusOK" });
  });

  it("applies a remote config whose exporter fails at run time (the window judges the overall status)", async () => {
    const ws = await makeWorkspace({
      endpoint: t.server.wsUrl,
      capabilities: ALL_CAPABILITIES,
      collectorYaml: BASE_COLLECTOR,
    });
    t.launch(ws, V2_BUILD);
    await t.server.waitFor((r) => r.msg.health?.healthy === true, { timeoutMs: 10_000 });
    const hash = new Uint8Array(32).fill(7);
    const body = `exporters:\n  debug/remote: {}\nservice:\n  pipelines:\n    traces:\n      exporters: [debug, debug/remote]\nstub:\n  failing_exporter: debug/remote\n`;
    t.server.push({
      remoteConfig: {
        configHash: hash,
        config: { configMap: { "": { body: new TextEncoder().encode(body), contentType: "text/yaml" } } },
      },
    });
    const applied = await t.server.waitFor(
      (r) => r.msg.remoteConfigStatus?.status === RemoteConfigStatuses.RemoteConfigStatuses_APPLIED,
      { timeoutMs: 15_000 },
    );
    expect(Buffer.from(applied.msg.remoteConfigStatus!.lastRemoteConfigHash)).toEqual(Buffer.from(hash));
    const seen = await t.server.waitFor(
      (r) => child(r.msg.health, "pipeline:traces", "exporter:debug/remote")?.status === "StatusRecoverableError",
      { timeoutMs: 10_000 },
    );
    expect(seen.msg.health?.healthy).toBe(true);
  });

  it("keeps the single status with a health_check-only build", async () => {
    const ws = await makeWorkspace({
      endpoint: t.server.wsUrl,
      capabilities: ALL_CAPABILITIES,
      collectorYaml: TWO_EXPORTERS,
    });
    t.launch(ws);
    const state = await waitForStub(ws);
    expect(state.config).toHaveProperty(["extensions", "health_check", "endpoint"], `127.0.0.1:${ws.healthPort}`);
    const healthy = await t.server.waitFor((r) => r.msg.health?.healthy === true, { timeoutMs: 10_000 });
    expect(healthy.msg.health?.status).toBe("StatusOK");
    expect(healthy.msg.health?.componentHealthMap).toEqual({});
    expect(t.server.received.every((r) => Object.keys(r.msg.health?.componentHealthMap ?? {}).length === 0)).toBe(true);
  });
});
