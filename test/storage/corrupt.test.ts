/**
 * The one corrupt-document policy, for every state document the supervisor reads at start or
 * inside a transaction: truncated, empty, garbage, the wrong shape, or a directory in its
 * place. Each is moved aside as `<name>.corrupt-<UTC time>`, warned about once (naming the
 * file and what was lost), audited once, and reads as absent, so the supervisor carries on.
 */
import { lstat, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Clock } from "../../src/deps.js";
import { AuditLog } from "../../src/storage/audit.js";
import {
  DOCUMENT_NAMES,
  encodeFailedHashes,
  encodeInstanceUid,
  encodeOfferStatus,
  encodeRemoteConfig,
  encodeRemoteConfigStatus,
} from "../../src/storage/documents.js";
import type { StateDir } from "../../src/storage/state-dir.js";
import { openStateDir } from "../../src/storage/state-dir.js";
import { StateStore } from "../../src/storage/state.js";
import { CredentialStore, TLS_DOCUMENTS } from "../../src/connection/credential-store.js";
import {
  EMPTY_STATE,
  PACKAGE_DOCUMENTS,
  PackageStore,
  encodeJournal,
  encodeState,
  encodeStatuses,
} from "../../src/upgrade/state.js";
import { recordingLogger } from "./helpers.js";
import type { LoggedLine } from "./helpers.js";

const NOW = Date.UTC(2026, 11, 2, 7, 30, 0, 123);
const STAMP = "2026-12-02T07-30-00.123Z";
const clock: Clock = { now: () => NOW, sleep: async () => undefined };

let base: string;
let dir: StateDir;
let lines: LoggedLine[];
let store: StateStore;
let audit: AuditLog;
beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), "corrupt-test-"));
  dir = await openStateDir(join(base, "state"));
  lines = [];
  audit = new AuditLog({ path: dir.file("audit.log"), clock });
  store = new StateStore({ dir, clock, logger: recordingLogger(lines), audit });
});
afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

const hash = new Uint8Array([0xab, 0xcd]);
const remote = encodeRemoteConfig({
  hash,
  configMap: { "a.yaml": { body: new TextEncoder().encode("receivers: {}\n"), contentType: "text/yaml" } },
});

interface Document {
  name: string;
  /** A valid document, to truncate. */
  valid: object;
  /** Reads it the way the supervisor does; returns what the caller gets. */
  read(): Promise<unknown>;
  /** What an unusable document reads as. */
  fresh: (value: unknown) => void;
  lost: RegExp;
}

const documents: Document[] = [
  {
    name: DOCUMENT_NAMES.instanceUid,
    valid: encodeInstanceUid({ uid: "01234567-89ab-7def-8123-456789abcdef", source: "server" }),
    read: () => store.loadOrCreateInstanceUid(),
    fresh: (v) => expect(v).toMatchObject({ created: true, text: expect.stringMatching(/^[0-9a-f-]{36}$/) as unknown }),
    lost: /identity/,
  },
  {
    name: DOCUMENT_NAMES.lastReceivedRemoteConfig,
    valid: remote,
    read: () => store.readLastReceivedRemoteConfig(),
    fresh: (v) => expect(v).toBeUndefined(),
    lost: /last received remote config/,
  },
  {
    name: DOCUMENT_NAMES.lastWorkingRemoteConfig,
    valid: remote,
    read: () => store.readLastWorkingRemoteConfig(),
    fresh: (v) => expect(v).toBeUndefined(),
    lost: /last working remote config/,
  },
  {
    name: DOCUMENT_NAMES.remoteConfigStatus,
    valid: encodeRemoteConfigStatus({ hash, status: "APPLIED", errorMessage: "" }),
    read: () => store.readRemoteConfigStatus(),
    fresh: (v) => expect(v).toBeUndefined(),
    lost: /recomputed from what runs/,
  },
  {
    name: DOCUMENT_NAMES.failedConfigHashes,
    valid: encodeFailedHashes(["abcd", "ef01"]),
    read: () => store.readFailedConfigHashes(),
    fresh: (v) => expect(v).toEqual([]),
    lost: /failed before/,
  },
  {
    name: PACKAGE_DOCUMENTS.state,
    valid: encodeState({ allPackagesHash: hash, installed: null, failed: ["abcd"] }),
    read: () => new PackageStore(store).readState(),
    fresh: (v) => expect(v).toEqual(EMPTY_STATE),
    lost: /installed packages/,
  },
  {
    name: PACKAGE_DOCUMENTS.statuses,
    valid: encodeStatuses({ serverProvidedAllPackagesHash: hash, errorMessage: "", packages: {} }),
    read: () => new PackageStore(store).readStatuses(),
    fresh: (v) => expect(v).toBeUndefined(),
    lost: /package statuses/,
  },
  {
    name: PACKAGE_DOCUMENTS.journal,
    valid: encodeJournal({
      phase: "swapping",
      name: "",
      executable: "/usr/bin/otelcol",
      backup: "/usr/bin/.otelcol.backup",
      staged: "/usr/bin/.otelcol.staged",
      previous: { dev: 1, ino: 2, size: 3, mtimeMs: 4, version: "0.1.0" },
      next: { dev: 1, ino: 5, size: 6, mtimeMs: 7, version: "0.2.0" },
      offer: { version: "0.2.0", hash, contentHash: hash },
      allPackagesHash: hash,
      reason: "",
      startedAt: new Date(NOW).toISOString(),
    }),
    read: () => new PackageStore(store).readJournal(),
    fresh: (v) => expect(v).toBeUndefined(),
    lost: /journal/,
  },
  {
    name: TLS_DOCUMENTS.settings,
    valid: {
      version: 1,
      baseline: "b",
      hash: "abcd",
      endpoint: "wss://h/v1/opamp",
      headers: {},
      minVersion: "TLSv1.2",
      heartbeatSeconds: null,
      certificate: null,
    },
    read: async () => (await CredentialStore.open(dir, store)).readSettings(),
    fresh: (v) => expect(v).toBeUndefined(),
    lost: /supervisor\.yaml/,
  },
  {
    name: TLS_DOCUMENTS.status,
    valid: encodeOfferStatus({ hash, status: "APPLIED", errorMessage: "" }),
    read: async () => (await CredentialStore.open(dir, store)).readStatus(),
    fresh: (v) => expect(v).toBeUndefined(),
    lost: /connection settings status/,
  },
  {
    name: TLS_DOCUMENTS.pendingCsr,
    valid: {
      version: 1,
      instanceUid: "01234567-89ab-7def-8123-456789abcdef",
      csrPem: "csr",
      requestedAt: new Date(NOW).toISOString(),
    },
    read: async () => (await CredentialStore.open(dir, store)).readPendingCsr(),
    fresh: (v) => expect(v).toBeUndefined(),
    lost: /certificate request/,
  },
];

