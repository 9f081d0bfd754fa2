/**
 * The remote-config transaction against the controller over a fake driver: the fast unit
 * twins of test/e2e/remote-config.test.ts, plus what only a unit test can pin down (order
 * of events, fake time).
 */
import { readdir } from "node:fs/promises";
import { afterEach, describe, expect, it } from "vitest";
import { applyRemoteConfig } from "../../src/supervisor/remote-config.js";
import type { StoredRemoteConfig } from "../../src/storage/index.js";
import { makeHarness, marked, offer, runs } from "./harness.js";
import type { Harness, HarnessOptions } from "./harness.js";

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function ready(options: HarnessOptions = {}): Promise<Harness> {
  h = await makeHarness(options);
  return h;
}

const apply = (harness: Harness, o: StoredRemoteConfig): Promise<unknown> =>
  harness.drive(applyRemoteConfig(harness.ctx, o));
const lastStatus = (harness: Harness) => harness.heard.flatMap((e) => (e.kind === "status" ? [e.status] : [])).at(-1);

describe.each([
  ["restart", false],
  ["SIGHUP", true],
] as const)("remote config in %s mode", (_mode, hup) => {
  it("applies a good config: APPLYING, then APPLIED once healthy, and the collector runs it", async () => {
    const t = await ready({ hup });
    const first = t.driver.current;
    await apply(t, offer(1, { "remote.yaml": marked("one") }));
    expect(t.statuses()).toEqual(["APPLYING", "APPLIED"]);
    const run = t.driver.current;
    expect(runs(run?.config, "one")).toBe(true);
    if (hup) {
      expect(run).toBe(first);
      expect(run?.reloads).toBe(1);
    } else {
      expect(run).not.toBe(first);
    }
    const effective = t.heard.flatMap((e) => (e.kind === "effective" ? [e.yaml] : [])).at(-1);
    expect(effective).toContain("debug/one");
    expect((await t.audit()).find((l) => l["action"] === "remote-config-applied")).toMatchObject({
      hash: "c001",
      result: "applied",
      mode: hup ? "reload" : "restart",
      validateMs: expect.any(Number),
      applyMs: expect.any(Number),
      healthMs: expect.any(Number),
    });
    expect(await t.ctx.store.readLastWorkingRemoteConfig()).toMatchObject({ hash: new Uint8Array([0xc0, 1]) });
  });

  it("refuses a config the collector's validate rejects, with its error, without touching the collector", async () => {
    const t = await ready({ hup });
    const first = t.driver.current;
    const filesBefore = await readdir(t.ctx.stateDir.root);
    await apply(t, offer(2, { "remote.yaml": marked("two", "  invalid: pipeline traces is broken\n") }));
    expect(t.statuses()).toEqual(["APPLYING", "FAILED"]);
    // The refused candidate is gone; only the received copy (and the failed hash) are new.
    const newFiles = (await readdir(t.ctx.stateDir.root)).filter((n) => !filesBefore.includes(n));
    expect(newFiles.filter((n) => n.includes("candidate") || n.includes(".tmp-"))).toEqual([]);
    expect(t.driver.validated.at(-1)).toContain("candidate.yaml");
    expect(lastStatus(t)?.errorMessage).toContain("Error: pipeline traces is broken");
    expect(t.driver.current).toBe(first);
    expect(first?.reloads).toBe(0);
    expect(t.driver.starts).toBe(1);
    const audit = await t.audit();
    expect(audit.some((l) => l["action"] === "remote-config-rolled-back")).toBe(false);
    // Only the phase that ran is timed: a 0 for apply and health would skew their histograms.
    const refused = audit.find((l) => l["action"] === "remote-config-failed");
    expect(refused).toMatchObject({ reasonCode: "validate-refused", validateMs: expect.any(Number) });
    expect(refused).not.toHaveProperty("applyMs");
    expect(refused).not.toHaveProperty("healthMs");
  });

  it("reports FAILED for a config that turns unhealthy in the window before it rolls back", async () => {
    const t = await ready({ hup });
    await apply(t, offer(3, { "remote.yaml": marked("three", "  unhealthy_after_checks: 2\n") }));
    expect(t.statuses()).toEqual(["APPLYING", "FAILED"]);
    expect(lastStatus(t)?.errorMessage).toMatch(/health check window failed: 2 of \d+ checks passed/);
    // FAILED is heard before the rollback runs; the rollback then proves the old config healthy.
    const failedAt = t.heard.findIndex((e) => e.kind === "status" && e.status.status === "FAILED");
    const rolledBackAt = t.heard.findIndex((e) => e.kind === "checkpoint" && e.step === "config-rolled-back");
    expect(failedAt).toBeGreaterThan(-1);
    expect(rolledBackAt).toBeGreaterThan(failedAt);
    expect(t.heard.slice(failedAt).some((e) => e.kind === "health" && e.health.healthy)).toBe(true);
    expect(t.ctx.collector.health?.healthy).toBe(true);
    expect(runs(t.driver.current?.config, "three")).toBe(false);
    const audit = await t.audit();
    expect(audit.find((l) => l["action"] === "remote-config-failed")).toMatchObject({
      hash: "c003",
      result: "failed",
      reasonCode: "unhealthy",
    });
    expect(audit.find((l) => l["action"] === "remote-config-rolled-back")).toMatchObject({
      hash: "c003",
      result: "healthy",
      reason: "rolled back to the last working config, healthy again",
    });
  });

  it("rolls back a config that makes the collector crash after the switch, with the log tail", async () => {
    const t = await ready({ hup });
    await apply(t, offer(4, { "remote.yaml": marked("four", "  crash_after_checks: 1\n") }));
    expect(lastStatus(t)).toMatchObject({ status: "FAILED" });
    expect(lastStatus(t)?.errorMessage).toMatch(/collector exited: exited with code 7/);
    expect(lastStatus(t)?.errorMessage).toMatch(/collector log tail:[\s\S]*panic: boom/);
    expect(t.ctx.collector.health?.healthy).toBe(true);
    expect(runs(t.driver.current?.config, "four")).toBe(false);
  });
});

