import { X509Certificate } from "node:crypto";
import { readFile, readdir, stat, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ConnectionSettingsStatuses, ServerCapabilities } from "../../src/gen/opamp_pb.js";
import type { AgentToServer } from "../../src/gen/opamp_pb.js";
import { FakeClock, eventually } from "../support/fake-clock.js";
import { OpampTestServer } from "../support/opamp-test-server.js";
import type { Received, Reply } from "../support/opamp-test-server.js";
import { capturedLogs, startRig } from "./harness.js";
import type { Rig } from "./harness.js";
import { DAY, clientCert, key, makeCa, mtlsServerOptions, signCsr } from "./pki.js";
import type { Ca } from "./pki.js";

const { APPLIED, APPLYING, FAILED } = {
  APPLIED: ConnectionSettingsStatuses.ConnectionSettingsStatuses_APPLIED,
  APPLYING: ConnectionSettingsStatuses.ConnectionSettingsStatuses_APPLYING,
  FAILED: ConnectionSettingsStatuses.ConnectionSettingsStatuses_FAILED,
};
const SECRET_HEADER = "Bearer s3cr3t-t0ken-value";
const OFFERED_SECRET = "Bearer offered-secret-42";

let serverCa: Ca;
let clientCa: Ca;
let rogueCa: Ca;
let bootstrap: { certPem: string; keyPem: string };
const privateKeysSeen = new Set<string>();

beforeAll(() => {
  serverCa = makeCa("Server CA", 10);
  clientCa = makeCa("Client CA", 12);
  rogueCa = makeCa("Rogue CA", 13);
  bootstrap = clientCert(clientCa, 0, { cn: "bootstrap" });
  for (let i = 0; i < 5; i++) privateKeysSeen.add(key(i).pem);
});

let server: OpampTestServer | undefined;
const rigs: Rig[] = [];
afterEach(async () => {
  for (const rig of rigs.splice(0)) await rig.stop();
  await server?.close();
  server = undefined;
});

/** Writes the bootstrap files and returns the server.tls YAML lines that point at them. */
async function tlsFiles(dir: string, cert = bootstrap): Promise<string> {
  await writeFile(join(dir, "ca.pem"), serverCa.certPem);
  await writeFile(join(dir, "agent.pem"), cert.certPem);
  await writeFile(join(dir, "agent.key"), cert.keyPem);
  return `    ca_file: ${join(dir, "ca.pem")}\n    cert_file: ${join(dir, "agent.pem")}\n    key_file: ${join(dir, "agent.key")}\n`;
}

async function launch(
  o: { tls?: string; server?: string; dir?: string; clock?: FakeClock; watch?: boolean } = {},
): Promise<Rig> {
  const { mkdtemp } = await import("node:fs/promises");
  const { tmpdir } = await import("node:os");
  const dir = o.dir ?? (await mkdtemp(join(tmpdir(), "tls-cs-")));
  const tls = (o.tls ?? (await tlsFiles(dir))) + (o.watch === false ? "    watch_files: false\n" : "");
  const rig = await startRig({
    endpoint: server!.wsUrl,
    dir,
    tls,
    server: o.server ?? `  headers:\n    Authorization: "${SECRET_HEADER}"`,
    ...(o.clock ? { clock: o.clock } : {}),
  });
  rigs.push(rig);
  return rig;
}

const fp = (pem: string): string => new X509Certificate(pem).fingerprint256;
const hash = (n: number): Uint8Array => new Uint8Array([0xc5, n]);
const statusOf = (r: Received): { status: number; hash: string; error: string } | undefined => {
  const s = r.msg.connectionSettingsStatus;
  return s
    ? { status: s.status, hash: Buffer.from(s.lastConnectionSettingsHash).toString("hex"), error: s.errorMessage }
    : undefined;
};
const waitStatus = (status: number, h: Uint8Array, timeoutMs = 8_000): Promise<Received> =>
  server!.waitFor((r) => statusOf(r)?.status === status && statusOf(r)?.hash === Buffer.from(h).toString("hex"), {
    timeoutMs,
  });

