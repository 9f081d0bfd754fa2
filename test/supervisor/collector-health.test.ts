/**
 * The restart command, a collector that cannot be started, and how fast health is reported,
 * against the controller over the fake driver with a fake clock.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { CollectorHealth } from "../../src/health/component-health.js";
import { spawnError } from "../collector/fake-driver.js";
import { makeHarness, waitUntil } from "./harness.js";
import type { Harness } from "./harness.js";

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const healthReports = (t: Harness): CollectorHealth[] => t.heard.flatMap((e) => (e.kind === "health" ? [e.health] : []));

describe("the restart command", () => {
  it("stops the collector and starts it again on the same config, healthy again", async () => {
    const t = (h = await makeHarness());
    const first = t.driver.current;
    const outcome = await t.drive(t.ctx.collector.restart(t.ctx.signal));
    expect(outcome).toMatchObject({ ok: true, mode: "restart" });
    expect(first?.alive).toBe(false);
    expect(t.driver.current).not.toBe(first);
    expect(t.driver.current?.configPath).toBe(first?.configPath);
    await t.drive(waitUntil(() => t.ctx.collector.health?.healthy === true));
  });
});

describe("a collector that cannot be started", () => {
  it.each(["ENOENT", "EACCES"] as const)("reports the OS reason (%s) in last_error and retries with backoff", async (code) => {
    const t = (h = await makeHarness());
    t.driver.startFailures.push(spawnError(code), spawnError(code));
    const outcome = await t.drive(t.ctx.collector.restart(t.ctx.signal));
    expect(outcome).toMatchObject({ ok: false, reason: "start-failed" });
    const health = t.ctx.collector.health;
    expect(health).toMatchObject({ healthy: false, status: "StatusFatalError" });
    expect(health?.lastError).toContain(`${code} (`);
    expect(t.ctx.collector.state).toMatchObject({ id: "backoff", attempt: 1 });
    // Retried after 100 ms (fails again: 200 ms), then it starts and reports healthy.
    await t.drive(waitUntil(() => t.ctx.collector.state.id === "backoff" && t.ctx.collector.state.attempt === 2));
    await t.drive(waitUntil(() => t.ctx.collector.health?.healthy === true));
    expect(t.clock.sleeps).toEqual(expect.arrayContaining([100, 200]));
    expect(healthReports(t).some((r) => r.lastError?.includes(code))).toBe(true);
  });
});

describe("health after a (re)start", () => {
  it("is probed at once and reported healthy within the first back-off step, not one interval later", async () => {
    const t = (h = await makeHarness()); // 1 s probe interval
    const before = healthReports(t).length;
    await t.drive(t.ctx.collector.restart(t.ctx.signal));
    const restartedAt = t.clock.now();
    await t.drive(waitUntil(() => healthReports(t).slice(before).some((r) => r.healthy)));
    const healthy = healthReports(t).slice(before).find((r) => r.healthy);
    expect((healthy?.observedAtMs ?? Infinity) - restartedAt).toBeLessThan(100);
  });

  it("backs off from the first probe to the configured interval", async () => {
    const t = (h = await makeHarness());
    const run = t.driver.current;
    await t.drive(waitUntil(() => (run?.checks ?? 0) >= 8));
    // 0, 50, 100, 200, 400, 800, then the 1 s interval.
    const loopSleeps = t.clock.sleeps.filter((ms) => ms > 0 && ms <= 1_000);
    const kicked = loopSleeps.indexOf(50);
    expect(kicked).toBeGreaterThanOrEqual(0);
    expect(loopSleeps.slice(kicked, kicked + 7)).toEqual([50, 100, 200, 400, 800, 1_000, 1_000]);
  });
});