describe("remote config checks and idempotence", () => {
  it("refuses path-traversal names and YAML bombs, writing nothing", async () => {
    const t = await ready();
    const before = await readdir(t.ctx.stateDir.root);
    await apply(t, offer(5, { "../evil.yaml": marked("five") }));
    expect(lastStatus(t)?.errorMessage).toMatch(/evil/);
    const bomb = ["a: &a [x, x, x, x, x, x, x, x, x]"];
    for (let i = 1; i < 12; i++)
      bomb.push(
        `${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9)
          .fill(`*${String.fromCharCode(96 + i)}`)
          .join(", ")}]`,
      );
    await apply(t, offer(6, { "bomb.yaml": bomb.join("\n") }));
    expect(lastStatus(t)?.errorMessage).toMatch(/alias/i);
    const after = (await readdir(t.ctx.stateDir.root)).filter((n) => !before.includes(n));
    expect(after.filter((n) => n.endsWith(".yaml"))).toEqual([]);
    expect(t.driver.starts).toBe(1);
  });

  it("does no work for a hash it already applied", async () => {
    const t = await ready();
    await apply(t, offer(7, { "remote.yaml": marked("seven") }));
    const starts = t.driver.starts;
    const heard = t.heard.length;
    const audit = (await t.audit()).length;
    await apply(t, offer(7, { "remote.yaml": marked("seven") }));
    expect(t.driver.starts).toBe(starts);
    expect(t.heard.slice(heard).some((e) => e.kind === "status")).toBe(false);
    expect((await t.audit()).length).toBe(audit);
  });

  it("answers a hash that failed before with FAILED, without APPLYING and without touching the collector", async () => {
    const t = await ready();
    await apply(t, offer(8, { "remote.yaml": marked("eight", "  invalid: nope\n") }));
    // A new status from the same hash after a restart: the reporter starts without it.
    t.ctx.reporter.restoreRemoteConfigStatus({ hash: new Uint8Array(0), status: "UNSET", errorMessage: "" });
    const heard = t.heard.length;
    await apply(t, offer(8, { "remote.yaml": marked("eight", "  invalid: nope\n") }));
    const statuses = t.heard.slice(heard).flatMap((e) => (e.kind === "status" ? [e.status.status] : []));
    expect(statuses).toEqual(["FAILED"]);
    expect(t.driver.validated).toHaveLength(1);
    expect(t.driver.starts).toBe(1);
  });

  it("treats an empty config map as no remote config: local config alone, APPLIED", async () => {
    const t = await ready();
    await apply(t, offer(9, { "remote.yaml": marked("nine") }));
    expect(runs(t.driver.current?.config, "nine")).toBe(true);
    await apply(t, offer(10, {}));
    expect(lastStatus(t)).toMatchObject({ status: "APPLIED" });
    expect(runs(t.driver.current?.config, "nine")).toBe(false);
    expect(t.driver.current?.config).toHaveProperty(["service", "pipelines", "traces", "exporters"], ["debug"]);
  });

  it("applies a new hash whose composed config equals what runs at once: no validate, no restart, no window", async () => {
    const t = await ready();
    const run = t.driver.current;
    const sleeps = t.clock.sleeps.length;
    // The opamp-go example server's first config: one unnamed, empty file.
    await applyRemoteConfig(t.ctx, offer(11, { "": "" }));
    expect(t.statuses()).toEqual(["APPLYING", "APPLIED"]);
    expect(t.driver.current).toBe(run);
    expect(t.driver.validated).toEqual([]);
    expect(t.clock.sleeps.length - sleeps).toBeLessThanOrEqual(1); // at most the health loop's own turn
    expect((await t.audit()).find((l) => l["action"] === "remote-config-applied")).toMatchObject({
      hash: "c00b",
      mode: "unchanged",
    });
    expect(await t.ctx.store.readLastWorkingRemoteConfig()).toMatchObject({ hash: new Uint8Array([0xc0, 11]) });
  });
});