function offerCertificate(
  h: Uint8Array,
  cert: { certPem: string; keyPem: string },
  caPem = clientCa.certPem,
  extra: object = {},
): Reply {
  return {
    connectionSettings: {
      hash: h,
      opamp: {
        certificate: {
          cert: Buffer.from(cert.certPem),
          privateKey: Buffer.from(cert.keyPem),
          caCert: Buffer.from(caPem),
        },
        ...extra,
      },
    },
  };
}

describe("connection settings offers over mTLS", () => {
  it("connects with mTLS, installs an offered certificate, and the server then sees it", async () => {
    server = await OpampTestServer.start({ tls: mtlsServerOptions(serverCa, clientCa) });
    const rig = await launch();
    const first = await server.waitFor(() => true);
    expect(first.peerCert).toBe(fp(bootstrap.certPem));
    expect(first.headers["authorization"]).toBe(SECRET_HEADER);
    const next = clientCert(clientCa, 1, { cn: "offered" });
    const offeredAt = Date.now();
    server.push(
      offerCertificate(hash(1), next, clientCa.certPem, {
        headers: { headers: [{ key: "Authorization", value: OFFERED_SECRET }] },
      }),
    );
    await waitStatus(APPLYING, hash(1));
    const applied = await waitStatus(APPLIED, hash(1));
    expect(Date.now() - offeredAt).toBeLessThan(3_000);
    expect(applied.peerCert).toBe(fp(next.certPem));
    expect(applied.headers["authorization"]).toBe(OFFERED_SECRET);
    expect(server.received.some((r) => r.msg.agentDisconnect && r.peerCert === fp(bootstrap.certPem))).toBe(true);

    // Persisted: key 0600, the settings document, the old (never stored) bootstrap untouched.
    const tlsDir = join(rig.stateDir.root, "tls");
    const files = await readdir(tlsDir);
    const keyFile = files.find((f) => f.endsWith(".key"));
    expect(keyFile).toBeDefined();
    expect((await stat(join(tlsDir, keyFile!))).mode & 0o777).toBe(0o600);
    expect((await stat(tlsDir)).mode & 0o777).toBe(0o700);
    expect(await readFile(join(tlsDir, keyFile!), "utf8")).toBe(next.keyPem);
    const doc = JSON.parse(await readFile(rig.stateDir.file("connection-settings.json"), "utf8")) as Record<
      string,
      unknown
    >;
    expect(doc).toMatchObject({ hash: "c501", endpoint: server.wsUrl, headers: { Authorization: OFFERED_SECRET } });
    expect((await stat(rig.stateDir.file("connection-settings.json"))).mode & 0o777).toBe(0o600);

    // A second certificate replaces the first; the first is forgotten.
    const third = clientCert(clientCa, 2, { cn: "third" });
    server.push(offerCertificate(hash(2), third));
    const again = await waitStatus(APPLIED, hash(2));
    expect(again.peerCert).toBe(fp(third.certPem));
    const after = await readdir(tlsDir);
    expect(after.filter((f) => f.startsWith("client-"))).toHaveLength(3); // pem, key, ca of the third
    expect(after).not.toContain(keyFile);
    const audit = await readFile(rig.stateDir.file("audit.log"), "utf8");
    expect(audit).toContain('"action":"connection-settings","result":"applied","hash":"c502"');
  });

  it("refuses expired, not-yet-valid, wrong-CA and key-mismatch certificates with FAILED, keeping the connection", async () => {
    server = await OpampTestServer.start({ tls: mtlsServerOptions(serverCa, clientCa) });
    await launch();
    await server.waitFor(() => true);
    const now = Date.now();
    const cases: Array<[Reply, RegExp]> = [
      [
        offerCertificate(hash(11), clientCert(clientCa, 1, { notBefore: now - 30 * DAY, notAfter: now - DAY })),
        /^offered certificate: expired on /,
      ],
      [
        offerCertificate(hash(12), clientCert(clientCa, 1, { notBefore: now + DAY, notAfter: now + 30 * DAY })),
        /^offered certificate: not valid before /,
      ],
      [
        offerCertificate(hash(13), clientCert(rogueCa, 1)),
        /issued by "CN=Rogue CA", which does not chain to the CA offered with it or server\.tls\.ca_file/,
      ],
      [
        offerCertificate(hash(14), { certPem: clientCert(clientCa, 1).certPem, keyPem: key(3).pem }),
        /^offered certificate: the private key does not match the certificate$/,
      ],
    ];
    for (const [offer, reason] of cases) {
      server.push(offer);
      const failed = await waitStatus(FAILED, offer.connectionSettings!.hash as Uint8Array);
      expect(statusOf(failed)?.error).toMatch(reason);
    }
    // One connection throughout, always with the bootstrap certificate.
    expect(new Set(server.received.map((r) => r.connection))).toEqual(new Set([1]));
    expect(new Set(server.received.map((r) => r.peerCert))).toEqual(new Set([fp(bootstrap.certPem)]));
  });

  it("rolls back a certificate the server does not accept (signed by another CA, offered with that CA)", async () => {
    server = await OpampTestServer.start({ tls: mtlsServerOptions(serverCa, clientCa) });
    await launch();
    await server.waitFor(() => true);
    server.push(offerCertificate(hash(21), clientCert(rogueCa, 1), rogueCa.certPem));
    const failed = await waitStatus(FAILED, hash(21));
    expect(statusOf(failed)?.error).toMatch(/^could not connect with the offered settings, kept the previous ones: /);
    expect(failed.peerCert).toBe(fp(bootstrap.certPem));
  });

  it("rolls back an offered endpoint that does not answer, and refuses one that drops TLS", async () => {
    server = await OpampTestServer.start({ tls: mtlsServerOptions(serverCa, clientCa) });
    const rig = await launch();
    await server.waitFor(() => true);
    const dead = createServer();
    await new Promise<void>((r) => dead.listen(0, "127.0.0.1", r));
    const port = (dead.address() as AddressInfo).port;
    await new Promise((r) => dead.close(r));
    server.push({
      connectionSettings: { hash: hash(31), opamp: { destinationEndpoint: `wss://127.0.0.1:${port}/v1/opamp` } },
    });
    const failed = await waitStatus(FAILED, hash(31));
    expect(statusOf(failed)?.error).toMatch(/could not connect with the offered settings.*ECONNREFUSED/);
    expect(failed.connection).toBe(2); // reconnected to the old server
    expect(rig.client.target.endpoint).toBe(server.wsUrl);
    server.push({
      connectionSettings: { hash: hash(32), opamp: { destinationEndpoint: server.wsUrl.replace("wss:", "ws:") } },
    });
    expect(statusOf(await waitStatus(FAILED, hash(32)))?.error).toMatch(
      /refusing to move from wss:\/\/ to ws:\/\/: that would drop TLS/,
    );
    server.push({ connectionSettings: { hash: hash(33), opamp: { tls: { insecureSkipVerify: true } } } });
    expect(statusOf(await waitStatus(FAILED, hash(33)))?.error).toMatch(/refusing insecure_skip_verify/);
    await expect(stat(rig.stateDir.file("connection-settings.json"))).rejects.toThrow();
  });
});

