/**
 * Scenario 1: the supervisor connects to the opamp-go server over WebSocket, then over plain
 * HTTP, and the server sees a valid description (service.* from the real collector's
 * --version), the capabilities from supervisor.yaml and the collector's health.
 */
import { afterEach, describe, expect, it } from "vitest";
import { AgentCapabilities } from "../../src/gen/opamp_pb.js";
import { startSupervisor } from "../e2e/harness.js";
import type { RunningSupervisor } from "../e2e/harness.js";
import {
  OpampServer,
  SKIP_REASON,
  collectorVersion,
  collectorYaml,
  freePort,
  removeWorkspaces,
  stopSupervisor,
  workspace,
} from "./peers.js";

const running: RunningSupervisor[] = [];
const servers: OpampServer[] = [];

afterEach(async () => {
  for (const sup of running.splice(0)) await stopSupervisor(sup);
  for (const s of servers.splice(0)) await s.stop();
  await removeWorkspaces();
});

const has = (bits: number, cap: AgentCapabilities): boolean => (BigInt(bits) & BigInt(cap)) !== 0n;

describe.skipIf(SKIP_REASON !== undefined)("interop: connection and description", () => {
  it.each([
    ["WebSocket", "websocket"],
    ["plain HTTP", "http"],
  ] as const)("connects over %s; the server sees description, capabilities and health", async (_name, transport) => {
    // Over HTTP the agent only hears the server when it polls: the server offers a 1 s
    // heartbeat (= poll period) in its first answer.
    const server = await OpampServer.start({ heartbeatSeconds: transport === "http" ? 1 : 0 });
    servers.push(server);
    const ws = await workspace({
      endpoint: transport === "http" ? server.httpUrl : server.wsUrl,
      collectorYaml: collectorYaml(await freePort()),
    });
    const sup = startSupervisor(ws);
    running.push(sup);

    const agent = await server.waitAgent((a) => a.health?.healthy === true, 20_000, "a healthy agent");
    expect(agent.transport).toBe(transport);
    expect(agent.connected).toBe(true);
    expect(agent.instance_uid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);

    // Description: service.name / service.version are what the real binary's --version says.
    const real = collectorVersion();
    expect(real).toEqual({ name: "otelcol-interop", version: "0.165.0" });
    expect(agent.attributes["service.name"]).toBe(real.name);
    expect(agent.attributes["service.version"]).toBe(real.version);
    expect(agent.attributes["service.instance.id"]).toBe(agent.instance_uid);
    expect(agent.attributes["service.namespace"]).toBe("e2e");
    expect(agent.attributes["deployment.ring"]).toBe("canary");
    expect(agent.attributes["os.type"]).toBe("linux");
    expect(agent.attributes["host.name"]).toBeTruthy();
    const desc = agent.description as { identifying_attributes?: Array<{ key: string }> };
    expect(desc.identifying_attributes?.map((kv) => kv.key)).toEqual(
      expect.arrayContaining(["service.name", "service.version", "service.instance.id"]),
    );

    // Capabilities: what the harness's supervisor.yaml turns on.
    const caps = agent.capabilities;
    expect(has(caps, AgentCapabilities.AgentCapabilities_ReportsStatus)).toBe(true);
    expect(has(caps, AgentCapabilities.AgentCapabilities_AcceptsRemoteConfig)).toBe(true);
    expect(has(caps, AgentCapabilities.AgentCapabilities_ReportsRemoteConfig)).toBe(true);
    expect(has(caps, AgentCapabilities.AgentCapabilities_AcceptsRestartCommand)).toBe(true);
    expect(has(caps, AgentCapabilities.AgentCapabilities_ReportsEffectiveConfig)).toBe(true);
    expect(has(caps, AgentCapabilities.AgentCapabilities_ReportsHealth)).toBe(true);
    expect(has(caps, AgentCapabilities.AgentCapabilities_AcceptsPackages)).toBe(false);

    // Health is the real health_check extension's, proven by the supervisor.
    expect(agent.health?.healthy).toBe(true);
    expect(agent.health?.start_time_unix_nano).toBeTruthy();
    // The effective config names the real collector's components and the injected health_check.
    const effective = agent.effective_config[""] ?? "";
    expect(effective).toContain("otlp");
    expect(effective).toContain(`127.0.0.1:${ws.healthPort}`);

    // Every message was decoded by opamp-go: one instance uid, sequence numbers 0, 1, 2, …
    // (one message is enough when the collector was healthy before the connection was up).
    const msgs = await server.messages(agent.instance_uid);
    expect(msgs.length).toBeGreaterThanOrEqual(1);
    expect(msgs.every((m) => m.transport === transport)).toBe(true);
    expect(msgs.map((m) => Number(m.message.sequence_num ?? 0))).toEqual(msgs.map((_, i) => i));
    expect(msgs[0]!.message["agent_description"]).toBeDefined();
    expect((await server.agents()).length).toBe(1);
  });
});
