import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { attribute } from "../support/wire.js";
import { formatUuid } from "../../src/opamp/uuid.js";
import { eventually } from "../support/fake-clock.js";
import { OpampTestServer } from "../support/opamp-test-server.js";
import { CLI, auditLines, isAlive, makeWorkspace, startSupervisor, stubState, waitForStub } from "./harness.js";
import type { RunningSupervisor, Workspace } from "./harness.js";
import { spawnSync } from "node:child_process";

let server: OpampTestServer | undefined;
const running: RunningSupervisor[] = [];

afterEach(async () => {
  for (const sup of running.splice(0)) await sup.kill();
  await server?.close();
  server = undefined;
});

function launch(ws: Workspace, env: Record<string, string> = {}): RunningSupervisor {
  const sup = startSupervisor(ws, env);
  running.push(sup);
  return sup;
}

const configFile = (yaml: string): { body: Uint8Array; contentType: string } => ({
  body: new TextEncoder().encode(yaml),
  contentType: "text/yaml",
});

describe("the supervisor daemon", () => {
  it("starts the collector and reports its description and health", async () => {
    server = await OpampTestServer.start();
    const ws = await makeWorkspace({ endpoint: server.wsUrl });
    launch(ws);
    const first = await server.waitFor((r) => r.msg.agentDescription !== undefined, { timeoutMs: 10_000 });
    const description = first.msg.agentDescription!;
    expect(attribute(description, "service.name")).toBe("otelcol-stub");
    expect(attribute(description, "service.version")).toBe("0.1.0");
    expect(attribute(description, "service.namespace")).toBe("e2e");
    expect(attribute(description, "deployment.ring")).toBe("canary");
    expect(attribute(description, "service.instance.id")).toBe(formatUuid(first.msg.instanceUid));
    expect(attribute(description, "os.type")).toBe("linux");
    expect(attribute(description, "host.name")).toBeTruthy();
    // Semantic-convention names, as the Go supervisor's collectors report them (not Node's x64).
    expect(attribute(description, "host.arch")).toBe(
      ({ x64: "amd64", arm64: "arm64" } as Record<string, string>)[process.arch] ?? process.arch,
    );
    expect(attribute(description, "os.description")).toBeTruthy();
    const healthy = await server.waitFor((r) => r.msg.health?.healthy === true, { timeoutMs: 10_000 });
    expect(healthy.msg.health?.startTimeUnixNano).toBeGreaterThan(0n);
    expect(healthy.msg.health?.status).toBe("StatusOK");
    // A collector that is still booting is "starting", not in error.
    const before = server.received
      .slice(0, server.received.indexOf(healthy))
      .flatMap((r) => (r.msg.health ? [r.msg.health.status] : []));
    expect(before.every((status) => status === "StatusStarting")).toBe(true);
    const effective = server.received.map((r) => r.msg.effectiveConfig).find(Boolean);
    const body = new TextDecoder().decode(effective?.configMap?.configMap[""]?.body);
    expect(body).toContain("health_check");
    const state = await waitForStub(ws);
    expect(state.config).toHaveProperty(["extensions", "health_check", "endpoint"], `127.0.0.1:${ws.healthPort}`);
  });

  it("speaks plain HTTP too, polling at server.heartbeat_interval", async () => {
    server = await OpampTestServer.start();
    const ws = await makeWorkspace({ endpoint: server.httpUrl, serverExtra: "  heartbeat_interval: 200ms\n" });
    launch(ws);
    await server.waitFor((r) => r.msg.health?.healthy === true, { timeoutMs: 10_000 });
    // Five more polls: at 200 ms they come within a second; at the 30 s default this would time out.
    await server.waitFor(() => true, { from: server.received.length + 4, timeoutMs: 10_000 });
    expect(server.received.every((r) => r.transport === "http")).toBe(true);
  });

  it("restarts a crashing collector with growing delays and reports unhealthy, then healthy", async () => {
    server = await OpampTestServer.start();
    const ws = await makeWorkspace({ endpoint: server.wsUrl });
    const local = await readFile(ws.collectorConfigPath, "utf8");
    await writeFile(ws.collectorConfigPath, `${local}stub:\n  crash_after_ms: 400\n  exit_code: 3\n`);
    const sup = launch(ws);
    await server.waitFor((r) => r.msg.health?.healthy === true, { timeoutMs: 10_000 });
    const down = await server.waitFor((r) => r.msg.health?.healthy === false && /code 3/.test(r.msg.health.lastError), {
      timeoutMs: 10_000,
    });
    expect(down.msg.health?.startTimeUnixNano).toBe(0n);
    expect(down.msg.health?.lastError).toMatch(/panic/);
    await server.waitFor((r) => r.msg.health?.healthy === true, {
      from: server.received.indexOf(down),
      timeoutMs: 10_000,
    });
    await eventually(
      () => sup.logs.filter((l) => l.msg.startsWith("collector crashed")).length >= 3,
      15_000,
      "three crashes",
    );
    const delays = sup.logs.filter((l) => l.msg.startsWith("collector crashed")).map((l) => l["delayMs"] as number);
    expect(delays.slice(0, 3)).toEqual([100, 200, 400]);
  });

  it("runs the last working config with the server down, then connects when it appears", async () => {
    server = await OpampTestServer.start();
    const port = server.port;
    const ws = await makeWorkspace({ endpoint: server.wsUrl });
    const sup = launch(ws);
    await server.waitFor((r) => r.msg.health?.healthy === true, { timeoutMs: 10_000 });
    const remote =
      "exporters:\n  debug/remote:\n    verbosity: detailed\nservice:\n  pipelines:\n    traces:\n      exporters: [debug/remote]\n";
    server.push({
      remoteConfig: {
        configHash: new Uint8Array([0xaa, 1]),
        config: { configMap: { "remote.yaml": configFile(remote) } },
      },
    });
    await server.waitFor((r) => r.msg.remoteConfigStatus?.status === 1, { timeoutMs: 10_000 });
    expect((await sup.stop()).code).toBe(0);
    await server.close();
    server = undefined;

    const again = launch(ws);
    const state = await waitForStub(
      ws,
      (s) => s.healthy && "debug/remote" in ((s.config["exporters"] as object) ?? {}),
    );
    expect(state.config).toHaveProperty(["service", "pipelines", "traces", "exporters"], ["debug/remote"]);
    await again.log((l) => /ECONNREFUSED/.test(l.msg));
    server = await OpampTestServer.start({ port });
    const first = await server.waitFor(() => true, { timeoutMs: 15_000 });
    expect(first.msg.remoteConfigStatus?.status).toBe(1);
    expect(first.msg.remoteConfigStatus?.lastRemoteConfigHash).toEqual(new Uint8Array([0xaa, 1]));
  });

  it("keeps its instance uid across restarts and adopts one the server assigns", async () => {
    server = await OpampTestServer.start();
    const ws = await makeWorkspace({ endpoint: server.wsUrl });
    let sup = launch(ws);
    const first = await server.waitFor(() => true, { timeoutMs: 10_000 });
    await sup.stop();
    sup = launch(ws);
    const second = await server.waitFor((r) => r.connection === 2, { timeoutMs: 10_000 });
    expect(formatUuid(second.msg.instanceUid)).toBe(formatUuid(first.msg.instanceUid));

    const assigned = new Uint8Array(16).fill(0x42);
    server.push({ agentIdentification: { newInstanceUid: assigned } });
    await server.waitFor((r) => formatUuid(r.msg.instanceUid) === formatUuid(assigned), { timeoutMs: 10_000 });
    await eventually(
      async () => (await readFile(join(ws.stateDir, "instance-uid.json"), "utf8")).includes(formatUuid(assigned)),
      5_000,
      "persisted uid",
    );
    await sup.stop();
    launch(ws);
    const third = await server.waitFor((r) => r.connection === 3, { timeoutMs: 10_000 });
    expect(formatUuid(third.msg.instanceUid)).toBe(formatUuid(assigned));
    expect(attribute(third.msg.agentDescription!, "service.instance.id")).toBe(formatUuid(assigned));
  });

  it("restarts the collector on a restart command", async () => {
    server = await OpampTestServer.start();
    const ws = await makeWorkspace({ endpoint: server.wsUrl });
    launch(ws);
    const before = await waitForStub(ws);
    await server.waitFor(() => true, { timeoutMs: 10_000 });
    server.push({ command: {} });
    const after = await waitForStub(ws, (s) => s.healthy && s.pid !== before.pid);
    expect(isAlive(before.pid)).toBe(false);
    expect(after.pid).not.toBe(before.pid);
    expect((await auditLines(ws)).map((l) => l["action"])).toContain("restart-command");
  });

  it("shuts down cleanly on SIGTERM: exit 0, agent_disconnect sent, no collector left", async () => {
    server = await OpampTestServer.start();
    const ws = await makeWorkspace({ endpoint: server.wsUrl });
    const sup = launch(ws);
    const { pid } = await waitForStub(ws);
    await server.waitFor((r) => r.msg.health?.healthy === true, { timeoutMs: 10_000 });
    const exit = await sup.stop();
    expect(exit.code).toBe(0);
    expect(isAlive(pid)).toBe(false);
    expect(server.received.at(-1)?.msg.agentDisconnect).toBeDefined();
  });

  it("leaves no collector running after a SIGKILL of the supervisor and its next start", async () => {
    server = await OpampTestServer.start();
    const ws = await makeWorkspace({ endpoint: server.wsUrl });
    const sup = launch(ws);
    const { pid } = await waitForStub(ws);
    await sup.kill();
    await eventually(() => !isAlive(pid), 5_000, "the orphaned collector to die");
    launch(ws);
    const next = await waitForStub(ws, (s) => s.healthy && s.pid !== pid);
    const stubs = spawnSync("pgrep", ["-f", ws.collectorConfigPath.replace("collector.yaml", "state/effective.yaml")])
      .stdout.toString()
      .trim()
      .split("\n")
      .filter(Boolean);
    expect(stubs.map(Number)).toEqual([next.pid]);
  });

  it("refuses a bad supervisor.yaml with a non-zero exit naming the key", async () => {
    const ws = await makeWorkspace({
      endpoint: "ws://127.0.0.1:1/v1/opamp",
      agentExtra: "  collector_crash_log_snippet_kib: lots\n",
    });
    const result = spawnSync(process.execPath, [CLI, "--config", ws.configPath], { encoding: "utf8" });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(ws.configPath);
    expect(result.stderr).toMatch(/agent\.collector_crash_log_snippet_kib: expected/);
    expect(await stubState(ws)).toBeUndefined();
    const check = spawnSync(process.execPath, [CLI, "validate", "--config", ws.configPath], { encoding: "utf8" });
    expect(check.status).toBe(2);
  });
});
