/** agent.run and agent.sidecar: the keys, their errors, and what a sidecar does to capabilities and the host checks. */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { loadSupervisorConfig } from "../../src/config/load.js";
import { writeFileAtomic } from "../../src/storage/index.js";
import { capabilityBits } from "../../src/supervisor/capabilities.js";
import { MINIMAL, configError, resolve, withAgent } from "./helpers.js";

const AcceptsPackages = 0x8n; // AgentCapabilities_AcceptsPackages

describe("agent.run", () => {
  it("defaults to child and takes sidecar with its options", () => {
    expect(resolve(MINIMAL).agent.run).toBe("child");
    const config = resolve(
      withAgent("run: sidecar\nsidecar:\n  validate_executable: bin/otelcol\n  start_timeout: 2m"),
    );
    expect(config.agent.run).toBe("sidecar");
    expect(config.agent.sidecar).toEqual({ validateExecutable: "/etc/otelcol/bin/otelcol", startTimeoutMs: 120_000 });
  });

  it("refuses other modes and bad sidecar keys, naming the key", () => {
    expect(configError(withAgent("run: pod")).problems.join("\n")).toMatch(/agent\.run.*"child", "sidecar"/);
    expect(configError(withAgent("run: sidecar\nsidecar:\n  start_timeout: soon")).problems.join("\n")).toMatch(
      /agent\.sidecar\.start_timeout/,
    );
    expect(configError(withAgent("run: sidecar\nsidecar:\n  pid: 1")).problems.join("\n")).toMatch(
      /agent\.sidecar\.pid/,
    );
  });

  it("warns that agent.sidecar has no effect on a child", () => {
    expect(resolve(withAgent("sidecar:\n  start_timeout: 5s")).warnings.join("\n")).toMatch(
      /agent\.sidecar.*not sidecar/,
    );
  });
});

describe("capabilities in a sidecar", () => {
  const packages = "capabilities:\n  accepts_packages: true\n";
  const trust = "package:\n  verifier:\n    insecure_accept_unsigned_packages: true";

  it("turns accepts_packages off with a warning that names the sidecar and the image", () => {
    const config = resolve(packages + withAgent(`run: sidecar\n${trust}`));
    expect(config.capabilities.acceptsPackages).toBe(false);
    expect(capabilityBits(config.capabilities) & AcceptsPackages).toBe(0n);
    expect(config.warnings.join("\n")).toMatch(/capabilities\.accepts_packages: .*sidecar.*image is the upgrade path/);
  });

  it("keeps accepts_packages for a child", () => {
    const config = resolve(packages + withAgent(trust));
    expect(capabilityBits(config.capabilities) & AcceptsPackages).toBe(AcceptsPackages);
  });
});

describe("host checks in a sidecar", () => {
  let dir: string;
  afterEach(async () => rm(dir, { recursive: true, force: true }));

  async function load(agent: string): Promise<unknown> {
    dir = await mkdtemp(path.join(tmpdir(), "sidecar-config-"));
    const file = path.join(dir, "supervisor.yaml");
    await writeFileAtomic(
      file,
      `server:\n  endpoint: ws://127.0.0.1:4320/v1/opamp\nstorage:\n  directory: ${dir}/state\nagent:\n${agent}`,
    );
    return loadSupervisorConfig(file, { env: {} }).then(
      () => "ok",
      (err: unknown) => (err as Error).message,
    );
  }

  it("does not look for agent.executable in our container, but checks validate_executable", async () => {
    expect(await load("  run: sidecar\n  executable: /otelcol-contrib\n")).toBe("ok");
    expect(
      await load(
        "  run: sidecar\n  executable: /otelcol-contrib\n  sidecar:\n    validate_executable: /nonexistent/otelcol\n",
      ),
    ).toMatch(/agent\.sidecar\.validate_executable: \/nonexistent\/otelcol does not exist/);
    expect(await load("  executable: /otelcol-contrib\n")).toMatch(
      /agent\.executable: \/otelcol-contrib does not exist/,
    );
  });
});
