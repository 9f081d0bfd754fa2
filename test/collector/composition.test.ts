/**
 * composeStartup: the config the collector runs when no new one is on offer. A damaged source of
 * ours (a stored config, a fallback file) is skipped with a warning, never an exit.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { composeStartup } from "../../src/collector/composition.js";
import { resolveSupervisorConfig } from "../../src/config/load.js";
import { nodeFileSystem } from "../../src/deps.js";

const enc = new TextEncoder();
let dir = "";

afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function setUp(fallbacks: string[]) {
  dir = await mkdtemp(join(tmpdir(), "compose-best-"));
  const local = join(dir, "collector.yaml");
  await writeFile(
    local,
    "receivers:\n  otlp:\n    protocols:\n      grpc: {}\nexporters:\n  debug/local: {}\nservice:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [debug/local]\n",
  );
  const yaml = `server:\n  endpoint: ws://127.0.0.1:1/v1/opamp\nagent:\n  executable: /bin/true\n  config_files: [${local}, $REMOTE_CONFIG]\n  startup_fallback_configs: [${fallbacks.map((f) => join(dir, f)).join(", ")}]\nstorage:\n  directory: ${join(dir, "state")}\n`;
  return resolveSupervisorConfig(yaml, join(dir, "supervisor.yaml"), {});
}

function stored(body: string) {
  return { hash: enc.encode("h1"), configMap: { "remote.yaml": { body: enc.encode(body), contentType: "text/yaml" } } };
}

describe("composeStartup", () => {
  it("runs the last working remote config when it composes", async () => {
    const config = await setUp([]);
    const out = await composeStartup(config, nodeFileSystem, stored("exporters:\n  debug/remote: {}\n"));
    expect(out.ok && out.composition.yaml).toContain("debug/remote");
    expect(out.ok && out.composition.warnings).toEqual([]);
  });

  it("falls back to the startup fallbacks when the stored config no longer composes", async () => {
    const config = await setUp(["fallback.yaml"]);
    await writeFile(join(dir, "fallback.yaml"), "exporters:\n  debug/fallback: {}\n");
    const out = await composeStartup(config, nodeFileSystem, stored("- a list, not a map\n"));
    expect(out.ok).toBe(true);
    if (!out.ok) return;
    expect(out.composition.yaml).toContain("debug/fallback");
    expect(out.composition.warnings[0]).toMatch(/^the last working remote config cannot be used, falling back: /);
  });

  it("falls back to the local files alone when a fallback file is gone", async () => {
    const config = await setUp(["gone.yaml"]);
    const out = await composeStartup(config, nodeFileSystem, undefined);
    expect(out.ok).toBe(true);
    if (!out.ok) return;
    expect(out.composition.runnable).toBe(true);
    expect(out.composition.yaml).toContain("debug/local");
    expect(out.composition.warnings[0]).toMatch(
      /startup fallback configs cannot be used, falling back: cannot read it: ENOENT/,
    );
  });
});
