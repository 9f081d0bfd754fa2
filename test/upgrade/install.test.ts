import { stat } from "node:fs/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { installCollector } from "../../src/upgrade/install.js";
import type { OfferedPackage } from "../../src/upgrade/offer.js";
import { failed } from "../../src/collector/outcome.js";
import { PROVEN, makeHost, fakeCollector, unproven } from "./env.js";
import type { Host } from "./env.js";
import { makeTarGz } from "./fixtures.js";

let host: Host;
beforeEach(async () => {
  host = await makeHost();
});
afterEach(async () => {
  await host.close();
});

const current = { version: "0.1.0", agentHash: new Uint8Array([1]) };

async function pending(pkg: OfferedPackage): Promise<void> {
  await host.book.set({
    name: pkg.name,
    agentHasVersion: "0.1.0",
    agentHasHash: new Uint8Array([1]),
    serverOfferedVersion: pkg.version,
    serverOfferedHash: pkg.hash,
    status: "INSTALL_PENDING",
    errorMessage: "",
  });
}

async function install(pkg: OfferedPackage, patch: Parameters<Host["env"]>[0] = {}) {
  await pending(pkg);
  const statuses: string[] = [];
  host.book.attach((s) => {
    const status = s.packages[pkg.name]?.status;
    if (status && statuses.at(-1) !== status) statuses.push(status);
  });
  const outcome = await installCollector(host.env(patch), pkg, current, new Uint8Array([7]));
  return { outcome, statuses };
}

