/** Filesystem faults inside the remote-config transaction, injected through the fs seam. */
import { afterEach, describe, expect, it, vi } from "vitest";
import { nodeFileSystem } from "../../src/deps.js";
import type { FileSystem } from "../../src/deps.js";
import { applyRemoteConfig } from "../../src/supervisor/remote-config.js";
import { makeHarness, marked, offer, runs } from "./harness.js";
import type { Harness } from "./harness.js";

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

function errno(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: injected`), { code });
}

/** A filesystem whose `call` fails with `code` once `armed` is set. */
function faulty(call: "readFile" | "rename", code: string, armed: { on: boolean }): Partial<FileSystem> {
  const real = nodeFileSystem[call] as (...args: unknown[]) => Promise<unknown>;
  return {
    [call]: (...args: unknown[]) => (armed.on ? Promise.reject(errno(code)) : real(...args)),
  };
}

const heardStatuses = (t: Harness) => t.heard.flatMap((e) => (e.kind === "status" ? [e.status] : []));
const statusOf = (t: Harness) => heardStatuses(t).at(-1);

describe("storage faults in the remote-config transaction", () => {
  it("reports FAILED with the OS reason when a local config file cannot be read, and changes nothing", async () => {
    const armed = { on: false };
    const t = (h = await makeHarness({ fs: faulty("readFile", "EACCES", armed) }));
    const run = t.driver.current;
    armed.on = true;
    await t.drive(applyRemoteConfig(t.ctx, offer(1, { "remote.yaml": marked("one") })));
    expect(statusOf(t)).toMatchObject({
      status: "FAILED",
      errorMessage: expect.stringContaining("cannot read (EACCES)"),
    });
    expect(t.driver.current).toBe(run);
    expect(t.driver.validated).toEqual([]);
  });

  it("reports FAILED when the validated config cannot be swapped in; the old config keeps running", async () => {
    const armed = { on: false };
    const t = (h = await makeHarness({ fs: faulty("rename", "EIO", armed) }));
    const run = t.driver.current;
    armed.on = true;
    // "retry": the supervisor tries this offer again by itself (retried-offers.ts).
    expect(await t.drive(applyRemoteConfig(t.ctx, offer(2, { "remote.yaml": marked("two") })))).toBe("retry");
    expect(statusOf(t)).toMatchObject({
      status: "FAILED",
      errorMessage: "cannot swap in the new config: EIO (input/output error)",
    });
    expect(t.driver.current).toBe(run);
    expect(runs(t.driver.current?.config, "two")).toBe(false);
    expect((await t.audit()).some((l) => l["action"] === "remote-config-rolled-back")).toBe(false);
    // Once the disk works again, the same offer goes through.
    armed.on = false;
    expect(await t.drive(applyRemoteConfig(t.ctx, offer(2, { "remote.yaml": marked("two") })))).toBe("settled");
    expect(statusOf(t)).toMatchObject({ status: "APPLIED" });
    expect(runs(t.driver.current?.config, "two")).toBe(true);
  });

  it("never reports APPLIED when the proven config cannot be kept; reports FAILED and rolls back", async () => {
    const t = (h = await makeHarness());
    vi.spyOn(t.ctx.store, "writeLastWorkingRemoteConfig").mockRejectedValueOnce(errno("ENOSPC"));
    expect(await t.drive(applyRemoteConfig(t.ctx, offer(3, { "remote.yaml": marked("three") })))).toBe("retry");
    expect(heardStatuses(t).map((s) => s.status)).toEqual(["APPLYING", "FAILED"]);
    expect(statusOf(t)?.errorMessage).toContain("cannot write the state directory");
    expect(runs(t.driver.current?.config, "three")).toBe(false);
    expect((await t.audit()).some((l) => l["action"] === "remote-config-rolled-back")).toBe(true);
  });
});
