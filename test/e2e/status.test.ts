/**
 * `opamp-supervisor status`: live from healthcheck.endpoint while the supervisor runs, from
 * the state directory once it is stopped; exit 3 when there is nothing to report, 2 for a
 * bad config.
 */
import { spawnSync } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { forge as loadForge } from "../../src/connection/forge.js";
import type { StatusReport } from "../../src/status/read.js";
import { CLI, auditLines, freePort, makeWorkspace, waitForStub } from "./harness.js";
import type { Workspace } from "./harness.js";
import { perTest } from "./per-test.js";

const t = perTest();

function status(ws: Workspace, ...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, "status", "--config", ws.configPath, ...args], {
    encoding: "utf8",
    timeout: 15_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A self-signed client certificate, valid for 30 days, as an operator would configure one. */
async function writeCertificate(dir: string): Promise<{ cert: string; key: string; notAfter: Date }> {
  const forge = loadForge();
  const keys = forge.pki.rsa.generateKeyPair(1024);
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = "01";
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Math.floor(Date.now() / 1000) * 1000 + 30 * 86_400_000);
  const subject = [
    { name: "commonName", value: "agent-7" },
    { name: "organizationName", value: "Example" },
  ];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  const paths = { cert: join(dir, "client.pem"), key: join(dir, "client.key") };
  await writeFile(paths.cert, forge.pki.certificateToPem(cert));
  await writeFile(paths.key, forge.pki.privateKeyToPem(keys.privateKey), { mode: 0o600 });
  return { ...paths, notAfter: cert.validity.notAfter };
}

describe("opamp-supervisor status", () => {
  it("reads the running supervisor's snapshot from its endpoint", async () => {
    const port = await freePort();
    const ws = await makeWorkspace({
      endpoint: t.server.wsUrl,
      extra: `healthcheck:\n  endpoint: 127.0.0.1:${port}\n`,
    });
    t.launch(ws);
    const stub = await waitForStub(ws);
    await t.server.waitFor((r) => r.msg.health?.healthy === true, { timeoutMs: 10_000 });

    const json = status(ws, "--json");
    expect(json.code, json.stderr).toBe(0);
    const report = JSON.parse(json.stdout) as StatusReport;
    expect(report.source).toBe("endpoint");
    expect(report.live?.collector.pid).toBe(stub.pid);
    expect(report.live?.connection.state).toBe("connected");

    const screen = status(ws);
    expect(screen.code).toBe(0);
    expect(screen.stdout).toMatch(/^Supervisor \S+: running \(ok\)$/m);
    expect(screen.stdout).toMatch(new RegExp(`^  pid +${stub.pid}$`, "m"));
    expect(screen.stdout).toMatch(/^ {2}state +connected, /m);
  });

  it("reads the state directory once the supervisor is stopped: uid, remote config, certificate, audit", async () => {
    const ws = await makeWorkspace({ endpoint: t.server.wsUrl });
    const cert = await writeCertificate(ws.dir);
    const text = await readFile(ws.configPath, "utf8");
    await writeFile(
      ws.configPath,
      text.replace(/^server:\n/, `server:\n  tls:\n    cert_file: ${cert.cert}\n    key_file: ${cert.key}\n`),
    );
    const sup = t.launch(ws);
    await waitForStub(ws);
    const body = new TextEncoder().encode("- not a map\n");
    t.server.push({
      remoteConfig: {
        configHash: new Uint8Array([0xbe, 0xef]),
        config: { configMap: { "x.yaml": { body, contentType: "text/yaml" } } },
      },
    });
    await t.server.waitFor((r) => r.msg.remoteConfigStatus?.errorMessage.includes("expected a map") === true, {
      timeoutMs: 10_000,
    });
    const first = t.server.received[0]!.msg;
    await sup.stop();
    const audited = await auditLines(ws);
    expect(audited.length).toBeGreaterThan(0);

    const json = status(ws, "--json", "--lines", "1");
    expect(json.code, json.stderr).toBe(0);
    const report = JSON.parse(json.stdout) as StatusReport;
    expect(report.source).toBe("state-dir");
    expect(report.live).toBeNull();
    expect(report.offline?.instanceUid?.replace(/-/g, "")).toBe(Buffer.from(first.instanceUid).toString("hex"));
    expect(report.offline?.remoteConfig).toMatchObject({ hash: "beef", status: "FAILED" });
    expect(report.offline?.remoteConfig?.error).toMatch(/expected a map/);
    expect(report.certificates).toEqual([
      { file: cert.cert, subject: "CN=agent-7, O=Example", notAfter: cert.notAfter.toISOString(), expired: false },
    ]);
    expect(report.audit).toEqual([audited.at(-1)]);

    const screen = status(ws);
    expect(screen.stdout).toMatch(/^Supervisor: not running \(from the state directory\)$/m);
    expect(screen.stdout).toMatch(/^ {2}subject +CN=agent-7, O=Example$/m);
    expect(screen.stdout).toContain("Last audit lines");
  });

  it("exits 3 when nothing answers and the state directory does not exist, 2 for a bad config", async () => {
    const ws = await makeWorkspace({ endpoint: t.server.wsUrl });
    const missing = status(ws);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toMatch(/state directory .* does not exist/);
    await writeFile(ws.configPath, "server: {}\n");
    expect(status(ws).code).toBe(2);
  });
});
