import { createServer } from "node:net";
import type { AddressInfo, Server, Socket } from "node:net";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { X509Certificate } from "node:crypto";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { serverTarget } from "../../src/connection/target.js";
import type { ServerTarget } from "../../src/connection/target.js";
import type { TlsSettings } from "../../src/connection/tls-options.js";
import { eventually } from "../support/fake-clock.js";
import { makeClient } from "../support/client-fixture.js";
import type { ClientHarness } from "../support/client-fixture.js";
import { OpampTestServer } from "../support/opamp-test-server.js";
import { DAY, clientCert, makeCa, mtlsServerOptions } from "../connection/pki.js";
import type { Ca } from "../connection/pki.js";

// Valid for the fake clock's 2026-01-01 start as well as for the real clock the server checks with.
const validity = { notBefore: Date.UTC(2025, 0, 1), notAfter: Date.now() + 90 * DAY };
let serverCa: Ca;
let clientCa: Ca;
let rogueCa: Ca;
let first: { certPem: string; keyPem: string };
let second: { certPem: string; keyPem: string };
let dir: string;

beforeAll(async () => {
  serverCa = makeCa("Server CA", 10, validity);
  clientCa = makeCa("Client CA", 12, validity);
  rogueCa = makeCa("Rogue CA", 13, validity);
  first = clientCert(clientCa, 0, validity);
  second = clientCert(clientCa, 1, validity);
  dir = await mkdtemp(join(tmpdir(), "client-tls-"));
});

let server: OpampTestServer;
let h: ClientHarness | undefined;
const extra: Array<Server | OpampTestServer> = [];

afterEach(async () => {
  h?.client.destroy();
  h = undefined;
  await server?.close();
  for (const s of extra.splice(0)) await (s instanceof OpampTestServer ? s.close() : new Promise((r) => s.close(r)));
});

const fingerprint = (pem: string): string => new X509Certificate(pem).fingerprint256;
/** A target as the connection room builds it: TLS options built (and files read) at every connect. */
const tlsTarget = (endpoint: string, tls: TlsSettings, headers: Record<string, string> = {}): ServerTarget =>
  serverTarget({ endpoint, headers, tls }, { now: () => Date.now() });
const tlsWith = (cert: { certPem: string; keyPem: string } | undefined): TlsSettings => ({
  caPem: serverCa.certPem,
  ...(cert ? { certPem: cert.certPem, keyPem: cert.keyPem } : {}),
});

describe.each(["ws", "http"] as const)("mutual TLS over %s", (transport) => {
  const url = (s: OpampTestServer): string => (transport === "ws" ? s.wsUrl : s.httpUrl);

  it("connects with a client certificate the server requires, and the server sees it", async () => {
    server = await OpampTestServer.start({ tls: mtlsServerOptions(serverCa, clientCa) });
    h = makeClient(server, transport, { target: tlsTarget(url(server), tlsWith(first)) });
    h.client.start();
    const r = await server.waitFor(() => true);
    expect(url(server)).toMatch(/^(wss|https):/);
    expect(r.peerCert).toBe(fingerprint(first.certPem));
  });

  it("tries new settings on a new connection and keeps them once the server answers", async () => {
    server = await OpampTestServer.start({ tls: mtlsServerOptions(serverCa, clientCa) });
    h = makeClient(server, transport, {
      target: tlsTarget(url(server), tlsWith(first)),
      heartbeatIntervalMs: 1_000_000,
    });
    h.client.start();
    await server.waitFor(() => true);
    await eventually(() => h?.client.state.kind === "connected", 2000, "connected");
    const before = server.received.length;
    const target = tlsTarget(url(server), tlsWith(second), { "X-Trial": "1" });
    const result = await h.client.trySettings(target, { timeoutMs: 5_000 });
    expect(result).toEqual({ ok: true });
    expect(h.client.target).toBe(target);
    const later = server.received.slice(before);
    // The old connection said goodbye; the new one presented the new certificate with the new headers.
    expect(later.some((r) => r.msg.agentDisconnect !== undefined && r.peerCert === fingerprint(first.certPem))).toBe(
      true,
    );
    const fresh = later.find((r) => r.peerCert === fingerprint(second.certPem));
    expect(fresh?.headers["x-trial"]).toBe("1");
    expect(fresh?.msg.sequenceNum).toBeGreaterThan(0n);
  });

  it("goes back to the previous settings when the server refuses the new certificate", async () => {
    server = await OpampTestServer.start({ tls: mtlsServerOptions(serverCa, clientCa) });
    h = makeClient(server, transport, { target: tlsTarget(url(server), tlsWith(first)) });
    h.client.start();
    await server.waitFor(() => true);
    await eventually(() => h?.client.state.kind === "connected", 2000, "connected");
    const original = h.client.target;
    const rogue = clientCert(rogueCa, 1, validity);
    const result = await h.client.trySettings(tlsTarget(url(server), tlsWith(rogue)), { timeoutMs: 5_000 });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.message).toMatch(/TLS|socket|ECONNRESET|hang up|closed/i);
    expect(h.client.target).toBe(original);
    const before = server.received.length;
    await eventually(
      () => h?.client.state.kind === "connected" && server.received.length > before,
      3000,
      "reconnected",
    );
    expect(server.received.at(-1)?.peerCert).toBe(fingerprint(first.certPem));
    expect(server.received.some((r) => r.peerCert === fingerprint(rogue.certPem))).toBe(false);
  });
});

