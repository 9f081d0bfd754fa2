/**
 * Available components with the real collector: its `components` inventory reaches the
 * opamp-go server, which asks for the map (ReportAvailableComponents) on hearing a hash it
 * has no map for, as the spec intends.
 */
import { afterEach, describe, expect, it } from "vitest";
import { AgentCapabilities } from "../../src/gen/opamp_pb.js";
import { startSupervisor } from "../e2e/harness.js";
import type { RunningSupervisor } from "../e2e/harness.js";
import { OpampServer, SKIP_REASON, collectorYaml, freePort, removeWorkspaces, stopSupervisor, workspace } from "./peers.js";

const running: RunningSupervisor[] = [];
const servers: OpampServer[] = [];

afterEach(async () => {
  for (const sup of running.splice(0)) await stopSupervisor(sup);
  for (const s of servers.splice(0)) await s.stop();
  await removeWorkspaces();
});

describe.skipIf(SKIP_REASON !== undefined)("interop: available components", () => {
  it("the real collector's otlp receiver and debug exporter reach the opamp-go server", async () => {
    const server = await OpampServer.start();
    servers.push(server);
    const ws = await workspace({
      endpoint: server.wsUrl,
      capabilities: ["reports_available_components"],
      collectorYaml: collectorYaml(await freePort()),
    });
    const sup = startSupervisor(ws);
    running.push(sup);

    const agent = await server.waitAgent((a) => a.available_components?.components !== undefined, 20_000, "an agent that sent its component map");
    expect(BigInt(agent.capabilities) & BigInt(AgentCapabilities.AgentCapabilities_ReportsAvailableComponents)).not.toBe(0n);
    const components = agent.available_components!.components!;
    expect(Object.keys(components["receivers"]?.sub_component_map ?? {})).toContain("otlp");
    expect(Object.keys(components["exporters"]?.sub_component_map ?? {})).toContain("debug");
    // The map the server holds is the one for the hash the agent reports now.
    expect(Buffer.from(agent.available_components!.hash ?? "", "base64").toString("hex")).toBe(agent.available_components_hash);
  });
});
