/**
 * The restart command, a collector that cannot be started, and how fast health is reported,
 * against the controller over the fake driver with a fake clock.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { CollectorHealth } from "../../src/health/component-health.js";
import { spawnError } from "../collector/fake-driver.js";
import { applyRemoteConfig } from "../../src/supervisor/remote-config.js";
import { makeHarness, marked, offer, waitUntil } from "./harness.js";
import type { Harness } from "./harness.js";

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const healthReports = (t: Harness): CollectorHealth[] =>
  t.heard.flatMap((e) => (e.kind === "health" ? [e.health] : []));

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

describe("the supervisor's shutdown", () => {
  it("stops a collector that is ours, and leaves one whose container is not (sidecar)", async () => {
    const ours = await makeHarness();
    const child = ours.driver.current;
    await ours.close();
    expect(child?.alive).toBe(false);

    const theirs = await makeHarness();
    theirs.driver.atShutdown = "leave";
    const sidecar = theirs.driver.current;
    await theirs.close();
    expect(sidecar?.alive).toBe(true);
    expect(theirs.driver.current).toBe(sidecar);
  });
});

describe("the collector's version", () => {
  it("comes from the `components` inventory when it names one, else from `--version`", async () => {
    const t = (h = await makeHarness());
    t.driver.components = () =>
      Promise.resolve("buildinfo:\n    command: otelcol-inv\n    version: 0.150.0\nreceivers: []\n");
    expect(await t.ctx.collector.version()).toEqual({ name: "otelcol-inv", version: "0.150.0" });
    expect(t.driver.versionReads).toBe(0);

    const old = await makeHarness();
    old.driver.components = () => Promise.reject(new Error('unknown command "components"'));
    expect(await old.ctx.collector.version()).toEqual({ name: "otelcol-fake", version: "0.1.0" });
    expect(old.driver.versionReads).toBe(1);
    await old.close();
  });
});

describe("a collector that cannot be started", () => {
  it.each(["ENOENT", "EACCES"] as const)(
    "reports the OS reason (%s) in last_error and retries with backoff",
    async (code) => {
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
    },
  );
});

describe("health after a (re)start", () => {
  it("is probed at once and reported healthy within the first back-off step, not one interval later", async () => {
    const t = (h = await makeHarness()); // 1 s probe interval
    const before = healthReports(t).length;
    await t.drive(t.ctx.collector.restart(t.ctx.signal));
    const restartedAt = t.clock.now();
    await t.drive(
      waitUntil(() =>
        healthReports(t)
          .slice(before)
          .some((r) => r.healthy),
      ),
    );
    const healthy = healthReports(t)
      .slice(before)
      .find((r) => r.healthy);
    expect((healthy?.observedAtMs ?? Infinity) - restartedAt).toBeLessThan(100);
  });

  it("probes a starting collector every 10 ms until it answers, then backs off from that answer", async () => {
    const t = (h = await makeHarness()); // 1 s probe interval
    t.driver.binary = { starting_checks: 4 };
    const from = t.clock.sleeps.length;
    await t.drive(t.ctx.collector.restart(t.ctx.signal));
    const run = t.driver.current;
    await t.drive(waitUntil(() => (run?.checks ?? 0) >= 9));
    const loopSleeps = t.clock.sleeps.slice(from).filter((ms) => ms > 0 && ms <= 1_000);
    const first = loopSleeps.indexOf(10);
    expect(loopSleeps.slice(first, first + 8)).toEqual([10, 10, 10, 10, 50, 100, 200, 400]);
  });

  it("counts a starting collector's failed checks as starting, and a failure once it was up as unhealthy", async () => {
    const results: string[] = [];
    const observer = { started: () => undefined, crashed: () => undefined, checked: (r: string) => results.push(r) };
    const t = (h = await makeHarness({ observer }));
    await t.drive(waitUntil(() => results.includes("healthy")));
    t.driver.binary = { starting_checks: 3 };
    const from = results.length;
    await t.drive(t.ctx.collector.restart(t.ctx.signal));
    await t.drive(waitUntil(() => results.slice(from).includes("healthy")));
    const run = t.driver.current;
    if (run) run.binary = { unhealthy: true };
    await t.drive(waitUntil(() => results.slice(from).includes("unhealthy")));
    const sinceRestart = results.slice(from);
    expect(sinceRestart.slice(0, 4)).toEqual(["starting", "starting", "starting", "healthy"]);
    expect(sinceRestart.at(-1)).toBe("unhealthy");
    expect(sinceRestart.filter((r) => r === "starting")).toHaveLength(3);
  });

  it("probes quickly for at most 1 s after a start, then backs off to the interval", async () => {
    const t = (h = await makeHarness());
    t.driver.binary = { unhealthy: true };
    const from = t.clock.sleeps.length;
    await t.drive(t.ctx.collector.restart(t.ctx.signal));
    const run = t.driver.current;
    await t.drive(waitUntil(() => (run?.checks ?? 0) >= 110));
    const loopSleeps = t.clock.sleeps.slice(from).filter((ms) => ms > 0 && ms <= 1_000);
    const quick = loopSleeps.filter((ms) => ms === 10).length;
    expect(quick).toBeGreaterThan(50);
    expect(quick).toBeLessThanOrEqual(100);
    expect(loopSleeps.slice(-2)).toEqual([1_000, 1_000]);
  });

  it("backs off from the first probe to the interval, and once healthy on to the steady interval", async () => {
    const t = (h = await makeHarness({ health: { interval: "200ms", steadyInterval: "1s" } }));
    const run = t.driver.current;
    await t.drive(waitUntil(() => (run?.checks ?? 0) >= 9));
    const loopSleeps = t.clock.sleeps.filter((ms) => ms > 0 && ms <= 1_000);
    const kicked = loopSleeps.indexOf(50);
    expect(kicked).toBeGreaterThanOrEqual(0);
    expect(loopSleeps.slice(kicked, kicked + 7)).toEqual([50, 100, 200, 400, 800, 1_000, 1_000]);
  });

  it("comes back to the interval as soon as a steady check fails, and stays there while unhealthy", async () => {
    const t = (h = await makeHarness({ health: { interval: "200ms", steadyInterval: "1s" } }));
    const run = t.driver.current;
    await t.drive(waitUntil(() => (run?.checks ?? 0) >= 9)); // healthy, probing at the steady rhythm
    if (run) run.binary = { unhealthy: true };
    const from = t.clock.sleeps.length;
    await t.drive(waitUntil(() => t.ctx.collector.health?.healthy === false));
    const checks = run?.checks ?? 0;
    await t.drive(waitUntil(() => (run?.checks ?? 0) >= checks + 4));
    const after = t.clock.sleeps.slice(from).filter((ms) => ms > 0 && ms <= 1_000);
    expect(after.slice(-3)).toEqual([200, 200, 200]);
  });

  it("probes at the interval while a rollout window judges a config, then goes back to the steady rhythm", async () => {
    const t = (h = await makeHarness({ health: { interval: "200ms", steadyInterval: "1s" } }));
    const run = t.driver.current;
    await t.drive(waitUntil(() => (run?.checks ?? 0) >= 9));
    const from = t.clock.sleeps.length;
    await t.drive(applyRemoteConfig(t.ctx, offer(1, { "remote.yaml": marked("one") })));
    expect(t.statuses()).toEqual(["APPLYING", "APPLIED"]);
    // Five passes after the restart: at 0, 50, 150, 350 and 550 ms (the steady ramp would reach 750).
    const applied = (await t.audit()).find((l) => l["action"] === "remote-config-applied");
    expect(applied?.["healthMs"]).toBeLessThanOrEqual(600);
    const next = t.driver.current;
    const checks = next?.checks ?? 0;
    await t.drive(waitUntil(() => (next?.checks ?? 0) >= checks + 4));
    expect(t.clock.sleeps.slice(from).filter((ms) => ms > 200 && ms <= 1_000)).toContain(1_000);
  });
});
