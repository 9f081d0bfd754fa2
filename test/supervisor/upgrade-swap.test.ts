/**
 * The package swap through the real collector controller (fake driver, fake clock): the
 * upgrade code reaches the collector only through the CollectorControl interface.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { CollectorControl } from "../../src/collector/controller.js";
import { installCollector } from "../../src/upgrade/install.js";
import type { UpgradeCheckpoint } from "../../src/upgrade/install.js";
import { fakeCollector, makeHost } from "../upgrade/env.js";
import type { Host } from "../upgrade/env.js";
import { makeHarness } from "./harness.js";
import type { Harness } from "./harness.js";

let host: Host;
let t: Harness;
beforeEach(async () => {
  host = await makeHost();
  t = await makeHarness();
});
afterEach(async () => {
  await t.close();
  await host.close();
});

/** The controller seen through the upgrade room's interface only. */
function control(h: Harness): CollectorControl {
  const c = h.ctx.collector;
  return {
    effectiveConfigPath: () => c.effectiveConfigPath(),
    restartAndProve: (options) => c.restartAndProve(options),
    version: () => c.version(),
    versionChanged: (version) => c.versionChanged(version),
  };
}

/** Makes "the binary at the executable path" crash at its first check between swap and swap-back. */
function badBinaryWhileSwapped(step: UpgradeCheckpoint): void {
  if (step === "package-swapped") t.driver.binary = { crash_after_checks: 0 };
  if (step === "package-rolled-back") t.driver.binary = undefined;
}

async function install(checkpoint: (step: UpgradeCheckpoint) => void = () => undefined) {
  const pkg = host.offer(Buffer.from(fakeCollector("0.2.0")));
  await host.book.set({
    name: pkg.name,
    agentHasVersion: "0.1.0",
    agentHasHash: new Uint8Array([1]),
    serverOfferedVersion: pkg.version,
    serverOfferedHash: pkg.hash,
    status: "INSTALL_PENDING",
    errorMessage: "",
  });
  const env = host.env({ collector: control(t), checkpoint });
  return t.drive(installCollector(env, pkg, { version: "0.1.0", agentHash: new Uint8Array([1]) }, new Uint8Array([7])));
}

describe("the package swap through the controller", () => {
  it("restarts the collector on the new binary, proves it healthy and reports INSTALLED", async () => {
    const before = t.driver.current;
    const outcome = await install();
    expect(outcome).toEqual({ kind: "installed", version: "0.2.0", swapped: true });
    expect(before?.alive).toBe(false);
    expect(t.driver.starts).toBe(2);
    expect(t.ctx.collector.health?.healthy).toBe(true);
    expect(host.book.get("otelcol")).toMatchObject({ status: "INSTALLED", agentHasVersion: "0.2.0" });
  });

  it("swaps back a binary that crashes in the window, restarts the old one and proves it", async () => {
    const outcome = await install(badBinaryWhileSwapped);
    expect(outcome).toMatchObject({ kind: "failed", remember: true });
    const message = host.book.get("otelcol")?.errorMessage ?? "";
    expect(message).toMatch(
      /did not prove healthy: collector exited: exited with code 7; rolled back to version 0.1.0, healthy again/,
    );
    expect(message).toMatch(/collector log tail:[\s\S]*panic: boom/);
    expect(await host.exeText()).toContain("0.1.0");
    expect(t.driver.starts).toBe(3); // the new binary, then the old one again
    expect(t.ctx.collector.health?.healthy).toBe(true);
  });
});
