import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { toComponentHealth } from "../../src/health/component-health.js";
import { statusToWire } from "../../src/opamp/convert.js";
import { HealthGate } from "../../src/health/gate.js";
import { healthUrl, httpProbe } from "../../src/health/probe.js";
import type { ProbeResult } from "../../src/health/probe.js";
import { judgeWindow } from "../../src/health/window.js";

const rule = { passesRequired: 5, windowSize: 10 };
const seq = (s: string): boolean[] => Array.from(s, (c) => c === "1");

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

describe("HealthGate", () => {
  const ok: ProbeResult = { healthy: true, status: 200 };
  const no: ProbeResult = { healthy: false, status: 503, error: "health check answered HTTP 503" };
  /** Feeds one check per second from t=0 and returns the first verdict that is not pending. */
  function feed(results: string, options: { startupDeadlineMs?: number } = {}) {
    const gate = new HealthGate({ ...rule, startedAt: 0, ...options });
    for (let i = 0; i < results.length; i++) {
      const verdict = gate.check(results[i] === "1" ? ok : no, i * 1_000);
      if (verdict.kind !== "pending") return verdict;
    }
    return { kind: "pending" as const };
  }

  it("reports working after 5 passes, with the checks and time it took", () => {
    expect(feed("0111110000")).toEqual({ kind: "passed", checks: 6, elapsedMs: 5_000 });
  });

  it("fails with the last error when the window cannot pass", () => {
    const verdict = feed("11110000");
    expect(verdict).toMatchObject({ kind: "failed", checks: 6 });
    expect(verdict.kind === "failed" && verdict.reason).toMatch(
      /4 of 6 checks passed, 5 in a row required \(last error: health check answered HTTP 503\)/,
    );
  });

  it("does not count a slow start against the window when a startup deadline is set", () => {
    // Six refusals while starting, then five passes: working. Without the deadline rule the
    // same script fails (six misses leave no room for five in a row in ten checks).
    expect(feed("0000001111100000", { startupDeadlineMs: 10_000 })).toEqual({
      kind: "passed",
      checks: 11,
      elapsedMs: 10_000,
    });
    expect(feed("0000001111100000")).toMatchObject({ kind: "failed" });
  });

  it("fails a collector that never answers healthy once the startup deadline passes", () => {
    const verdict = feed("0".repeat(50), { startupDeadlineMs: 3_000 });
    expect(verdict).toMatchObject({ kind: "failed", checks: 4, elapsedMs: 3_000 });
    expect(verdict.kind === "failed" && verdict.reason).toMatch(
      /did not answer healthy within 3000 ms \(last error: health check answered HTTP 503\)/,
    );
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
    const up = statusToWire(
      "health",
      toComponentHealth({
        healthy: true,
        startedAtMs: 1_722_000_000_000,
        observedAtMs: 1_722_000_001_000,
        status: "StatusOK",
        lastError: "old",
      }),
    );
    expect(up.startTimeUnixNano).toBe(1_722_000_000_000_000_000n);
    expect(up.statusTimeUnixNano).toBe(1_722_000_001_000_000_000n);
    expect(up.lastError).toBe("");
    const down = statusToWire(
      "health",
      toComponentHealth({
        healthy: false,
        startedAtMs: undefined,
        observedAtMs: 1,
        status: "StatusFatalError",
        lastError: "exit 2",
      }),
    );
    expect(down.startTimeUnixNano).toBe(0n);
    expect(down.lastError).toBe("exit 2");
  });
});
