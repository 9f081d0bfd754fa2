import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Clock } from "../../src/deps.js";
import { SupervisorError } from "../../src/errors.js";
import {
  DOCUMENT_NAMES,
  parseInstanceUid,
  parseRemoteConfig,
  parseRemoteConfigStatus,
} from "../../src/storage/documents.js";
import { isUuidText, newInstanceUid, uidFromText, uidToText } from "../../src/storage/instance-uid.js";
import type { StateDir } from "../../src/storage/state-dir.js";
import { openStateDir } from "../../src/storage/state-dir.js";
import { StateCorruptError, StateStore } from "../../src/storage/state.js";

const clock: Clock = { now: () => Date.UTC(2026, 0, 2, 3, 4, 5, 6), sleep: async () => undefined };

let base: string;
let dir: StateDir;
let store: StateStore;
beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), "state-test-"));
  dir = await openStateDir(join(base, "state"));
  store = new StateStore({ dir, clock, failedHashLimit: 3 });
});
afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

const bytes = (...values: number[]): Uint8Array => new Uint8Array(values);

describe("instance uid", () => {
  it("generates a UUID v7 once, persists it, and returns the same one later", async () => {
    const first = await store.loadOrCreateInstanceUid();
    expect(first.created).toBe(true);
    expect(first.uid).toHaveLength(16);
    expect(first.text[14]).toBe("7");
    expect(isUuidText(first.text)).toBe(true);
    const again = await new StateStore({ dir, clock }).loadOrCreateInstanceUid();
    expect(again).toEqual({ uid: first.uid, text: first.text, created: false });
  });

  it("stores a server-assigned uid with its source", async () => {
    const assigned = new Uint8Array(16).fill(0xab);
    await store.writeInstanceUid(assigned, "server");
    expect(await store.readInstanceUid()).toEqual({ uid: uidToText(assigned), source: "server" });
    expect((await store.loadOrCreateInstanceUid()).uid).toEqual(assigned);
  });

  it("converts between bytes and UUID text and rejects wrong sizes", () => {
    const uid = newInstanceUid(0x0123456789ab, (n) => new Uint8Array(n).fill(0xff));
    expect(uidToText(uid)).toBe("01234567-89ab-7fff-bfff-ffffffffffff");
    expect(uidFromText(uidToText(uid))).toEqual(uid);
    expect(() => uidToText(new Uint8Array(15))).toThrow(RangeError);
    expect(() => uidFromText("not-a-uuid")).toThrow(RangeError);
  });
});

describe("remote configs and status", () => {
  const config = {
    hash: bytes(0xde, 0xad, 0xbe, 0xef),
    configMap: {
      "collector.yaml": { body: new TextEncoder().encode("receivers: {}\n"), contentType: "text/yaml" },
      "bin.dat": { body: bytes(0, 255, 10), contentType: "" },
    },
  };

  it("round-trips last received and last working configs separately", async () => {
    expect(await store.readLastReceivedRemoteConfig()).toBeUndefined();
    await store.writeLastReceivedRemoteConfig(config);
    await store.writeLastWorkingRemoteConfig({ hash: bytes(1), configMap: {} });
    expect(await store.readLastReceivedRemoteConfig()).toEqual(config);
    expect(await store.readLastWorkingRemoteConfig()).toEqual({ hash: bytes(1), configMap: {} });
  });

  it("stores the hash as hex and bodies as base64 in a 0600 file", async () => {
    await store.writeLastReceivedRemoteConfig(config);
    const path = dir.file(DOCUMENT_NAMES.lastReceivedRemoteConfig);
    const json = JSON.parse(await readFile(path, "utf8")) as Record<string, unknown>;
    expect(json).toMatchObject({
      version: 1,
      hash: "deadbeef",
      configMap: { "collector.yaml": { body: Buffer.from("receivers: {}\n").toString("base64") } },
    });
    expect((await stat(path)).mode & 0o777).toBe(0o600);
  });

  it("round-trips the remote config status", async () => {
    const status = { hash: bytes(9, 9), status: "FAILED" as const, errorMessage: "validate: unknown receiver" };
    await store.writeRemoteConfigStatus(status);
    expect(await store.readRemoteConfigStatus()).toEqual(status);
  });
});

