/**
 * ReportsAvailableComponents end to end: the stub's `components` inventory reaches the
 * server as the spec sends it (hash first, the map when asked), and a collector without the
 * command leaves the capability off instead of reporting an empty inventory.
 */
import { chmod, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { AgentCapabilities, ServerToAgentFlags } from "../../src/gen/opamp_pb.js";
import { STUB, makeWorkspace } from "./harness.js";
import { perTest } from "./per-test.js";

const BIT = BigInt(AgentCapabilities.AgentCapabilities_ReportsAvailableComponents);
const t = perTest();

describe("available components", () => {
  it("sends the stub's inventory hash first and the full map when the server asks", async () => {
    const ws = await makeWorkspace({ endpoint: t.server.wsUrl, capabilities: ["reports_available_components"] });
    t.server.respond = (msg) =>
      msg.availableComponents && Object.keys(msg.availableComponents.components).length === 0
        ? { flags: BigInt(ServerToAgentFlags.ServerToAgentFlags_ReportAvailableComponents) }
        : undefined;
    t.launch(ws);
    const first = await t.server.waitFor(() => true, { timeoutMs: 10_000 });
    expect(first.msg.capabilities & BIT).toBe(BIT);
    expect(first.msg.availableComponents?.hash).toHaveLength(32);
    expect(first.msg.availableComponents?.components).toEqual({});
    const full = await t.server.waitFor((r) => Object.keys(r.msg.availableComponents?.components ?? {}).length > 0, {
      timeoutMs: 10_000,
    });
    const { components, hash } = full.msg.availableComponents!;
    expect(Buffer.from(hash).equals(Buffer.from(first.msg.availableComponents!.hash))).toBe(true);
    const otlp = components["receivers"]!.subComponentMap["otlp"]!;
    expect(otlp.metadata.find((kv) => kv.key === "code.namespace")?.value?.value).toEqual({
      case: "stringValue",
      value: "go.opentelemetry.io/collector/receiver/otlpreceiver v0.165.0",
    });
    expect(Object.keys(components["exporters"]!.subComponentMap)).toContain("debug");
  });

  it("keeps the capability off, with a warning, for a collector that has no `components` command", async () => {
    const ws = await makeWorkspace({ endpoint: t.server.wsUrl, capabilities: ["reports_available_components"] });
    const wrapper = join(ws.dir, "old-collector.sh");
    await writeFile(
      wrapper,
      `#!/bin/sh\nif [ "$1" = components ]; then echo 'Error: unknown command "components" for "otelcol"' >&2; exit 1; fi\nexec "${process.execPath}" "${STUB}" "$@"\n`,
    );
    await chmod(wrapper, 0o755);
    await writeFile(
      ws.configPath,
      (await readFile(ws.configPath, "utf8")).replace(`executable: ${STUB}`, `executable: ${wrapper}`),
    );
    const sup = t.launch(ws);
    const healthy = await t.server.waitFor((r) => r.msg.health?.healthy === true, { timeoutMs: 10_000 });
    expect(healthy.msg.capabilities & BIT).toBe(0n);
    expect(t.server.received.every((r) => r.msg.availableComponents === undefined)).toBe(true);
    const warning = await sup.log(
      (l) => l.level === "warn" && l.msg.startsWith("cannot list the collector's components"),
    );
    expect(String(warning["reason"])).toMatch(/unknown command "components"/);
  });
});
