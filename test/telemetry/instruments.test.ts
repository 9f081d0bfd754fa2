/**
 * The instruments over a real SDK MeterProvider, read back through an in-memory reader:
 * names, units, attributes and values are what the README lists.
 */
import { AggregationTemporality, MeterProvider, MetricReader, type ResourceMetrics } from "@opentelemetry/sdk-metrics";
import { describe, expect, it } from "vitest";
import { createInstruments } from "../../src/telemetry/instruments.js";
import { METRICS } from "../../src/telemetry/metrics.js";

class MemoryReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

interface Point {
  attributes: Record<string, unknown>;
  value: unknown;
}

async function collect(reader: MemoryReader): Promise<Map<string, { unit: string; points: Point[] }>> {
  const { resourceMetrics }: { resourceMetrics: ResourceMetrics } = await reader.collect();
  const out = new Map<string, { unit: string; points: Point[] }>();
  for (const scope of resourceMetrics.scopeMetrics)
    for (const metric of scope.metrics)
      out.set(metric.descriptor.name, {
        unit: metric.descriptor.unit,
        points: metric.dataPoints.map((p) => ({ attributes: p.attributes, value: p.value })),
      });
  return out;
}

function setUp(): { reader: MemoryReader; metrics: ReturnType<typeof createInstruments> } {
  const reader = new MemoryReader();
  const provider = new MeterProvider({ readers: [reader] });
  return { reader, metrics: createInstruments(provider.getMeter("test")) };
}

describe("SupervisorMetrics over the SDK", () => {
  it("counts applies by source and result and records each phase in seconds", async () => {
    const { reader, metrics } = setUp();
    metrics.configApply({ source: "remote", result: "applied", phasesMs: { validate: 120, apply: 30, health: 2_500 } });
    metrics.configApply({ source: "remote", result: "failed", reason: "validate-refused" });
    const seen = await collect(reader);
    expect(seen.get(METRICS.configApplies.name)?.points).toEqual([
      { attributes: { source: "remote", result: "applied" }, value: 1 },
      { attributes: { source: "remote", result: "failed", reason: "validate-refused" }, value: 1 },
    ]);
    const histogram = seen.get(METRICS.configApplyDuration.name);
    expect(histogram?.unit).toBe("s");
    const health = histogram?.points.find((p) => p.attributes["phase"] === "health");
    expect(health?.attributes).toEqual({ source: "remote", result: "applied", phase: "health" });
    expect(health?.value).toMatchObject({ count: 1, sum: 2.5 });
    expect(histogram?.points).toHaveLength(3); // the failed apply had no phases
  });

  it("reports the connection state as a 0/1 gauge per state, and messages and bytes both ways", async () => {
    const { reader, metrics } = setUp();
    metrics.connectionState("connected");
    metrics.messageSent(100);
    metrics.messageSent(50);
    metrics.messageReceived(7);
    metrics.reconnect();
    const seen = await collect(reader);
    const state = seen.get(METRICS.connectionState.name)?.points ?? [];
    expect(state.filter((p) => p.value === 1)).toEqual([{ attributes: { state: "connected" }, value: 1 }]);
    expect(state).toHaveLength(5);
    expect(seen.get(METRICS.messagesSent.name)?.points[0]?.value).toBe(2);
    expect(seen.get(METRICS.bytesSent.name)).toEqual({ unit: "By", points: [{ attributes: {}, value: 150 }] });
    expect(seen.get(METRICS.bytesReceived.name)?.points[0]?.value).toBe(7);
    expect(seen.get(METRICS.reconnects.name)?.points[0]?.value).toBe(1);
  });

  it("records collector exits by reason, restarts by cause, health checks, installs, downloads and write failures", async () => {
    const { reader, metrics } = setUp();
    metrics.collectorExit({ reason: "exit_code", code: 1 });
    metrics.collectorExit({ reason: "signal", signal: "SIGKILL" });
    metrics.collectorExit({ reason: "start_failed" });
    metrics.collectorRestart("crash");
    metrics.healthCheck("healthy");
    metrics.healthCheck("unhealthy");
    metrics.healthCheck("starting");
    metrics.healthCheck("starting");
    metrics.packageInstall("installed");
    metrics.packageDownloaded(4096);
    metrics.stateWriteFailure("state", "ENOSPC");
    metrics.rollback("healthy");
    const seen = await collect(reader);
    expect(seen.get(METRICS.collectorExits.name)?.points.map((p) => p.attributes)).toEqual([
      { reason: "exit_code", code: "1" },
      { reason: "signal", code: "SIGKILL" },
      { reason: "start_failed" },
    ]);
    expect(seen.get(METRICS.collectorRestarts.name)?.points).toEqual([{ attributes: { cause: "crash" }, value: 1 }]);
    expect(seen.get(METRICS.healthChecks.name)?.points).toEqual([
      { attributes: { result: "healthy" }, value: 1 },
      { attributes: { result: "unhealthy" }, value: 1 },
      { attributes: { result: "starting" }, value: 2 },
    ]);
    expect(seen.get(METRICS.packageInstalls.name)?.points).toEqual([{ attributes: { result: "installed" }, value: 1 }]);
    expect(seen.get(METRICS.packageDownloaded.name)?.points[0]?.value).toBe(4096);
    expect(seen.get(METRICS.stateWriteFailures.name)?.points).toEqual([
      { attributes: { file: "state", code: "ENOSPC" }, value: 1 },
    ]);
    expect(seen.get(METRICS.rollbacks.name)?.points).toEqual([{ attributes: { result: "healthy" }, value: 1 }]);
  });

  it("reports the certificate expiry in seconds since the epoch, and nothing without a certificate", async () => {
    const { reader, metrics } = setUp();
    expect((await collect(reader)).get(METRICS.certificateExpiry.name)?.points ?? []).toEqual([]);
    metrics.certificateExpiry(Date.UTC(2030, 0, 1, 0, 0, 0, 999));
    const seen = await collect(reader);
    expect(seen.get(METRICS.certificateExpiry.name)?.points).toEqual([
      { attributes: {}, value: Date.UTC(2030, 0, 1) / 1000 },
    ]);
  });
});
