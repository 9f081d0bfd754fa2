/** The lifecycle over the fake driver: one run at a time, crash restarts with backoff, holds. */
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Lifecycle } from "../../src/collector/lifecycle.js";
import type { CollectorState, LifecycleEvents } from "../../src/collector/lifecycle.js";
import { createDefaultDeps, silentLogger } from "../../src/deps.js";
import { FakeClock, settle } from "../support/fake-clock.js";
import { FakeDriver, spawnError } from "./fake-driver.js";
import type { FakeRun } from "./fake-driver.js";

async function rig() {
  const dir = await mkdtemp(join(tmpdir(), "lifecycle-"));
  const config = join(dir, "effective.yaml");
  await writeFile(config, "receivers: {}\n");
  const clock = new FakeClock();
  const driver = new FakeDriver();
  const shutdown = new AbortController();
  const lifecycle = new Lifecycle({
    driver,
    deps: createDefaultDeps({ clock, random: () => 0.5, logger: silentLogger }),
    restartPolicy: { initialDelayMs: 100, maxDelayMs: 1_000, multiplier: 2, jitter: 0, resetAfterMs: 10_000 },
    signal: shutdown.signal,
  });
  const crashes: Array<LifecycleEvents["crashed"]> = [];
  lifecycle.on("crashed", (c) => crashes.push(c));
  return { clock, driver, lifecycle, config, crashes, shutdown };
}

const crash = (run: FakeRun | undefined): void => run?.end({ code: 3, signal: null });
const stateOf = (l: Lifecycle): CollectorState["id"] => l.state.id;

describe("Lifecycle", () => {
  it("restarts a crashed collector after growing backoff delays", async () => {
    const r = await rig();
    await r.lifecycle.start(r.config, { autoRestart: true });
    crash(r.driver.current);
    await settle();
    expect(r.lifecycle.state).toMatchObject({
      id: "backoff",
      attempt: 1,
      failure: { kind: "exit", exit: { code: 3 } },
    });
    expect(r.crashes.map((c) => c.delayMs)).toEqual([100]);
    await r.clock.advance(99);
    expect(stateOf(r.lifecycle)).toBe("backoff");
    await r.clock.advance(1);
    expect(stateOf(r.lifecycle)).toBe("running");
    crash(r.driver.current);
    await settle();
    expect(r.crashes.map((c) => c.delayMs)).toEqual([100, 200]);
    await r.lifecycle.stop();
    expect(stateOf(r.lifecycle)).toBe("stopped");
    await r.clock.advance(10_000);
    expect(r.driver.starts).toBe(2); // the pending restart was cancelled
  });

  it("leaves a held run's exit to its holder: no restart", async () => {
    const r = await rig();
    await r.lifecycle.start(r.config, { autoRestart: true });
    r.lifecycle.hold();
    crash(r.driver.current);
    await settle();
    expect(r.lifecycle.state).toMatchObject({ id: "exited", failure: { kind: "exit" } });
    await r.clock.advance(10_000);
    expect(r.driver.starts).toBe(1);
    expect(r.crashes).toEqual([]);
  });

  it("retries a collector that cannot be started, keeping the OS reason as the failure", async () => {
    const r = await rig();
    r.driver.startFailures.push(spawnError("ENOENT"));
    await expect(r.lifecycle.start(r.config, { autoRestart: true })).rejects.toMatchObject({ code: "SPAWN_FAILED" });
    expect(r.lifecycle.state).toMatchObject({
      id: "backoff",
      attempt: 1,
      failure: { kind: "spawn", message: expect.stringContaining("ENOENT") },
    });
    await r.clock.advance(100);
    expect(stateOf(r.lifecycle)).toBe("running");
  });

  it("refuses SIGHUP until the run has been healthy", async () => {
    const r = await rig();
    const run = await r.lifecycle.start(r.config, { autoRestart: true });
    expect(r.lifecycle.reload()).toEqual({ ok: false, reason: "not-healthy-yet" });
    r.lifecycle.markHealthy(run);
    expect(r.lifecycle.reload()).toEqual({ ok: true });
    expect(r.driver.current?.reloads).toBe(1);
    await r.lifecycle.stop();
    expect(r.lifecycle.reload()).toEqual({ ok: false, reason: "not-running" });
  });

  it("cancels a pending restart at shutdown", async () => {
    const r = await rig();
    await r.lifecycle.start(r.config, { autoRestart: true });
    crash(r.driver.current);
    await settle();
    r.shutdown.abort();
    await settle();
    expect(stateOf(r.lifecycle)).toBe("stopped");
    await r.clock.advance(10_000);
    expect(r.driver.starts).toBe(1);
  });

  it("detach leaves a running collector running, and nothing is restarted after shutdown", async () => {
    const r = await rig();
    const run = await r.lifecycle.start(r.config, { autoRestart: true });
    r.shutdown.abort();
    await r.lifecycle.detach();
    expect(r.driver.current).toBe(run);
    expect(stateOf(r.lifecycle)).toBe("running");
    crash(r.driver.current);
    await settle();
    await r.clock.advance(10_000);
    expect(r.driver.starts).toBe(1);
  });

  it("detach cancels a pending restart", async () => {
    const r = await rig();
    await r.lifecycle.start(r.config, { autoRestart: true });
    crash(r.driver.current);
    await settle();
    expect(stateOf(r.lifecycle)).toBe("backoff");
    await r.lifecycle.detach();
    expect(stateOf(r.lifecycle)).toBe("stopped");
    await r.clock.advance(10_000);
    expect(r.driver.starts).toBe(1);
  });
});
