import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { parseBuildInfo, parseComponents } from "../../src/collector/components.js";

const STUB = new URL("../../fixtures/otelcol-stub/otelcol-stub.mjs", import.meta.url).pathname;

describe("parseComponents", () => {
  it("maps the stub's `components` output to kinds with types and their modules", () => {
    const parsed = parseComponents(execFileSync(process.execPath, [STUB, "components"], { encoding: "utf8" }));
    if (!parsed.ok) throw new Error(parsed.reason);
    const { components } = parsed.components;
    expect(Object.keys(components)).toEqual(["receivers", "processors", "exporters", "connectors", "extensions"]);
    expect(components["receivers"]!.subComponents["otlp"]!.metadata).toEqual({
      "code.namespace": "go.opentelemetry.io/collector/receiver/otlpreceiver v0.165.0",
    });
    expect(Object.keys(components["exporters"]!.subComponents)).toContain("debug");
    expect(parsed.components.hash).toHaveLength(32);
  });

  it("hashes the inventory, not its order: same set same hash, a changed module a new hash", () => {
    const a = parseComponents(
      "receivers:\n  - name: otlp\n    module: m v1\n  - name: kafka\n    module: k v1\nexporters: []\n",
    );
    const b = parseComponents(
      "exporters: []\nreceivers:\n  - name: kafka\n    module: k v1\n  - name: otlp\n    module: m v1\n",
    );
    const c = parseComponents("receivers:\n  - name: otlp\n    module: m v2\n  - name: kafka\n    module: k v1\n");
    if (!a.ok || !b.ok || !c.ok) throw new Error("parse failed");
    expect(Buffer.from(a.components.hash).equals(Buffer.from(b.components.hash))).toBe(true);
    expect(Buffer.from(a.components.hash).equals(Buffer.from(c.components.hash))).toBe(false);
  });

  it.each([
    ["not YAML", "receivers: [\n"],
    ["a usage text", 'Error: unknown command "components" for "otelcol"\n'],
    ["a list", "- a\n- b\n"],
    ["a kind that is not a list", "receivers: otlp\n"],
    ["an entry without a name", "receivers:\n  - module: m v1\n"],
  ])("refuses %s instead of reporting a partial inventory", (_, text) => {
    const parsed = parseComponents(text);
    expect(parsed.ok).toBe(false);
  });
});

describe("parseBuildInfo", () => {
  it("names the build as `--version` does, so a start needs no `--version` run", () => {
    const stub = (args: string[]): string => execFileSync(process.execPath, [STUB, ...args], { encoding: "utf8" });
    const [, name, version] = /^(\S+) version (\S+)/.exec(stub(["--version"])) ?? [];
    expect(parseBuildInfo(stub(["components"]))).toEqual({ name, version });
  });

  it("drops a leading v, and says nothing without a buildinfo version", () => {
    expect(parseBuildInfo("buildinfo:\n    command: otelcol-x\n    version: v0.130.1-dev\n")).toEqual({
      name: "otelcol-x",
      version: "0.130.1-dev",
    });
    expect(parseBuildInfo("buildinfo:\n    version: 0.1.0\n")).toEqual({ name: undefined, version: "0.1.0" });
    expect(parseBuildInfo("receivers: []\n")).toBeUndefined();
    expect(parseBuildInfo("buildinfo:\n    version: devel\n")).toBeUndefined();
    expect(parseBuildInfo(": not yaml :")).toBeUndefined();
  });
});
