/**
 * A package install while the state directory refuses writes (through the store's fs seam):
 * the server sees INSTALL_FAILED with the reason, the binary stays as it was, the supervisor
 * goes on, and the same offer installs once the fault clears (the package was not at fault).
 */
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DEFAULTS } from "../../src/config/schema.js";
import { execaSpawner, silentLogger, systemClock } from "../../src/deps.js";
import { openStateDir, StateStore } from "../../src/storage/index.js";
import { encodePublicKey } from "../../src/upgrade/keys.js";
import { PackageManager } from "../../src/upgrade/manager.js";
import type { StoredPackageStatuses } from "../../src/upgrade/state.js";
import { FaultyFs } from "../storage/helpers.js";
import type { FaultCode } from "../storage/helpers.js";
import { fakeCollector, fakeCollectorControl, makeHost } from "./env.js";
import type { Host } from "./env.js";

let host: Host;
beforeEach(async () => {
  host = await makeHost();
});
afterEach(async () => {
  await host.close();
});

describe.each(["ENOSPC", "EROFS", "EIO", "EACCES"] as FaultCode[])("a package offer under %s", (code) => {
  it("is INSTALL_FAILED with the reason, keeps the binary, and installs once the fault clears", async () => {
    const fs = new FaultyFs();
    const store = new StateStore({ dir: await openStateDir(join(host.dir, "state")), clock: systemClock, fs });
    const reported: StoredPackageStatuses[] = [];
    const calls = { restarts: [] as Array<{ keepRunningOnFailure: boolean }>, versions: [] as string[] };
    const manager = await PackageManager.open({
      settings: {
        ...DEFAULTS.package,
        agentBinary: null,
        publicKeys: [encodePublicKey(host.key.publicKey)],
        insecureAcceptUnsignedPackages: false,
      },
      executable: host.exe,
      args: [],
      env: {},
      store,
      audit: host.audit,
      logger: silentLogger,
      clock: systemClock,
      spawn: execaSpawner,
      checkpoint: () => undefined,
      signal: new AbortController().signal,
      collector: fakeCollectorControl([], null, calls),
      sink: (s) => reported.push(s),
      tlsFor: async () => ({}),
    });
    await manager.reconcile();
    await manager.report();
    const collector = host.offer(Buffer.from(fakeCollector("0.2.0")));
    const offer = { allPackagesHash: new Uint8Array([7]), packages: [collector] };

    fs.fault = code;
    expect(await manager.handleOffer(offer)).toBe("retry");
    const failed = reported.at(-1)?.packages["otelcol"];
    expect(failed).toMatchObject({ status: "INSTALL_FAILED" });
    expect(failed?.errorMessage).toContain(code);
    expect(await host.exeText()).toContain("0.1.0");
    // The collector is kept running (restarted on the binary still in place) after the refused install.
    expect(calls.restarts).toEqual([{ keepRunningOnFailure: true }]);

    fs.fault = undefined;
    expect(await manager.handleOffer(offer)).toBe("settled");
    expect(reported.at(-1)?.packages["otelcol"]).toMatchObject({ status: "INSTALLED", agentHasVersion: "0.2.0" });
    expect(await host.exeText()).toContain("0.2.0");
  });
});
