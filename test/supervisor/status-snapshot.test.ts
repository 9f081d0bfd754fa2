import { describe, expect, it } from "vitest";
import { StatusSnapshot, publicEndpoint } from "../../src/supervisor/status-snapshot.js";
import { FakeClock } from "../support/fake-clock.js";

function snapshot(clock = new FakeClock()): { s: StatusSnapshot; clock: FakeClock } {
  const s = new StatusSnapshot({
    clock,
    version: "1.2.3",
    endpoint: "wss://user:pw@opamp.example/v1/opamp?token=abc",
    instanceUid: "uid-1",
    mask: (t) => t.replace(/s3cret/g, "***"),
  });
  return { s, clock };
}

describe("StatusSnapshot", () => {
  it("follows connection, collector and remote config facts with their times", async () => {
    const { s, clock } = snapshot();
    const t0 = clock.now();
    s.connection({ kind: "backoff", attempt: 1, delayMs: 100, reason: "ECONNREFUSED s3cret" });
    await clock.advance(1_000);
    s.connection({ kind: "connected", transport: "ws", since: clock.now() });
    s.collectorStarted(41);
    s.collectorHealth({ healthy: true, startedAtMs: clock.now(), observedAtMs: clock.now(), status: "StatusOK" });
    await clock.advance(500);
    s.collectorStarted(42); // a restart
    s.remoteConfig({ hash: new Uint8Array([0xc0, 0x01]), status: "FAILED", errorMessage: "bad s3cret" });
    const v = s.view();
    expect(v.connection).toEqual({
      state: "connected",
      endpoint: "wss://opamp.example/v1/opamp",
      since: new Date(t0 + 1_000).toISOString(),
      lastError: "ECONNREFUSED ***",
      lastErrorAt: new Date(t0).toISOString(),
    });
    expect(v.collector).toMatchObject({
      pid: 42,
      healthy: true,
      restarts: 1,
      since: new Date(t0 + 1_500).toISOString(),
    });
    expect(v.remoteConfig).toEqual({
      hash: "c001",
      status: "FAILED",
      at: new Date(t0 + 1_500).toISOString(),
      error: "bad ***",
    });
    expect(v.status).toBe("ok");
  });

  it("keeps the last failure with its time, and not the starting and stopping every restart goes through", async () => {
    const { s, clock } = snapshot();
    const down = { healthy: false, startedAtMs: undefined, observedAtMs: 0 };
    s.collectorHealth({ ...down, status: "StatusFatalError", lastError: "exited with code 1" });
    const failedAt = new Date(clock.now()).toISOString();
    await clock.advance(2_000);
    s.collectorHealth({ ...down, status: "StatusStopping", lastError: "collector is stopping" });
    s.collectorHealth({
      ...down,
      status: "StatusStarting",
      lastError: "waiting for the first health check (HTTP 503)",
    });
    s.collectorHealth({ healthy: true, startedAtMs: clock.now(), observedAtMs: clock.now(), status: "StatusOK" });
    expect(s.view().collector).toMatchObject({ healthy: true, lastError: "exited with code 1", lastErrorAt: failedAt });
  });

  it("is degraded while the collector is unhealthy, and a view is a copy", () => {
    const { s } = snapshot();
    s.collectorHealth({
      healthy: false,
      startedAtMs: undefined,
      observedAtMs: 0,
      status: "StatusFatalError",
      lastError: "exited s3cret",
    });
    const v = s.view();
    expect(v).toMatchObject({ status: "degraded", collector: { healthy: false, pid: null, lastError: "exited ***" } });
    v.collector.healthy = true;
    expect(s.view().collector.healthy).toBe(false);
  });

  it("never shows credentials from the endpoint", () => {
    expect(publicEndpoint("https://a:b@h:4320/v1/opamp?key=x")).toBe("https://h:4320/v1/opamp");
  });
});
