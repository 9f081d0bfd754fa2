/** What the reporter lets reach the server: masked error texts everywhere, offered values masked in the effective config. */
import { describe, expect, it } from "vitest";
import type { ResolvedCapabilities } from "../../src/config/schema.js";
import type { OpampClient } from "../../src/opamp/client.js";
import type { ComponentHealth } from "../../src/opamp/domain.js";
import type { StateStore } from "../../src/storage/index.js";
import { StatusReporter } from "../../src/supervisor/reporter.js";
import { StatusSnapshot } from "../../src/supervisor/status-snapshot.js";
import { createGrowingMasker, createMasker } from "../../src/telemetry/mask.js";

function reporter(configured: string[], offered: string[]) {
  const sent: Array<{ kind: string; value: unknown }> = [];
  const client = { setStatus: (kind: string, value: unknown) => sent.push({ kind, value }) } as unknown as OpampClient;
  const capabilities = { reportsHealth: true, reportsEffectiveConfig: true } as ResolvedCapabilities;
  const store = { logger: undefined } as unknown as StateStore;
  const offeredMasker = createGrowingMasker([]);
  offeredMasker.add(offered);
  return {
    sent,
    r: new StatusReporter(client, capabilities, store, createMasker(configured), undefined, offeredMasker),
  };
}

describe("StatusReporter", () => {
  it("masks secrets in every error of the component health map, not only the top one", () => {
    const { sent, r } = reporter(["s3cret-value"], []);
    const component = (lastError: string): ComponentHealth => ({
      healthy: false,
      startedAtMs: 1,
      observedAtMs: 2,
      status: "StatusRecoverableError",
      lastError,
    });
    r.health({
      healthy: true,
      startedAtMs: 1,
      observedAtMs: 2,
      status: "StatusRecoverableError",
      lastError: "exporter failed: s3cret-value",
      components: {
        "pipeline:traces": {
          ...component("dial s3cret-value"),
          components: { "exporter:x": component("auth s3cret-value") },
        },
      },
    });
    const text = JSON.stringify(sent.at(-1)?.value);
    expect(text).not.toContain("s3cret-value");
    expect(text.match(/\[masked\]/g)).toHaveLength(3);
  });

  it("masks the offered values in the effective config, and leaves configured values that spell config keys alone", () => {
    const { sent, r } = reporter(["debug"], ["offered-token"]);
    r.effectiveConfig("exporters:\n  debug: {}\nheaders: [{name: x, value: offered-token}]\n");
    const body = (sent.at(-1)?.value as { configMap: Record<string, { body: Uint8Array }> }).configMap[""]?.body;
    const yaml = Buffer.from(body ?? []).toString();
    expect(yaml).toContain("debug: {}");
    expect(yaml).toContain("value: [masked]");
    expect(yaml).not.toContain("offered-token");
  });

  it("shows a remote config status on the status screen when the server hears it, not before", async () => {
    const sent: string[] = [];
    const client = {
      setStatus: (kind: string, value: { status: string }) => sent.push(`${kind} ${value.status}`),
    } as unknown as OpampClient;
    const store = { logger: undefined, writeRemoteConfigStatus: async () => undefined } as unknown as StateStore;
    const clock = { now: () => Date.UTC(2026, 11, 4), sleep: async () => undefined };
    const snapshot = new StatusSnapshot({ clock, version: "0", endpoint: "ws://x", instanceUid: "u", mask: (t) => t });
    const capabilities = { reportsRemoteConfig: true } as ResolvedCapabilities;
    const r = new StatusReporter(client, capabilities, store, createMasker([]), snapshot);
    const hash = new Uint8Array([1]);
    let fail!: (err: Error) => void;
    const kept = new Promise<void>((_resolve, reject) => (fail = reject));
    const applied = r.remoteConfigStatus({ hash, status: "APPLIED", errorMessage: "" }, { after: kept });
    await new Promise((resolve) => setImmediate(resolve));
    expect(snapshot.view().remoteConfig.status).toBe("UNSET");
    fail(new Error("ENOSPC"));
    await applied;
    expect(snapshot.view().remoteConfig.status).toBe("UNSET");
    await r.remoteConfigStatus({ hash, status: "FAILED", errorMessage: "cannot write" });
    expect(snapshot.view().remoteConfig).toMatchObject({ status: "FAILED", error: "cannot write" });
    expect(sent).toEqual(["remoteConfigStatus FAILED"]);
  });
});