type Fault = "truncated" | "empty" | "garbage" | "wrong shape" | "directory";
const faults: Fault[] = ["truncated", "empty", "garbage", "wrong shape", "directory"];

async function plant(doc: Document, fault: Fault): Promise<string | undefined> {
  const path = dir.file(doc.name);
  const text = `${JSON.stringify(doc.valid, null, 2)}\n`;
  const content = {
    truncated: text.slice(0, Math.floor(text.length / 2)),
    empty: "",
    garbage: "\u0000\u00ff\u0013 not json at all {{{",
    "wrong shape": JSON.stringify({ ...doc.valid, version: 1, surprise: true, ...wrongField(doc.valid) }),
    directory: undefined,
  }[fault];
  if (content === undefined) {
    await mkdir(path);
    await writeFile(join(path, "inside"), "x");
  } else {
    await writeFile(path, content);
  }
  return content;
}

/** Replaces the document's first string or object field with a number: valid JSON, wrong shape. */
function wrongField(valid: object): Record<string, unknown> {
  const key = Object.keys(valid).find((k) => k !== "version") ?? "x";
  return { [key]: 42 };
}

describe.each(documents.map((d) => [d.name, d] as const))("%s", (name, doc) => {
  it.each(faults)(
    "%s: moved aside, one warning naming it and what was lost, one audit line, reads as absent",
    async (fault) => {
      const planted = await plant(doc, fault);
      const path = dir.file(name);

      doc.fresh(await doc.read());

      const aside = `${path}.corrupt-${STAMP}`;
      if (planted === undefined) {
        expect((await lstat(aside)).isDirectory()).toBe(true);
        expect(await readdir(aside)).toEqual(["inside"]);
      } else {
        expect(await readFile(aside, "utf8")).toBe(planted);
      }
      const after = await lstat(path).catch(() => undefined);
      // Only the instance uid is written again at once (a new identity); nothing else is.
      if (name === DOCUMENT_NAMES.instanceUid) expect(after?.isFile()).toBe(true);
      else expect(after).toBeUndefined();

      const warnings = lines.filter(
        (l) => l.level === "warn" && l.fields["file"] === path && l.fields["lost"] !== undefined,
      );
      expect(warnings).toHaveLength(1);
      expect(warnings[0]?.msg).toContain(name);
      expect(String(warnings[0]?.fields["lost"])).toMatch(doc.lost);
      expect(warnings[0]?.fields["movedTo"]).toBe(aside);

      const entries = (await audit.read()).filter((e) => e.action === "state-file-corrupt");
      expect(entries).toEqual([expect.objectContaining({ file: path, movedTo: aside, result: "set-aside" })]);

      // A second read finds nothing (or the fresh uid) and warns no more.
      await doc.read();
      expect(lines.filter((l) => l.level === "warn" && l.fields["lost"] !== undefined)).toHaveLength(1);
    },
  );
});

describe("identity change", () => {
  it("logs and audits a new uid when the stored one was unusable", async () => {
    await writeFile(dir.file(DOCUMENT_NAMES.instanceUid), "{");
    const { text } = await store.loadOrCreateInstanceUid();
    expect(lines.find((l) => /identity change/.test(l.msg))?.fields["instanceUid"]).toBe(text);
    expect((await audit.read()).find((e) => e.action === "instance-uid-changed")).toMatchObject({ instanceUid: text });
    // The new uid is what the next start finds.
    expect((await new StateStore({ dir, clock }).loadOrCreateInstanceUid()).text).toBe(text);
  });

  it("a remote config after a corrupt failed-hash list still gets a status: the list reads empty and records again", async () => {
    await writeFile(dir.file(DOCUMENT_NAMES.failedConfigHashes), "[garbage");
    expect(await store.isFailedConfigHash(hash)).toBe(false);
    await store.addFailedConfigHash(hash);
    expect(await new StateStore({ dir, clock }).readFailedConfigHashes()).toEqual(["abcd"]);
  });

  it("a directory in a document's place when it is written (not read first): set aside, and the write succeeds", async () => {
    const path = dir.file(DOCUMENT_NAMES.lastReceivedRemoteConfig);
    await mkdir(path);
    const config = { hash, configMap: {} };
    await store.writeLastReceivedRemoteConfig(config);
    expect(await store.readLastReceivedRemoteConfig()).toEqual(config);
    expect((await lstat(`${path}.corrupt-${STAMP}`)).isDirectory()).toBe(true);
    expect((await audit.read()).filter((e) => e.action === "state-file-corrupt")).toHaveLength(1);
  });
});
