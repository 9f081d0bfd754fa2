/**
 * The built CLI (dist/cli.js, `npm run build` first) as an operator and systemd use it:
 * exit codes, --version, Go-style flags, and `validate` judging a file exactly as a start.
 */
import { spawn, spawnSync } from "node:child_process";
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CLI, ROOT, STUB, makeWorkspace, startSupervisor } from "../e2e/harness.js";
import type { RunningSupervisor } from "../e2e/harness.js";
import { OpampTestServer } from "../support/opamp-test-server.js";

const run = (...args: string[]) => {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", timeout: 20_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};

/** Runs the supervisor on a file until it exits on its own (a refused config) or 15 s pass. */
function start(configPath: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, "--config", configPath], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c));
    child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));
    const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe("command line conventions", () => {
  it("prints the package version for --version, -v and version", async () => {
    const { version } = JSON.parse(await readFile(join(ROOT, "package.json"), "utf8")) as { version: string };
    for (const args of [["--version"], ["-v"], ["version"]]) {
      expect(run(...args)).toMatchObject({ code: 0, stdout: `opamp-supervisor ${version}\n` });
    }
  });

  it("exits 2 on usage errors so systemd does not restart them", () => {
    expect(run("--bogus")).toMatchObject({ code: 2, stderr: expect.stringContaining("unknown option '--bogus'") });
    expect(run()).toMatchObject({ code: 2, stderr: expect.stringContaining("--config <file> is required") });
    expect(run("validate")).toMatchObject({ code: 2 });
    expect(run("frobnicate", "--config", "x")).toMatchObject({ code: 2 });
    expect(run("--help").code).toBe(0);
  });

  it("takes the Go supervisor's -config and --feature-gates spellings", () => {
    const example = join(ROOT, "examples/supervisor.yaml");
    expect(run("validate", "-config", example)).toMatchObject({ code: 0, stdout: `${example}: valid\n` });
    expect(run("validate", `-config=${example}`).code).toBe(0);
    expect(run("--feature-gates", "opampsupervisor.Extensions", "validate", "--config", example).code).toBe(0);
  });
});

describe("validate judges a file exactly as a start", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "cli-validate-"));
    await writeFile(join(dir, "collector.yaml"), "receivers: {}\n");
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const write = async (agent: string, extra = ""): Promise<string> => {
    const path = join(dir, "supervisor.yaml");
    await writeFile(
      path,
      `server:\n  endpoint: ws://127.0.0.1:1/v1/opamp\nagent:\n${agent}storage:\n  directory: ${join(dir, "state")}\n${extra}`,
    );
    return path;
  };

  it.each([
    [
      "a missing executable",
      `  executable: ${join("/nonexistent", "otelcol")}\n`,
      /agent\.executable: \/nonexistent\/otelcol does not exist \(set agent\.executable/,
    ],
    [
      "a storage directory that cannot be created",
      `  executable: ${STUB}\n`,
      /storage\.directory: .* cannot be created/,
      "file",
    ],
    ["an unparsable TLS file", `  executable: ${STUB}\n`, /server\.tls\.ca_file: .*ca\.pem does not parse/, "tls"],
  ])("refuses %s with exit 2, and so does a start", async (_what, agent, message, variant?: string) => {
    let path = await write(agent);
    if (variant === "file") {
      await writeFile(join(dir, "blocker"), "");
      path = await write(agent);
      await writeFile(
        path,
        (await readFile(path, "utf8")).replace(
          `directory: ${join(dir, "state")}`,
          `directory: ${join(dir, "blocker/state")}`,
        ),
      );
    }
    if (variant === "tls") {
      await writeFile(join(dir, "ca.pem"), "garbage\n");
      await writeFile(
        path,
        (await readFile(path, "utf8")).replace(
          "  endpoint: ws://127.0.0.1:1/v1/opamp\n",
          "  endpoint: wss://127.0.0.1:1/v1/opamp\n  tls: {ca_file: ca.pem}\n",
        ),
      );
    }
    const validated = run("validate", "--config", path);
    expect(validated.code).toBe(2);
    expect(validated.stderr).toMatch(message);
    const started = await start(path);
    expect(started.code).toBe(2);
    expect(started.stderr).toMatch(message);
  });

  it("refuses a collector that is not executable", async () => {
    const exe = join(dir, "otelcol");
    await writeFile(exe, "#!/bin/sh\n");
    await chmod(exe, 0o644);
    const validated = run("validate", "--config", await write(`  executable: ${exe}\n`));
    expect(validated).toMatchObject({ code: 2, stderr: expect.stringMatching(/otelcol is not executable/) });
  });

  it("prints what a start only warns about, and exits 0", async () => {
    const path = await write(
      `  executable: ${STUB}\n  config_files: [collector.yaml, missing.yaml]\n  opamp_server_port: 4321\n`,
    );
    const validated = run("validate", "--config", path);
    expect(validated.code).toBe(0);
    expect(validated.stdout).toBe(`${path}: valid (2 warnings)\n`);
    expect(validated.stderr.trim().split("\n")).toEqual([
      expect.stringMatching(/^opamp-supervisor: warning: agent\.opamp_server_port: accepted for compatibility/),
      expect.stringMatching(
        /^opamp-supervisor: warning: agent\.config_files\[1\]: .*missing\.yaml cannot be read \(ENOENT\); the collector runs without it/,
      ),
    ]);
  });
});

describe("a start logs the same warnings once and runs", () => {
  let server: OpampTestServer;
  let sup: RunningSupervisor | undefined;
  afterEach(async () => {
    await sup?.kill();
    await server.close();
  });

  it("skips a missing agent.config_files entry with one warning line and runs the rest", async () => {
    server = await OpampTestServer.start();
    const ws = await makeWorkspace({ endpoint: server.wsUrl, agentExtra: "  opamp_server_port: 4321\n" });
    const text = await readFile(ws.configPath, "utf8");
    await writeFile(
      ws.configPath,
      text.replace(
        `config_files: [${ws.collectorConfigPath}]`,
        `config_files: [${ws.collectorConfigPath}, ${join(ws.dir, "gone.yaml")}]`,
      ),
    );
    sup = startSupervisor(ws);
    await server.waitFor((r) => r.msg.health?.healthy === true, { timeoutMs: 15_000 });
    const warnings = sup.logs.filter(
      (l) => l.level === "warn" && /agent\.(config_files|opamp_server_port)/.test(l.msg),
    );
    expect(warnings.map((l) => l.msg)).toEqual([
      expect.stringMatching(/^agent\.opamp_server_port: /),
      expect.stringMatching(/^agent\.config_files\[1\]: .*gone\.yaml cannot be read \(ENOENT\)/),
    ]);
  });
});
