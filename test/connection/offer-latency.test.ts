/**
 * Measures the time from a certificate offer to the server seeing a reconnection that uses
 * the new certificate, over 25 offers (wss, mTLS, loopback). Prints the figures; the only
 * assertions are that every offer was applied.
 */
import { X509Certificate } from "node:crypto";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { OpampTestServer } from "../support/opamp-test-server.js";
import { startRig } from "./harness.js";
import { clientCert, makeCa, mtlsServerOptions } from "./pki.js";

const ROUNDS = 25;
let cleanup: (() => Promise<void>) | undefined;
afterAll(async () => cleanup?.());

it(`applies ${ROUNDS} certificate offers in a row and reports offer → reconnected-with-new-certificate`, async () => {
  const serverCa = makeCa("Latency Server CA", 10);
  const clientCa = makeCa("Latency Client CA", 12);
  const server = await OpampTestServer.start({ tls: mtlsServerOptions(serverCa, clientCa) });
  const dir = await mkdtemp(join(tmpdir(), "tls-latency-"));
  const boot = clientCert(clientCa, 0);
  await writeFile(join(dir, "ca.pem"), serverCa.certPem);
  await writeFile(join(dir, "agent.pem"), boot.certPem);
  await writeFile(join(dir, "agent.key"), boot.keyPem);
  const rig = await startRig({
    endpoint: server.wsUrl,
    dir,
    tls: `    ca_file: ${join(dir, "ca.pem")}\n    cert_file: ${join(dir, "agent.pem")}\n    key_file: ${join(dir, "agent.key")}\n`,
  });
  cleanup = async () => {
    await rig.stop();
    await server.close();
  };
  await server.waitFor(() => true);
  const samples: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const cert = clientCert(clientCa, 1 + (i % 3), { cn: `round-${i}` });
    const fingerprint = new X509Certificate(cert.certPem).fingerprint256;
    const from = server.received.length;
    const start = performance.now();
    server.push({
      connectionSettings: {
        hash: new Uint8Array([0x1a, i]),
        opamp: {
          certificate: {
            cert: Buffer.from(cert.certPem),
            privateKey: Buffer.from(cert.keyPem),
            caCert: Buffer.from(clientCa.certPem),
          },
        },
      },
    });
    await server.waitFor((r) => r.peerCert === fingerprint, { from, timeoutMs: 10_000 });
    samples.push(performance.now() - start);
    await server.waitFor(
      (r) =>
        r.msg.connectionSettingsStatus?.status === 1 &&
        r.msg.connectionSettingsStatus.lastConnectionSettingsHash[1] === i,
      { from, timeoutMs: 10_000 },
    );
  }
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
  const median = ((sorted[(ROUNDS - 1) >> 1] ?? 0) + (sorted[ROUNDS >> 1] ?? 0)) / 2;
  console.log(
    `offer → reconnected with the new certificate over ${ROUNDS} offers: median ${median.toFixed(1)} ms, ` +
      `p90 ${at(0.9).toFixed(1)} ms, min ${sorted[0]?.toFixed(1)} ms, max ${sorted.at(-1)?.toFixed(1)} ms`,
  );
  expect(samples).toHaveLength(ROUNDS);
});