describe("plain endpoints", () => {
  it("applies an offer that changes nothing without reconnecting, and moves ws to ws", async () => {
    server = await OpampTestServer.start();
    const rig = await startRig({ endpoint: server.wsUrl, capabilities: { reports_heartbeat: true } });
    rigs.push(rig);
    await server.waitFor(() => true);
    server.push({ connectionSettings: { hash: hash(51), opamp: { heartbeatIntervalSeconds: 7n } } });
    const applied = await waitStatus(APPLIED, hash(51));
    expect(applied.connection).toBe(1);
    const doc = JSON.parse(await readFile(rig.stateDir.file("connection-settings.json"), "utf8")) as Record<
      string,
      unknown
    >;
    expect(doc).toMatchObject({ endpoint: server.wsUrl, heartbeatSeconds: 7, certificate: null });
    const other = await OpampTestServer.start();
    try {
      server.push({ connectionSettings: { hash: hash(52), opamp: { destinationEndpoint: other.wsUrl } } });
      await other.waitFor(applied52, { timeoutMs: 8_000 });
    } finally {
      await rig.stop();
      rigs.length = 0;
      await other.close();
    }
    function applied52(r: Received): boolean {
      return statusOf(r)?.status === APPLIED && statusOf(r)?.hash === "c534";
    }
  });

  it("reports FAILED for an offer when it does not accept connection settings", async () => {
    server = await OpampTestServer.start();
    const rig = await startRig({ endpoint: server.wsUrl, capabilities: { accepts_opamp_connection_settings: false } });
    rigs.push(rig);
    await server.waitFor(() => true);
    server.push({ connectionSettings: { hash: hash(53), opamp: { destinationEndpoint: "ws://127.0.0.1:1/x" } } });
    expect(statusOf(await waitStatus(FAILED, hash(53)))?.error).toMatch(/does not accept OpAMP connection settings/);
    expect(rig.client.target.endpoint).toBe(server.wsUrl);
  });
});

