import { mkdir, mkdtemp, rename, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { systemClock } from "../../src/deps.js";
import type { Logger } from "../../src/deps.js";
import { CertificateFileWatcher, readSnapshot } from "../../src/connection/file-watch.js";
import type { FileSnapshot } from "../../src/connection/file-watch.js";
import { eventually } from "../support/fake-clock.js";
import { clientCert, makeCa } from "./pki.js";

const ca = makeCa("Watch CA", 10);
const a = clientCert(ca, 0, { cn: "a" });
const b = clientCert(ca, 1, { cn: "b" });

const warnings: string[] = [];
const logger: Logger = {
  debug() {},
  info() {},
  warn: (obj: object | string) => void warnings.push(JSON.stringify(obj)),
  error() {},
  child: () => logger,
};

let watcher: CertificateFileWatcher | undefined;
afterEach(async () => {
  await watcher?.close();
  warnings.length = 0;
});

describe("readSnapshot", () => {
  it("accepts a consistent set and names the file and reason otherwise", async () => {
    const dir = await mkdtemp(join(tmpdir(), "snap-"));
    const files = { certFile: join(dir, "c.pem"), keyFile: join(dir, "k.pem"), caFile: join(dir, "ca.pem") };
    await writeFile(files.caFile, ca.certPem);
    await writeFile(files.certFile, a.certPem);
    await writeFile(files.keyFile, a.keyPem);
    const ok = await readSnapshot(files, Date.now());
    expect(ok).toMatchObject({
      ok: true,
      snapshot: { certPem: a.certPem, keyPem: a.keyPem, caPem: ca.certPem, info: { subject: "CN=a" } },
    });
    await writeFile(files.keyFile, b.keyPem);
    expect(await readSnapshot(files, Date.now())).toMatchObject({
      ok: false,
      reason: `server.tls.cert_file ${files.certFile} with key_file ${files.keyFile}: the private key does not match the certificate`,
    });
    await writeFile(files.certFile, a.certPem.slice(0, 200));
    expect(await readSnapshot(files, Date.now())).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/no PEM CERTIFICATE block/),
    });
    await writeFile(files.caFile, "garbage");
    expect(await readSnapshot(files, Date.now())).toMatchObject({
      ok: false,
      reason: `server.tls.ca_file ${files.caFile}: no PEM CERTIFICATE block found`,
    });
  });
});

describe("CertificateFileWatcher", () => {
  it("follows a Kubernetes-style ..data symlink swap", async () => {
    // mounted/tls.crt -> ..data/tls.crt, ..data -> ..2026_01; the writer swaps ..data atomically.
    const mount = await mkdtemp(join(tmpdir(), "k8s-"));
    const writeVersion = async (name: string, cert: { certPem: string; keyPem: string }): Promise<void> => {
      await mkdir(join(mount, name));
      await writeFile(join(mount, name, "tls.crt"), cert.certPem);
      await writeFile(join(mount, name, "tls.key"), cert.keyPem);
    };
    await writeVersion("..2026_01", a);
    await symlink("..2026_01", join(mount, "..data"));
    await symlink("..data/tls.crt", join(mount, "tls.crt"));
    await symlink("..data/tls.key", join(mount, "tls.key"));
    const files = { certFile: join(mount, "tls.crt"), keyFile: join(mount, "tls.key") };
    const initial = await readSnapshot(files, Date.now());
    if (!initial.ok) throw new Error(initial.reason);
    const rotations: FileSnapshot[] = [];
    watcher = new CertificateFileWatcher({
      files,
      clock: systemClock,
      logger,
      settleMs: 50,
      onRotated: (s) => rotations.push(s),
    });
    watcher.setCurrent(initial.snapshot.id);
    await watcher.start();
    await writeVersion("..2026_02", b);
    await symlink("..2026_02", join(mount, "..data_tmp"));
    await rename(join(mount, "..data_tmp"), join(mount, "..data"));
    await eventually(() => rotations.length === 1, 5000, "a rotation");
    expect(rotations[0]?.info?.subject).toBe("CN=b");
    expect(warnings).toEqual([]);
  });

  it("logs an inconsistent set once and delivers it when it becomes consistent", async () => {
    const dir = await mkdtemp(join(tmpdir(), "watch-"));
    const files = { certFile: join(dir, "c.pem"), keyFile: join(dir, "k.pem") };
    await writeFile(files.certFile, a.certPem);
    await writeFile(files.keyFile, a.keyPem);
    const rotations: FileSnapshot[] = [];
    watcher = new CertificateFileWatcher({
      files,
      clock: systemClock,
      logger,
      settleMs: 50,
      onRotated: (s) => rotations.push(s),
    });
    const initial = await readSnapshot(files, Date.now());
    if (initial.ok) watcher.setCurrent(initial.snapshot.id);
    await watcher.start();
    await writeFile(files.certFile, b.certPem);
    await eventually(() => warnings.length === 1, 5000, "a warning");
    await watcher.check();
    await watcher.check();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain("does not match");
    // A writer passing through another broken state (a truncated file) is the same episode.
    await writeFile(files.certFile, "");
    await watcher.check();
    await writeFile(files.certFile, b.certPem);
    await watcher.check();
    expect(warnings).toHaveLength(1);
    await writeFile(files.keyFile, b.keyPem);
    await eventually(() => rotations.length === 1, 5000, "a rotation");
    await watcher.check();
    expect(rotations).toHaveLength(1);
  });
});
