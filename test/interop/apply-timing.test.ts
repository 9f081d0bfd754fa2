/**
 * Measures the time from a push to APPLIED with the real collector, in restart and SIGHUP
 * modes, and prints the figures. Both ends are read on the server's clock: when it sent the
 * remote config, and when the APPLIED status arrived. Figures are printed, never asserted.
 * INTEROP_PUSHES sets the number of pushes per mode (default 20).
 *
 * Health settings (from the e2e harness): checks every 50 ms, 5 passes in a row out of 10.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { startSupervisor } from "../e2e/harness.js";
import type { RunningSupervisor } from "../e2e/harness.js";
import {
  OpampServer,
  SKIP_REASON,
  collectorYaml,
  freePort,
  markedRemote,
  removeWorkspaces,
  stopSupervisor,
  waitHealthy,
  workspace,
} from "./peers.js";

const PUSHES = Number(process.env["INTEROP_PUSHES"] ?? 20);
const running: RunningSupervisor[] = [];
const servers: OpampServer[] = [];
const report: string[] = [];

afterEach(async () => {
  for (const sup of running.splice(0)) await stopSupervisor(sup);
  for (const s of servers.splice(0)) await s.stop();
  await removeWorkspaces();
});
afterAll(() => {
  if (report.length) console.log(`\n[interop] push -> APPLIED with the real collector (${PUSHES} pushes per mode)\n${report.join("\n")}\n`);
});

function stats(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number): number => s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
  return `median ${q(0.5).toFixed(0)} ms, p90 ${q(0.9).toFixed(0)} ms, min ${s[0]!.toFixed(0)} ms, max ${s.at(-1)!.toFixed(0)} ms`;
}

describe.skipIf(SKIP_REASON !== undefined)("interop: push to APPLIED timing", () => {
  it.each([
    ["restart", false],
    ["SIGHUP", true],
  ] as const)("%s mode", async (mode, hup) => {
    const server = await OpampServer.start();
    servers.push(server);
    const ws = await workspace({ endpoint: server.wsUrl, collectorYaml: collectorYaml(await freePort()), hup });
    const sup = startSupervisor(ws);
    running.push(sup);
    const { instance_uid: uid } = await server.waitAgent((a) => a.health?.healthy === true, 20_000, "a healthy agent");
    await waitHealthy(ws);

    const totals: number[] = [];
    for (let i = 0; i < PUSHES; i++) {
      const from = await server.lastSeq();
      const pushed = await server.pushTimed(uid, { "remote.yaml": markedRemote(`t${i}`) });
      await server.waitStatus(uid, pushed.hash, "APPLIED", 30_000);
      const b64 = Buffer.from(pushed.hash, "hex").toString("base64");
      const applied = (await server.messages(uid, from)).find(
        (m) => m.message.remote_config_status?.status === "RemoteConfigStatuses_APPLIED" && m.message.remote_config_status.last_remote_config_hash === b64,
      );
      expect(applied).toBeDefined();
      totals.push(Date.parse(applied!.time) - Date.parse(pushed.time));
    }

    // The supervisor's own breakdown, from its audit log.
    const audit = (await readFile(join(ws.stateDir, "audit.log"), "utf8"))
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l["action"] === "remote-config-applied");
    expect(audit.length).toBe(PUSHES);
    const part = (k: string): number[] => audit.map((l) => Number(l[k])).filter((n) => Number.isFinite(n));
    report.push(
      `  ${mode.padEnd(7)} push->APPLIED: ${stats(totals)}`,
      `  ${mode.padEnd(7)}   audit validateMs: ${stats(part("validateMs"))}; applyMs: ${stats(part("applyMs"))}; healthMs: ${stats(part("healthMs"))}`,
    );
  });
});
