/**
 * The hooks that feed SupervisorMetrics: audit lines → applies, rollbacks, installs and
 * spans; client states → state gauge and reconnects; controller facts → restarts, exits
 * and checks; refused state writes → write failures; log lines → OTLP log records.
 */
import type { FileHandle } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { auditObserver } from "../../src/telemetry/audit-observer.js";
import { recordFromLine, teeDestination } from "../../src/telemetry/log-bridge.js";
import { noopMetrics, type SupervisorMetrics } from "../../src/telemetry/metrics.js";
import { collectorObserver, connectionObserver, countingWrites } from "../../src/telemetry/observe.js";
import type { OperationRecord } from "../../src/telemetry/traces.js";
import { MASK, createMasker, secretsOf } from "../../src/telemetry/mask.js";
import { resolve, MINIMAL } from "../config/helpers.js";

/** Every call as [method, ...args]. */
function recording(): { metrics: SupervisorMetrics; calls: unknown[][] } {
  const calls: unknown[][] = [];
  const metrics = Object.fromEntries(
    Object.keys(noopMetrics).map((name) => [name, (...args: unknown[]) => calls.push([name, ...args])]),
  ) as unknown as SupervisorMetrics;
  return { metrics, calls };
}

const time = "2026-01-01T00:00:10.000Z";

describe("auditObserver", () => {
  it("turns an applied remote config into an apply with its phases and a span whose phases end with it", () => {
    const { metrics, calls } = recording();
    const spans: OperationRecord[] = [];
    const observe = auditObserver({ metrics, tracer: { operation: (r) => spans.push(r) }, mask: (t) => t });
    observe({
      time,
      action: "remote-config-applied",
      hash: "ab",
      result: "applied",
      mode: "restart",
      validateMs: 100,
      applyMs: 20,
      healthMs: 300,
      totalMs: 450,
    });
    expect(calls).toEqual([
      ["configApply", { source: "remote", result: "applied", phasesMs: { validate: 100, apply: 20, health: 300 } }],
    ]);
    expect(spans).toEqual([
      {
        name: "config apply",
        endMs: Date.parse(time),
        durationMs: 450,
        attributes: {
          "opamp_supervisor.action": "remote-config-applied",
          "opamp_supervisor.result": "applied",
          "opamp_supervisor.hash": "ab",
          "opamp_supervisor.mode": "restart",
        },
        phases: [
          { name: "validate", durationMs: 100 },
          { name: "apply", durationMs: 20 },
          { name: "health", durationMs: 300 },
        ],
      },
    ]);
  });

  it("gives failed applies their reason code, masks the span's error, and counts rollbacks and installs", () => {
    const { metrics, calls } = recording();
    const spans: OperationRecord[] = [];
    const observe = auditObserver({
      metrics,
      tracer: { operation: (r) => spans.push(r) },
      mask: (t) => t.replace("hunter2", MASK),
    });
    observe({
      time,
      action: "remote-config-failed",
      result: "failed",
      reason: "bad: hunter2",
      reasonCode: "validate-refused",
      validateMs: 5, // the phases after a refused validate did not run: no applyMs, no healthMs
    });
    observe({ time, action: "remote-config-failed", result: "failed", reason: "not YAML" });
    observe({ time, action: "remote-config-rolled-back", result: "healthy", healthMs: 40 });
    observe({ time, action: "local-config-reload", result: "unchanged" });
    observe({
      time,
      action: "package-installed",
      result: "installed",
      downloadMs: 10,
      verifyMs: 2,
      downloadBytes: 2048,
    });
    observe({ time, action: "package-failed", result: "failed", reason: "download failed" });
    observe({ time, action: "instance-uid-changed", result: "new-uid" });
    expect(calls).toEqual([
      [
        "configApply",
        {
          source: "remote",
          result: "failed",
          reason: "validate-refused",
          phasesMs: { validate: 5 },
        },
      ],
      ["configApply", { source: "remote", result: "failed", reason: "rejected" }],
      ["rollback", "healthy"],
      ["configApply", { source: "local", result: "unchanged" }],
      ["packageInstall", "installed"],
      ["packageDownloaded", 2048],
      ["packageInstall", "failed"],
    ]);
    expect(spans[0]?.error).toBe(`bad: ${MASK}`);
    expect(spans.find((s) => s.name === "package install")?.phases).toEqual([
      { name: "download", durationMs: 10 },
      { name: "verify", durationMs: 2 },
    ]);
  });
});