describe("trying settings that do not work", () => {
  it("rolls back at once when the offered endpoint refuses connections", async () => {
    server = await OpampTestServer.start();
    h = makeClient(server, "ws");
    h.client.start();
    await server.waitFor(() => true);
    const dead = createServer();
    await new Promise<void>((r) => dead.listen(0, "127.0.0.1", r));
    const port = (dead.address() as AddressInfo).port;
    await new Promise((r) => dead.close(r));
    const result = await h.client.trySettings({ endpoint: `ws://127.0.0.1:${port}/v1/opamp` }, { timeoutMs: 60_000 });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.message).toMatch(/ECONNREFUSED/);
    await server.waitFor((r) => r.connection === 2);
    expect(h.client.target.endpoint).toBe(server.wsUrl);
  });

  it("rolls back after the timeout when the offered endpoint accepts but never answers", async () => {
    server = await OpampTestServer.start();
    h = makeClient(server, "ws");
    h.client.start();
    await server.waitFor(() => true);
    const sockets: Socket[] = [];
    const hole = createServer((s) => sockets.push(s)); // accepts TCP, says nothing
    extra.push(hole);
    await new Promise<void>((r) => hole.listen(0, "127.0.0.1", r));
    const trial = h.client.trySettings(
      { endpoint: `ws://127.0.0.1:${(hole.address() as AddressInfo).port}/v1/opamp` },
      { timeoutMs: 10_000 },
    );
    await eventually(() => sockets.length === 1, 2000, "connection to the black hole");
    await h.clock.advance(10_000);
    const result = await trial;
    expect(result).toMatchObject({
      ok: false,
      error: { message: expect.stringMatching(/no answer from 127\.0\.0\.1:\d+ within 10000 ms/) },
    });
    for (const s of sockets) s.destroy();
    await server.waitFor((r) => r.connection === 2);
    expect(h.client.target.endpoint).toBe(server.wsUrl);
  });

  it("rolls back when the new server answers with an error", async () => {
    server = await OpampTestServer.start();
    const other = await OpampTestServer.start();
    extra.push(other);
    other.respond = () => ({ errorResponse: { type: 1, errorMessage: "not you" } });
    h = makeClient(server, "ws");
    h.client.start();
    await server.waitFor(() => true);
    const result = await h.client.trySettings({ endpoint: other.wsUrl }, { timeoutMs: 10_000 });
    expect(result).toMatchObject({ ok: false, error: { message: "server answered with an error: not you" } });
    await server.waitFor((r) => r.connection === 2);
  });

  it("moves to a new server while the current one is unreachable", async () => {
    server = await OpampTestServer.start();
    h = makeClient(server, "ws");
    const port = server.port;
    await server.close();
    h.client.start();
    await eventually(() => h?.client.state.kind === "backoff", 2000, "backoff");
    server = await OpampTestServer.start();
    expect(server.port).not.toBe(port);
    const result = await h.client.trySettings({ endpoint: server.wsUrl }, { timeoutMs: 10_000 });
    expect(result).toEqual({ ok: true });
  });
});

