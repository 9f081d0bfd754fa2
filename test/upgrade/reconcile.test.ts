import { execFileSync } from "node:child_process";
import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { silentLogger } from "../../src/deps.js";
import { installCollector } from "../../src/upgrade/install.js";
import type { UpgradeCheckpoint } from "../../src/upgrade/install.js";
import { reconcile } from "../../src/upgrade/reconcile.js";
import { StatusBook } from "../../src/upgrade/statuses.js";
import { sidePaths } from "../../src/upgrade/swap.js";
import { PROVEN, fakeCollector, makeHost, unproven } from "./env.js";
import type { Host } from "./env.js";

let host: Host;
beforeEach(async () => {
  host = await makeHost();
});
afterEach(async () => {
  await host.close();
});

class Killed extends Error {}

/** Runs the transaction and "kills" it at `step`: nothing after that line runs. */
async function crashAt(step: UpgradeCheckpoint, unhealthy = false): Promise<Uint8Array> {
  if (unhealthy) host.proofs.push(unproven("unhealthy"), PROVEN);
  const pkg = host.offer(Buffer.from(fakeCollector("0.2.0")));
  await host.book.set({
    name: pkg.name,
    agentHasVersion: "0.1.0",
    agentHasHash: new Uint8Array(0),
    serverOfferedVersion: "0.2.0",
    serverOfferedHash: pkg.hash,
    status: "INSTALL_PENDING",
    errorMessage: "",
  });
  const env = host.env({
    checkpoint: (s) => {
      if (s === step) throw new Killed(s);
    },
  });
  await expect(
    installCollector(env, pkg, { version: "0.1.0", agentHash: new Uint8Array(0) }, new Uint8Array([7])),
  ).rejects.toBeInstanceOf(Killed);
  return pkg.hash;
}

async function restart() {
  const book = new StatusBook(host.store, await host.store.readStatuses());
  const action = await reconcile({ store: host.store, book, audit: host.audit, logger: silentLogger }, host.exe);
  const version = execFileSync(host.exe, ["--version"], { encoding: "utf8" }).trim();
  return { action, book, version };
}

describe("reconcile after a crash inside the upgrade", () => {
  it.each([
    ["package-received", "0.1.0", "INSTALL_FAILED", "settled-statuses"],
    ["package-downloaded", "0.1.0", "INSTALL_FAILED", "settled-statuses"],
    ["package-preflighted", "0.1.0", "INSTALL_FAILED", "settled-statuses"],
    ["package-journaled", "0.1.0", "INSTALL_FAILED", "not-swapped"],
    ["package-backed-up", "0.1.0", "INSTALL_FAILED", "not-swapped"],
    ["package-swapped", "0.1.0", "INSTALL_FAILED", "restored-previous"],
    ["package-restarted", "0.1.0", "INSTALL_FAILED", "restored-previous"],
    ["package-proven", "0.2.0", "INSTALLED", "kept-new"],
    ["package-installed", "0.2.0", "INSTALLED", "kept-new"],
  ] as const)(
    "killed at %s: a working %s binary at the path, reported as %s",
    async (step, version, status, action) => {
      const hash = await crashAt(step);
      const after = await restart();
      expect(after.action).toBe(action);
      expect(after.version).toBe(`otelcol version ${version}`);
      const reported = after.book.get("otelcol");
      expect(reported?.status).toBe(status);
      expect(reported?.serverOfferedHash).toEqual(hash);
      if (status === "INSTALLED") expect(reported?.agentHasVersion).toBe("0.2.0");
      else expect(reported?.errorMessage).toMatch(/^interrupted/);
      // Interrupted is not the package's fault: it may be offered again.
      expect((await host.store.readState()).failed).toEqual([]);
      expect(await host.store.readJournal()).toBeUndefined();
      expect((await host.sideFiles()).filter((n) => !n.includes("download-"))).toEqual([]);
    },
  );

  it("killed after rolling an unhealthy binary back: old binary, INSTALL_FAILED with the reason, hash remembered", async () => {
    const hash = await crashAt("package-rolled-back", true);
    const after = await restart();
    expect(after.action).toBe("rollback-recorded");
    expect(after.version).toBe("otelcol version 0.1.0");
    expect(after.book.get("otelcol")).toMatchObject({
      status: "INSTALL_FAILED",
      errorMessage: expect.stringMatching(/did not prove healthy: unhealthy/),
    });
    expect((await host.store.readState()).failed).toEqual([Buffer.from(hash).toString("hex")]);
  });

  it("puts the backup back when the executable path is missing", async () => {
    await crashAt("package-backed-up");
    await rm(host.exe);
    const after = await restart();
    expect(after.action).toBe("restored-previous");
    expect(after.version).toBe("otelcol version 0.1.0");
  });

  it("leaves a binary someone else put there alone, and says so", async () => {
    await crashAt("package-swapped");
    await rm(host.exe);
    await writeFile(host.exe, fakeCollector("9.9.9-foreign"), { mode: 0o755 });
    const after = await restart();
    expect(after.action).toBe("foreign-binary");
    expect(after.version).toBe("otelcol version 9.9.9-foreign");
    expect(after.book.get("otelcol")?.errorMessage).toMatch(/replaced by another binary/);
  });

  it("does nothing on a clean start, and removes stray staged files", async () => {
    await writeFile(sidePaths(host.exe).staged, "leftover");
    const after = await restart();
    expect(after.action).toBe("none");
    expect(await host.sideFiles()).toEqual([]);
  });

  it("moves an unreadable journal aside and still starts", async () => {
    await writeFile(join(host.dir, "state", "upgrade-journal.json"), "{not json");
    const after = await restart();
    expect(after.action).toBe("none");
    expect(after.version).toBe("otelcol version 0.1.0");
  });
});
