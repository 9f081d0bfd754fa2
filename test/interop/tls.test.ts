/**
 * Scenario 8: mutual TLS against opamp-go's server. The server listens with TLS, requires
 * client certificates from a client CA and holds that CA's key, so it can (a) offer a new
 * client certificate (ConnectionSettingsOffers.opamp.certificate with key and ca_cert) and
 * (b) sign the CSR the supervisor sends when its certificate is inside `renew_before`. The
 * server records the client certificate of every connection, so "the supervisor reconnected
 * with the new certificate" is what the server saw, not what the supervisor says.
 * Certificates for the test are made with test/tls/pki.ts.
 */
import { X509Certificate, createPrivateKey } from "node:crypto";
import { mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startSupervisor } from "../e2e/harness.js";
import type { RunningSupervisor, Workspace } from "../e2e/harness.js";
import { clientCert, issue, key, makeCa, HOUR } from "../connection/pki.js";
import type { Ca } from "../connection/pki.js";
import {
  OpampServer,
  SKIP_REASON,
  collectorPid,
  collectorYaml,
  freePort,
  isAlive,
  removeWorkspaces,
  sha256Hex,
  sleep,
  stopSupervisor,
  until,
  waitHealthy,
  workspace,
} from "./peers.js";
import type { AgentView, ServerTlsFiles } from "./peers.js";

const OFFERS = Number(process.env["INTEROP_TLS_OFFERS"] ?? 10);

const running: RunningSupervisor[] = [];
const servers: OpampServer[] = [];
let pkiDir: string;
let serverCa: Ca;
let clientCa: Ca;
let serverFiles: ServerTlsFiles;

beforeAll(async () => {
  if (SKIP_REASON) return;
  serverCa = makeCa("Interop Server CA", 10);
  clientCa = makeCa("Interop Client CA", 12);
  pkiDir = await mkdtemp(join(tmpdir(), "opamp-interop-pki-"));
  const file = async (name: string, text: string): Promise<string> => {
    const path = join(pkiDir, name);
    await writeFile(path, text, { mode: 0o600 });
    return path;
  };
  serverFiles = {
    cert: await file("server.pem", issue(serverCa, { cn: "opamp-interop", publicKey: key(11).publicKey, server: true })),
    key: await file("server.key", key(11).pem),
    clientCa: await file("client-ca.pem", clientCa.certPem),
    clientCaKey: await file("client-ca.key", clientCa.key.pem),
  };
});

afterEach(async () => {
  for (const sup of running.splice(0)) await stopSupervisor(sup);
  for (const s of servers.splice(0)) await s.stop();
  await removeWorkspaces();
});
afterAll(async () => {
  if (pkiDir) await rm(pkiDir, { recursive: true, force: true });
});

function launch(ws: Workspace): RunningSupervisor {
  const sup = startSupervisor(ws);
  running.push(sup);
  return sup;
}

/** A workspace whose supervisor connects over wss with a bootstrap client certificate. */
async function tlsWorkspace(server: OpampServer, boot: { certPem: string; keyPem: string }, tlsExtra = "", endpoint = server.wsUrl): Promise<Workspace> {
  const ws = await workspace({ endpoint, collectorYaml: collectorYaml(await freePort()) });
  await writeFile(join(ws.dir, "ca.pem"), serverCa.certPem);
  await writeFile(join(ws.dir, "agent.pem"), boot.certPem);
  await writeFile(join(ws.dir, "agent.key"), boot.keyPem, { mode: 0o600 });
  const yaml = await readFile(ws.configPath, "utf8");
  const patched = yaml
    .replace(
      `server:\n  endpoint: ${endpoint}\n`,
      `server:
  endpoint: ${endpoint}
  tls:
    ca_file: ca.pem
    cert_file: agent.pem
    key_file: agent.key
    connection_trial_timeout: 5s
${tlsExtra}`,
    )
    .replace("capabilities:\n", "capabilities:\n  accepts_opamp_connection_settings: true\n  reports_connection_settings_status: true\n");
  expect(patched).toContain("cert_file: agent.pem");
  expect(patched).toContain("accepts_opamp_connection_settings: true");
  await writeFile(ws.configPath, patched);
  return ws;
}

