import { readdir, writeFile } from "node:fs/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { RemoteConfigStatuses } from "../../src/gen/opamp_pb.js";
import { OpampTestServer } from "../support/opamp-test-server.js";
import type { Received } from "../support/opamp-test-server.js";
import { eventually } from "../support/eventually.js";
import { BASE_COLLECTOR, auditLines, makeWorkspace, startSupervisor, waitForStub } from "./harness.js";
import type { RunningSupervisor, StubState, Workspace } from "./harness.js";

const {
  RemoteConfigStatuses_APPLIED: APPLIED,
  RemoteConfigStatuses_APPLYING: APPLYING,
  RemoteConfigStatuses_FAILED: FAILED,
} = RemoteConfigStatuses;

let server: OpampTestServer;
const running: RunningSupervisor[] = [];

beforeEach(async () => {
  server = await OpampTestServer.start();
});
afterEach(async () => {
  for (const sup of running.splice(0)) await sup.kill();
  await server.close();
});

function launch(ws: Workspace, env: Record<string, string> = {}): RunningSupervisor {
  const sup = startSupervisor(ws, env);
  running.push(sup);
  return sup;
}

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const hash = (n: number): Uint8Array => new Uint8Array([0xc0, n]);
/** A remote file that adds a marker exporter to the traces pipeline. */
const marked = (marker: string, extra = ""): string =>
  `exporters:\n  debug/${marker}: {}\nservice:\n  pipelines:\n    traces:\n      exporters: [debug/${marker}]\n${extra}`;

function push(h: Uint8Array, files: Record<string, string>): number {
  const from = server.received.length;
  const configMap = Object.fromEntries(
    Object.entries(files).map(([k, v]) => [k, { body: enc(v), contentType: "text/yaml" }]),
  );
  server.push({ remoteConfig: { configHash: h, config: { configMap } } });
  return from;
}

function statusFor(h: Uint8Array, status: number, from = 0): Promise<Received> {
  return server.waitFor(
    (r) =>
      r.msg.remoteConfigStatus?.status === status &&
      Buffer.from(r.msg.remoteConfigStatus.lastRemoteConfigHash).equals(Buffer.from(h)),
    { from, timeoutMs: 15_000 },
  );
}

const runs = (s: StubState, marker: string): boolean =>
  Object.keys((s.config["exporters"] as object) ?? {}).includes(`debug/${marker}`);

async function ready(hup: boolean): Promise<{ ws: Workspace; sup: RunningSupervisor; first: StubState }> {
  const ws = await makeWorkspace({ endpoint: server.wsUrl, hup });
  const sup = launch(ws);
  await server.waitFor((r) => r.msg.health?.healthy === true, { timeoutMs: 10_000 });
  const first = await waitForStub(ws);
  return { ws, sup, first };
}

