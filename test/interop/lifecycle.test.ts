/**
 * Scenarios 5 and 6: the restart command, a heartbeat interval change from the server, a
 * supervisor restart (same instance uid, last working config resumed while the server is
 * down) and a clean shutdown (agent_disconnect, no collector left).
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startSupervisor } from "../e2e/harness.js";
import type { RunningSupervisor, Workspace } from "../e2e/harness.js";
import {
  OpampServer,
  SKIP_REASON,
  stopSupervisor,
  removeWorkspaces,
  workspace,
  collectorLines,
  collectorPid,
  collectorYaml,
  freePort,
  health,
  isAlive,
  markedRemote,
  sendTrace,
  sleep,
  until,
  waitHealthy,
} from "./peers.js";

const running: RunningSupervisor[] = [];
const servers: OpampServer[] = [];

afterEach(async () => {
  for (const sup of running.splice(0)) await stopSupervisor(sup);
  for (const s of servers.splice(0)) await s.stop();
  await removeWorkspaces();
});

function launch(ws: Workspace): RunningSupervisor {
  const sup = startSupervisor(ws);
  running.push(sup);
  return sup;
}

async function ready(options: { hup?: boolean; http?: boolean } = {}) {
  const server = await OpampServer.start({ heartbeatSeconds: options.http ? 1 : 0 });
  servers.push(server);
  const otlpPort = await freePort();
  const ws = await workspace({
    endpoint: options.http ? server.httpUrl : server.wsUrl,
    collectorYaml: collectorYaml(otlpPort),
    hup: options.hup ?? false,
  });
  const sup = launch(ws);
  const agent = await server.waitAgent((a) => a.health?.healthy === true, 20_000, "a healthy agent");
  await waitHealthy(ws);
  const pid = await until("the collector pidfile", () => collectorPid(ws));
  return { server, ws, sup, uid: agent.instance_uid, otlpPort, pid };
}

/** Gaps (ms) between consecutive messages received after `from`. */
async function gaps(server: OpampServer, uid: string, from: number): Promise<number[]> {
  const times = (await server.messages(uid, from)).map((m) => Date.parse(m.time));
  return times.slice(1).map((t, i) => t - times[i]!);
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

describe.skipIf(SKIP_REASON !== undefined)("interop: commands, heartbeats, restarts, shutdown", () => {
  it.each([
    ["restart", false],
    ["SIGHUP", true],
  ] as const)("restart command (%s mode): a new collector process, healthy again", async (_mode, hup) => {
    const r = await ready({ hup });
    const before = (await health(r.ws))?.body.upSince;
    const from = await r.server.lastSeq();
    await r.server.restart(r.uid);
    const pid = await until("a new collector pid", async () => {
      const p = await collectorPid(r.ws);
      return p !== undefined && p !== r.pid ? p : undefined;
    });
    expect(isAlive(r.pid)).toBe(false);
    const h = await waitHealthy(r.ws);
    expect(h.body.upSince).not.toBe(before);
    expect(isAlive(pid)).toBe(true);
    // The server hears the agent healthy again after the restart.
    await until("healthy after the restart", async () => {
      const msgs = await r.server.messages(r.uid, from);
      const last = msgs.filter((m) => m.message.health).at(-1);
      return last?.message.health?.healthy === true;
    });
  });

  it("heartbeat interval change over WebSocket: from the 30 s default to 1 s", async () => {
    const r = await ready();
    // Let the start-up burst settle: with the default 30 s heartbeat the agent then goes quiet.
    await sleep(1_500);
    const quiet = await r.server.lastSeq();
    await sleep(1_500);
    expect((await r.server.messages(r.uid, quiet)).length).toBe(0);

    await r.server.heartbeat(r.uid, 1);
    const from = await r.server.lastSeq();
    await sleep(4_300);
    const g = await gaps(r.server, r.uid, from);
    expect(g.length).toBeGreaterThanOrEqual(3);
    expect(median(g)).toBeGreaterThan(800);
    expect(median(g)).toBeLessThan(1_600);
    // Heartbeats are bare: no status sub-message changed.
    const msgs = await r.server.messages(r.uid, from);
    expect(msgs.every((m) => !m.message.agent_description && !m.message["effective_config"])).toBe(true);
  });

  it("heartbeat interval change over plain HTTP: the poll period follows it (1 s to 2 s)", async () => {
    const r = await ready({ http: true });
    await sleep(1_200);
    let from = await r.server.lastSeq();
    await sleep(3_200);
    const before = await gaps(r.server, r.uid, from);
    expect(median(before)).toBeGreaterThan(800);
    expect(median(before)).toBeLessThan(1_600);

    await r.server.heartbeat(r.uid, 2); // queued: delivered in the answer to the next poll
    await until("the offer delivered", async () => (await r.server.agent(r.uid)).pending_messages === 0, 5_000);
    await sleep(500);
    from = await r.server.lastSeq();
    await sleep(6_500);
    const after = await gaps(r.server, r.uid, from);
    expect(after.length).toBeGreaterThanOrEqual(2);
    expect(median(after)).toBeGreaterThan(1_800);
    expect(median(after)).toBeLessThan(2_600);
  });

  it("a supervisor restart keeps the instance uid and resumes the last working config while the server is down", async () => {
    const r = await ready();
    const hash = await r.server.push(r.uid, { "remote.yaml": markedRemote("kept") });
    await r.server.waitStatus(r.uid, hash, "APPLIED");
    const effective = await readFile(join(r.ws.stateDir, "effective.yaml"), "utf8");
    expect(effective).toContain("debug/kept");

    const exit = await r.sup.stop();
    expect(exit.code).toBe(0);
    const oldPid = await collectorPid(r.ws);
    await r.server.stop();

    // Server down: the supervisor starts the collector on the last working config.
    const sup2 = launch(r.ws);
    await waitHealthy(r.ws, 20_000);
    const pid = await until("the collector pidfile", async () => {
      const p = await collectorPid(r.ws);
      return p !== undefined && p !== oldPid ? p : undefined;
    });
    expect(isAlive(pid)).toBe(true);
    expect(await readFile(join(r.ws.stateDir, "effective.yaml"), "utf8")).toBe(effective);
    const span = `resumed-${Date.now()}`;
    expect(await sendTrace(r.otlpPort, span)).toBe(200);
    await until("debug/kept exporting while the server is down", async () =>
      collectorLines(sup2).some((l) => l.includes("Traces") && l.includes('"otelcol.component.id": "debug/kept"')),
    );
    await until("the span in the debug output", async () => collectorLines(sup2).some((l) => l.includes(span)));

    // The server comes back on the same address: same uid, still APPLIED for the same hash.
    const server2 = await OpampServer.start({ listen: r.server.opampAddr });
    servers.push(server2);
    const agent = await server2.waitAgent((a) => a.connected && a.health?.healthy === true, 30_000, "the agent back");
    expect(agent.instance_uid).toBe(r.uid);
    expect(agent.attributes["service.instance.id"]).toBe(r.uid);
    expect(agent.remote_config_status).toMatchObject({ status: "APPLIED", last_remote_config_hash: hash });
    expect(agent.effective_config[""]).toBe(effective);
    expect(await collectorPid(r.ws)).toBe(pid); // reconnecting did not touch the collector
  });

  it.each([
    ["WebSocket", false],
    ["plain HTTP", true],
  ] as const)("clean shutdown over %s: agent_disconnect reaches the server, no collector left", async (_name, http) => {
    const r = await ready({ http });
    const exit = await r.sup.stop();
    expect(exit).toEqual({ code: 0, signal: null });
    const agent = await r.server.agent(r.uid);
    expect(agent.disconnected).toBe(true);
    expect(agent.disconnect_count).toBe(1);
    expect(agent.connected).toBe(false);
    const last = (await r.server.messages(r.uid)).at(-1);
    expect(last?.message.agent_disconnect).toBeDefined();
    expect(isAlive(r.pid)).toBe(false);
    expect(await health(r.ws)).toBeUndefined();
    expect(r.sup.logs.some((l) => l.msg === "supervisor stopped")).toBe(true);
  });
});
