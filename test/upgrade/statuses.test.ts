import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { systemClock } from "../../src/deps.js";
import { StateStore, openStateDir } from "../../src/storage/index.js";
import { PackageStore } from "../../src/upgrade/state.js";
import type { StoredPackageStatus, StoredPackageStatuses } from "../../src/upgrade/state.js";
import { ProgressMeter, StatusBook } from "../../src/upgrade/statuses.js";
import type { DownloadDetails } from "../../src/upgrade/statuses.js";

let dir: string;
let store: PackageStore;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "statuses-"));
  store = new PackageStore(new StateStore({ dir: await openStateDir(dir), clock: systemClock }));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const base: StoredPackageStatus = {
  name: "otelcol",
  agentHasVersion: "0.1.0",
  agentHasHash: new Uint8Array([1]),
  serverOfferedVersion: "0.2.0",
  serverOfferedHash: new Uint8Array([2]),
  status: "INSTALL_PENDING",
  errorMessage: "",
};

describe("StatusBook", () => {
  it("persists each state before reporting it, and reads back what a restart would resend", async () => {
    const sent: Array<[StoredPackageStatuses, ReadonlyMap<string, DownloadDetails>]> = [];
    const book = new StatusBook(store, undefined);
    book.attach((s, d) => sent.push([s, d]));
    await book.replace({
      serverProvidedAllPackagesHash: new Uint8Array([9]),
      errorMessage: "",
      packages: { otelcol: base },
    });
    await book.update("otelcol", "DOWNLOADING");
    book.progress("otelcol", { percent: 50, bytesPerSecond: 1000 });
    await book.update("otelcol", "INSTALL_FAILED", { errorMessage: "bad signature" });
    expect(sent.map(([s]) => s.packages["otelcol"]?.status)).toEqual([
      undefined,
      "INSTALL_PENDING",
      "DOWNLOADING",
      "DOWNLOADING",
      "INSTALL_FAILED",
    ]);
    expect(sent[3]?.[1].get("otelcol")).toEqual({ percent: 50, bytesPerSecond: 1000 });
    expect(sent[4]?.[1].size).toBe(0);
    const back = await store.readStatuses();
    expect(back?.packages["otelcol"]).toEqual({ ...base, status: "INSTALL_FAILED", errorMessage: "bad signature" });
    expect(back?.serverProvidedAllPackagesHash).toEqual(new Uint8Array([9]));
  });

  it("never keeps an error message on a non-failed state", async () => {
    const book = new StatusBook(store, undefined);
    await book.set({ ...base, status: "INSTALL_FAILED", errorMessage: "x" });
    await book.update("otelcol", "INSTALLING", { errorMessage: "leftover" });
    expect(book.get("otelcol")?.errorMessage).toBe("");
  });

  it("ignores progress for a package that is not downloading", async () => {
    const sent: unknown[] = [];
    const book = new StatusBook(store, undefined);
    await book.set(base);
    book.attach((s) => sent.push(s));
    book.progress("otelcol", { percent: 1, bytesPerSecond: 1 });
    expect(sent).toHaveLength(1);
  });

  it("keeps the file in call order even when writes overlap", async () => {
    const book = new StatusBook(store, undefined);
    await book.set(base);
    await Promise.all([book.update("otelcol", "DOWNLOADING"), book.update("otelcol", "INSTALLING")]);
    expect((await store.readStatuses())?.packages["otelcol"]?.status).toBe("INSTALLING");
  });
});

describe("ProgressMeter", () => {
  it("reports at most once per interval, with percent and the rate over the interval", () => {
    let now = 0;
    const meter = new ProgressMeter(1000, () => now);
    expect(meter.sample(100, 1000)).toBeUndefined();
    now = 1000;
    expect(meter.sample(500, 1000)).toEqual({ percent: 50, bytesPerSecond: 500 });
    now = 1500;
    expect(meter.sample(600, 1000)).toBeUndefined();
    now = 1600;
    expect(meter.sample(1000, 1000)).toEqual({ percent: 100, bytesPerSecond: 833 });
  });

  it("reports 0 percent without a known size", () => {
    let now = 0;
    const meter = new ProgressMeter(10, () => now);
    now = 20;
    expect(meter.sample(100, undefined)).toEqual({ percent: 0, bytesPerSecond: 5000 });
  });
});
