import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DEFAULTS } from "../../src/config/schema.js";
import { execaSpawner, silentLogger, systemClock } from "../../src/deps.js";
import type { PackageManagerOptions } from "../../src/upgrade/manager.js";
import { encodePublicKey } from "../../src/upgrade/keys.js";
import { NOT_RETRIED, PackageManager } from "../../src/upgrade/manager.js";
import { ADDON_REFUSAL } from "../../src/upgrade/offer.js";
import type { OfferedPackage, PackagesOffer } from "../../src/upgrade/offer.js";
import type { StoredPackageStatuses } from "../../src/upgrade/state.js";
import { fakeCollector, fakeCollectorControl, makeHost } from "./env.js";
import type { Host } from "./env.js";

let host: Host;
let manager: PackageManager;
let reported: StoredPackageStatuses[];
let versions: string[];

/** Everything the manager needs, at construction: no attach step. */
function options(patch: Partial<PackageManagerOptions> = {}): PackageManagerOptions {
  return {
    settings: {
      ...DEFAULTS.package,
      agentBinary: null,
      publicKeys: [encodePublicKey(host.key.publicKey)],
      insecureAcceptUnsignedPackages: false,
    },
    executable: host.exe,
    args: [],
    env: {},
    store: host.stateStore,
    audit: host.audit,
    logger: silentLogger,
    clock: systemClock,
    spawn: execaSpawner,
    checkpoint: () => undefined,
    signal: new AbortController().signal,
    collector: fakeCollectorControl([], null, { restarts: [], versions }),
    sink: (s) => reported.push(s),
    tlsFor: async () => ({}),
    ...patch,
  };
}

beforeEach(async () => {
  host = await makeHost();
  reported = [];
  versions = [];
  manager = await PackageManager.open(options());
  await manager.reconcile();
  await manager.report();
});
afterEach(async () => {
  await host.close();
});

const offer = (all: number, ...packages: OfferedPackage[]): PackagesOffer => ({
  allPackagesHash: new Uint8Array([all]),
  packages,
});

describe("PackageManager", () => {
  it("reports the locally installed collector at start: its version and the SHA-256 of the binary", async () => {
    const digest = createHash("sha256")
      .update(await readFile(host.exe))
      .digest();
    expect(reported.at(-1)?.packages[""]).toMatchObject({
      status: "INSTALLED",
      agentHasVersion: "0.1.0",
      agentHasHash: new Uint8Array(digest),
      serverOfferedHash: new Uint8Array(0),
    });
  });

  it("installs the collector, refuses add-ons, announces the new version, and skips the same offer next time", async () => {
    const collector = host.offer(Buffer.from(fakeCollector("0.2.0")));
    const addon = { ...host.offer(Buffer.from("plugin")), name: "plugin", kind: "addon" as const };
    await manager.handleOffer(offer(1, collector, addon));
    const last = reported.at(-1)!;
    expect(last.serverProvidedAllPackagesHash).toEqual(new Uint8Array([1]));
    expect(last.packages["otelcol"]).toMatchObject({ status: "INSTALLED", agentHasVersion: "0.2.0" });
    expect(last.packages["plugin"]).toMatchObject({
      status: "INSTALL_FAILED",
      errorMessage: ADDON_REFUSAL,
      agentHasVersion: "",
    });
    expect(last.packages[""]).toBeUndefined();
    expect(versions).toEqual(["0.2.0"]);
    const requests = host.files.requests.length;
    const count = reported.length;
    await manager.handleOffer(offer(1, collector, addon));
    expect(host.files.requests.length).toBe(requests);
    expect(reported.length).toBe(count);
    // A new aggregate hash with the same package hash: still nothing to download.
    await manager.handleOffer(offer(2, collector));
    expect(host.files.requests.length).toBe(requests);
    expect(reported.at(-1)?.packages["otelcol"]).toMatchObject({
      status: "INSTALLED",
      serverOfferedHash: collector.hash,
    });
  });

  it("does not try a failed package again until a different one is offered", async () => {
    const bad = host.offer(Buffer.from(fakeCollector("0.2.0")), { signature: Buffer.alloc(64, 3) });
    await manager.handleOffer(offer(1, bad));
    expect(reported.at(-1)?.packages["otelcol"]?.status).toBe("INSTALL_FAILED");
    const requests = host.files.requests.length;
    await manager.handleOffer(offer(2, bad));
    expect(host.files.requests.length).toBe(requests);
    expect(reported.at(-1)?.packages["otelcol"]).toMatchObject({ status: "INSTALL_FAILED", errorMessage: NOT_RETRIED });
    const good = host.offer(Buffer.from(fakeCollector("0.2.1")));
    await manager.handleOffer(offer(3, good));
    expect(reported.at(-1)?.packages["otelcol"]).toMatchObject({ status: "INSTALLED", agentHasVersion: "0.2.1" });
  });

  it("retries the same offer after a download that failed for network reasons", async () => {
    const pkg = host.offer(Buffer.from(fakeCollector("0.2.0")));
    const path = new URL(pkg.file!.url).pathname;
    host.files.serve(path, { body: Buffer.alloc(1), status: 503 });
    await manager.handleOffer(offer(1, pkg));
    expect(reported.at(-1)?.packages["otelcol"]?.status).toBe("INSTALL_FAILED");
    host.files.serve(path, { body: Buffer.from(fakeCollector("0.2.0")) });
    await manager.handleOffer(offer(1, pkg));
    expect(reported.at(-1)?.packages["otelcol"]).toMatchObject({ status: "INSTALLED", agentHasVersion: "0.2.0" });
  });

  it("resends persisted statuses when opened again", async () => {
    await manager.handleOffer(offer(1, host.offer(Buffer.from(fakeCollector("0.2.0")))));
    const again = await PackageManager.open(
      options({
        settings: { ...DEFAULTS.package, agentBinary: null, publicKeys: [], insecureAcceptUnsignedPackages: true },
      }),
    );
    expect(again.statuses.packages["otelcol"]).toMatchObject({ status: "INSTALLED", agentHasVersion: "0.2.0" });
  });
});
