/**
 * Scenario 7: a collector upgrade through opamp-go's server, from one real build to another.
 * The supervisor runs a private copy of bin/otelcol-interop (its executable path is what it
 * may swap); the server offers bin/otelcol-interop-next (same components, another version)
 * as the top-level package, served from its own listener, signed in the test with our CLI
 * (`opamp-supervisor package keygen` / `package sign`).
 */
import { execFileSync } from "node:child_process";
import { X509Certificate, createHash } from "node:crypto";
import { copyFile, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { CLI, startSupervisor } from "../e2e/harness.js";
import { clientCert, issue, key, makeCa } from "../connection/pki.js";
import type { Ca } from "../connection/pki.js";
import { watchPath } from "../upgrade/e2e-support.js";
import type { RunningSupervisor, Workspace } from "../e2e/harness.js";
import {
  COLLECTOR,
  COLLECTOR_NEXT,
  OpampServer,
  SKIP_REASON,
  collectorPid,
  collectorVersion,
  collectorYaml,
  freePort,
  isAlive,
  removeWorkspaces,
  sendTrace,
  sha256Hex,
  sleep,
  stopSupervisor,
  until,
  waitHealthy,
  workspace,
} from "./peers.js";
import type { AgentView, Download, PackageEvent, PackageOfferResult, ServerTlsFiles } from "./peers.js";

const SKIP = SKIP_REASON ?? (existsSync(COLLECTOR_NEXT) ? undefined : "bin/otelcol-interop-next is missing: run `npm run interop:build` again");

const running: RunningSupervisor[] = [];
const servers: OpampServer[] = [];
let keys: { dir: string; key: string; publicKey: string; signature: Buffer };

afterEach(async () => {
  for (const sup of running.splice(0)) await stopSupervisor(sup);
  for (const s of servers.splice(0)) await s.stop();
  await removeWorkspaces();
});
afterAll(async () => {
  if (keys) await rm(keys.dir, { recursive: true, force: true });
});

beforeAll(async () => {
  if (SKIP) return;
  // A signing key and the signature of the next build, made the way an operator would.
  const dir = await mkdtemp(join(tmpdir(), "opamp-interop-keys-"));
  const prefix = join(dir, "ops");
  execFileSync(process.execPath, [CLI, "package", "keygen", "--out", prefix], { encoding: "utf8" });
  const signed = JSON.parse(
    execFileSync(process.execPath, [CLI, "package", "sign", COLLECTOR_NEXT, "--key", `${prefix}.key`, "--out", join(dir, "next.sig")], { encoding: "utf8" }),
  ) as { sha256: string; signature_base64: string };
  expect(signed.sha256).toBe(await sha(COLLECTOR_NEXT));
  keys = {
    dir,
    key: `${prefix}.key`,
    publicKey: (await readFile(`${prefix}.pub`, "utf8")).trim(),
    signature: Buffer.from(signed.signature_base64, "base64"),
  };
  expect(keys.signature.length).toBe(64);
});

const sha = async (path: string): Promise<string> => createHash("sha256").update(await readFile(path)).digest("hex");
const NEXT = SKIP ? "" : collectorVersion(COLLECTOR_NEXT).version;
const CURRENT = SKIP ? "" : collectorVersion(COLLECTOR).version;

interface Ready {
  server: OpampServer;
  ws: Workspace;
  exe: string;
  sup: RunningSupervisor;
  uid: string;
  pid: number;
  otlpPort: number;
}

interface Pki {
  serverCa: Ca;
  boot: { certPem: string; keyPem: string };
  files: ServerTlsFiles;
}

/**
 * A server CA and certificate, a client CA and a client certificate, as files for the server.
 * `signsCsrs` gives the server the client CA's key; `bootLifetimeMs` makes the client
 * certificate expire that long from now.
 */
async function makePki(dir: string, options: { signsCsrs?: boolean; bootLifetimeMs?: number } = {}): Promise<Pki> {
  const serverCa = makeCa("Interop Server CA", 10);
  const clientCa = makeCa("Interop Client CA", 12);
  const file = async (name: string, text: string): Promise<string> => {
    await writeFile(join(dir, name), text, { mode: 0o600 });
    return join(dir, name);
  };
  const files: ServerTlsFiles = {
    cert: await file("server.pem", issue(serverCa, { cn: "opamp-interop", publicKey: key(11).publicKey, server: true })),
    key: await file("server.key", key(11).pem),
    clientCa: await file("client-ca.pem", clientCa.certPem),
  };
  if (options.signsCsrs) files.clientCaKey = await file("client-ca.key", clientCa.key.pem);
  const lifetime = options.bootLifetimeMs === undefined ? {} : { notAfter: Date.now() + options.bootLifetimeMs };
  return { serverCa, boot: clientCert(clientCa, 0, { cn: "interop-upgrade", ...lifetime }), files };
}

/** How the supervisor gets the PKI: files (default) or inline PEM; extra server.tls YAML; CSR capabilities. */
interface TlsSetup {
  inline?: boolean;
  extra?: string;
  connectionSettings?: boolean;
}

/**
 * A supervisor running a private copy of the current build, accepting packages signed with
 * our key; with `pki`, over wss to a server that requires client certificates (also for the
 * package download, which is on the same listener).
 */
async function ready(pki?: Pki, setup: TlsSetup = {}): Promise<Ready> {
  const server = await OpampServer.start(pki ? { tls: pki.files } : {});
  servers.push(server);
  const otlpPort = await freePort();
  const ws = await workspace({
    endpoint: server.wsUrl,
    collectorYaml: collectorYaml(otlpPort),
    agentExtra: `  package:
    verifier:
      public_keys: ["${keys.publicKey}"]
    progress_interval: 100ms
`,
  });
  const exe = join(ws.dir, "bin", "otelcol-interop");
  await mkdir(join(ws.dir, "bin"));
  await copyFile(COLLECTOR, exe);
  let yaml = await readFile(ws.configPath, "utf8");
  if (pki) {
    let tls: string;
    if (setup.inline) {
      const block = (pem: string): string => `|\n${pem.trimEnd().split("\n").map((l) => `      ${l}`).join("\n")}\n`;
      tls = `    ca_pem: ${block(pki.serverCa.certPem)}    cert_pem: ${block(pki.boot.certPem)}    key_pem: ${block(pki.boot.keyPem)}`;
    } else {
      await writeFile(join(ws.dir, "ca.pem"), pki.serverCa.certPem);
      await writeFile(join(ws.dir, "agent.pem"), pki.boot.certPem);
      await writeFile(join(ws.dir, "agent.key"), pki.boot.keyPem, { mode: 0o600 });
      tls = "    ca_file: ca.pem\n    cert_file: agent.pem\n    key_file: agent.key\n";
    }
    yaml = yaml.replace(`  endpoint: ${server.wsUrl}\n`, `  endpoint: ${server.wsUrl}\n  tls:\n${tls}${setup.extra ?? ""}`);
  }
  const capabilities = setup.connectionSettings ? "  accepts_opamp_connection_settings: true\n  reports_connection_settings_status: true\n" : "";
  const patched = yaml
    .replace(`  executable: ${COLLECTOR}\n`, `  executable: ${exe}\n`)
    .replace("capabilities:\n", `capabilities:\n  accepts_packages: true\n  reports_package_statuses: true\n${capabilities}`);
  expect(patched).toContain(`executable: ${exe}`);
  expect(patched).toContain("accepts_packages: true");
  if (pki) expect(patched).toContain(setup.inline ? "cert_pem: |" : "cert_file: agent.pem");
  if (setup.inline) expect(patched).not.toMatch(/\b(ca|cert|key)_file:/);
  await writeFile(ws.configPath, patched);

  const sup = startSupervisor(ws);
  running.push(sup);
  const agent = await server.waitAgent((a) => a.health?.healthy === true, 20_000, "a healthy agent");
  await waitHealthy(ws);
  const pid = await until("the collector pidfile", () => collectorPid(ws));
  return { server, ws, exe, sup, uid: agent.instance_uid, pid, otlpPort };
}

/** The distinct consecutive statuses of one package, from the history entries after `seq`. */
function sequence(history: PackageEvent[], name: string, afterSeq: number): string[] {
  const out: string[] = [];
  for (const e of history) {
    if (e.name !== name || e.seq <= afterSeq) continue;
    if (out.at(-1) !== e.status) out.push(e.status);
  }
  return out;
}

function waitPackage(server: OpampServer, uid: string, match: (e: PackageEvent) => boolean, timeoutMs: number, what: string): Promise<{ agent: AgentView; event: PackageEvent }> {
  return until(what, async () => {
    const agent = await server.agent(uid);
    const event = agent.package_history.find(match);
    return event ? { agent, event } : undefined;
  }, timeoutMs, 50);
}

/** Offers the next build and waits for INSTALLED or INSTALL_FAILED; with the last GET of the package file. */
async function upgrade(r: Ready): Promise<{ offer: PackageOfferResult; event: PackageEvent; download: Download }> {
  const offer = await r.server.offerPackage(r.uid, { path: COLLECTOR_NEXT, version: NEXT, signature: keys.signature });
  expect(offer.download_url).toMatch(/^https:\/\//);
  const { event } = await waitPackage(
    r.server, r.uid,
    (e) => e.name === "otelcol" && e.server_offered_hash === offer.hash && (e.status === "INSTALLED" || e.status === "INSTALL_FAILED"),
    60_000, "INSTALLED (or INSTALL_FAILED) for the offered package",
  );
  const downloads = (await r.server.downloads()).filter((d) => d.method === "GET");
  if (event.status === "INSTALL_FAILED") expect.fail(`INSTALL_FAILED: ${event.error_message}; ${downloads.length} download(s) recorded`);
  return { offer, event, download: downloads.at(-1)! };
}

const sideFiles = async (r: Ready): Promise<string[]> => (await readdir(join(r.ws.dir, "bin"))).filter((n) => n !== "otelcol-interop");

describe.skipIf(SKIP !== undefined)("interop: collector upgrade through opamp-go's server", () => {
  it("installs the next build: statuses INSTALL_PENDING → … → INSTALLED, new service.version, new binary at the path, healthy", async () => {
    const r = await ready();
    expect(NEXT).not.toBe(CURRENT);
    const before = await r.server.agent(r.uid);
    expect(before.attributes["service.version"]).toBe(CURRENT);
    const from = await r.server.lastSeq();
    const watch = await watchPath(r.exe, r.ws.dir); // stats the executable path in a tight loop

    const offer = await r.server.offerPackage(r.uid, { path: COLLECTOR_NEXT, version: NEXT, signature: keys.signature });
    expect(offer.delivery).toBe("sent");
    expect(offer.content_hash).toBe(await sha(COLLECTOR_NEXT));
    const { agent, event } = await waitPackage(
      r.server, r.uid,
      (e) => e.name === "otelcol" && e.server_offered_hash === offer.hash && (e.status === "INSTALLED" || e.status === "INSTALL_FAILED"),
      60_000, "INSTALLED (or INSTALL_FAILED) for the offered package",
    );
    expect(event.error_message ?? "").toBe("");
    expect(event.status).toBe("INSTALLED");
    const offerToInstalled = Date.parse(event.time) - Date.parse(offer.time);
    const seen = await watch.stop();
    // The executable path never went missing while a real 50 MiB binary was swapped under a running process.
    expect(seen.missing).toBe(0);
    expect(seen.checks).toBeGreaterThan(1000);
    expect(seen.inodes.length).toBeGreaterThanOrEqual(2);

    // The status sequence the server recorded, and what the final one says.
    const seq = sequence(agent.package_history, "otelcol", from);
    expect(seq[0]).toBe("INSTALL_PENDING");
    expect(seq.at(-1)).toBe("INSTALLED");
    expect(seq).toEqual(expect.arrayContaining(["INSTALL_PENDING", "DOWNLOADING", "INSTALLING", "INSTALLED"]));
    expect(event).toMatchObject({ agent_has_version: NEXT, agent_has_hash: offer.hash, server_offered_version: NEXT, server_provided_all_packages_hash: offer.all_packages_hash });

    // The new service.version in the description the server sees.
    const described = await until("service.version = the next build's", async () => {
      const a = await r.server.agent(r.uid);
      return a.attributes["service.version"] === NEXT ? a : undefined;
    }, 15_000);
    expect(described.attributes["service.name"]).toBe("otelcol-interop");

    // The next build's bytes at the executable path, nothing left beside it.
    expect(await sha(r.exe)).toBe(offer.sha256);
    expect(collectorVersion(r.exe).version).toBe(NEXT);
    expect(await sideFiles(r)).toEqual([]);

    // A new, healthy collector process that does its job.
    const pid = await until("a new collector pid", async () => {
      const p = await collectorPid(r.ws);
      return p !== undefined && p !== r.pid ? p : undefined;
    });
    expect(isAlive(r.pid)).toBe(false);
    expect(isAlive(pid)).toBe(true);
    await waitHealthy(r.ws);
    expect((await r.server.agent(r.uid)).health?.healthy).toBe(true);
    expect(await sendTrace(r.otlpPort, "after-upgrade")).toBe(200);

    // The package came from the server's own listener, whole.
    const downloads = (await r.server.downloads()).filter((d) => d.method === "GET");
    expect(downloads.length).toBeGreaterThanOrEqual(1);
    expect(downloads.at(-1)).toMatchObject({ status: 200, bytes: offer.size });
    console.log(`[interop] upgrade ${CURRENT} -> ${NEXT} (${(offer.size / 1048576).toFixed(1)} MiB): offer -> INSTALLED ${offerToInstalled} ms; download ${downloads.at(-1)!.duration_ms.toFixed(0)} ms; statuses ${seq.join(" -> ")}; ${seen.checks} stats of the path, none missing`);
  });

  it("a bad signature: INSTALL_FAILED, nothing changes (binary, process, version)", async () => {
    const r = await ready();
    const before = await sha(r.exe);
    const flipped = Buffer.from(keys.signature);
    flipped[10] = flipped[10]! ^ 0xff;
    // The next build, signed by a key the supervisor does not trust.
    const strangerPrefix = join(keys.dir, `stranger-${Date.now()}`);
    execFileSync(process.execPath, [CLI, "package", "keygen", "--out", strangerPrefix], { encoding: "utf8" });
    const stranger = JSON.parse(
      execFileSync(process.execPath, [CLI, "package", "sign", COLLECTOR_NEXT, "--key", `${strangerPrefix}.key`, "--out", `${strangerPrefix}.sig`], { encoding: "utf8" }),
    ) as { signature_base64: string };

    const durations: number[] = [];
    for (const signature of [flipped, Buffer.from(stranger.signature_base64, "base64")]) {
      const from = await r.server.lastSeq();
      const offer = await r.server.offerPackage(r.uid, { path: COLLECTOR_NEXT, version: NEXT, signature });
      const { agent, event } = await waitPackage(
        r.server, r.uid,
        (e) => e.name === "otelcol" && e.server_offered_hash === offer.hash && (e.status === "INSTALLED" || e.status === "INSTALL_FAILED"),
        60_000, "INSTALL_FAILED for the badly signed package",
      );
      durations.push(Date.parse(event.time) - Date.parse(offer.time));
      expect(event.status).toBe("INSTALL_FAILED");
      expect(event.error_message).toMatch(/does not verify with any of the 1 trusted key/);
      expect(event.agent_has_version).toBe(CURRENT);
      const seq = sequence(agent.package_history, "otelcol", from);
      expect(seq[0]).toBe("INSTALL_PENDING");
      expect(seq.at(-1)).toBe("INSTALL_FAILED");
      expect(seq).not.toContain("INSTALLED");
    }

    // Nothing changed: same bytes at the path, same process, same reported version, healthy.
    expect(await sha(r.exe)).toBe(before);
    expect(await sideFiles(r)).toEqual([]);
    expect(await collectorPid(r.ws)).toBe(r.pid);
    expect(isAlive(r.pid)).toBe(true);
    await waitHealthy(r.ws);
    const agent = await r.server.agent(r.uid);
    expect(agent.attributes["service.version"]).toBe(CURRENT);
    expect(agent.health?.healthy).toBe(true);
    expect(r.sup.logs.some((l) => /package/.test(l.msg) && (l.level === "warn" || l.level === "error"))).toBe(true);
    console.log(`[interop] bad signature: offer -> INSTALL_FAILED ${durations.join(", ")} ms`);
  });

  it("over wss with mTLS: the package comes from the same TLS listener with the client certificate, and is installed", async () => {
    const pki = await makePki(keys.dir);
    const r = await ready(pki);
    expect(r.server.wsUrl).toMatch(/^wss:\/\//);
    expect((await r.server.agent(r.uid)).client_cert?.subject).toBe("CN=interop-upgrade");
    const offer = await r.server.offerPackage(r.uid, { path: COLLECTOR_NEXT, version: NEXT, signature: keys.signature });
    expect(offer.download_url).toMatch(/^https:\/\//);
    const { event } = await waitPackage(
      r.server, r.uid,
      (e) => e.name === "otelcol" && e.server_offered_hash === offer.hash && (e.status === "INSTALLED" || e.status === "INSTALL_FAILED"),
      60_000, "INSTALLED (or INSTALL_FAILED) for the offered package",
    );
    expect(event.error_message ?? "").toBe("");
    expect(event.status).toBe("INSTALLED");
    const downloads = (await r.server.downloads()).filter((d) => d.method === "GET");
    expect(downloads.at(-1)).toMatchObject({ status: 200, bytes: offer.size });
    // The supervisor presented its client certificate to the download URL on the OpAMP host.
    expect(downloads.at(-1)?.client_cert?.sha256).toBe(sha256Hex(new X509Certificate(pki.boot.certPem).fingerprint256));
    expect(await sha(r.exe)).toBe(offer.sha256);
    await until("service.version = the next build's", async () => (await r.server.agent(r.uid)).attributes["service.version"] === NEXT, 15_000);
    await waitHealthy(r.ws);
    console.log(`[interop] upgrade over mTLS: offer -> INSTALLED ${Date.parse(event.time) - Date.parse(offer.time)} ms; download ${downloads.at(-1)!.duration_ms.toFixed(0)} ms`);
  });

  // Regression: downloads used supervisor.yaml's *_file settings only, so with inline PEM they
  // trusted the system roots (UNABLE_TO_VERIFY_LEAF_SIGNATURE) and sent no client certificate.
  it("over wss with mTLS configured as inline PEM (ca_pem, cert_pem, key_pem): the download uses them, installed", async () => {
    const pki = await makePki(keys.dir);
    const r = await ready(pki, { inline: true });
    const { offer, event, download } = await upgrade(r);
    expect(event.status).toBe("INSTALLED");
    expect(download).toMatchObject({ status: 200, bytes: offer.size });
    expect(download.client_cert?.sha256).toBe(sha256Hex(new X509Certificate(pki.boot.certPem).fingerprint256));
    expect(await sha(r.exe)).toBe(offer.sha256);
  });

  // Regression: downloads kept presenting server.tls.cert_file after a CSR had replaced it, and
  // failed ("server.tls.cert_file … expired") once that bootstrap certificate had expired.
  it("after a CSR renewal and the bootstrap certificate's expiry, the download presents the issued certificate, installed", async () => {
    // The bootstrap certificate lives a few seconds and is inside renew_before from the start.
    const pki = await makePki(keys.dir, { signsCsrs: true, bootLifetimeMs: 4_000 });
    const bootExpiry = Date.parse(new X509Certificate(pki.boot.certPem).validTo);
    const r = await ready(pki, { extra: "    renew_before: 24h\n    connection_trial_timeout: 5s\n", connectionSettings: true });
    const boot = sha256Hex(new X509Certificate(pki.boot.certPem).fingerprint256);
    expect((await r.server.agent(r.uid)).client_certs[0]?.sha256).toBe(boot);

    const issued = await until("the CSR signed and its certificate APPLIED and in use", async () => {
      const a = await r.server.agent(r.uid);
      const rejected = a.csrs.find((c) => c.result === "rejected");
      if (rejected) throw new Error(`the server rejected the CSR: ${rejected.error}`);
      const signed = a.csrs.find((c) => c.result === "signed");
      const s = a.connection_settings_status;
      if (!signed?.issued || !s || s.last_connection_settings_hash !== signed.offer_hash || s.status !== "APPLIED") return undefined;
      return a.client_cert?.sha256 === signed.issued.sha256 ? signed.issued : undefined;
    }, 20_000);
    const headroom = bootExpiry - Date.now();
    await sleep(Math.max(0, headroom + 500));

    const { offer, event, download } = await upgrade(r);
    expect(event.status).toBe("INSTALLED");
    expect(Date.parse(download.time)).toBeGreaterThan(bootExpiry);
    expect(download).toMatchObject({ status: 200, bytes: offer.size });
    expect(download.client_cert).toMatchObject({ sha256: issued.sha256, serial: issued.serial, subject: `CN=${r.uid}` });
    expect(await sha(r.exe)).toBe(offer.sha256);
    expect((await r.server.agent(r.uid)).csrs.length).toBe(1);
    console.log(`[interop] CSR renewal APPLIED ${headroom} ms before the bootstrap certificate expired; offer -> INSTALLED ${Date.parse(event.time) - Date.parse(offer.time)} ms`);
  });
});