describe("TLS errors name what to fix", () => {
  it("a server certificate from another CA names the configured CA file, even with NODE_TLS_REJECT_UNAUTHORIZED=0", async () => {
    server = await OpampTestServer.start({ tls: mtlsServerOptions(serverCa, clientCa) });
    const caFile = join(dir, "wrong-ca.pem");
    await writeFile(caFile, rogueCa.certPem);
    h = makeClient(server, "ws", {
      target: tlsTarget(server.wsUrl, { caFile, certPem: first.certPem, keyPem: first.keyPem }),
    });
    const saved = process.env["NODE_TLS_REJECT_UNAUTHORIZED"];
    process.env["NODE_TLS_REJECT_UNAUTHORIZED"] = "0";
    try {
      h.client.start();
      await eventually(() => h?.errors[0], 3000, "an error");
    } finally {
      if (saved === undefined) delete process.env["NODE_TLS_REJECT_UNAUTHORIZED"];
      else process.env["NODE_TLS_REJECT_UNAUTHORIZED"] = saved;
    }
    expect(server.received).toHaveLength(0);
    expect(h.errors[0]?.message).toBe(
      `TLS handshake with 127.0.0.1:${server.port} failed: the server certificate does not chain to server.tls.ca_file ${caFile} (UNABLE_TO_VERIFY_LEAF_SIGNATURE)`,
    );
  });

  it("an expired or mismatched client pair names the file and the reason, before connecting", async () => {
    server = await OpampTestServer.start({ tls: mtlsServerOptions(serverCa, clientCa) });
    const certFile = join(dir, "agent.pem");
    const keyFile = join(dir, "agent.key");
    await writeFile(certFile, first.certPem);
    await writeFile(keyFile, second.keyPem);
    h = makeClient(server, "ws", { target: tlsTarget(server.wsUrl, { caPem: serverCa.certPem, certFile, keyFile }) });
    h.client.start();
    await eventually(() => h?.errors[0], 3000, "an error");
    expect(h.errors[0]?.message).toContain(
      `server.tls.cert_file ${certFile} with key_file ${keyFile}: the private key does not match the certificate`,
    );
    h.client.destroy();
    const expired = clientCert(clientCa, 0, { notBefore: Date.UTC(2024, 0, 1), notAfter: Date.UTC(2025, 0, 1) });
    await writeFile(certFile, expired.certPem);
    await writeFile(keyFile, expired.keyPem);
    h = makeClient(server, "ws", { target: tlsTarget(server.wsUrl, { caPem: serverCa.certPem, certFile, keyFile }) });
    h.client.start();
    await eventually(() => h?.errors[0], 3000, "an error");
    expect(h.errors[0]?.message).toMatch(
      new RegExp(`cert_file ${certFile} with key_file ${keyFile}: expired on 2025-01-01`),
    );
    expect(server.received).toHaveLength(0);
  });

  it("a server that wants a client certificate says so", async () => {
    server = await OpampTestServer.start({ tls: mtlsServerOptions(serverCa, clientCa) });
    h = makeClient(server, "http", { target: tlsTarget(server.httpUrl, { caPem: serverCa.certPem }) });
    h.client.start();
    await eventually(() => h?.errors[0], 3000, "an error");
    expect(h.errors[0]?.message).toMatch(/requires a client certificate|socket hang up|ECONNRESET/);
  });
});

describe("server.tls versions and trust", () => {
  it("never offers more than max_version: a 1.2 maximum negotiates TLS 1.2", async () => {
    server = await OpampTestServer.start({ tls: mtlsServerOptions(serverCa, clientCa) });
    h = makeClient(server, "ws", { target: tlsTarget(server.wsUrl, { ...tlsWith(first), maxVersion: "TLSv1.2" }) });
    h.client.start();
    const r = await server.waitFor(() => true);
    expect(r.tlsProtocol).toBe("TLSv1.2");
  });

  it("cannot reach a server that insists on TLS 1.3 with a 1.2 maximum", async () => {
    server = await OpampTestServer.start({ tls: { ...mtlsServerOptions(serverCa, clientCa), minVersion: "TLSv1.3" } });
    const errors: string[] = [];
    h = makeClient(server, "ws", { target: tlsTarget(server.wsUrl, { ...tlsWith(first), maxVersion: "TLSv1.2" }) });
    h.client.on("clientError", (err) => errors.push(err.message));
    h.client.start();
    await eventually(() => errors.length > 0, 5000, "a connection error");
    expect(errors[0]).toMatch(/protocol|version|alert|SSL|TLS|socket/i);
    expect(server.received).toEqual([]);
  });

  it("trusts the given CA and the system roots together with include_system_ca_certs_pool", async () => {
    server = await OpampTestServer.start({ tls: mtlsServerOptions(serverCa, clientCa) });
    const { buildTlsOptions } = await import("../../src/connection/tls-options.js");
    const { rootCertificates } = await import("node:tls");
    const options = await buildTlsOptions({ ...tlsWith(first), systemRoots: true });
    expect(options.ca).toEqual([...rootCertificates, serverCa.certPem]);
    h = makeClient(server, "ws", { target: tlsTarget(server.wsUrl, { ...tlsWith(first), systemRoots: true }) });
    h.client.start();
    const r = await server.waitFor(() => true);
    expect(r.peerCert).toBe(fingerprint(first.certPem));
  });
});
