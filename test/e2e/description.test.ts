/**
 * agent.description.include_resource_attributes: the collector config's own resource
 * attributes reach the server in the description, and follow the effective config.
 */
import { readFile, writeFile } from "node:fs/promises";
import { afterEach, describe, expect, it } from "vitest";
import { attribute } from "../support/wire.js";
import { OpampTestServer } from "../support/opamp-test-server.js";
import { BASE_COLLECTOR, makeWorkspace, startSupervisor } from "./harness.js";
import type { RunningSupervisor } from "./harness.js";

let server: OpampTestServer | undefined;
let sup: RunningSupervisor | undefined;
afterEach(async () => {
  await sup?.kill();
  await server?.close();
});

const withResource = (attrs: string): string => `${BASE_COLLECTOR}  telemetry:\n    resource:\n${attrs}`;

describe("include_resource_attributes", () => {
  it("sends the effective config's resource attributes and re-sends them when a remote config changes them", async () => {
    server = await OpampTestServer.start();
    const ws = await makeWorkspace({
      endpoint: server.wsUrl,
      collectorYaml: withResource("      deployment.environment: staging\n"),
    });
    const yaml = await readFile(ws.configPath, "utf8");
    await writeFile(
      ws.configPath,
      yaml.replace("  description:\n", "  description:\n    include_resource_attributes: true\n"),
    );
    sup = startSupervisor(ws);
    const first = await server.waitFor(
      (r) =>
        r.msg.agentDescription !== undefined &&
        attribute(r.msg.agentDescription, "deployment.environment") !== undefined,
      { timeoutMs: 15_000 },
    );
    expect(attribute(first.msg.agentDescription!, "deployment.environment")).toBe("staging");
    expect(attribute(first.msg.agentDescription!, "service.name")).toBe("otelcol-stub");
    // The operator's non-identifying attributes still come through beside them.
    expect(attribute(first.msg.agentDescription!, "deployment.ring")).toBe("canary");

    const remote =
      "service:\n  telemetry:\n    resource:\n      deployment.environment: prod\n      service.name: edge-gateway\n";
    server.push({
      remoteConfig: {
        configHash: new Uint8Array([0xd1]),
        config: { configMap: { "remote.yaml": { body: new TextEncoder().encode(remote), contentType: "text/yaml" } } },
      },
    });
    const updated = await server.waitFor(
      (r) =>
        r.msg.agentDescription !== undefined && attribute(r.msg.agentDescription, "deployment.environment") === "prod",
      { timeoutMs: 15_000 },
    );
    expect(attribute(updated.msg.agentDescription!, "service.name")).toBe("edge-gateway");
  });

  it("leaves them out when the key is off (the default)", async () => {
    server = await OpampTestServer.start();
    const ws = await makeWorkspace({
      endpoint: server.wsUrl,
      collectorYaml: withResource("      deployment.environment: staging\n"),
    });
    sup = startSupervisor(ws);
    const healthy = await server.waitFor((r) => r.msg.health?.healthy === true, { timeoutMs: 15_000 });
    const description = server.received
      .slice(0, server.received.indexOf(healthy) + 1)
      .map((r) => r.msg.agentDescription)
      .filter(Boolean)
      .at(-1);
    expect(description && attribute(description, "service.name")).toBe("otelcol-stub");
    expect(description && attribute(description, "deployment.environment")).toBeUndefined();
  });
});
