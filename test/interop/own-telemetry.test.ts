/**
 * Own telemetry with real peers: the opamp-go server offers own_metrics and own_logs, the
 * supervised real collector sends its own metrics and logs there, and a second real
 * collector (OTLP receiver, debug exporter) prints what arrived. The server sees one
 * ConnectionSettingsStatus for the offer and an effective config without the credential,
 * and, with every capability on, the component list and a component health map too.
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { readFile } from "node:fs/promises";
import { afterEach, describe, expect, it } from "vitest";
import { startSupervisor } from "../e2e/harness.js";
import type { RunningSupervisor } from "../e2e/harness.js";
import { COLLECTOR, OpampServer, SKIP_REASON, freePort, removeWorkspaces, stopSupervisor, until, workspace } from "./peers.js";

const SECRET = "interop-own-telemetry-token";
const running: RunningSupervisor[] = [];
const servers: OpampServer[] = [];
const receivers: ChildProcess[] = [];

afterEach(async () => {
  for (const sup of running.splice(0)) await stopSupervisor(sup);
  for (const s of servers.splice(0)) await s.stop();
  for (const rx of receivers.splice(0)) {
    rx.kill("SIGTERM");
    await new Promise((r) => rx.once("exit", r));
  }
  await removeWorkspaces();
});

/** A second real collector: OTLP/HTTP in, everything printed by the detailed debug exporter. */
async function receivingCollector(dir: string): Promise<{ url: string; output: () => string }> {
  const port = await freePort();
  const config = join(dir, "receiver.yaml");
  await writeFile(
    config,
    `receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:${port}
exporters:
  debug:
    verbosity: detailed
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    metrics: {receivers: [otlp], exporters: [debug]}
    logs: {receivers: [otlp], exporters: [debug]}
`,
  );
  const child = spawn(COLLECTOR, ["--config", config], { stdio: ["ignore", "pipe", "pipe"] });
  receivers.push(child);
  let output = "";
  child.stdout.setEncoding("utf8").on("data", (c: string) => (output += c));
  child.stderr.setEncoding("utf8").on("data", (c: string) => (output += c));
  await until("the receiving collector to be ready", () => Promise.resolve(output.includes("Everything is ready")), 15_000);
  return { url: `http://127.0.0.1:${port}`, output: () => output };
}

/**
 * The supervised collector: a traces pipeline, its own metrics pulled on a free port until
 * the server says otherwise (the default :8888 may be taken on a test machine).
 */
function supervisedYaml(otlpPort: number, metricsPort: number): string {
  return `receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:${otlpPort}
exporters:
  debug: {}
service:
  telemetry:
    metrics:
      readers:
        - pull:
            exporter:
              prometheus:
                host: 127.0.0.1
                port: ${metricsPort}
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [debug]
`;
}

describe.skipIf(SKIP_REASON !== undefined)("interop: own telemetry, every capability on", () => {
  it("the real collector's own metrics and logs reach the OTLP receiver the opamp-go server offered", async () => {
    const server = await OpampServer.start();
    servers.push(server);
    const ws = await workspace({
      endpoint: server.wsUrl,
      capabilities: [
        "reports_own_metrics",
        "reports_own_logs",
        "reports_own_traces",
        "reports_connection_settings_status",
        "reports_available_components",
        "accepts_opamp_connection_settings",
      ],
      collectorYaml: supervisedYaml(await freePort(), await freePort()),
    });
    const text = await readFile(ws.configPath, "utf8");
    const patched = text
      // Listed after the local file, the server's readers replace the local pull reader.
      .replace(`config_files: [${ws.collectorConfigPath}]`, `config_files: [${ws.collectorConfigPath}, $OWN_TELEMETRY_CONFIG]`);
    expect(patched).toContain("$OWN_TELEMETRY_CONFIG");
    await writeFile(ws.configPath, patched);
    const rx = await receivingCollector(ws.dir);
    const sup = startSupervisor(ws);
    running.push(sup);
    const agent = await server.waitAgent((a) => a.health?.healthy === true, 20_000, "a healthy agent");

    const headers = { "x-own-token": SECRET };
    const hash = await server.offerOwnTelemetry(agent.instance_uid, {
      metrics: { endpoint: `${rx.url}/v1/metrics`, headers },
      logs: { endpoint: `${rx.url}/v1/logs`, headers },
    });
    const applied = await until(
      "ConnectionSettingsStatus APPLIED for the offer",
      async () => {
        const a = await server.agent(agent.instance_uid);
        const s = a.connection_settings_status;
        if (s?.status === "FAILED") throw new Error(`offer failed: ${s.error_message}`);
        return s?.status === "APPLIED" && s.last_connection_settings_hash === hash ? a : undefined;
      },
      30_000,
    );
    const effective = Object.values(applied.effective_config).join("\n");
    expect(effective).toContain(`${rx.url}/v1/metrics`);
    expect(effective).not.toContain(SECRET);

    // The periodic reader exports every 10 s (the spec's recommendation); the logs come sooner.
    await until("the collector's own logs at the receiver", () => Promise.resolve(rx.output().includes("ResourceLog")), 20_000);
    await until(
      "the collector's own metrics at the receiver",
      () => Promise.resolve(rx.output().includes("otelcol_process_uptime")),
      30_000,
    );
    const output = rx.output();
    expect(output).toContain("service.name: Str(otelcol-interop)");
    // The agent's instance uid names the resource: the server can tell whose telemetry it is.
    expect(output).toContain(`service.instance.id: Str(${agent.instance_uid})`);

    // With every capability on, the server holds the own-telemetry status (above), the
    // component list and a component health map (healthcheckv2 is in this build).
    const seen = await server.agent(agent.instance_uid);
    expect(Object.keys(seen.available_components?.components?.["exporters"]?.sub_component_map ?? {})).toContain("debug");
    const map = seen.health?.component_health_map as Record<string, { component_health_map?: object }> | undefined;
    expect(Object.keys(map ?? {})).toEqual(expect.arrayContaining(["extensions", "pipeline:traces"]));
    expect(Object.keys(map?.["pipeline:traces"]?.component_health_map ?? {})).toEqual(
      expect.arrayContaining(["receiver:otlp", "exporter:debug"]),
    );
  }, 90_000);
});
