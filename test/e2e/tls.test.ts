/**
 * The built CLI over mutual TLS: an offer moves the supervisor to another server with a new
 * client certificate and new headers, and all of it survives a restart. Run `npm run build` first.
 */
import { X509Certificate } from "node:crypto";
import { readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { ConnectionSettingsStatuses } from "../../src/gen/opamp_pb.js";
import { OpampTestServer } from "../support/opamp-test-server.js";
import type { Received } from "../support/opamp-test-server.js";
import { clientCert, key, makeCa, mtlsServerOptions } from "../connection/pki.js";
import type { Ca } from "../connection/pki.js";
import { makeWorkspace, startSupervisor } from "./harness.js";
import type { RunningSupervisor, Workspace } from "./harness.js";

const APPLIED = ConnectionSettingsStatuses.ConnectionSettingsStatuses_APPLIED;
const BOOT_SECRET = "Bearer boot-secret-e2e";
const NEW_SECRET = "Bearer moved-secret-e2e";

let serverCa: Ca;
let clientCa: Ca;
const servers: OpampTestServer[] = [];
const running: RunningSupervisor[] = [];

beforeAll(() => {
  serverCa = makeCa("E2E Server CA", 10);
  clientCa = makeCa("E2E Client CA", 12);
});

afterEach(async () => {
  for (const sup of running.splice(0)) await sup.kill();
  for (const s of servers.splice(0)) await s.close();
});

async function tlsWorkspace(endpoint: string, boot: { certPem: string; keyPem: string }): Promise<Workspace> {
  const ws = await makeWorkspace({ endpoint });
  await writeFile(join(ws.dir, "ca.pem"), serverCa.certPem);
  await writeFile(join(ws.dir, "agent.pem"), boot.certPem);
  await writeFile(join(ws.dir, "agent.key"), boot.keyPem, { mode: 0o600 });
  const yaml = await readFile(ws.configPath, "utf8");
  const server = `server:
  endpoint: ${endpoint}
  headers:
    Authorization: "${BOOT_SECRET}"
  tls:
    ca_file: ca.pem
    cert_file: agent.pem
    key_file: agent.key
    connection_trial_timeout: 5s
`;
  const patched = yaml
    .replace(`server:\n  endpoint: ${endpoint}\n`, server)
    .replace(
      "capabilities:\n",
      "capabilities:\n  accepts_opamp_connection_settings: true\n  reports_connection_settings_status: true\n",
    );
  expect(patched).not.toBe(yaml);
  await writeFile(ws.configPath, patched);
  return ws;
}

function launch(ws: Workspace): RunningSupervisor {
  const sup = startSupervisor(ws);
  running.push(sup);
  return sup;
}

const fp = (pem: string): string => new X509Certificate(pem).fingerprint256;
const applied =
  (hash: string) =>
  (r: Received): boolean =>
    r.msg.connectionSettingsStatus?.status === APPLIED &&
    Buffer.from(r.msg.connectionSettingsStatus.lastConnectionSettingsHash).toString("hex") === hash;

describe("TLS settings across restarts (built CLI)", () => {
  it("moves to the offered server with the offered certificate and headers, and stays there after a restart", async () => {
    const a = await OpampTestServer.start({ tls: mtlsServerOptions(serverCa, clientCa) });
    const b = await OpampTestServer.start({ tls: mtlsServerOptions(serverCa, clientCa) });
    servers.push(a, b);
    const boot = clientCert(clientCa, 0, { cn: "boot" });
    const offered = clientCert(clientCa, 1, { cn: "offered" });
    const ws = await tlsWorkspace(a.wsUrl, boot);

    const first = launch(ws);
    const hello = await a.waitFor(() => true, { timeoutMs: 15_000 });
    expect(hello.peerCert).toBe(fp(boot.certPem));
    expect(hello.headers["authorization"]).toBe(BOOT_SECRET);
    a.push({
      connectionSettings: {
        hash: new Uint8Array([0xe2, 0xe0]),
        opamp: {
          destinationEndpoint: b.wsUrl,
          headers: { headers: [{ key: "Authorization", value: NEW_SECRET }] },
          certificate: {
            cert: Buffer.from(offered.certPem),
            privateKey: Buffer.from(offered.keyPem),
            caCert: Buffer.from(clientCa.certPem),
          },
        },
      },
    });
    const onB = await b.waitFor(applied("e2e0"), { timeoutMs: 15_000 });
    expect(onB.peerCert).toBe(fp(offered.certPem));
    expect(onB.headers["authorization"]).toBe(NEW_SECRET);
    expect((await first.stop()).code).toBe(0);

    // Restart: straight to server B with the offered certificate; A never hears from us again.
    const seenOnA = a.received.length;
    const bBefore = b.received.length;
    const second = launch(ws);
    const again = await b.waitFor(() => true, { from: bBefore, timeoutMs: 15_000 });
    expect(again.peerCert).toBe(fp(offered.certPem));
    expect(again.headers["authorization"]).toBe(NEW_SECRET);
    // The first message after the restart reports the persisted status.
    expect(applied("e2e0")(again)).toBe(true);
    await new Promise((r) => setTimeout(r, 300));
    expect(a.received.length).toBe(seenOnA);
    const keyFiles = (await import("node:fs/promises")).readdir(join(ws.stateDir, "tls"));
    const keyFile = (await keyFiles).find((f) => f.endsWith(".key"));
    expect((await stat(join(ws.stateDir, "tls", keyFile!))).mode & 0o777).toBe(0o600);
    expect((await second.stop()).code).toBe(0);

    // Nothing secret in the supervisor's own logs, across both runs.
    const logs = JSON.stringify([...first.logs, ...second.logs]) + first.stderr.join("") + second.stderr.join("");
    expect(logs).toContain("connection settings applied");
    expect(logs).not.toMatch(/PRIVATE KEY/);
    expect(logs).not.toContain(BOOT_SECRET);
    expect(logs).not.toContain(NEW_SECRET);
    for (const pem of [boot.keyPem, offered.keyPem, key(0).pem]) {
      const body = pem
        .split("\n")
        .filter((l) => l && !l.startsWith("-----"))
        .join("");
      expect(logs).not.toContain(body.slice(0, 48));
    }
  });
});