describe("connection and collector observers", () => {
  it("counts every connecting after the first as a reconnect", () => {
    const { metrics, calls } = recording();
    const onState = connectionObserver(metrics);
    onState({ kind: "connecting", attempt: 1 });
    onState({ kind: "connected", transport: "ws", since: 0 });
    onState({ kind: "backoff", attempt: 1, delayMs: 10, reason: "lost" });
    onState({ kind: "connecting", attempt: 2 });
    expect(calls.filter((c) => c[0] === "reconnect")).toHaveLength(1);
    expect(calls.filter((c) => c[0] === "connectionState").map((c) => c[1])).toEqual([
      "connecting",
      "connected",
      "backoff",
      "connecting",
    ]);
  });

  it("counts runs after the first as restarts by cause and crashes by exit reason", () => {
    const { metrics, calls } = recording();
    const observer = collectorObserver(metrics);
    observer.started(0);
    observer.started(0);
    observer.crashed({ kind: "exit", exit: { code: 2, signal: null, tail: "" } });
    observer.crashed({ kind: "exit", exit: { code: null, signal: "SIGSEGV", tail: "" } });
    observer.crashed({ kind: "spawn", message: "ENOENT" });
    observer.started(1);
    observer.checked("starting");
    expect(calls).toEqual([
      ["collectorRestart", "requested"],
      ["collectorExit", { reason: "exit_code", code: 2 }],
      ["collectorExit", { reason: "signal", signal: "SIGSEGV" }],
      ["collectorExit", { reason: "start_failed" }],
      ["collectorRestart", "crash"],
      ["healthCheck", "starting"],
    ]);
  });
});

describe("countingWrites", () => {
  it("counts storage faults of writes, syncs and renames, and passes every error on", async () => {
    const { metrics, calls } = recording();
    const enospc = Object.assign(new Error("full"), { code: "ENOSPC" });
    const handle = {
      write: () => Promise.reject(enospc),
      close: () => Promise.resolve(),
    } as unknown as FileHandle;
    const fs = countingWrites(
      {
        open: () => Promise.resolve(handle),
        rename: () => Promise.reject(Object.assign(new Error("ro"), { code: "EROFS" })),
      },
      "state",
      metrics,
    );
    const opened = await fs.open();
    await expect(opened.write("x")).rejects.toBe(enospc);
    await opened.close();
    await expect(fs.rename()).rejects.toMatchObject({ code: "EROFS" });
    expect(calls).toEqual([
      ["stateWriteFailure", "state", "ENOSPC"],
      ["stateWriteFailure", "state", "EROFS"],
    ]);
  });
});

describe("the log bridge", () => {
  it("turns a pino line into a record: level, time, message and flat attributes", () => {
    const line = JSON.stringify({
      level: "warn",
      time,
      name: "opamp-supervisor",
      msg: "hello",
      component: "tls",
      n: 3,
      obj: { a: 1 },
    });
    expect(recordFromLine(line)).toEqual({
      timestamp: Date.parse(time),
      severityText: "WARN",
      body: "hello",
      attributes: { component: "tls", n: 3, obj: '{"a":1}' },
    });
    expect(recordFromLine("not json")).toBeUndefined();
  });

  it("never exports the SDK's own diagnostics (a failed export would be exported, fail, and feed itself)", () => {
    const diag = JSON.stringify({ level: "warn", time, msg: "export failed: 401", component: "telemetry" });
    expect(recordFromLine(diag)).toBeUndefined();
  });

  it("writes every line to the primary stream and, once attached, to the sink (early lines included)", () => {
    const primary: string[] = [];
    const sunk: string[] = [];
    const tee = teeDestination({ write: (l: string) => void primary.push(l) });
    tee.destination.write("one\n");
    tee.attach((l) => sunk.push(l));
    tee.destination.write("two\n");
    expect(primary).toEqual(["one\n", "two\n"]);
    expect(sunk).toEqual(["one\n", "two\n"]);
  });

  it("exporter header values join the masker's secrets", () => {
    const config = resolve(
      `${MINIMAL}telemetry:\n  traces:\n    processors: [{simple: {exporter: {otlp: {endpoint: "http://c", headers: [{name: authorization, value: "Bearer tok-9876543"}]}}}}]\n`,
    );
    const masker = createMasker(secretsOf(config));
    expect(masker.mask("sent tok-9876543 and Bearer tok-9876543")).toBe(`sent ${MASK} and ${MASK}`);
  });
});
