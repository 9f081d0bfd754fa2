/**
 * Scenarios 2–4, in restart and SIGHUP modes: a good remote config is applied and carries
 * data; a config the real `validate` rejects fails with the collector's own words and leaves
 * the running collector alone; a config that validates but cannot start (its receiver port is
 * taken) is rolled back to the last working config.
 */
import { readFile } from "node:fs/promises";
import { createServer } from "node:net";
import type { AddressInfo, Server } from "node:net";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { auditLines, startSupervisor } from "../e2e/harness.js";
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
  markedRemote,
  sendTrace,
  until,
  waitHealthy,
} from "./peers.js";
import type { AgentView } from "./peers.js";

const running: RunningSupervisor[] = [];
const servers: OpampServer[] = [];
const blockers: Server[] = [];

afterEach(async () => {
  for (const sup of running.splice(0)) await stopSupervisor(sup);
  for (const s of servers.splice(0)) await s.stop();
  await removeWorkspaces();
  for (const b of blockers.splice(0)) await new Promise((r) => b.close(r));
});

interface Ready {
  server: OpampServer;
  ws: Workspace;
  sup: RunningSupervisor;
  uid: string;
  otlpPort: number;
  pid: number;
  upSince: string;
}

async function ready(hup: boolean): Promise<Ready> {
  const server = await OpampServer.start();
  servers.push(server);
  const otlpPort = await freePort();
  const ws = await workspace({ endpoint: server.wsUrl, collectorYaml: collectorYaml(otlpPort), hup });
  const sup = startSupervisor(ws);
  running.push(sup);
  const agent = await server.waitAgent((a) => a.health?.healthy === true, 20_000, "a healthy agent");
  const h = await waitHealthy(ws);
  const pid = await until("the collector pidfile", () => collectorPid(ws));
  return { server, ws, sup, uid: agent.instance_uid, otlpPort, pid, upSince: h.body.upSince ?? "" };
}

const effectiveOnDisk = (ws: Workspace): Promise<string> => readFile(join(ws.stateDir, "effective.yaml"), "utf8");
const b64 = (hex: string): string => Buffer.from(hex, "hex").toString("base64");

/** Holds a loopback port so a collector cannot bind it. */
async function takenPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  blockers.push(server);
  return (server.address() as AddressInfo).port;
}

