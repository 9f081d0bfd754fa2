/**
 * A connection-settings offer while the state directory refuses writes (through the store's
 * fs seam): the server sees FAILED with the reason although neither the settings nor the
 * status can be persisted, the connection stays as it was, and the next offer after the
 * fault clears is APPLIED and persisted.
 */
import { readFile } from "node:fs/promises";
import { afterEach, describe, expect, it } from "vitest";
import { ConnectionSettingsStatuses } from "../../src/gen/opamp_pb.js";
import { OpampTestServer } from "../support/opamp-test-server.js";
import type { Received } from "../support/opamp-test-server.js";
import { FaultyFs } from "../storage/helpers.js";
import type { FaultCode } from "../storage/helpers.js";
import { startRig } from "./harness.js";
import type { Rig } from "./harness.js";

const { APPLIED, FAILED } = {
  APPLIED: ConnectionSettingsStatuses.ConnectionSettingsStatuses_APPLIED,
  FAILED: ConnectionSettingsStatuses.ConnectionSettingsStatuses_FAILED,
};

let server: OpampTestServer | undefined;
let rig: Rig | undefined;
afterEach(async () => {
  await rig?.stop();
  await server?.close();
});

const statusIs =
  (status: number, hex: string) =>
  (r: Received): boolean =>
    r.msg.connectionSettingsStatus?.status === status &&
    Buffer.from(r.msg.connectionSettingsStatus.lastConnectionSettingsHash).toString("hex") === hex;

describe.each(["ENOSPC", "EROFS"] as FaultCode[])("a connection-settings offer under %s", (code) => {
  it("is FAILED with the reason, keeps the connection, and the next offer after the fault is APPLIED", async () => {
    server = await OpampTestServer.start();
    const fs = new FaultyFs();
    rig = await startRig({ endpoint: server.wsUrl, capabilities: { reports_heartbeat: true }, fs });
    await server.waitFor(() => true);

    fs.fault = code;
    server.push({ connectionSettings: { hash: new Uint8Array([0xf0, 1]), opamp: { heartbeatIntervalSeconds: 7n } } });
    const failed = await server.waitFor(statusIs(FAILED, "f001"), { timeoutMs: 8_000 });
    expect(failed.msg.connectionSettingsStatus?.errorMessage).toContain(code);
    expect(failed.connection).toBe(1);
    expect(rig.client.target.endpoint).toBe(server.wsUrl);
    expect(fs.refused).toBeGreaterThan(0);

    fs.fault = undefined;
    server.push({ connectionSettings: { hash: new Uint8Array([0xf0, 2]), opamp: { heartbeatIntervalSeconds: 9n } } });
    await server.waitFor(statusIs(APPLIED, "f002"), { timeoutMs: 8_000 });
    const status = JSON.parse(await readFile(rig.stateDir.file("connection-settings-status.json"), "utf8")) as Record<
      string,
      unknown
    >;
    expect(status).toMatchObject({ hash: "f002", status: "APPLIED" });
  });
});
