import { readFile } from "node:fs/promises";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { composeCollectorConfig } from "../../src/config/compose.js";
import { loadSupervisorConfig } from "../../src/config/load.js";
import { CAPABILITY_DEFAULTS } from "../../src/config/schema.js";
import { PACKAGE_KEYS } from "../../src/config/validate-package.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const examples = path.join(root, "examples");

describe("examples/supervisor.yaml", () => {
  it("loads with the loader and points at the stub, the local server and the state dir", async () => {
    const config = await loadSupervisorConfig(path.join(examples, "supervisor.yaml"), { env: {} });
    expect(config.server.endpoint).toBe("ws://127.0.0.1:4320/v1/opamp");
    expect(config.agent.executable).toBe(path.join(root, "fixtures/otelcol-stub/otelcol-stub.mjs"));
    expect(config.agent.configFiles).toEqual([path.join(examples, "collector.yaml"), "$REMOTE_CONFIG"]);
    expect(config.storage.directory).toBe(path.join(root, ".state"));
    expect(config.capabilities.acceptsRemoteConfig).toBe(true);
  });

  it("documents every capability", async () => {
    const text = await readFile(path.join(examples, "supervisor.yaml"), "utf8");
    for (const key of Object.keys(CAPABILITY_DEFAULTS)) expect(text).toContain(`  ${key}:`);
  });

  it("documents every agent.package key", async () => {
    const text = await readFile(path.join(examples, "supervisor.yaml"), "utf8");
    for (const key of PACKAGE_KEYS) expect(text).toMatch(new RegExp(`^\\s+#? ?${key}:`, "m"));
    const config = await loadSupervisorConfig(path.join(examples, "supervisor.yaml"), { env: {} });
    expect(config.agent.package).toMatchObject({ archive: "raw", publicKeys: [], maxSizeBytes: 2 ** 30 });
  });

  it("composes with examples/collector.yaml into a config with a traces pipeline and health_check", async () => {
    const config = await loadSupervisorConfig(path.join(examples, "supervisor.yaml"), { env: {} });
    const local = config.agent.configFiles.filter((entry) => !entry.startsWith("$"));
    const localFiles = await Promise.all(local.map(async (name) => ({ name, content: await readFile(name, "utf8") })));
    const { config: composed, health } = composeCollectorConfig({
      localFiles,
      order: config.agent.configFiles,
      remote: [],
      injected: { health: { endpoint: config.agent.health.endpoint, path: config.agent.health.path } },
    });
    expect(composed).toMatchObject({
      receivers: { otlp: {} },
      exporters: { debug: {} },
      extensions: { health_check: { endpoint: "localhost:13133", path: "/" } },
      service: { extensions: ["health_check"], pipelines: { traces: { receivers: ["otlp"], exporters: ["debug"] } } },
    });
    expect(health).toEqual({ endpoint: "localhost:13133", path: "/", source: "injected", kind: "health_check" });
  });
});