describe.skipIf(SKIP_REASON !== undefined).each([
  ["restart", false],
  ["SIGHUP", true],
] as const)("interop: remote config in %s mode", (_mode, hup) => {
  it("applies a good config: APPLYING then APPLIED, effective config matches, OTLP data reaches the debug exporter", async () => {
    const r = await ready(hup);
    const from = await r.server.lastSeq();
    const hash = await r.server.push(r.uid, { "remote.yaml": markedRemote("good") });
    const agent = await r.server.waitStatus(r.uid, hash, "APPLIED");
    expect(agent.remote_config_status?.error_message).toBe("");

    // APPLYING went out before APPLIED, for the same hash.
    const statuses = (await r.server.messages(r.uid, from))
      .map((m) => m.message.remote_config_status)
      .filter((s) => s?.last_remote_config_hash === b64(hash))
      .map((s) => s?.status);
    expect(statuses.indexOf("RemoteConfigStatuses_APPLYING")).toBeGreaterThanOrEqual(0);
    expect(statuses.indexOf("RemoteConfigStatuses_APPLYING")).toBeLessThan(statuses.indexOf("RemoteConfigStatuses_APPLIED"));

    // The effective config the server holds is the file the collector runs.
    const reported = await until("the effective config with debug/good", async () => {
      const a: AgentView = await r.server.agent(r.uid);
      return a.effective_config[""]?.includes("debug/good") ? a.effective_config[""] : undefined;
    });
    expect(reported).toBe(await effectiveOnDisk(r.ws));

    // Restart mode starts a new process; SIGHUP mode reloads the same one (new service start).
    const pid = await collectorPid(r.ws);
    const h = await waitHealthy(r.ws);
    if (hup) {
      expect(pid).toBe(r.pid);
      expect(h.body.upSince).not.toBe(r.upSince);
    } else {
      expect(pid).not.toBe(r.pid);
    }

    // Data flows through the new config: the local detailed debug exporter prints the span
    // name, the remote basic one prints a line naming debug/good.
    const span = `interop-span-${hup ? "hup" : "restart"}-${Date.now()}`;
    expect(await sendTrace(r.otlpPort, span)).toBe(200);
    await until("the span in the collector's debug output", async () =>
      collectorLines(r.sup).some((l) => l.includes(`Name           : ${span}`)),
    );
    await until("debug/good exporting the trace", async () =>
      collectorLines(r.sup).some((l) => l.includes("Traces") && l.includes('"otelcol.component.id": "debug/good"')),
    );
  });

  it("reports FAILED with the real validate's error text and leaves the running collector untouched", async () => {
    const r = await ready(hup);
    const before = await effectiveOnDisk(r.ws);
    const bad = "service:\n  pipelines:\n    traces:\n      receivers: [otlp, nope]\n";
    const hash = await r.server.push(r.uid, { "remote.yaml": bad });
    const agent = await r.server.waitStatus(r.uid, hash, "FAILED");
    // The collector's own words (cobra's "Error: " line from `validate`).
    expect(agent.remote_config_status?.error_message).toContain(
      'Error: service::pipelines::traces: references receiver "nope" which is not configured',
    );
    // Same process, same service (no SIGHUP either: upSince unchanged), same config.
    expect(await collectorPid(r.ws)).toBe(r.pid);
    const h = await health(r.ws);
    expect(h?.status).toBe(200);
    expect(h?.body.upSince).toBe(r.upSince);
    expect(await effectiveOnDisk(r.ws)).toBe(before);
    expect(collectorLines(r.sup).some((l) => l.includes("Config updated, restart service"))).toBe(false);
    const now = await r.server.agent(r.uid);
    expect(now.health?.healthy).toBe(true);
    expect(now.effective_config[""]).toBe(before);
    // Still carrying data.
    const span = `after-failed-validate-${Date.now()}`;
    expect(await sendTrace(r.otlpPort, span)).toBe(200);
    await until("the span in the debug output", async () => collectorLines(r.sup).some((l) => l.includes(span)));
  });

  it("rolls back a config that validates but cannot start (receiver port taken): healthy again, FAILED", async () => {
    const r = await ready(hup);
    const before = await effectiveOnDisk(r.ws);
    const port = await takenPort();
    const remote = markedRemote("blocked", `receivers:\n  otlp:\n    protocols:\n      http:\n        endpoint: 127.0.0.1:${port}\n`);
    const from = await r.server.lastSeq();
    const hash = await r.server.push(r.uid, { "remote.yaml": remote });
    const agent = await r.server.waitStatus(r.uid, hash, "FAILED", 30_000);
    const reason = agent.remote_config_status?.error_message ?? "";
    expect(reason).toContain(`listen tcp 127.0.0.1:${port}: bind: address already in use`);
    // FAILED goes out as soon as the config is known bad; the rollback follows it.

    // The collector really failed to start it (its own error line went through our log).
    expect(collectorLines(r.sup).some((l) => l.includes("cannot start pipelines") && l.includes(String(port)))).toBe(true);

    // Last working config restored, proven healthy, and reported so.
    const h = await waitHealthy(r.ws);
    expect(h.status).toBe(200);
    expect(await effectiveOnDisk(r.ws)).toBe(before);
    // The rollback follows FAILED: wait for the server to hear it healthy on the old config.
    const now = await until("the server sees it healthy on the last working config", async () => {
      const a = await r.server.agent(r.uid);
      return a.health?.healthy === true && a.effective_config[""] === before ? a : undefined;
    });
    expect(now.effective_config[""]).toBe(before);
    // The agent did go unhealthy on the way, and was reported healthy again after FAILED.
    const msgs = await r.server.messages(r.uid, from);
    expect(msgs.some((m) => m.message.health?.healthy === false || (m.message.health !== undefined && !m.message.health.healthy))).toBe(true);
    const failedAt = msgs.findIndex((m) => m.message.remote_config_status?.status === "RemoteConfigStatuses_FAILED");
    expect(failedAt).toBeGreaterThanOrEqual(0);
    expect(msgs.slice(failedAt).some((m) => m.message.health?.healthy === true)).toBe(true);
    // How the rollback went is in the audit log.
    await until("the rollback's audit line", async () =>
      (await auditLines(r.ws)).some((l) => l["action"] === "remote-config-rolled-back" && l["result"] === "healthy"),
    );

    const pid = await collectorPid(r.ws);
    expect(pid).not.toBe(r.pid); // a process died either way: the reload exits 1 on a bind error
    const span = `after-rollback-${Date.now()}`;
    expect(await sendTrace(r.otlpPort, span)).toBe(200);
    await until("the span in the debug output", async () => collectorLines(r.sup).some((l) => l.includes(span)));

    // A different, good config is still accepted afterwards.
    const good = await r.server.push(r.uid, { "remote.yaml": markedRemote("after") });
    await r.server.waitStatus(r.uid, good, "APPLIED");
  });
});