describe("installCollector", () => {
  it("downloads, verifies, pre-flights, swaps and proves a raw binary", async () => {
    const pkg = host.offer(Buffer.from(fakeCollector("0.2.0")));
    const { outcome, statuses } = await install(pkg);
    expect(outcome).toEqual({ kind: "installed", version: "0.2.0", swapped: true });
    expect(statuses).toEqual(["INSTALL_PENDING", "DOWNLOADING", "INSTALLING", "INSTALLED"]);
    expect(await host.exeText()).toContain("0.2.0");
    expect((await stat(host.exe)).mode & 0o777).toBe(0o755);
    expect(await host.sideFiles()).toEqual([]);
    expect(await host.store.readJournal()).toBeUndefined();
    expect((await host.store.readState()).installed).toMatchObject({
      name: "otelcol",
      version: "0.2.0",
      hash: pkg.hash,
    });
    expect(host.book.get("otelcol")).toMatchObject({
      status: "INSTALLED",
      agentHasVersion: "0.2.0",
      agentHasHash: pkg.hash,
      serverOfferedHash: pkg.hash,
    });
    expect(host.checkpoints).toEqual([
      "package-received",
      "package-downloaded",
      "package-preflighted",
      "package-journaled",
      "package-backed-up",
      "package-swapped",
      "package-restarted",
      "package-proven",
      "package-installed",
    ]);
    const audit = (await host.audit.read()).find((l) => l.action === "package-installed");
    expect(audit).toMatchObject({ from: "0.1.0", to: "0.2.0", signature: "verified", keyId: expect.any(String) });
  });

  it("extracts the binary from a tar.gz package", async () => {
    const archive = makeTarGz([
      { path: "README", body: "x" },
      { path: "otelcol-contrib", body: fakeCollector("0.3.0") },
    ]);
    const { outcome } = await install(host.offer(archive), {
      settings: { archive: "tar.gz", agentBinary: "otelcol-contrib" },
    });
    expect(outcome).toMatchObject({ kind: "installed", version: "0.3.0" });
    expect(await host.exeText()).toContain("0.3.0");
  });

  it.each([
    ["a bad content hash", { contentHash: Buffer.alloc(32, 7) }, /content hash mismatch/],
    ["a missing signature", { signature: Buffer.alloc(0) }, /not signed/],
    ["a bad signature", { signature: Buffer.alloc(64, 1) }, /does not verify/],
  ])("refuses %s, changing no file and remembering the hash", async (_name, patch, reason) => {
    const before = await host.exeText();
    const pkg = host.offer(Buffer.from(fakeCollector("0.2.0")), patch);
    const { outcome, statuses } = await install(pkg);
    expect(outcome).toMatchObject({ kind: "failed", remember: true, reason: expect.stringMatching(reason) });
    expect(statuses.at(-1)).toBe("INSTALL_FAILED");
    expect(host.book.get("otelcol")?.errorMessage).toMatch(reason);
    expect(await host.exeText()).toBe(before);
    expect(await host.sideFiles()).toEqual([]);
    expect((await host.store.readState()).failed).toEqual([Buffer.from(pkg.hash).toString("hex")]);
  });

  it("refuses a tar.gz with a ../ entry", async () => {
    const archive = makeTarGz([
      { path: "../../otelcol", body: "evil" },
      { path: "otelcol", body: fakeCollector("0.2.0") },
    ]);
    const { outcome } = await install(host.offer(archive), { settings: { archive: "tar.gz", agentBinary: "otelcol" } });
    expect(outcome).toMatchObject({ kind: "failed", reason: expect.stringMatching(/archive was refused.*\.\./) });
    expect(await host.exeText()).toContain("0.1.0");
    expect(await host.sideFiles()).toEqual([]);
  });

  it.each([
    ["fails --version", "bad-version", /--version/],
    ["rejects the current config", "bad-validate", /rejects the current config: Error: unknown type/],
  ] as const)("never swaps a binary that %s", async (_name, mode, reason) => {
    const { outcome } = await install(host.offer(Buffer.from(fakeCollector("0.2.0", mode))));
    expect(outcome).toMatchObject({ kind: "failed", remember: true, reason: expect.stringMatching(reason) });
    expect(await host.exeText()).toContain("0.1.0");
    expect(host.checkpoints).not.toContain("package-journaled");
    expect(await host.sideFiles()).toEqual([]);
  });

  it("rolls back an unhealthy binary, proves the old one, and reports why with the log tail", async () => {
    host.proofs.push(unproven("health check window failed", "panic: boom"), PROVEN);
    const pkg = host.offer(Buffer.from(fakeCollector("0.2.0")));
    const { outcome, statuses } = await install(pkg);
    expect(outcome).toMatchObject({ kind: "failed", remember: true });
    expect(statuses).toEqual(["INSTALL_PENDING", "DOWNLOADING", "INSTALLING", "INSTALL_FAILED"]);
    const message = host.book.get("otelcol")?.errorMessage ?? "";
    expect(message).toMatch(
      /version 0.2.0\) did not prove healthy: health check window failed; rolled back to version 0.1.0, healthy again/,
    );
    expect(message).toMatch(/collector log tail:\npanic: boom/);
    // The new binary is held for the verdict; the old one is kept running even if it fails too.
    expect(host.calls.restarts).toEqual([{ keepRunningOnFailure: false }, { keepRunningOnFailure: true }]);
    expect(await host.exeText()).toContain("0.1.0");
    expect(host.book.get("otelcol")).toMatchObject({ agentHasVersion: "0.1.0", serverOfferedHash: pkg.hash });
    expect(host.checkpoints).toContain("package-rolled-back");
    expect(await host.sideFiles()).toEqual([]);
    expect(await host.store.readJournal()).toBeUndefined();
  });

  it("stops without a verdict when the supervisor shuts down during the health window, leaving the journal", async () => {
    const controller = new AbortController();
    const pkg = host.offer(Buffer.from(fakeCollector("0.2.0")));
    await pending(pkg);
    const env = host.env({
      signal: controller.signal,
      collector: {
        restartAndProve: async () => {
          controller.abort(new Error("SIGTERM"));
          return failed("aborted", "collector could not be started: operation aborted");
        },
      },
    });
    await expect(installCollector(env, pkg, current, new Uint8Array([7]))).rejects.toMatchObject({ code: "ABORTED" });
    expect(await host.store.readJournal()).toMatchObject({ phase: "swapping" });
    expect((await host.store.readState()).failed).toEqual([]);
  });

  it("treats a raw package whose bytes are already at the path as installed", async () => {
    const { outcome } = await install(host.offer(Buffer.from(fakeCollector("0.1.0"))));
    expect(outcome).toEqual({ kind: "installed", version: "0.1.0", swapped: false });
    expect(host.files.requests).toHaveLength(0);
  });

  it("keeps a partial download after a network failure and does not remember the hash", async () => {
    const body = Buffer.alloc(200_000, 1);
    const pkg = host.offer(body);
    host.files.serve(new URL(pkg.file!.url).pathname, { body, dropAfterBytes: 50_000, dropTimes: 5 });
    const { outcome } = await install(pkg, { settings: { downloadAttempts: 2 } });
    expect(outcome).toMatchObject({
      kind: "failed",
      remember: false,
      reason: expect.stringMatching(/download failed/),
    });
    expect((await host.sideFiles()).some((n) => n.includes("download-"))).toBe(true);
    expect((await host.store.readState()).failed).toEqual([]);
  });
});
