import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { toComponentHealth } from "../../src/health/component-health.js";
import { statusToWire } from "../../src/opamp/convert.js";
import { runHealthGate } from "../../src/health/gate.js";
import { healthUrl, httpProbe } from "../../src/health/probe.js";
import type { ProbeResult } from "../../src/health/probe.js";
import { judgeWindow } from "../../src/health/window.js";
import { FakeClock, eventually } from "../support/fake-clock.js";

const rule = { passesRequired: 5, windowSize: 10 };
const seq = (s: string): boolean[] => [...s].map((c) => c === "1");

describe("judgeWindow", () => {
  it("passes on the Nth consecutive pass, at once", () => {
    expect(judgeWindow(seq("11111"), rule)).toBe("passed");
    expect(judgeWindow(seq("0011111"), rule)).toBe("passed");
    expect(judgeWindow(seq("1111"), rule)).toBe("pending");
  });
  it("fails as soon as the streak can no longer fit in the window", () => {
    expect(judgeWindow(seq("111100"), rule)).toBe("failed"); // 4 checks left cannot make 5 in a row
    expect(judgeWindow(seq("111101111"), rule)).toBe("pending"); // 4 in a row and 1 check left
    expect(judgeWindow(seq("1111011110"), rule)).toBe("failed");
    expect(judgeWindow(seq("000000"), rule)).toBe("failed");
    expect(judgeWindow(seq("00000"), rule)).toBe("pending"); // 5 checks left: still possible
  });
});

describe("runHealthGate", () => {
  function scripted(results: string): { probe: () => Promise<ProbeResult>; calls: () => number } {
    let i = 0;
    return {
      probe: async () => (results[i++] === "1" ? { healthy: true, status: 200 } : { healthy: false, status: 503, error: "health check answered HTTP 503" }),
      calls: () => i,
    };
  }
  async function drive(clock: FakeClock, done: () => boolean): Promise<void> {
    for (let n = 0; n < 50 && !done(); n++) {
      await eventually(() => clock.pending > 0 || done(), 2000, "gate sleeping");
      await clock.advance(1_000);
    }
  }

  it("reports working after 5 passes, with the checks and time it took", async () => {
    const clock = new FakeClock();
    const s = scripted("0111110000");
    let result: Awaited<ReturnType<typeof runHealthGate>> | undefined;
    void runHealthGate({ ...rule, probe: s.probe, intervalMs: 1_000, clock, exited: new Promise(() => {}), signal: new AbortController().signal }).then((r) => (result = r));
    await drive(clock, () => result !== undefined);
    expect(result).toEqual({ ok: true, checks: 6, elapsedMs: 5_000 });
  });

  it("fails with the last error when the window cannot pass", async () => {
    const clock = new FakeClock();
    const s = scripted("11110000");
    let result: Awaited<ReturnType<typeof runHealthGate>> | undefined;
    void runHealthGate({ ...rule, probe: s.probe, intervalMs: 1_000, clock, exited: new Promise(() => {}), signal: new AbortController().signal }).then((r) => (result = r));
    await drive(clock, () => result !== undefined);
    expect(result?.ok).toBe(false);
    expect(result?.checks).toBe(6);
    expect(result && !result.ok && result.reason).toMatch(/4 of 6 checks passed, 5 in a row required \(last error: health check answered HTTP 503\)/);
  });

  it("does not count a slow start against the window when a startup deadline is set", async () => {
    const clock = new FakeClock();
    const s = scripted("0000001111100000");
    let result: Awaited<ReturnType<typeof runHealthGate>> | undefined;
    void runHealthGate({ ...rule, probe: s.probe, intervalMs: 1_000, clock, exited: new Promise(() => {}), signal: new AbortController().signal, startupDeadlineMs: 10_000 }).then((r) => (result = r));
    await drive(clock, () => result !== undefined);
    // Six refusals while starting, then five passes: working. Without the deadline rule the
    // same script fails (six misses leave no room for five in a row in ten checks).
    expect(result).toEqual({ ok: true, checks: 11, elapsedMs: 10_000 });
  });

  it("fails a collector that never answers healthy once the startup deadline passes", async () => {
    const clock = new FakeClock();
    const s = scripted("0".repeat(50));
    let result: Awaited<ReturnType<typeof runHealthGate>> | undefined;
    void runHealthGate({ ...rule, probe: s.probe, intervalMs: 1_000, clock, exited: new Promise(() => {}), signal: new AbortController().signal, startupDeadlineMs: 3_000 }).then((r) => (result = r));
    await drive(clock, () => result !== undefined);
    expect(result).toMatchObject({ ok: false, checks: 4, elapsedMs: 3_000 });
    expect(result && !result.ok && result.reason).toMatch(/did not answer healthy within 3000 ms \(last error: health check answered HTTP 503\)/);
  });

  it("fails at once when the collector exits during the window", async () => {
    const clock = new FakeClock();
    const s = scripted("1111111111");
    let exit!: (why: string) => void;
    const exited = new Promise<string>((r) => (exit = r));
    const gate = runHealthGate({ ...rule, probe: s.probe, intervalMs: 1_000, clock, exited, signal: new AbortController().signal });
    await eventually(() => clock.pending > 0, 2000, "first sleep");
    exit("code 1");
    const result = await gate;
    expect(result).toMatchObject({ ok: false, reason: "collector exited: code 1", checks: 1 });
  });
});

describe("httpProbe", () => {
  it("passes on 200, fails on 503 and on a refused connection", async () => {
    let code = 200;
    const server = createServer((_req, res) => {
      res.writeHead(code);
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as AddressInfo).port;
    const probe = httpProbe(healthUrl(`localhost:${port}`, "/"), 500);
    const signal = new AbortController().signal;
    expect(await probe(signal)).toEqual({ healthy: true, status: 200 });
    code = 503;
    expect(await probe(signal)).toMatchObject({ healthy: false, status: 503 });
    await new Promise<void>((r) => server.close(() => r()));
    expect(await probe(signal)).toMatchObject({ healthy: false, error: expect.stringMatching(/ECONNREFUSED/) });
  });

  it("builds loopback URLs from collector endpoints", () => {
    expect(healthUrl("localhost:13133", "/")).toBe("http://127.0.0.1:13133/");
    expect(healthUrl("0.0.0.0:1", "health")).toBe("http://127.0.0.1:1/health");
    expect(healthUrl("10.1.2.3:9", "/")).toBe("http://10.1.2.3:9/");
  });
});

describe("toComponentHealth", () => {
  it("uses nanoseconds, zero start time when not running, and last_error only when unhealthy", () => {
    const up = statusToWire("health", toComponentHealth({ healthy: true, startedAtMs: 1_722_000_000_000, observedAtMs: 1_722_000_001_000, status: "StatusOK", lastError: "old" }));
    expect(up.startTimeUnixNano).toBe(1_722_000_000_000_000_000n);
    expect(up.statusTimeUnixNano).toBe(1_722_000_001_000_000_000n);
    expect(up.lastError).toBe("");
    const down = statusToWire("health", toComponentHealth({ healthy: false, startedAtMs: undefined, observedAtMs: 1, status: "StatusFatalError", lastError: "exit 2" }));
    expect(down.startTimeUnixNano).toBe(0n);
    expect(down.lastError).toBe("exit 2");
  });
});
