/**
 * The sidecar shape outside containers: `init-config` writes effective.yaml; the stub
 * collector runs as a separate process on it (started and restarted by the test, as the
 * kubelet would); the supervisor with agent.run: sidecar finds it in /proc, applies a remote
 * config by SIGHUP, and reports a crash and the restarted process.
 */
import { spawn, spawnSync } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { RemoteConfigStatuses } from "../../src/gen/opamp_pb.js";
import { AuditLog, StateStore, openStateDir } from "../../src/storage/index.js";
import { systemClock } from "../../src/deps.js";
import { OpampTestServer } from "../support/opamp-test-server.js";
import { eventually } from "../support/eventually.js";
import { CLI, STUB, makeWorkspace, startSupervisor, waitForStub } from "./harness.js";
import type { RunningSupervisor, Workspace } from "./harness.js";

const { RemoteConfigStatuses_APPLIED: APPLIED } = RemoteConfigStatuses;
const SIDECAR = "  run: sidecar\n";
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const marked = (marker: string): string =>
  `exporters:\n  debug/${marker}: {}\nservice:\n  pipelines:\n    traces:\n      exporters: [debug/${marker}]\n`;

let server: OpampTestServer | undefined;
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await server?.close();
  server = undefined;
});

function initConfig(configPath: string): { status: number | null; stderr: string } {
  const out = spawnSync(process.execPath, [CLI, "init-config", "--config", configPath], {
    encoding: "utf8",
    timeout: 20_000,
  });
  return { status: out.status, stderr: out.stderr };
}

/** The collector's container: runs the stub on effective.yaml and starts it again whenever it ends. */
class Kubelet {
  #child: ChildProcess | undefined;
  #stopped = false;
  restarts = 0;

  constructor(readonly ws: Workspace) {
    this.#start();
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  #start(): void {
    const child = spawn(STUB, ["--config", join(this.ws.stateDir, "effective.yaml")], { stdio: "ignore" });
    this.#child = child;
    child.once("exit", () => {
      if (this.#stopped) return;
      this.restarts++;
      this.#start();
    });
  }

  kill(): void {
    this.#child?.kill("SIGKILL");
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise((r) => child.once("exit", r));
    child.kill("SIGKILL");
    await gone;
  }
}

describe("opamp-supervisor init-config", () => {
  it("writes the local config into a fresh state dir, and the last working remote config once one is stored", async () => {
    const ws = await makeWorkspace({ endpoint: "ws://127.0.0.1:1/v1/opamp", agentExtra: SIDECAR });
    expect(initConfig(ws.configPath)).toMatchObject({ status: 0 });
    const local = await readFile(join(ws.stateDir, "effective.yaml"), "utf8");
    expect(local).toContain("health_check");
    expect(local).not.toContain("debug/remote");

    const dir = await openStateDir(ws.stateDir);
    const audit = new AuditLog({ path: dir.file("audit.log"), clock: systemClock });
    const store = new StateStore({ dir, clock: systemClock, audit });
    await store.writeLastWorkingRemoteConfig({
      hash: new Uint8Array([1, 2]),
      configMap: { "remote.yaml": { body: enc(marked("remote")), contentType: "text/yaml" } },
    });
    expect(initConfig(ws.configPath)).toMatchObject({ status: 0 });
    expect(await readFile(join(ws.stateDir, "effective.yaml"), "utf8")).toContain("debug/remote");
  });

  it("exits 2 naming the key on a bad supervisor.yaml, and when there is nothing to run", async () => {
    const ws = await makeWorkspace({ endpoint: "ws://127.0.0.1:1/v1/opamp", agentExtra: "  run: pod\n" });
    const bad = initConfig(ws.configPath);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/agent\.run/);

    const empty = await makeWorkspace({ endpoint: "ws://127.0.0.1:1/v1/opamp", agentExtra: SIDECAR });
    await writeFile(
      empty.configPath,
      (await readFile(empty.configPath, "utf8")).replace(/config_files: \[.*\]/, "config_files: []"),
    );
    const nothing = initConfig(empty.configPath);
    expect(nothing.status).toBe(2);
    expect(nothing.stderr).toMatch(/agent\.config_files: no local collector config/);
  });
});

describe("agent.run: sidecar against a collector the test runs itself", () => {
  it("attaches, applies a remote config by SIGHUP, and reports a killed collector and its restart", async () => {
    server = await OpampTestServer.start();
    const ws = await makeWorkspace({ endpoint: server.wsUrl, hup: true, agentExtra: SIDECAR });
    expect(initConfig(ws.configPath).status).toBe(0);
    const kubelet = new Kubelet(ws);
    cleanups.push(() => kubelet.stop());
    const first = await waitForStub(ws);
    expect(first.pid).toBe(kubelet.pid);

    const sup: RunningSupervisor = startSupervisor(ws);
    cleanups.push(() => sup.kill());
    await sup.log((l) => l.msg.includes("agent.run: sidecar"));
    await server.waitFor((r) => r.msg.health?.healthy === true, { timeoutMs: 15_000 });
    expect(kubelet.restarts).toBe(0); // attached to the running collector, no restart at start

    const from = server.received.length;
    server.push({
      remoteConfig: {
        configHash: new Uint8Array([9]),
        config: { configMap: { "remote.yaml": { body: enc(marked("hup")), contentType: "text/yaml" } } },
      },
    });
    await server.waitFor(
      (r) => r.msg.remoteConfigStatus?.status === APPLIED && r.msg.remoteConfigStatus.lastRemoteConfigHash[0] === 9,
      { from, timeoutMs: 15_000 },
    );
    const reloaded = await waitForStub(ws, (s) => s.reloads === 1 && s.healthy);
    expect(reloaded.pid).toBe(first.pid); // the same process: SIGHUP, not a restart
    expect(Object.keys(reloaded.config["exporters"] as object)).toContain("debug/hup");

    const beforeKill = server.received.length;
    kubelet.kill();
    await server.waitFor((r) => r.msg.health !== undefined && !r.msg.health.healthy, {
      from: beforeKill,
      timeoutMs: 15_000,
    });
    const healthyAgain = await server.waitFor((r) => r.msg.health?.healthy === true, {
      from: beforeKill,
      timeoutMs: 20_000,
    });
    expect(healthyAgain.msg.health?.status).toBe("StatusOK");
    const restarted = await waitForStub(ws);
    expect(restarted.pid).not.toBe(first.pid);
    expect(restarted.pid).toBe(kubelet.pid);
    expect(Object.keys(restarted.config["exporters"] as object)).toContain("debug/hup"); // the shared config survived
    await eventually(
      () => sup.logs.find((l) => l.msg.includes("attached to the collector") && l["pid"] === restarted.pid),
      5_000,
      "the supervisor to attach to the new pid",
    );

    // Our stop is not the collector's: its container keeps running it (the same process).
    const restarts = kubelet.restarts;
    expect(await sup.stop()).toEqual({ code: 0, signal: null });
    expect(sup.logs.some((l) => l.level === "error")).toBe(false);
    expect(sup.logs.some((l) => l.msg.includes("leaving the collector running"))).toBe(true);
    expect(kubelet.restarts).toBe(restarts);
    expect(kubelet.pid).toBe(restarted.pid);
    expect(() => process.kill(restarted.pid, 0)).not.toThrow();
  });
});