describe.each([
  ["restart", false],
  ["SIGHUP", true],
] as const)("remote config in %s mode", (_mode, hup) => {
  it("applies a good config: APPLYING, then APPLIED once healthy, and the collector runs it", async () => {
    const { ws, first, sup } = await ready(hup);
    const logsFrom = sup.logs.length;
    const from = push(hash(1), { "remote.yaml": marked("one") });
    await statusFor(hash(1), APPLYING, from);
    const applied = await statusFor(hash(1), APPLIED, from);
    const state = await waitForStub(ws, (s) => runs(s, "one") && s.healthy);
    if (hup) {
      expect(state.pid).toBe(first.pid);
      expect(state.reloads).toBe(1);
    } else {
      expect(state.pid).not.toBe(first.pid);
    }
    const effective = server.received
      .slice(from)
      .map((r) => r.msg.effectiveConfig)
      .find(Boolean);
    expect(new TextDecoder().decode(effective?.configMap?.configMap[""]?.body)).toContain("debug/one");
    expect(applied.msg.remoteConfigStatus?.errorMessage).toBe("");
    const audit = (await auditLines(ws)).find((l) => l["action"] === "remote-config-applied");
    expect(audit).toMatchObject({ hash: "c001", result: "applied", mode: hup ? "reload" : "restart" });
    expect(audit?.["validateMs"]).toEqual(expect.any(Number));
    // Each phase of the apply is an info line with its duration, in order.
    const phases = sup.logs.slice(logsFrom).filter((l) => l.level === "info" && typeof l["phase"] === "string");
    expect(phases.map((l) => l["phase"])).toEqual(["validate", "write", hup ? "reload" : "restart", "health"]);
    expect(phases.every((l) => typeof l["durationMs"] === "number" && l["durationMs"] >= 0)).toBe(true);
    expect(phases.at(-1)).toMatchObject({ result: "passed" });
  });

  it("refuses a config the collector's validate rejects, with its error, without touching the collector", async () => {
    const { ws, first } = await ready(hup);
    const from = push(hash(2), { "remote.yaml": marked("two", "stub:\n  invalid: pipeline traces is broken\n") });
    const failed = await statusFor(hash(2), FAILED, from);
    expect(failed.msg.remoteConfigStatus?.errorMessage).toContain("Error: pipeline traces is broken");
    const state = await waitForStub(ws);
    expect(state.pid).toBe(first.pid);
    expect(state.reloads).toBe(0);
    expect(runs(state, "two")).toBe(false);
  });

  it("rolls back a config that turns unhealthy inside the window", async () => {
    const { ws } = await ready(hup);
    const from = push(hash(3), { "remote.yaml": marked("three", "stub:\n  unhealthy_after_ms: 120\n") });
    const failed = await statusFor(hash(3), FAILED, from);
    expect(failed.msg.remoteConfigStatus?.errorMessage).toMatch(/health check window failed/);
    const audit = (await auditLines(ws)).find((l) => l["action"] === "remote-config-failed");
    expect(audit).toMatchObject({ hash: "c003", result: "failed", reasonCode: "unhealthy" });
    // FAILED goes out as soon as the config is known bad; the rollback follows, and its
    // outcome shows in the health reports and in its own audit line.
    const failedAt = server.received.indexOf(failed);
    await server.waitFor((r) => r.msg.health?.healthy === true, { from: failedAt + 1, timeoutMs: 10_000 });
    const state = await waitForStub(ws, (s) => s.healthy);
    expect(runs(state, "three")).toBe(false);
    expect(server.received.slice(from).some((r) => r.msg.health?.healthy === false)).toBe(true);
    const rollback = await eventually(async () =>
      (await auditLines(ws)).find((l) => l["action"] === "remote-config-rolled-back"),
    );
    expect(rollback).toMatchObject({
      hash: "c003",
      result: "healthy",
      reason: "rolled back to the last working config, healthy again",
    });
  });

  it("rolls back a config that makes the collector crash after the switch", async () => {
    const { ws } = await ready(hup);
    const from = push(hash(4), { "remote.yaml": marked("four", "stub:\n  crash_after_ms: 100\n  exit_code: 7\n") });
    const failed = await statusFor(hash(4), FAILED, from);
    expect(failed.msg.remoteConfigStatus?.errorMessage).toMatch(/collector exited: exited with code 7/);
    expect(failed.msg.remoteConfigStatus?.errorMessage).toMatch(/collector log tail:[\s\S]*panic/);
    const state = await waitForStub(ws, (s) => s.healthy);
    expect(runs(state, "four")).toBe(false);
  });
});