describe("failed config hashes", () => {
  it("remembers hashes as a bounded set, evicting the oldest", async () => {
    for (const n of [1, 2, 3, 2, 4]) await store.addFailedConfigHash(bytes(n));
    expect(await store.readFailedConfigHashes()).toEqual(["03", "02", "04"]);
    expect(await store.isFailedConfigHash(bytes(1))).toBe(false);
    expect(await store.isFailedConfigHash(bytes(4))).toBe(true);
    await store.removeFailedConfigHash(bytes(2));
    expect(await store.readFailedConfigHashes()).toEqual(["03", "04"]);
  });

  it("does not lose concurrent additions", async () => {
    const big = new StateStore({ dir, clock, failedHashLimit: 50 });
    await Promise.all(Array.from({ length: 20 }, (_, i) => big.addFailedConfigHash(bytes(i))));
    expect(await big.readFailedConfigHashes()).toHaveLength(20);
  });
});

describe("generic documents, strict reads and quarantine", () => {
  const parseSettings = (value: unknown): { url: string } => {
    const obj = value as { url?: unknown };
    if (typeof obj.url !== "string") throw new Error("$.url: expected a string");
    return { url: obj.url };
  };

  it("round-trips a generic JSON document", async () => {
    await store.writeJson("connection-settings.json", { url: "wss://example/v1/opamp" });
    expect(await store.readJson("connection-settings.json", parseSettings)).toEqual({ url: "wss://example/v1/opamp" });
    expect(await store.readJson("absent.json", parseSettings)).toBeUndefined();
    await store.remove("connection-settings.json");
    expect(await store.readJson("connection-settings.json", parseSettings)).toBeUndefined();
  });

  it("reports truncated JSON as STATE_CORRUPT naming the file", async () => {
    const path = dir.file(DOCUMENT_NAMES.remoteConfigStatus);
    await writeFile(path, '{"version":1,"hash":"ab');
    const err = await store
      .readJson(DOCUMENT_NAMES.remoteConfigStatus, parseRemoteConfigStatus)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StateCorruptError);
    expect(err).toBeInstanceOf(SupervisorError);
    expect(err).toMatchObject({ code: "STATE_CORRUPT", file: path });
    expect((err as Error).message).toContain(path);
  });

  it("reports a well-formed JSON file with the wrong shape as STATE_CORRUPT", async () => {
    await writeFile(dir.file(DOCUMENT_NAMES.lastWorkingRemoteConfig), '{"version":1,"hash":"zz","configMap":{}}');
    await expect(store.readJson(DOCUMENT_NAMES.lastWorkingRemoteConfig, parseRemoteConfig)).rejects.toMatchObject({
      code: "STATE_CORRUPT",
    });
    await writeFile(dir.file(DOCUMENT_NAMES.instanceUid), '{"version":2,"uid":"x","source":"server"}');
    await expect(store.readJson(DOCUMENT_NAMES.instanceUid, parseInstanceUid)).rejects.toThrow(/version/);
    await writeFile(dir.file("custom.json"), '{"url":5}');
    await expect(store.readJson("custom.json", parseSettings)).rejects.toThrow(/custom\.json.*\$\.url/);
  });

  it("quarantines a corrupt file so the next read starts fresh and the evidence stays", async () => {
    const name = DOCUMENT_NAMES.lastReceivedRemoteConfig;
    await writeFile(dir.file(name), "garbage");
    await expect(store.readJson(name, parseRemoteConfig)).rejects.toBeInstanceOf(StateCorruptError);
    const moved = await store.quarantine(name);
    expect(moved).toBe(`${dir.file(name)}.corrupt-2026-01-02T03-04-05.006Z`);
    expect(await readFile(moved as string, "utf8")).toBe("garbage");
    expect(await store.readLastReceivedRemoteConfig()).toBeUndefined();

    await writeFile(dir.file(name), "garbage again");
    const second = await store.quarantine(name);
    expect(second).toBe(`${moved as string}-1`);
    expect(await store.quarantine(name)).toBeUndefined();
    expect((await readdir(dir.root)).sort()).toHaveLength(2);
  });
});
