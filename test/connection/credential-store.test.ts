import { mkdtemp, readdir, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { systemClock } from "../../src/deps.js";
import { StateStore, openStateDir } from "../../src/storage/index.js";
import type { StateDir } from "../../src/storage/index.js";
import { CredentialStore } from "../../src/connection/credential-store.js";
import type { StoredConnectionSettings } from "../../src/connection/credential-store.js";

let dir: StateDir;
let creds: CredentialStore;

beforeEach(async () => {
  dir = await openStateDir(await mkdtemp(join(tmpdir(), "creds-")));
  creds = await CredentialStore.open(dir, new StateStore({ dir, clock: systemClock }));
});

const cert = (n: number): { certPem: string; keyPem: string; caPem: string } => ({
  certPem: `-----BEGIN CERTIFICATE-----\ncert${n}\n-----END CERTIFICATE-----\n`,
  keyPem: `-----BEGIN PRIVATE KEY-----\nkey${n}\n-----END PRIVATE KEY-----\n`,
  caPem: n % 2 ? "" : `-----BEGIN CERTIFICATE-----\nca${n}\n-----END CERTIFICATE-----\n`,
});
const settings = (certificate: StoredConnectionSettings["certificate"]): StoredConnectionSettings => ({
  baseline: "b",
  hash: new Uint8Array([1, 2]),
  endpoint: "wss://h/v1/opamp",
  headers: { Authorization: "Bearer x" },
  minVersion: "TLSv1.3",
  heartbeatSeconds: 15,
  certificate,
});

describe("CredentialStore", () => {
  it("stages certificates 0600 in a 0700 directory, commits by one document, forgets the rest", async () => {
    const one = await creds.stageCertificate(cert(2));
    const two = await creds.stageCertificate(cert(3));
    expect(two.caFile).toBeNull();
    for (const name of [one.certFile, one.keyFile, one.caFile!])
      expect((await stat(creds.path(name))).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir.root, "tls"))).mode & 0o777).toBe(0o700);
    await creds.commitSettings(settings(two));
    expect((await readdir(join(dir.root, "tls"))).sort()).toEqual([two.certFile, two.keyFile].sort());
    expect(await creds.readSettings()).toEqual(settings(two));
    expect(await creds.readCertificate(two)).toEqual(cert(3));
    // Discarding the committed one is refused; a stray candidate goes.
    await creds.discard(two);
    const three = await creds.stageCertificate(cert(4));
    await creds.discard(three);
    expect((await readdir(join(dir.root, "tls"))).sort()).toEqual([two.certFile, two.keyFile].sort());
    await creds.clearSettings();
    expect(await readdir(join(dir.root, "tls"))).toEqual([]);
    expect(await creds.readSettings()).toBeUndefined();
  });

  it("keeps a pending certificate request and its key, and the status", async () => {
    expect(await creds.readPendingCsr()).toBeUndefined();
    const pending = { instanceUid: "u", csrPem: "csr", keyPem: cert(1).keyPem, requestedAt: Date.UTC(2026, 0, 1) };
    await creds.writePendingCsr(pending);
    expect(await creds.readPendingCsr()).toEqual(pending);
    expect((await stat(creds.path("csr.key"))).mode & 0o777).toBe(0o600);
    await creds.clearPendingCsr();
    expect(await creds.readPendingCsr()).toBeUndefined();
    await creds.writeStatus({ hash: new Uint8Array([9]), status: "FAILED", errorMessage: "why" });
    expect(await creds.readStatus()).toEqual({ hash: new Uint8Array([9]), status: "FAILED", errorMessage: "why" });
  });

  it("sets a corrupt settings file aside, and one naming files that leave the directory, reading both as absent", async () => {
    await writeFile(dir.file("connection-settings.json"), "{");
    expect(await creds.readSettings()).toBeUndefined();
    await writeFile(
      dir.file("connection-settings.json"),
      JSON.stringify({
        version: 1,
        baseline: "b",
        hash: "",
        endpoint: "e",
        headers: {},
        minVersion: "TLSv1.2",
        heartbeatSeconds: null,
        certificate: { certFile: "../../etc/passwd", keyFile: "k", caFile: null },
      }),
    );
    expect(await creds.readSettings()).toBeUndefined();
    const aside = (await readdir(dir.root)).filter((f) => f.startsWith("connection-settings.json.corrupt-"));
    expect(aside).toHaveLength(2);
  });
});
