/**
 * Collector upgrades end to end: the built CLI, the OpAMP test server offering packages, a
 * file server serving stub "builds", and the real swap of the executable on disk.
 */
import { createHash } from "node:crypto";
import { readFile, readdir } from "node:fs/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { generateKeyPair } from "../../src/upgrade/keys.js";
import { OpampTestServer } from "../support/opamp-test-server.js";
import { PackageFileServer } from "../support/package-file-server.js";
import { makeTarGz } from "../upgrade/fixtures.js";
import {
  S,
  enablePackages,
  isStatus,
  makeUpgradeWorkspace,
  pushOffer,
  signedOffer,
  statusSequence,
  stubBuild,
  waitForStatus,
  watchPath,
} from "../upgrade/e2e-support.js";
import type { UpgradeWorkspace } from "../upgrade/e2e-support.js";
import { auditLines, startSupervisor, waitForStub } from "./harness.js";
import type { RunningSupervisor } from "./harness.js";

const key = generateKeyPair();
const stranger = generateKeyPair();
let server: OpampTestServer;
let files: PackageFileServer;
const running: RunningSupervisor[] = [];

beforeEach(async () => {
  server = await OpampTestServer.start();
  enablePackages(server);
  files = await PackageFileServer.start();
});
afterEach(async () => {
  for (const sup of running.splice(0)) await sup.kill();
  await files.close();
  await server.close();
});

const bytes = (...b: number[]): Uint8Array => new Uint8Array(b);
const sha = async (path: string): Promise<string> =>
  createHash("sha256")
    .update(await readFile(path))
    .digest("hex");
const sideFiles = async (ws: UpgradeWorkspace): Promise<string[]> =>
  (await readdir(`${ws.dir}/bin`)).filter((n) => n !== "otelcol-stub.mjs");

async function ready(packageYaml?: string): Promise<{ ws: UpgradeWorkspace; sup: RunningSupervisor; pid: number }> {
  const ws = await makeUpgradeWorkspace({ endpoint: server.wsUrl, key, ...(packageYaml ? { packageYaml } : {}) });
  const sup = startSupervisor(ws);
  running.push(sup);
  await waitForStatus(server, isStatus(S.PackageStatusEnum_Installed), { name: "" });
  const { pid } = await waitForStub(ws, (s) => s.healthy && s.version === "0.1.0");
  return { ws, sup, pid };
}

function reportedVersion(from: number): string | undefined {
  const descriptions = server.received
    .slice(from)
    .map((r) => r.msg.agentDescription)
    .filter(Boolean);
  const attrs = descriptions.at(-1)?.identifyingAttributes ?? [];
  const value = attrs.find((kv) => kv.key === "service.version")?.value?.value;
  return value?.case === "stringValue" ? value.value : undefined;
}

