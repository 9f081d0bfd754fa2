/**
 * healthcheckv2: parsing `/status?verbose` (a body the real v0.165.1 extension returned, and
 * broken ones), the probe over HTTP (codes, caps) and the mapping to ComponentHealth.
 */
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { runningHealth, sameHealth, toComponentHealth } from "../../src/health/component-health.js";
import { V2_MAX_BODY_BYTES, probeFor, statusV2Probe } from "../../src/health/probe.js";
import { STATUS_V2_LIMITS, parseStatusV2, timeMs } from "../../src/health/status-v2.js";
import { statusToWire } from "../../src/opamp/convert.js";

/** What the real collector answered with a kafka exporter whose broker refuses connections. */
const REAL = readFileSync(new URL("./fixtures/healthcheckv2-kafka-refused.json", import.meta.url), "utf8");
const DIAL = "unable to dial: dial tcp 127.0.0.1:1: connect: connection refused";

describe("parseStatusV2", () => {
  it("maps the real verbose body: pipelines and extensions keyed as the collector keys them", () => {
    const parsed = parseStatusV2(REAL);
    if (!parsed.ok) throw new Error(parsed.reason);
    const { status } = parsed;
    expect(status.status).toBe("StatusRecoverableError");
    expect(status.error).toBe(DIAL);
    expect(status.startTime).toBe("2026-12-02T15:01:24.962734545Z");
    expect(Object.keys(status.components)).toEqual(["extensions", "pipeline:logs", "pipeline:traces"]);
    const traces = status.components["pipeline:traces"]!;
    expect(traces).toMatchObject({ healthy: false, status: "StatusRecoverableError", lastError: DIAL });
    expect(Object.keys(traces.components ?? {})).toEqual(["exporter:kafka", "receiver:otlp"]);
    // The body says healthy: true (no component_health options): a failing exporter is not healthy to us.
    expect(traces.components?.["exporter:kafka"]).toEqual({
      healthy: false,
      status: "StatusRecoverableError",
      lastError: DIAL,
      startedAtMs: Date.parse("2026-12-02T15:01:24.962Z"),
      observedAtMs: Date.parse("2026-12-02T15:01:31.271Z"),
    });
    expect(traces.components?.["receiver:otlp"]).toMatchObject({ healthy: true, status: "StatusOK", lastError: "" });
    expect(status.components["extensions"]?.components?.["extension:healthcheckv2"]?.healthy).toBe(true);
    expect(status.components["pipeline:logs"]).toMatchObject({ healthy: true, status: "StatusOK" });
  });

  it("refuses what is not the extension's JSON, and tolerates missing fields below the top", () => {
    expect(parseStatusV2("not json")).toEqual({ ok: false, reason: "the health status is not JSON" });
    expect(parseStatusV2("[1]")).toMatchObject({ ok: false, reason: expect.stringMatching(/not a JSON object/) });
    expect(parseStatusV2('{"status":"Server available","upSince":"x"}').ok).toBe(true); // a v1 body is still a status
    expect(parseStatusV2('{"healthy":true}')).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/no "status"/),
    });
    const sparse = parseStatusV2(
      JSON.stringify({
        status: "StatusOK",
        components: { "pipeline:x": { components: { "exporter:a": {}, b: 7 } }, c: null },
      }),
    );
    if (!sparse.ok) throw new Error(sparse.reason);
    expect(sparse.status.startTime).toBeUndefined();
    expect(sparse.status.components).toEqual({
      "pipeline:x": {
        healthy: false,
        status: "StatusNone",
        lastError: "StatusNone",
        startedAtMs: undefined,
        observedAtMs: 0,
        components: {
          "exporter:a": {
            healthy: false,
            status: "StatusNone",
            lastError: "StatusNone",
            startedAtMs: undefined,
            observedAtMs: 0,
          },
        },
      },
    });
  });

  it("caps depth, entries and text: a hostile body is an error or a bounded string, never a huge map", () => {
    let deep: Record<string, unknown> = { status: "StatusOK" };
    for (let i = 0; i < STATUS_V2_LIMITS.depth + 2; i++) deep = { status: "StatusOK", components: { [`l${i}`]: deep } };
    expect(parseStatusV2(JSON.stringify(deep))).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/more than/),
    });
    const many = Object.fromEntries(
      Array.from({ length: STATUS_V2_LIMITS.entries + 1 }, (_, i) => [`c${i}`, { status: "StatusOK" }]),
    );
    expect(parseStatusV2(JSON.stringify({ status: "StatusOK", components: many })).ok).toBe(false);
    const long = parseStatusV2(JSON.stringify({ status: "StatusOK", error: "é".repeat(5_000) }));
    expect(long.ok && Buffer.byteLength(long.status.error ?? "")).toBeLessThanOrEqual(STATUS_V2_LIMITS.textBytes + 3);
  });

  it("reads Go's time JSON to ms, and Go's zero time as no time", () => {
    expect(timeMs("2026-12-02T15:01:24.962734545Z")).toBe(Date.parse("2026-12-02T15:01:24.962Z"));
    expect(timeMs("2026-12-02T15:01:24Z")).toBe(Date.parse("2026-12-02T15:01:24Z"));
    expect(timeMs("2026-12-02T16:01:24.5+01:00")).toBe(Date.parse("2026-12-02T15:01:24.5Z"));
    expect(timeMs("0001-01-01T00:00:00Z")).toBeUndefined();
    expect(timeMs("yesterday")).toBeUndefined();
    expect(timeMs(42)).toBeUndefined();
  });
});

