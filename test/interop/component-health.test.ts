/**
 * Per-component health with the real collector: the interop build has healthcheckv2, so the
 * supervisor injects it; a config whose kafka exporter cannot reach its broker (a closed
 * port) runs, proves healthy (the collector is up), and once a trace makes the exporter dial,
 * the opamp-go server holds a component health map with that exporter unhealthy and its
 * pipeline degraded. (At v0.165 the core otlp exporters report nothing at run time; kafka's
 * broker hook reports a RecoverableError on a refused dial.)
 */
import { afterEach, describe, expect, it } from "vitest";
import { startSupervisor } from "../e2e/harness.js";
import type { RunningSupervisor } from "../e2e/harness.js";
import {
  OpampServer,
  SKIP_REASON,
  freePort,
  removeWorkspaces,
  sendTrace,
  stopSupervisor,
  waitHealthy,
  workspace,
} from "./peers.js";
import type { AgentView } from "./peers.js";

const running: RunningSupervisor[] = [];
const servers: OpampServer[] = [];

afterEach(async () => {
  for (const sup of running.splice(0)) await stopSupervisor(sup);
  for (const s of servers.splice(0)) await s.stop();
  await removeWorkspaces();
});

/** protojson of ComponentHealth: false and empty fields are left out. */
interface HealthJson {
  healthy?: boolean;
  status?: string;
  last_error?: string;
  start_time_unix_nano?: string;
  status_time_unix_nano?: string;
  component_health_map?: Record<string, HealthJson>;
}

const at = (h: HealthJson | undefined, ...keys: string[]): HealthJson | undefined =>
  keys.reduce<HealthJson | undefined>((node, key) => node?.component_health_map?.[key], h);

function kafkaConfig(otlpPort: number, brokerPort: number): string {
  return `receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:${otlpPort}
exporters:
  debug: {}
  kafka:
    brokers: [127.0.0.1:${brokerPort}]
    timeout: 2s
    retry_on_failure:
      enabled: false
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [debug, kafka]
    logs:
      receivers: [otlp]
      exporters: [debug]
`;
}

describe.skipIf(SKIP_REASON !== undefined)("interop: component health (healthcheckv2)", () => {
  it("a config whose exporter fails at run time shows that exporter unhealthy in the server's map", async () => {
    const server = await OpampServer.start();
    servers.push(server);
    const otlpPort = await freePort();
    const ws = await workspace({
      endpoint: server.wsUrl,
      capabilities: ["reports_available_components", "reports_effective_config", "reports_health"],
      collectorYaml: kafkaConfig(otlpPort, await freePort()),
    });
    const sup = startSupervisor(ws);
    running.push(sup);

    const up = await server.waitAgent(
      (a) => at(a.health as HealthJson, "pipeline:traces", "exporter:kafka")?.healthy === true,
      20_000,
      "an agent whose map has a healthy kafka exporter",
    );
    expect(up.effective_config[""]).toContain("healthcheckv2");
    expect(up.effective_config[""]).toContain("use_v2: true");
    await waitHealthy(ws);

    await sendTrace(otlpPort, "to-kafka"); // the exporter dials the broker now, and is refused
    const failing: AgentView = await server.waitAgent(
      (a) => at(a.health as HealthJson, "pipeline:traces", "exporter:kafka")?.status === "StatusRecoverableError",
      20_000,
      "an agent whose map has the kafka exporter failing",
    );
    const health = failing.health as HealthJson;
    console.log(`component health map the opamp-go server holds:\n${JSON.stringify(health, null, 2)}`);
    expect(health.healthy).toBe(true); // the collector is up
    expect(health.status).toBe("StatusRecoverableError");
    const traces = at(health, "pipeline:traces");
    expect(traces?.healthy).toBeUndefined(); // false, left out by protojson
    expect(traces?.status).toBe("StatusRecoverableError");
    const kafka = at(traces, "exporter:kafka");
    expect(kafka?.healthy).toBeUndefined();
    expect(kafka?.last_error).toMatch(/connection refused/);
    expect(BigInt(kafka?.status_time_unix_nano ?? "0")).toBeGreaterThan(BigInt(kafka?.start_time_unix_nano ?? "0"));
    expect(at(traces, "exporter:debug")).toMatchObject({ healthy: true, status: "StatusOK" });
    expect(at(traces, "receiver:otlp")).toMatchObject({ healthy: true, status: "StatusOK" });
    expect(at(health, "pipeline:logs")).toMatchObject({ healthy: true, status: "StatusOK" });
    expect(at(health, "extensions", "extension:healthcheckv2")).toMatchObject({ healthy: true, status: "StatusOK" });
  });
});