describe("SIGHUP proof", () => {
  it("does not take the old service's answers right after SIGHUP as proof of the new config", async () => {
    // One pass is enough here, so a stale 200 from the pre-reload service would pass the window.
    const t = await ready({ hup: true, health: { passesRequired: 1, window: 3 } });
    t.driver.reloadLag = 2;
    await apply(t, offer(20, { "remote.yaml": marked("hup", "  crash_after_checks: 0\n") }));
    expect(lastStatus(t)).toMatchObject({ status: "FAILED" });
    expect(lastStatus(t)?.errorMessage).toMatch(/collector exited/);
  });
});

describe("when the last working config fails too", () => {
  it("reports FAILED, keeps restarting the rollback target with growing delays and reports unhealthy", async () => {
    const t = await ready();
    await apply(t, offer(12, { "remote.yaml": marked("twelve") }));
    // The rollback target (the last working config) now crashes too: "the binary" breaks.
    t.driver.binary = undefined;
    const crashing = offer(14, { "remote.yaml": marked("fourteen", "  unhealthy_after_checks: 1\n") });
    const work = applyRemoteConfig(t.ctx, crashing);
    // Once FAILED is out, every later start crashes at its first check.
    const armed = (async () => {
      while (lastStatus(t)?.status !== "FAILED") await new Promise((r) => setImmediate(r));
      t.driver.binary = { crash_after_checks: 0 };
    })();
    await t.drive(Promise.all([work, armed]));
    const audit = await t.audit();
    expect(audit.find((l) => l["action"] === "remote-config-rolled-back")).toMatchObject({
      hash: "c00e",
      result: "unhealthy",
      reason: expect.stringMatching(/rollback did not become healthy either/),
    });
    const delays: number[] = [];
    const stop = t.ctx.collector.state;
    expect(["backoff", "running", "starting"]).toContain(stop.id);
    await t.drive(
      new Promise<void>((resolve) => {
        const seen = (): void => {
          const state = t.ctx.collector.state;
          if (state.id === "backoff" && delays.at(-1) !== state.until) delays.push(state.until);
          if (delays.length >= 4) resolve();
          else setImmediate(seen);
        };
        seen();
      }),
    );
    const gaps = delays.slice(1).map((at, i) => at - (delays[i] ?? 0));
    expect(gaps[1]).toBeGreaterThan(gaps[0] ?? 0); // growing delays, not a tight loop
    expect(t.ctx.collector.health?.healthy).toBe(false);
    expect(t.ctx.collector.health?.lastError).toMatch(/exited with code 7/);
  });
});

describe("agent.automatic_config_rollback: false", () => {
  it("reports FAILED and keeps the failed config running, restarted with backoff, instead of rolling back", async () => {
    const t = await ready({ agent: ["automatic_config_rollback: false"] });
    await apply(t, offer(5, { "remote.yaml": marked("five", "  unhealthy_after_checks: 2\n") }));
    expect(t.statuses()).toEqual(["APPLYING", "FAILED"]);
    expect(runs(t.driver.current?.config, "five")).toBe(true);
    expect(t.driver.starts).toBe(3); // the start, the switch, and the run kept after the failure
    const effective = t.heard.flatMap((e) => (e.kind === "effective" ? [e.yaml] : [])).at(-1);
    expect(effective).toContain("debug/five");
    const audit = await t.audit();
    expect(audit.some((l) => l["action"] === "remote-config-rolled-back")).toBe(false);
    expect(audit.find((l) => l["action"] === "remote-config-kept")).toMatchObject({
      hash: "c005",
      result: "unhealthy",
    });
    expect(t.heard.some((e) => e.kind === "checkpoint" && e.step === "config-rolled-back")).toBe(false);
  });

  it("still leaves the collector untouched when validate refuses the config", async () => {
    const t = await ready({ agent: ["automatic_config_rollback: false"] });
    const first = t.driver.current;
    await apply(t, offer(6, { "remote.yaml": marked("six", "  invalid: pipeline traces is broken\n") }));
    expect(t.statuses()).toEqual(["APPLYING", "FAILED"]);
    expect(t.driver.current).toBe(first);
    expect((await t.audit()).some((l) => l["action"] === "remote-config-kept")).toBe(false);
  });
});
