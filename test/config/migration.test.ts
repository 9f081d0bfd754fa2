/**
 * The migration suite: our own Go-style supervisor.yaml files, one per key of the official
 * Go supervisor's config (test/config/migration/<key>.yaml, the key and its effect here in
 * the header). Every file passes validate; a file warns exactly when its header says so; a
 * representative subset starts against the stub collector and the test server; and the
 * README's migration table lists every key.
 */
import { cpSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { loadSupervisorConfig } from "../../src/config/load.js";
import { OpampTestServer } from "../support/opamp-test-server.js";
import { CLI, ROOT, STUB, freePort } from "../e2e/harness.js";
import { RunningSupervisor } from "../e2e/harness.js";
import { spawn, spawnSync } from "node:child_process";

const DIR = join(ROOT, "test/config/migration");
const files = readdirSync(DIR).filter(
  (name) => name.endsWith(".yaml") && name !== "collector.yaml" && name !== "extra.yaml",
);
const header = (name: string): { key: string; effect: string } => {
  const text = readFileSync(join(DIR, name), "utf8");
  return {
    key: /^# Go supervisor key: (\S+)$/m.exec(text)?.[1] ?? "",
    effect: /^# Here: (.*)$/m.exec(text)?.[1] ?? "",
  };
};
const env = (state: string, endpoint?: string): Record<string, string> => ({
  MIGRATION_COLLECTOR: STUB,
  MIGRATION_STATE: state,
  ...(endpoint === undefined ? {} : { MIGRATION_ENDPOINT: endpoint }),
});

describe("migration files", () => {
  it("cover every key of the Go config, one file each, named after it", () => {
    expect(files.length).toBeGreaterThanOrEqual(60);
    for (const name of files) expect(name).toBe(`${header(name).key.replaceAll(".", "_")}.yaml`);
  });

  it.each(files)("%s passes validate, warning exactly when its header says so", async (name) => {
    const config = await loadSupervisorConfig(join(DIR, name), {
      env: env(mkdtempSync(join(tmpdir(), "migration-state-"))),
    });
    const { key, effect } = header(name);
    const warns = effect.includes("(warning at start)");
    expect(config.warnings.length > 0, `${key}: ${config.warnings.join(" | ")}`).toBe(warns);
    if (warns)
      expect(
        config.warnings.some(
          (w) => w.startsWith(key.replace(/^extensions\.\w+$/, "server.auth")) || w.startsWith("agent.config_files"),
        ),
      ).toBe(true);
  });

  it("are all listed in the README's migration table with their effect", () => {
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    const section = readme.slice(readme.indexOf("## Moving from the official Go supervisor"));
    for (const name of files) expect(section, header(name).key).toContain(`| \`${header(name).key}\` |`);
  });
});

const START = [
  "server_endpoint.yaml",
  "server_headers.yaml",
  "server_auth.yaml",
  "capabilities_accepts_remote_config.yaml",
  "capabilities_reports_own_metrics.yaml",
  "agent_config_files.yaml",
  "agent_opamp_server_port.yaml",
  "agent_use_hup_config_reload.yaml",
  "agent_automatic_config_rollback.yaml",
  "telemetry_logs_level.yaml",
  "telemetry_metrics_readers.yaml",
  "healthcheck_endpoint.yaml",
];

describe("a representative subset starts against the stub", () => {
  let server: OpampTestServer | undefined;
  let sup: RunningSupervisor | undefined;
  afterEach(async () => {
    await sup?.kill();
    await server?.close();
  });

  it.each(START)(
    "%s: validate passes (built CLI), the collector runs healthy, the start logs the same warnings",
    async (name) => {
      server = await OpampTestServer.start();
      const dir = mkdtempSync(join(tmpdir(), "migration-run-"));
      cpSync(DIR, dir, { recursive: true });
      // The collector's own health_check on a free port, so parallel runs never share 13133.
      const healthPort = await freePort();
      const collector = readFileSync(join(DIR, "collector.yaml"), "utf8")
        .replace("extensions:\n", `extensions:\n  health_check:\n    endpoint: 127.0.0.1:${healthPort}\n`)
        .replace("extensions: [zpages]", "extensions: [zpages, health_check]");
      expect(collector).toContain("[zpages, health_check]");
      writeFileSync(join(dir, "collector.yaml"), collector);
      const vars = env(join(dir, "state"), server.wsUrl);
      const validated = spawnSync(process.execPath, [CLI, "validate", "--config", join(dir, name)], {
        encoding: "utf8",
        env: { ...process.env, ...vars },
      });
      expect(validated.status, validated.stderr).toBe(0);
      const expected = (await loadSupervisorConfig(join(dir, name), { env: vars })).warnings;

      sup = new RunningSupervisor(
        spawn(process.execPath, [CLI, "--config", join(dir, name)], {
          env: { ...process.env, ...vars },
          stdio: ["ignore", "pipe", "pipe"],
        }),
      );
      await server.waitFor((r) => r.msg.health?.healthy === true, { timeoutMs: 15_000 });
      const logged = sup.logs.filter((l) => l.level === "warn" && l["config"] === join(dir, name)).map((l) => l.msg);
      expect(logged).toEqual(expected);
    },
  );
});
