/**
 * What the built supervisor advertises, and the bits no other e2e test exercises:
 * ReportsHeartbeat over WebSocket and ReportsRemoteConfig implied by accepts_remote_config.
 * (Which e2e test covers every advertised bit is listed in README "Capabilities".)
 */
import { readFile, writeFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { AgentCapabilities, RemoteConfigStatuses } from "../../src/gen/opamp_pb.js";
import { makeWorkspace } from "./harness.js";
import type { Workspace } from "./harness.js";
import { perTest } from "./per-test.js";

const A = AgentCapabilities;
const t = perTest();

/** Replaces the harness's capabilities section with `lines`. */
async function withCapabilities(ws: Workspace, lines: string): Promise<void> {
  const text = await readFile(ws.configPath, "utf8");
  const replaced = text.replace(/capabilities:\n(?: {2}\w+: \w+\n)+/, `capabilities:\n${lines}`);
  expect(replaced).not.toBe(text);
  await writeFile(ws.configPath, replaced);
}

describe("advertised capabilities", () => {
  it("never advertises a capability without behaviour, and warns once for each one set", async () => {
    const ws = await makeWorkspace({ endpoint: t.server.wsUrl });
    await withCapabilities(
      ws,
      [
        "reports_own_metrics",
        "reports_own_logs",
        "reports_own_traces",
        "accepts_other_connection_settings",
        "accepts_remote_config",
      ]
        .map((key) => `  ${key}: true\n`)
        .join(""),
    );
    const sup = t.launch(ws);
    const first = await t.server.waitFor((r) => r.msg.capabilities !== 0n, { timeoutMs: 10_000 });
    const bits = first.msg.capabilities;
    expect(bits & BigInt(A.AgentCapabilities_AcceptsOtherConnectionSettings)).toBe(0n);
    for (const bit of [
      A.AgentCapabilities_ReportsOwnMetrics,
      A.AgentCapabilities_ReportsOwnLogs,
      A.AgentCapabilities_ReportsOwnTraces,
      A.AgentCapabilities_AcceptsRemoteConfig,
    ]) {
      expect(bits & BigInt(bit), A[bit]).not.toBe(0n);
    }
    const warned = sup.logs
      .filter((l) => l.level === "warn" && l.msg.startsWith("capabilities."))
      .map((l) => l.msg.split(":")[0]);
    expect(warned).toEqual(["capabilities.accepts_other_connection_settings"]);
  });

  it("ReportsHeartbeat: sends heartbeats over WebSocket at t.server.heartbeat_interval", async () => {
    const ws = await makeWorkspace({ endpoint: t.server.wsUrl, serverExtra: "  heartbeat_interval: 200ms\n" });
    t.launch(ws);
    const healthy = await t.server.waitFor((r) => r.msg.health?.healthy === true, { timeoutMs: 10_000 });
    expect(healthy.msg.capabilities & BigInt(A.AgentCapabilities_ReportsHeartbeat)).not.toBe(0n);
    // Three more messages on the same connection with nothing changed: at the 30 s default this would time out.
    const from = t.server.received.indexOf(healthy) + 1;
    const third = await t.server.waitFor((r) => r.transport === "ws" && r.connection === healthy.connection, {
      from: from + 2,
      timeoutMs: 5_000,
    });
    expect(third.msg.sequenceNum).toBeGreaterThan(healthy.msg.sequenceNum);
  });

  it("ReportsRemoteConfig is implied by accepts_remote_config: a refused config reaches the server as FAILED", async () => {
    const ws = await makeWorkspace({ endpoint: t.server.wsUrl });
    await withCapabilities(ws, "  accepts_remote_config: true\n");
    t.launch(ws);
    const first = await t.server.waitFor((r) => r.msg.health?.healthy === true, { timeoutMs: 10_000 });
    expect(first.msg.capabilities & BigInt(A.AgentCapabilities_ReportsRemoteConfig)).not.toBe(0n);
    const body = new TextEncoder().encode("- not a map\n");
    t.server.push({
      remoteConfig: {
        configHash: new Uint8Array([0xfa, 0x11]),
        config: { configMap: { "x.yaml": { body, contentType: "text/yaml" } } },
      },
    });
    const failed = await t.server.waitFor(
      (r) => r.msg.remoteConfigStatus?.status === RemoteConfigStatuses.RemoteConfigStatuses_FAILED,
      { timeoutMs: 10_000 },
    );
    expect(failed.msg.remoteConfigStatus?.errorMessage).toMatch(/expected a map/);
  });
});
