import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { downloadTls } from "../../src/connection/download-tls.js";
import type { TlsSettings } from "../../src/connection/tls-options.js";
import { PackageStatusEnum } from "../../src/gen/opamp_pb.js";
import { statusToWire } from "../../src/opamp/convert.js";
import { toPackageStatuses as toReport } from "../../src/upgrade/statuses.js";
import { selfSigned } from "./fixtures.js";
import type { StoredPackageStatus } from "../../src/upgrade/state.js";

let dir: string;
let pem: { cert: string; key: string };
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "sup-pkg-"));
  const pair = selfSigned("127.0.0.1");
  await writeFile(join(dir, "ca.pem"), pair.cert);
  await writeFile(join(dir, "cert.pem"), pair.cert);
  await writeFile(join(dir, "key.pem"), pair.key);
  pem = pair;
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("downloadTls", () => {
  const files = (): TlsSettings => ({
    caFile: join(dir, "ca.pem"),
    certFile: join(dir, "cert.pem"),
    keyFile: join(dir, "key.pem"),
  });

  it("trusts the OpAMP connection's CA everywhere, and sends the client certificate only to the OpAMP host", async () => {
    const target = {
      endpoint: "wss://opamp.example.com/v1/opamp",
      tls: { ...files(), serverName: "opamp.internal", minVersion: "TLSv1.3" as const },
    };
    const same = await downloadTls(target, new URL("https://opamp.example.com/packages/otelcol"));
    expect(same).toMatchObject({
      ca: pem.cert,
      cert: pem.cert,
      key: pem.key,
      servername: "opamp.internal",
      minVersion: "TLSv1.3",
    });
    const other = await downloadTls(target, new URL("https://cdn.example.net/otelcol"));
    expect(other).toMatchObject({ ca: pem.cert, minVersion: "TLSv1.3" });
    expect(other).not.toHaveProperty("cert");
    expect(other).not.toHaveProperty("key");
    expect(other).not.toHaveProperty("servername");
    expect(other.rejectUnauthorized).not.toBe(false);
  });

  it("uses the settings in force: inline PEM, and the endpoint an offer moved the agent to", async () => {
    // A certificate renewed by CSR or offered by the server lives in memory as PEM.
    const target = {
      endpoint: "wss://opamp-2.example.com/v1/opamp",
      tls: { caPem: pem.cert, certPem: pem.cert, keyPem: pem.key },
    };
    expect(await downloadTls(target, new URL("https://opamp-2.example.com/p"))).toMatchObject({
      ca: pem.cert,
      cert: pem.cert,
      key: pem.key,
    });
    const elsewhere = await downloadTls(target, new URL("https://opamp.example.com/p"));
    expect(elsewhere).toMatchObject({ ca: pem.cert });
    expect(elsewhere).not.toHaveProperty("cert");
  });

  it("carries the operator's skip-verify, and nothing else by default", async () => {
    expect(
      await downloadTls({ endpoint: "wss://x/", tls: { insecureSkipVerify: true } }, new URL("https://x/")),
    ).toMatchObject({ rejectUnauthorized: false });
    const plain = await downloadTls({ endpoint: "wss://x/" }, new URL("https://x/"));
    expect(plain).toMatchObject({ minVersion: "TLSv1.2" });
    expect(plain).not.toHaveProperty("ca");
    expect(plain.rejectUnauthorized).not.toBe(false);
  });
});

const toPackageStatuses = (...args: Parameters<typeof toReport>) => statusToWire("packageStatuses", toReport(...args));

describe("toPackageStatuses", () => {
  const status = (patch: Partial<StoredPackageStatus>): StoredPackageStatus => ({
    name: "otelcol",
    agentHasVersion: "0.1.0",
    agentHasHash: new Uint8Array([1]),
    serverOfferedVersion: "0.2.0",
    serverOfferedHash: new Uint8Array([2]),
    status: "DOWNLOADING",
    errorMessage: "",
    ...patch,
  });

  it("maps states to the wire enum, with download details only while downloading", () => {
    const details = new Map([["otelcol", { percent: 42.5, bytesPerSecond: 1000 }]]);
    const wire = toPackageStatuses(
      { serverProvidedAllPackagesHash: new Uint8Array([9]), errorMessage: "", packages: { otelcol: status({}) } },
      details,
    );
    expect(wire.serverProvidedAllPackagesHash).toEqual(new Uint8Array([9]));
    expect(wire.packages["otelcol"]).toMatchObject({
      name: "otelcol",
      status: PackageStatusEnum.PackageStatusEnum_Downloading,
      downloadDetails: { downloadPercent: 42.5, downloadBytesPerSecond: 1000 },
    });
    const installed = toPackageStatuses(
      {
        serverProvidedAllPackagesHash: new Uint8Array(0),
        errorMessage: "",
        packages: { otelcol: status({ status: "INSTALLED", errorMessage: "stale" }) },
      },
      details,
    );
    expect(installed.packages["otelcol"]).toMatchObject({
      status: PackageStatusEnum.PackageStatusEnum_Installed,
      errorMessage: "",
    });
    expect(installed.packages["otelcol"]?.downloadDetails).toBeUndefined();
    const failed = toPackageStatuses(
      {
        serverProvidedAllPackagesHash: new Uint8Array(0),
        errorMessage: "",
        packages: { otelcol: status({ status: "INSTALL_FAILED", errorMessage: "why" }) },
      },
      new Map(),
    );
    expect(failed.packages["otelcol"]).toMatchObject({
      status: PackageStatusEnum.PackageStatusEnum_InstallFailed,
      errorMessage: "why",
      serverOfferedHash: new Uint8Array([2]),
    });
  });
});