describe("certificate requests (CSR)", () => {
  function csrServer(onCsr: (msg: AgentToServer) => Reply | undefined): void {
    server!.capabilities |= BigInt(ServerCapabilities.ServerCapabilities_AcceptsConnectionSettingsRequest);
    server!.respond = (msg) => (msg.connectionSettingsRequest ? onCsr(msg) : undefined);
  }

  it("renews a certificate inside the window: key generated here, CSR sent, signed cert installed", async () => {
    server = await OpampTestServer.start({ tls: mtlsServerOptions(serverCa, clientCa) });
    const expiring = clientCert(clientCa, 0, { cn: "bootstrap", notAfter: Date.now() + 10 * DAY });
    const csrs: string[] = [];
    csrServer((msg) => {
      const csrPem = Buffer.from(msg.connectionSettingsRequest!.opamp!.certificateRequest!.csr).toString("utf8");
      csrs.push(csrPem);
      const { certPem } = signCsr(clientCa, csrPem);
      return {
        connectionSettings: {
          hash: hash(41),
          opamp: { certificate: { cert: Buffer.from(certPem), caCert: Buffer.from(clientCa.certPem) } },
        },
      };
    });
    const { mkdtemp } = await import("node:fs/promises");
    const { tmpdir } = await import("node:os");
    const dir = await mkdtemp(join(tmpdir(), "tls-csr-"));
    const rig = await launch({ dir, tls: await tlsFiles(dir, expiring) });
    const applied = await waitStatus(APPLIED, hash(41), 15_000);
    expect(csrs).toHaveLength(1);
    const issued = new X509Certificate(
      await readFile(
        join(
          rig.stateDir.root,
          "tls",
          (await readdir(join(rig.stateDir.root, "tls"))).find(
            (f) => /^client-.*\.pem$/.test(f) && !f.endsWith(".ca.pem"),
          )!,
        ),
        "utf8",
      ),
    );
    expect(issued.subject).toBe("CN=0190f3a2-7b1c-7d4e-8f00-123456789abc");
    expect(applied.peerCert).toBe(issued.fingerprint256);
    // The key stayed here: nothing the server received contains it.
    const keyName = (await readdir(join(rig.stateDir.root, "tls"))).find((f) => f.endsWith(".key"))!;
    const keyPem = await readFile(join(rig.stateDir.root, "tls", keyName), "utf8");
    privateKeysSeen.add(keyPem);
    const body = keyPem
      .split("\n")
      .filter((l) => l && !l.startsWith("-----"))
      .join("");
    const all = Buffer.concat(server.received.map((r) => Buffer.from(r.bytes))).toString("latin1");
    expect(all).not.toContain(body.slice(0, 40));
    expect(all).not.toContain("PRIVATE KEY");
    expect(all).toContain("CERTIFICATE REQUEST");
    // The outstanding request is gone once answered; no second request.
    await expect(stat(rig.stateDir.file("certificate-request.json"))).rejects.toThrow();
    expect(csrs).toHaveLength(1);
  });

  it("asks only inside the renewal window (injected clock), and re-asks when unanswered", async () => {
    server = await OpampTestServer.start({ tls: mtlsServerOptions(serverCa, clientCa) });
    const clock = new FakeClock(Date.now());
    const csrs: string[] = [];
    csrServer((msg) => {
      csrs.push(Buffer.from(msg.connectionSettingsRequest!.opamp!.certificateRequest!.csr).toString("utf8"));
      return undefined; // never answers
    });
    const cert = clientCert(clientCa, 0, { cn: "bootstrap", notAfter: Date.now() + 30 * DAY + 12 * 3_600_000 });
    const { mkdtemp } = await import("node:fs/promises");
    const { tmpdir } = await import("node:os");
    const dir = await mkdtemp(join(tmpdir(), "tls-window-"));
    await launch({ dir, tls: await tlsFiles(dir, cert), clock });
    await server.waitFor(() => true);
    await eventually(() => clock.pending >= 2, 3000, "timers armed");
    await clock.advance(11 * 3_600_000);
    await new Promise((r) => setTimeout(r, 100));
    expect(csrs).toEqual([]);
    await clock.advance(3_600_000 + 1_000); // now 12 h later: inside the 30-day window
    await eventually(() => csrs.length === 1, 5000, "a CSR inside the window");
    // renew_retry_interval 1s: unanswered, so the same request (same key) is sent again.
    for (let i = 0; i < 40 && csrs.length < 2; i++) {
      await clock.advance(500);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(csrs.length).toBe(2);
    expect(csrs[1]).toBe(csrs[0]);
  });
});

describe("certificates rotated on disk", () => {
  it("ignores a half-written pair (logged once), then reconnects with the consistent new pair", async () => {
    server = await OpampTestServer.start({ tls: mtlsServerOptions(serverCa, clientCa) });
    const { mkdtemp } = await import("node:fs/promises");
    const { tmpdir } = await import("node:os");
    const dir = await mkdtemp(join(tmpdir(), "tls-rotate-"));
    await launch({ dir, tls: await tlsFiles(dir) });
    await server.waitFor(() => true);
    const rotated = clientCert(clientCa, 4, { cn: "rotated" });
    const mark = capturedLogs.length;
    await writeFile(join(dir, "agent.pem"), rotated.certPem); // the key is still the old one
    await eventually(
      () => capturedLogs.slice(mark).some((l) => l.includes("not usable yet")),
      5000,
      "the mismatch log",
    );
    await writeFile(join(dir, "agent.pem"), rotated.certPem); // touched again: same content, not logged again
    await new Promise((r) => setTimeout(r, 600));
    expect(capturedLogs.slice(mark).filter((l) => l.includes("not usable yet"))).toHaveLength(1);
    expect(new Set(server.received.map((r) => r.connection))).toEqual(new Set([1]));
    await writeFile(join(dir, "agent.key"), rotated.keyPem);
    const moved = await server.waitFor((r) => r.peerCert === fp(rotated.certPem), { timeoutMs: 8_000 });
    expect(moved.connection).toBe(2);
    await eventually(
      () => capturedLogs.slice(mark).some((l) => l.includes("reconnected with the rotated TLS files")),
      3000,
      "the rotation log",
    );
  });
});

afterAll(() => {
  // Across every test above: no private key and no header secret in any log line.
  const all = capturedLogs.join("");
  expect(capturedLogs.length).toBeGreaterThan(20);
  expect(all).not.toMatch(/PRIVATE KEY/);
  expect(all).not.toContain(SECRET_HEADER);
  expect(all).not.toContain(OFFERED_SECRET);
  expect(all).not.toContain("s3cr3t");
  for (const pem of privateKeysSeen) {
    const body = pem
      .split("\n")
      .filter((l) => l && !l.startsWith("-----"))
      .join("");
    expect(all).not.toContain(body.slice(0, 48));
  }
});
