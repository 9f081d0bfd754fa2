/** loadSupervisorConfig checks the host the way a start does (src/config/preflight.ts). */
import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadSupervisorConfig } from "../../src/config/load.js";
import { ConfigError } from "../../src/errors.js";
import { clientCert, makeCa } from "../connection/pki.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "preflight-"));
  await writeFile(path.join(dir, "otelcol"), "#!/bin/sh\n", { mode: 0o755 });
  await writeFile(path.join(dir, "collector.yaml"), "receivers: {}\n");
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function load(body: string): Promise<{ warnings: readonly string[] } | ConfigError> {
  const file = path.join(dir, "supervisor.yaml");
  await writeFile(file, body);
  try {
    return await loadSupervisorConfig(file, { env: {} });
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
}

const yaml = (o: { endpoint?: string; agent?: string; top?: string; storage?: string } = {}): string => `server:
  endpoint: ${o.endpoint ?? "ws://127.0.0.1:4320/v1/opamp"}
agent:
  executable: otelcol
${o.agent ?? ""}storage:
  directory: ${o.storage ?? "state"}
${o.top ?? ""}`;

const problems = (result: unknown): readonly string[] => (result instanceof ConfigError ? result.problems : []);

describe("preflight: what makes a start fail", () => {
  it("passes a file whose executable, state directory and files are usable, creating nothing", async () => {
    const result = await load(yaml({ agent: "  config_files: [collector.yaml, $REMOTE_CONFIG]\n" }));
    expect(result).not.toBeInstanceOf(ConfigError);
    expect((result as { warnings: readonly string[] }).warnings).toEqual([]);
  });

  it("refuses a missing or non-executable collector, saying what to set", async () => {
    expect(problems(await load(yaml().replace("executable: otelcol", "executable: nope")))).toEqual([
      `agent.executable: ${path.join(dir, "nope")} does not exist (set agent.executable to the collector binary, e.g. /usr/bin/otelcol-contrib)`,
    ]);
    await chmod(path.join(dir, "otelcol"), 0o644);
    expect(problems(await load(yaml()))).toEqual([
      expect.stringMatching(/^agent\.executable: .*otelcol is not executable \(chmod \+x it/),
    ]);
  });

  it("refuses a state directory that cannot be created", async () => {
    await writeFile(path.join(dir, "file"), "");
    expect(problems(await load(yaml({ storage: "file/state" })))).toEqual([
      `storage.directory: ${path.join(dir, "file/state")} cannot be created: ${path.join(dir, "file")} is not a directory`,
    ]);
  });

  it("refuses TLS files that do not parse on a secure endpoint, and ignores them on ws://", async () => {
    await writeFile(path.join(dir, "ca.pem"), "not a certificate\n");
    await writeFile(path.join(dir, "agent.pem"), clientCert(makeCa("preflight-ca"), 1).certPem);
    await writeFile(
      path.join(dir, "agent.key"),
      "-----BEGIN PRIVATE KEY-----\nAAAA-secret\n-----END PRIVATE KEY-----\n",
    );
    const tls = "  tls: {ca_file: ca.pem, cert_file: agent.pem, key_file: agent.key}\n";
    const body = (endpoint: string) =>
      yaml({ endpoint }).replace(`endpoint: ${endpoint}\n`, `endpoint: ${endpoint}\n${tls}`);
    const refused = await load(body("wss://opamp.example.com/v1/opamp"));
    expect(problems(refused)).toEqual([
      `server.tls.ca_file: ${path.join(dir, "ca.pem")} does not parse (no PEM certificate in it)`,
      `server.tls.key_file: ${path.join(dir, "agent.key")} does not parse (not a PEM private key)`,
    ]);
    expect((refused as ConfigError).message).not.toContain("AAAA-secret");
    expect(problems(await load(body("ws://127.0.0.1:4320/v1/opamp")))).toEqual([]);
  });

  it("refuses a missing startup fallback config and an unreadable token file", async () => {
    const result = await load(
      yaml({
        agent: "  startup_fallback_configs: [fallback.yaml]\n",
        top: "extensions:\n  bearertokenauth:\n    filename: /nonexistent/token\n",
      }).replace("server:\n", "server:\n  auth: bearertokenauth\n"),
    );
    expect(problems(result)).toEqual([
      `agent.startup_fallback_configs[0]: ${path.join(dir, "fallback.yaml")} cannot be read (ENOENT)`,
      "extensions.bearertokenauth.filename: /nonexistent/token cannot be read (ENOENT)",
    ]);
  });
});

describe("preflight: what a start only warns about", () => {
  it("warns about a missing or invalid agent.config_files entry: the collector runs without it", async () => {
    await mkdir(path.join(dir, "conf.d"));
    await writeFile(path.join(dir, "conf.d/bad.yaml"), "receivers: [\n");
    const result = await load(yaml({ agent: "  config_files: [collector.yaml, missing.yaml, conf.d/bad.yaml]\n" }));
    expect(result).not.toBeInstanceOf(ConfigError);
    expect((result as { warnings: readonly string[] }).warnings).toEqual([
      `agent.config_files[1]: ${path.join(dir, "missing.yaml")} cannot be read (ENOENT); the collector runs without it (the official Go supervisor skips it too)`,
      expect.stringMatching(
        /^agent\.config_files\[2\]: .*bad\.yaml is not valid YAML .*; the collector runs without it/,
      ),
    ]);
  });
});