describe.each([
  ["restart", false],
  ["SIGHUP", true],
] as const)("remote config checks and idempotence in %s mode", (_mode, hup) => {
  it("refuses path-traversal names and YAML bombs, writing nothing outside the state directory", async () => {
    const { ws, first } = await ready(hup);
    const before = await readdir(ws.dir);
    let from = push(hash(5), { "../evil.yaml": marked("five") });
    const traversal = await statusFor(hash(5), FAILED, from);
    expect(traversal.msg.remoteConfigStatus?.errorMessage).toMatch(/evil/);
    const bomb = ["a: &a [x, x, x, x, x, x, x, x, x]"];
    for (let i = 1; i < 12; i++)
      bomb.push(
        `${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9)
          .fill(`*${String.fromCharCode(96 + i)}`)
          .join(", ")}]`,
      );
    from = push(hash(6), { "bomb.yaml": bomb.join("\n") });
    const boom = await statusFor(hash(6), FAILED, from);
    expect(boom.msg.remoteConfigStatus?.errorMessage).toMatch(/alias/i);
    expect(await readdir(ws.dir)).toEqual(before);
    expect((await waitForStub(ws)).pid).toBe(first.pid);
  });

  it("does no work for a hash it already applied", async () => {
    const { ws } = await ready(hup);
    let from = push(hash(7), { "remote.yaml": marked("seven") });
    await statusFor(hash(7), APPLIED, from);
    const state = await waitForStub(ws, (s) => runs(s, "seven"));
    const auditCount = (await auditLines(ws)).length;
    from = push(hash(7), { "remote.yaml": marked("seven") });
    await new Promise((r) => setTimeout(r, 500));
    expect(server.received.slice(from).some((r) => r.msg.remoteConfigStatus)).toBe(false);
    expect((await waitForStub(ws)).pid).toBe(state.pid);
    expect((await auditLines(ws)).length).toBe(auditCount);
  });

  it("answers a failed hash after a supervisor restart with FAILED, without restarting the collector", async () => {
    const { ws, sup } = await ready(hup);
    const from = push(hash(8), { "remote.yaml": marked("eight", "stub:\n  invalid: nope\n") });
    await statusFor(hash(8), FAILED, from);
    await sup.stop();
    const again = launch(ws);
    const { pid } = await waitForStub(ws);
    const reconnect = await server.waitFor((r) => r.connection === 2, { timeoutMs: 10_000 });
    expect(reconnect.msg.remoteConfigStatus?.status).toBe(FAILED);
    const from2 = push(hash(8), { "remote.yaml": marked("eight", "stub:\n  invalid: nope\n") });
    await new Promise((r) => setTimeout(r, 500));
    expect((await waitForStub(ws)).pid).toBe(pid);
    expect(server.received.slice(from2).some((r) => r.msg.remoteConfigStatus?.status === APPLYING)).toBe(false);
    expect(again.logs.some((l) => l.msg === "collector started" && l["attempt"] === 0)).toBe(true);
  });

  it("treats an empty config map as no remote config: local config alone, APPLIED", async () => {
    const { ws } = await ready(hup);
    let from = push(hash(9), { "remote.yaml": marked("nine") });
    await statusFor(hash(9), APPLIED, from);
    await waitForStub(ws, (s) => runs(s, "nine"));
    from = push(hash(10), {});
    await statusFor(hash(10), APPLIED, from);
    const state = await waitForStub(ws, (s) => s.healthy && !runs(s, "nine"));
    expect(state.config).toHaveProperty(["service", "pipelines", "traces", "exporters"], ["debug"]);
  });
});

describe("SIGHUP proof", () => {
  it("does not take the old service's answers right after SIGHUP as proof of the new config", async () => {
    // One pass is enough here, so a stale 200 from the pre-reload service would pass the window.
    // The new service never answers 200 before it crashes: any pass would be the old one's.
    const ws = await makeWorkspace({ endpoint: server.wsUrl, hup: true, health: { passesRequired: 1, window: 3 } });
    launch(ws);
    await server.waitFor((r) => r.msg.health?.healthy === true, { timeoutMs: 10_000 });
    await waitForStub(ws);
    const neverReady = "stub:\n  healthy_after_ms: 60000\n  crash_after_ms: 25\n";
    for (let i = 0; i < 3; i++) {
      const from = push(hash(20 + i), { "remote.yaml": marked(`hup${i}`, neverReady) });
      const failed = await statusFor(hash(20 + i), FAILED, from);
      expect(failed.msg.remoteConfigStatus?.errorMessage).toMatch(/collector exited/);
      await waitForStub(ws, (s) => s.healthy && !runs(s, `hup${i}`));
    }
  });
});