describe("collector upgrade", () => {
  it("installs a signed package: full status sequence, new version reported, the path never missing", async () => {
    const { ws, sup } = await ready();
    const body = await stubBuild("0.2.0", "ok", 96 * 1024);
    const url = files.serve("/otelcol-0.2.0", {
      body,
      requireHeader: { name: "authorization", value: "Bearer pkgs" },
      throttleBytesPerSecond: 256 * 1024,
    });
    const offer = { ...signedOffer(body, key, url, "0.2.0", bytes(0xa1)), headers: { Authorization: "Bearer pkgs" } };
    const watch = await watchPath(ws.exe, ws.dir);
    const from = pushOffer(server, offer, bytes(1));
    const installed = await waitForStatus(server, isStatus(S.PackageStatusEnum_Installed, offer.hash), { from });
    await waitForStub(ws, (s) => s.healthy && s.version === "0.2.0");
    const seen = await watch.stop();

    expect(statusSequence(server, from)).toEqual(["INSTALL_PENDING", "DOWNLOADING", "INSTALLING", "INSTALLED"]);
    const progress = server.received
      .slice(from)
      .map((r) => r.msg.packageStatuses?.packages["otelcol"]?.downloadDetails)
      .filter(Boolean);
    expect(progress.length).toBeGreaterThan(1);
    expect(progress.at(-1)?.downloadBytesPerSecond).toBeGreaterThan(0);
    const status = installed.msg.packageStatuses!;
    expect(status.serverProvidedAllPackagesHash).toEqual(bytes(1));
    expect(status.packages["otelcol"]).toMatchObject({
      agentHasVersion: "0.2.0",
      agentHasHash: offer.hash,
      serverOfferedVersion: "0.2.0",
      errorMessage: "",
    });
    expect(status.packages[""]).toBeUndefined();
    await server.waitFor(() => reportedVersion(from) === "0.2.0", { from });

    expect(seen.missing).toBe(0);
    expect(seen.checks).toBeGreaterThan(1000);
    expect(seen.inodes.length).toBeGreaterThanOrEqual(2);
    expect(await readFile(ws.exe)).toEqual(body);
    expect(await sideFiles(ws)).toEqual([]);
    expect(files.requests.every((r) => r.headers["authorization"] === "Bearer pkgs")).toBe(true);
    expect((await auditLines(ws)).find((l) => l["action"] === "package-installed")).toMatchObject({
      from: "0.1.0",
      to: "0.2.0",
      signature: "verified",
    });
    // The long work shows in the log: progress steps up to 100%, then each phase with its duration.
    const percents = sup.logs.filter((l) => l.msg === "package download progress").map((l) => l["percent"]);
    expect(percents.at(-1)).toBe(100);
    expect(percents).toEqual([...percents].sort((a, b) => (a as number) - (b as number)));
    const phases = sup.logs
      .filter((l) => l["name"] === "otelcol" && typeof l["phase"] === "string")
      .map((l) => l["phase"]);
    expect(phases).toEqual(["download", "verify", "preflight"]);
  });

  it("refuses a bad content hash, a bad signature, a missing signature and an unknown key, changing no file", async () => {
    const { ws, pid } = await ready();
    const before = await sha(ws.exe);
    const body = await stubBuild("0.2.0");
    const url = files.serve("/otelcol", { body });
    const good = signedOffer(body, key, url, "0.2.0", bytes(0));
    const cases = [
      {
        hash: bytes(0xb1),
        patch: { contentHash: createHash("sha256").update("other").digest() },
        reason: /content hash mismatch/,
      },
      {
        hash: bytes(0xb2),
        patch: { signature: Buffer.alloc(64, 9) },
        reason: /does not verify with any of the 1 trusted key/,
      },
      { hash: bytes(0xb3), patch: { signature: new Uint8Array(0) }, reason: /not signed/ },
      {
        hash: bytes(0xb4),
        patch: { signature: signedOffer(body, stranger, url, "0.2.0", bytes(0)).signature },
        reason: /does not verify/,
      },
    ];
    for (const [i, c] of cases.entries()) {
      const from = pushOffer(server, { ...good, ...c.patch, hash: c.hash }, bytes(0x10 + i));
      const failed = await waitForStatus(server, isStatus(S.PackageStatusEnum_InstallFailed, c.hash), { from });
      expect(failed.msg.packageStatuses?.packages["otelcol"]?.errorMessage).toMatch(c.reason);
      expect(failed.msg.packageStatuses?.packages["otelcol"]?.agentHasVersion).toBe("0.1.0");
    }
    expect(await sha(ws.exe)).toBe(before);
    expect(await sideFiles(ws)).toEqual([]);
    expect((await waitForStub(ws)).pid).toBe(pid);
  });

  it("never swaps in a binary whose --version fails", async () => {
    const { ws, pid } = await ready();
    const before = await sha(ws.exe);
    const body = await stubBuild("0.2.0", "bad-version");
    const offer = signedOffer(body, key, files.serve("/broken", { body }), "0.2.0", bytes(0xc1));
    const from = pushOffer(server, offer, bytes(0x20));
    const failed = await waitForStatus(server, isStatus(S.PackageStatusEnum_InstallFailed, offer.hash), { from });
    expect(failed.msg.packageStatuses?.packages["otelcol"]?.errorMessage).toMatch(
      /--version check.*Illegal instruction/s,
    );
    expect(statusSequence(server, from)).toEqual(["INSTALL_PENDING", "DOWNLOADING", "INSTALLING", "INSTALL_FAILED"]);
    expect(await sha(ws.exe)).toBe(before);
    expect((await waitForStub(ws)).pid).toBe(pid);
    expect((await auditLines(ws)).some((l) => l["action"] === "package-installed")).toBe(false);
  });

  it("rolls back an unhealthy binary, is healthy again, reports INSTALL_FAILED, and does not retry it", async () => {
    const { ws, sup } = await ready();
    const before = await sha(ws.exe);
    const body = await stubBuild("0.3.0", "unhealthy");
    const offer = signedOffer(body, key, files.serve("/sick", { body }), "0.3.0", bytes(0xd1));
    const from = pushOffer(server, offer, bytes(0x30));
    const failed = await waitForStatus(server, isStatus(S.PackageStatusEnum_InstallFailed, offer.hash), {
      from,
      timeoutMs: 20_000,
    });
    const message = failed.msg.packageStatuses?.packages["otelcol"]?.errorMessage ?? "";
    expect(message).toMatch(
      /the new binary \(version 0.3.0\) did not prove healthy: .*rolled back to version 0.1.0, healthy again/s,
    );
    // An always-503 binary never opens the window: it fails at the startup deadline.
    expect(message).toMatch(/did not answer healthy within 2000 ms \(last error: health check answered HTTP 503\)/);
    expect(failed.msg.packageStatuses?.packages["otelcol"]?.agentHasVersion).toBe("0.1.0");
    expect(await sha(ws.exe)).toBe(before);
    await waitForStub(ws, (s) => s.healthy && s.version === "0.1.0");
    // The rollback was proven healthy before INSTALL_FAILED went out.
    expect(server.received.filter((r) => r.msg.health).at(-1)?.msg.health?.healthy).toBe(true);
    expect(await sideFiles(ws)).toEqual([]);

    const requests = files.requests.length;
    const again = pushOffer(server, offer, bytes(0x31));
    const refused = await waitForStatus(server, isStatus(S.PackageStatusEnum_InstallFailed, offer.hash), {
      from: again,
    });
    expect(refused.msg.packageStatuses?.packages["otelcol"]?.errorMessage).toMatch(
      /failed before and is not installed again/,
    );
    expect(files.requests.length).toBe(requests);
    expect(sup.logs.some((l) => l.msg === "collector package not installed")).toBe(true);
  });

  it("tar.gz: refuses a ../ entry and a link, then installs the named binary from a good archive", async () => {
    const { ws } = await ready("archive: tar.gz\nagent_binary: otelcol-stub");
    const before = await sha(ws.exe);
    const good = await stubBuild("0.4.0");
    const archives = [
      {
        hash: bytes(0xe1),
        body: makeTarGz([
          { path: "../otelcol-stub", body: good },
          { path: "otelcol-stub", body: good },
        ]),
        reason: /\.\./,
      },
      {
        hash: bytes(0xe2),
        body: makeTarGz([{ path: "otelcol-stub", type: "SymbolicLink", linkpath: "/bin/sh" }]),
        reason: /link/,
      },
    ];
    for (const [i, a] of archives.entries()) {
      const offer = signedOffer(a.body, key, files.serve(`/bad-${i}.tar.gz`, { body: a.body }), "0.4.0", a.hash);
      const from = pushOffer(server, offer, bytes(0x40 + i));
      const failed = await waitForStatus(server, isStatus(S.PackageStatusEnum_InstallFailed, a.hash), { from });
      expect(failed.msg.packageStatuses?.packages["otelcol"]?.errorMessage).toMatch(a.reason);
    }
    expect(await sha(ws.exe)).toBe(before);
    expect(await sideFiles(ws)).toEqual([]);
    const archive = makeTarGz([
      { path: "LICENSE", body: "Apache-2.0" },
      { path: "./otelcol-stub", body: good },
    ]);
    const offer = signedOffer(archive, key, files.serve("/good.tar.gz", { body: archive }), "0.4.0", bytes(0xe3));
    const from = pushOffer(server, offer, bytes(0x42));
    await waitForStatus(server, isStatus(S.PackageStatusEnum_Installed, offer.hash), { from });
    await waitForStub(ws, (s) => s.healthy && s.version === "0.4.0");
    expect(await readFile(ws.exe)).toEqual(good);
  });

  it("resumes an interrupted download with a Range request, within a run and across a supervisor restart", async () => {
    const { ws, sup } = await ready();
    const body = await stubBuild("0.5.0", "ok", 512 * 1024);
    // First run: the connection is cut once mid-body (resumed in the same run), then the
    // transfer crawls and the supervisor is killed in the middle of it.
    const url = files.serve("/big", {
      body,
      dropAfterBytes: 64 * 1024,
      dropTimes: 1,
      throttleBytesPerSecond: 256 * 1024,
    });
    const offer = signedOffer(body, key, url, "0.5.0", bytes(0xf1));
    let from = pushOffer(server, offer, bytes(0x50));
    await waitForStatus(
      server,
      (s) => s.status === S.PackageStatusEnum_Downloading && (s.downloadDetails?.downloadPercent ?? 0) > 30,
      { from },
    );
    expect(files.requests.map((r) => r.status)).toEqual([200, 206]);
    await sup.kill();

    files.serve("/big", { body });
    const again = startSupervisor(ws);
    running.push(again);
    const restarted = await server.waitFor((r) => r.connection === 2 && r.msg.packageStatuses !== undefined, {
      timeoutMs: 10_000,
    });
    expect(restarted.msg.packageStatuses?.packages["otelcol"]).toMatchObject({
      status: S.PackageStatusEnum_InstallFailed,
      errorMessage: expect.stringMatching(/^interrupted/),
    });
    from = pushOffer(server, offer, bytes(0x50));
    await waitForStatus(server, isStatus(S.PackageStatusEnum_Installed, offer.hash), { from });
    const resumed = files.requests.at(-1)!;
    expect(resumed.status).toBe(206);
    expect(Number(/^bytes=(\d+)-$/.exec(resumed.range ?? "")?.[1])).toBeGreaterThan(body.length * 0.3);
    await waitForStub(ws, (s) => s.healthy && s.version === "0.5.0");
    expect(await readFile(ws.exe)).toEqual(body);
  });
});