const fingerprint = (pem: string): string => sha256Hex(new X509Certificate(pem).fingerprint256);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Waits until the server has seen the agent connect with the certificate `sha256`. */
function seenWith(server: OpampServer, uid: string, sha256: string, timeoutMs = 15_000): Promise<{ agent: AgentView; firstSeen: string; firstSeq: number }> {
  return until(`a connection with certificate ${sha256.slice(0, 12)}`, async () => {
    const agent = await server.agent(uid);
    const seen = agent.client_certs.find((c) => c.sha256 === sha256);
    return seen ? { agent, firstSeen: seen.first_seen, firstSeq: seen.first_seq } : undefined;
  }, timeoutMs, 10);
}

function applied(server: OpampServer, uid: string, hash: string, timeoutMs = 15_000): Promise<AgentView> {
  return until(`connection settings ${hash.slice(0, 12)} APPLIED`, async () => {
    const agent = await server.agent(uid);
    const s = agent.connection_settings_status;
    if (s?.last_connection_settings_hash === hash && s.status === "FAILED") throw new Error(`FAILED: ${s.error_message}`);
    return s?.last_connection_settings_hash === hash && s.status === "APPLIED" ? agent : undefined;
  }, timeoutMs, 10);
}

describe.skipIf(SKIP_REASON !== undefined)("interop: mTLS, certificate offers and CSR signing with opamp-go's server", () => {
  it.each([
    ["WebSocket (wss)", "websocket", OFFERS],
    ["plain HTTP (https, 1 s polls)", "http", 3],
  ] as const)("over %s the server offers new client certificates: the supervisor reconnects with each, the collector keeps running", async (_name, transport, offers) => {
    // Over HTTP the offer waits for the next poll: the server offers a 1 s poll period first.
    const server = await OpampServer.start({ tls: serverFiles, heartbeatSeconds: transport === "http" ? 1 : 0 });
    servers.push(server);
    const endpoint = transport === "http" ? server.httpUrl : server.wsUrl;
    expect(endpoint).toMatch(/^(wss|https):\/\//);
    const boot = clientCert(clientCa, 0, { cn: "interop-boot" });
    const ws = await tlsWorkspace(server, boot, "", endpoint);
    launch(ws);

    const agent = await server.waitAgent((a) => a.health?.healthy === true, 20_000, "a healthy agent over mTLS");
    expect(agent.transport).toBe(transport);
    const uid = agent.instance_uid;
    expect(agent.client_cert?.sha256).toBe(fingerprint(boot.certPem));
    expect(agent.client_cert?.subject).toBe("CN=interop-boot");
    await waitHealthy(ws);
    const pid = await until("the collector pidfile", () => collectorPid(ws));

    const latencies: number[] = [];
    const fromPoll: number[] = []; // HTTP: from the poll whose answer carried the offer
    let previous = fingerprint(boot.certPem);
    for (let i = 0; i < offers; i++) {
      const offer = await server.offerCertificate(uid);
      expect(offer.delivery).toBe(transport === "http" ? "queued" : "sent");
      expect(offer.certificate.subject).toBe(`CN=${uid}`);
      const seen = await seenWith(server, uid, offer.certificate.sha256);
      latencies.push(Date.parse(seen.firstSeen) - Date.parse(offer.time));
      if (transport === "http") {
        const poll = (await server.messages(uid)).find((m) => Date.parse(m.time) >= Date.parse(offer.time));
        fromPoll.push(Date.parse(seen.firstSeen) - Date.parse(poll!.time));
      }
      const after = await applied(server, uid, offer.hash);
      expect(after.client_cert?.sha256).toBe(offer.certificate.sha256);
      // Every message from the first one with the new certificate on carries it (no fallback to the old one).
      const since = await server.messages(uid, seen.firstSeq - 1);
      expect(since.every((m) => m.client_cert?.sha256 === offer.certificate.sha256)).toBe(true);
      expect(offer.certificate.sha256).not.toBe(previous);
      previous = offer.certificate.sha256;
    }

    // A TLS reconnect is not a collector restart; no certificate request was needed (the boot certificate is far from expiry).
    const final = await server.agent(uid);
    expect(final.client_certs.length).toBe(offers + 1);
    expect(final.csrs).toEqual([]);
    expect(final.connected).toBe(true);
    expect(await collectorPid(ws)).toBe(pid);
    expect(isAlive(pid)).toBe(true);
    expect(final.health?.healthy).toBe(true);
    console.log(`[interop] ${transport}: certificate offer -> first message on the new certificate (server clock), ${offers} offers: median ${median(latencies)} ms, min ${Math.min(...latencies)}, max ${Math.max(...latencies)} [${latencies.join(", ")}]${fromPoll.length ? `; from the poll that carried it: median ${median(fromPoll)} ms [${fromPoll.join(", ")}]` : ""}`);
  });

  it("CSR renewal: a certificate inside renew_before is renewed by the server's CA, used at once and after a restart", async () => {
    const server = await OpampServer.start({ tls: serverFiles });
    servers.push(server);
    // Valid for two more hours, renewed 24 h before expiry: inside the window from the start.
    const boot = clientCert(clientCa, 1, { cn: "interop-expiring", notAfter: Date.now() + 2 * HOUR });
    const ws = await tlsWorkspace(server, boot, "    renew_before: 24h\n");
    const first = launch(ws);

    const agent = await server.waitAgent((a) => a.client_certs.length > 0, 20_000, "an agent over mTLS");
    const uid = agent.instance_uid;
    expect(agent.client_certs[0]?.sha256).toBe(fingerprint(boot.certPem));

    const signed = await until("a signed CSR", async () => {
      const a = await server.agent(uid);
      const rejected = a.csrs.find((c) => c.result === "rejected");
      if (rejected) throw new Error(`the server rejected the CSR: ${rejected.error}`);
      return a.csrs.find((c) => c.result === "signed");
    }, 20_000);
    // What the supervisor asked for: CN and urn:uuid SAN carry the instance uid, RSA-2048.
    expect(signed.subject).toBe(`CN=${uid}`);
    expect(signed.uris).toEqual([`urn:uuid:${uid}`]);
    expect(signed.key_type).toBe("RSA-2048");
    const issued = signed.issued!;
    expect(issued.issuer).toBe("CN=Interop Client CA");

    const seen = await seenWith(server, uid, issued.sha256);
    const after = await applied(server, uid, signed.offer_hash!);
    expect(after.client_cert?.sha256).toBe(issued.sha256);
    const csrToReconnected = Date.parse(seen.firstSeen) - Date.parse(signed.time);
    await waitHealthy(ws);
    expect(after.health?.healthy).toBe(true);

    // The request carried no key: only the CSR went out.
    const requests = (await server.messages(uid)).flatMap((m) => {
      const req = (m.message["connection_settings_request"] as { opamp?: { certificate_request?: { csr?: string } } } | undefined)?.opamp?.certificate_request?.csr;
      return req ? [Buffer.from(req, "base64").toString("utf8")] : [];
    });
    expect(requests.length).toBeGreaterThanOrEqual(1);
    for (const text of requests) {
      expect(text).toContain("BEGIN CERTIFICATE REQUEST");
      expect(text).not.toContain("PRIVATE KEY");
    }
    // The key the supervisor kept pairs with the certificate the server issued.
    const tlsDir = join(ws.stateDir, "tls");
    const files = await readdir(tlsDir);
    let paired = false;
    for (const f of files.filter((n) => n.endsWith(".key") && n !== "csr.key")) {
      const pem = files.find((n) => n === f.replace(/\.key$/, ".pem"));
      if (!pem) continue;
      const cert = new X509Certificate(await readFile(join(tlsDir, pem)));
      if (sha256Hex(cert.fingerprint256) !== issued.sha256) continue;
      paired = cert.checkPrivateKey(createPrivateKey(await readFile(join(tlsDir, f))));
    }
    expect(paired).toBe(true);

    // Outside the window now: no further request.
    await sleep(1_000);
    expect((await server.agent(uid)).csrs.length).toBe(1);

    // A restart connects with the issued certificate straight away, and asks for nothing.
    expect((await first.stop()).code).toBe(0);
    const from = await server.lastSeq();
    launch(ws);
    const again = await until("the first message after the restart", async () => (await server.messages(uid, from))[0]);
    expect(again.client_cert?.sha256).toBe(issued.sha256);
    await server.waitAgent((a) => a.instance_uid === uid && a.connected && a.health?.healthy === true, 20_000, "healthy again after the restart");
    await sleep(500);
    expect((await server.agent(uid)).csrs.length).toBe(1);
    console.log(`[interop] CSR received -> first message on the issued certificate (server clock): ${csrToReconnected} ms`);
  });
});