describe("when the last working config fails too", () => {
  it("keeps restarting it with growing delays and reports unhealthy, no tight loop", async () => {
    const { ws, sup } = await ready(false);
    let from = push(hash(12), { "remote.yaml": marked("twelve") });
    await statusFor(hash(12), APPLIED, from);
    // The local file breaks underneath: the rollback target now crashes too.
    await writeFile(ws.collectorConfigPath, `${BASE_COLLECTOR}stub:\n  crash_after_ms: 30\n`);
    from = push(hash(14), { "remote.yaml": marked("fourteen", "stub:\n  unhealthy_after_ms: 100\n") });
    await statusFor(hash(14), FAILED, from);
    const rollback = await eventually(
      async () => (await auditLines(ws)).find((l) => l["action"] === "remote-config-rolled-back"),
      15_000,
    );
    expect(rollback).toMatchObject({
      hash: "c00e",
      result: "unhealthy",
      reason: expect.stringMatching(/rollback did not become healthy either/),
    });
    await server.waitFor((r) => r.msg.health?.healthy === false, { from, timeoutMs: 10_000 });
    const delays = (): number[] =>
      sup.logs.filter((l) => l.msg.startsWith("collector crashed")).map((l) => l["delayMs"] as number);
    await eventually(() => delays().length >= 3, {
      timeoutMs: 15_000,
      what: "three restarts of the failing rollback target",
    });
    await new Promise((r) => setTimeout(r, 1_000));
    expect(delays().length).toBeLessThan(12); // 100 ms doubling: a handful, not hundreds
    expect(delays().slice(0, 3)).toEqual([100, 200, 400]);
    const lastHealth = server.received.filter((r) => r.msg.health).at(-1)?.msg.health;
    expect(lastHealth?.healthy).toBe(false);
  });
});

describe.each([
  ["restart", false],
  ["SIGHUP", true],
] as const)("crash safety in %s mode: the supervisor killed inside the transaction", (_mode, hup) => {
  it.each(["config-received", "config-validated", "config-swapped", "config-applied", "config-proven"])(
    "killed at %s, it comes back running a config consistent with what it reports",
    async (step) => {
      const ws = await makeWorkspace({ endpoint: server.wsUrl, hup });
      const sup = launch(ws, { OPAMP_SUPERVISOR_TEST_HALT_AT: step });
      await server.waitFor((r) => r.msg.health?.healthy === true, { timeoutMs: 10_000 });
      push(hash(11), { "remote.yaml": marked("eleven") });
      expect((await sup.exited).signal).toBe("SIGKILL");

      launch(ws);
      const reconnect = await server.waitFor((r) => r.connection === 2 && r.msg.remoteConfigStatus !== undefined, {
        timeoutMs: 10_000,
      });
      const reported = reconnect.msg.remoteConfigStatus!;
      const state = await waitForStub(ws, (s) => s.healthy);
      const reportsNew =
        reported.status === APPLIED && Buffer.from(reported.lastRemoteConfigHash).equals(Buffer.from(hash(11)));
      expect(reported.status).not.toBe(APPLYING);
      expect(runs(state, "eleven")).toBe(reportsNew);
      expect(reportsNew).toBe(step === "config-proven");
      // A candidate the kill left staged is gone once the supervisor runs again.
      expect((await readdir(ws.stateDir)).filter((n) => n.includes(".tmp-"))).toEqual([]);

      // The server sends the config again; now it goes through.
      const from = push(hash(11), { "remote.yaml": marked("eleven") });
      if (!reportsNew) await statusFor(hash(11), APPLIED, from);
      await waitForStub(ws, (s) => runs(s, "eleven") && s.healthy);
    },
  );
});