describe("runningHealth and the wire", () => {
  const parsed = parseStatusV2(REAL);
  if (!parsed.ok) throw new Error(parsed.reason);
  const detail = parsed.status;
  const base = { startedAtMs: 1_000, observedAtMs: 2_000 };

  it("keeps the overall verdict from the check, with the extension's status, error and map", () => {
    const up = runningHealth({ healthy: true, detail }, base);
    expect(up).toMatchObject({ healthy: true, status: "StatusRecoverableError", lastError: DIAL });
    const wire = statusToWire("health", toComponentHealth(up));
    expect(wire.healthy).toBe(true);
    expect(wire.lastError).toBe(DIAL); // up, but degraded: the server learns why
    const exporter = wire.componentHealthMap["pipeline:traces"]?.componentHealthMap["exporter:kafka"];
    expect(exporter).toMatchObject({ healthy: false, status: "StatusRecoverableError", lastError: DIAL });
    expect(exporter?.statusTimeUnixNano).toBe(BigInt(Date.parse("2026-12-02T15:01:31.271Z")) * 1_000_000n);
    const down = runningHealth({ healthy: false, error: "health check answered HTTP 500", detail }, base);
    expect(down).toMatchObject({ healthy: false, lastError: "health check answered HTTP 500" });
    expect(down.components).toBe(detail.components);
  });

  it("is the single status of today without detail (health_check)", () => {
    expect(runningHealth({ healthy: true }, base)).toEqual({ healthy: true, ...base, status: "StatusOK" });
    expect(runningHealth({ healthy: false, error: "e" }, base)).toEqual({
      healthy: false,
      ...base,
      status: "StatusRecoverableError",
      lastError: "e",
    });
    expect(toComponentHealth(runningHealth({ healthy: true }, base))).not.toHaveProperty("components");
  });

  it("tells a changed component apart, and the same map as the same news", () => {
    const a = runningHealth({ healthy: true, detail }, base);
    const again = runningHealth(
      { healthy: true, detail: (parseStatusV2(REAL) as { ok: true; status: typeof detail }).status },
      { ...base, observedAtMs: 9 },
    );
    expect(sameHealth(a, again)).toBe(true);
    const healed = parseStatusV2(REAL.replaceAll("StatusRecoverableError", "StatusOK"));
    expect(healed.ok && sameHealth(a, runningHealth({ healthy: true, detail: healed.status }, base))).toBe(false);
  });
});

describe("statusV2Probe", () => {
  async function serve(answer: { code: number; body: string | Buffer }) {
    const paths: string[] = [];
    const server = createServer((req, res) => {
      paths.push(req.url ?? "");
      res.writeHead(answer.code, { "Content-Type": "application/json" });
      res.end(answer.body);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/status`;
    return { url, paths, close: () => new Promise((resolve) => server.close(resolve)) };
  }
  const signal = new AbortController().signal;

  it("asks for verbose detail; 200 is healthy with detail and start_time as upSince; 500 and 503 are not", async () => {
    const answer = { code: 200, body: REAL as string | Buffer };
    const s = await serve(answer);
    try {
      const ok = await probeFor(s.url, 500, "healthcheckv2")(signal);
      expect(s.paths).toEqual(["/status?verbose"]);
      expect(ok).toMatchObject({ healthy: true, status: 200, upSince: "2026-12-02T15:01:24.962734545Z" });
      expect(ok.detail?.components["pipeline:traces"]?.healthy).toBe(false);
      answer.code = 500;
      expect(await statusV2Probe(s.url, 500)(signal)).toMatchObject({
        healthy: false,
        status: 500,
        error: `health check answered HTTP 500 (StatusRecoverableError: ${DIAL})`,
      });
      answer.code = 503;
      answer.body = JSON.stringify({
        start_time: "2026-12-02T15:01:24Z",
        healthy: true,
        status: "StatusStarting",
        status_time: "2026-12-02T15:01:24Z",
      });
      expect(await statusV2Probe(s.url, 500)(signal)).toMatchObject({
        healthy: false,
        status: 503,
        detail: { status: "StatusStarting" },
      });
    } finally {
      await s.close();
    }
  });

  it("makes a bad or oversized body an unhealthy check, never a crash", async () => {
    const answer = { code: 200, body: "<html>not the status</html>" as string | Buffer };
    const s = await serve(answer);
    try {
      expect(await statusV2Probe(s.url, 500)(signal)).toEqual({
        healthy: false,
        status: 200,
        error: "the health status is not JSON (HTTP 200)",
      });
      answer.body = Buffer.alloc(V2_MAX_BODY_BYTES + 10, 0x20);
      expect(await statusV2Probe(s.url, 500)(signal)).toEqual({
        healthy: false,
        status: 200,
        error: `health status body exceeds ${V2_MAX_BODY_BYTES} bytes (HTTP 200)`,
      });
    } finally {
      await s.close();
    }
    expect(await statusV2Probe(s.url, 300)(signal)).toMatchObject({
      healthy: false,
      error: expect.stringMatching(/ECONNREFUSED/),
    });
  });
});
