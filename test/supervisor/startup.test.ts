/**
 * What the supervisor runs and reports at start when state documents were lost: the last
 * working config, else the last received one (never one that failed), else nothing (the
 * fallbacks, then the local files); statuses recomputed from what runs.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Clock } from "../../src/deps.js";
import { AuditLog } from "../../src/storage/audit.js";
import { DOCUMENT_NAMES } from "../../src/storage/documents.js";
import type { StoredRemoteConfig } from "../../src/storage/documents.js";
import { openStateDir } from "../../src/storage/state-dir.js";
import type { StateDir } from "../../src/storage/state-dir.js";
import { StateStore } from "../../src/storage/state.js";
import { settleRemoteConfigStatus } from "../../src/supervisor/startup.js";

const clock: Clock = { now: () => Date.UTC(2026, 11, 2, 8, 0, 0), sleep: async () => undefined };

let base: string;
let dir: StateDir;
let audit: AuditLog;
/** A fresh store, as a new supervisor process opens it. */
const open = (): StateStore => new StateStore({ dir, clock, audit });
beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), "startup-test-"));
  dir = await openStateDir(join(base, "state"));
  audit = new AuditLog({ path: dir.file("audit.log"), clock });
});
afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

const config = (n: number): StoredRemoteConfig => ({
  hash: new Uint8Array([0xc0, n]),
  configMap: {
    "r.yaml": { body: new TextEncoder().encode(`exporters:\n  debug/${n}: {}\n`), contentType: "text/yaml" },
  },
});
const corrupt = (name: string): Promise<void> => writeFile(dir.file(name), "{ truncated");

describe("settleRemoteConfigStatus", () => {
  it("runs the last working config and reports it APPLIED when the status file was lost", async () => {
    const store = open();
    await store.writeLastWorkingRemoteConfig(config(1));
    await corrupt(DOCUMENT_NAMES.remoteConfigStatus);
    const { status, working } = await settleRemoteConfigStatus(open(), audit);
    expect(working).toEqual(config(1));
    expect(status).toEqual({ hash: config(1).hash, status: "APPLIED", errorMessage: "" });
    expect(await open().readRemoteConfigStatus()).toEqual(status);
  });

  it("runs the last received config when the working one was lost, and reports UNSET so the server sends it again", async () => {
    const store = open();
    await store.writeLastReceivedRemoteConfig(config(2));
    await store.writeRemoteConfigStatus({ hash: config(2).hash, status: "APPLYING", errorMessage: "" });
    await corrupt(DOCUMENT_NAMES.lastWorkingRemoteConfig);
    const { status, working } = await settleRemoteConfigStatus(open(), audit);
    expect(working).toEqual(config(2));
    expect(status).toEqual({ hash: new Uint8Array(0), status: "UNSET", errorMessage: "" });
  });

  it("restores the working copy from the received config when the status proves it applied", async () => {
    const store = open();
    await store.writeLastReceivedRemoteConfig(config(3));
    await store.writeRemoteConfigStatus({ hash: config(3).hash, status: "APPLIED", errorMessage: "" });
    await corrupt(DOCUMENT_NAMES.lastWorkingRemoteConfig);
    const { status, working } = await settleRemoteConfigStatus(open(), audit);
    expect(working).toEqual(config(3));
    expect(status?.status).toBe("APPLIED");
    expect(await open().readLastWorkingRemoteConfig()).toEqual(config(3));
  });

  it("runs the received config when a stop came between its APPLIED and its working copy, and keeps it as working", async () => {
    // APPLIED is written alongside the working copy: here it landed, the new working copy did not.
    const store = open();
    await store.writeLastWorkingRemoteConfig(config(7));
    await store.writeLastReceivedRemoteConfig(config(8));
    await store.writeRemoteConfigStatus({ hash: config(8).hash, status: "APPLIED", errorMessage: "" });
    const { status, working } = await settleRemoteConfigStatus(open(), audit);
    expect(working).toEqual(config(8));
    expect(status).toEqual({ hash: config(8).hash, status: "APPLIED", errorMessage: "" });
    expect(await open().readLastWorkingRemoteConfig()).toEqual(config(8));
    expect(await audit.read()).toMatchObject([
      { action: "remote-config-kept-at-start", hash: "c008", lastWorkingHash: "c007", result: "applied" },
    ]);
  });

  it("keeps the working config when APPLIED names a received config that failed since", async () => {
    const store = open();
    await store.writeLastWorkingRemoteConfig(config(9));
    await store.writeLastReceivedRemoteConfig(config(10));
    await store.writeRemoteConfigStatus({ hash: config(10).hash, status: "APPLIED", errorMessage: "" });
    await store.addFailedConfigHash(config(10).hash);
    expect((await settleRemoteConfigStatus(open(), audit)).working).toEqual(config(9));
    expect(await open().readLastWorkingRemoteConfig()).toEqual(config(9));
  });

  it("never starts on a received config that failed, even when the working one was lost", async () => {
    const store = open();
    await store.writeLastReceivedRemoteConfig(config(4));
    await store.addFailedConfigHash(config(4).hash);
    await corrupt(DOCUMENT_NAMES.lastWorkingRemoteConfig);
    expect((await settleRemoteConfigStatus(open(), audit)).working).toBeUndefined();

    await open().writeLastReceivedRemoteConfig(config(5));
    await open().writeRemoteConfigStatus({ hash: config(5).hash, status: "FAILED", errorMessage: "bad" });
    await corrupt(DOCUMENT_NAMES.lastWorkingRemoteConfig);
    expect((await settleRemoteConfigStatus(open(), audit)).working).toBeUndefined();
  });

  it("keeps today's rule for a crash mid-apply: the received config is not run unproven when nothing was lost", async () => {
    const store = open();
    await store.writeLastReceivedRemoteConfig(config(6));
    await store.writeRemoteConfigStatus({ hash: config(6).hash, status: "APPLYING", errorMessage: "" });
    const { status, working } = await settleRemoteConfigStatus(open(), audit);
    expect(working).toBeUndefined();
    expect(status?.status).toBe("UNSET");
    expect((await audit.read()).map((e) => e.action)).toEqual(["remote-config-interrupted"]);
  });

  it("starts with nothing remote when every document is corrupt", async () => {
    for (const name of [
      DOCUMENT_NAMES.lastWorkingRemoteConfig,
      DOCUMENT_NAMES.lastReceivedRemoteConfig,
      DOCUMENT_NAMES.remoteConfigStatus,
      DOCUMENT_NAMES.failedConfigHashes,
    ]) {
      await corrupt(name);
    }
    expect(await settleRemoteConfigStatus(open(), audit)).toEqual({ status: undefined, working: undefined });
    expect((await audit.read()).filter((e) => e.action === "state-file-corrupt")).toHaveLength(3);
  });
});
