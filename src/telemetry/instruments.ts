/**
 * SupervisorMetrics over an OpenTelemetry Meter. Loaded only with the SDK (sdk.ts); the
 * rest of the code sees the interface in metrics.ts.
 */
import type { Attributes, Meter } from "@opentelemetry/api";
import { METRICS, type ConnectionStateKind, type SupervisorMetrics } from "./metrics.js";

const STATES: readonly ConnectionStateKind[] = ["idle", "connecting", "connected", "backoff", "closed"];

/** Phase durations are short (validate ~100 ms) to long (a health window of a minute). */
const DURATION_BUCKETS_S = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

export function createInstruments(meter: Meter): SupervisorMetrics {
  const counter = (spec: { name: string; unit: string; description: string }) =>
    meter.createCounter(spec.name, { unit: spec.unit, description: spec.description });
  const reconnects = counter(METRICS.reconnects);
  const messagesSent = counter(METRICS.messagesSent);
  const messagesReceived = counter(METRICS.messagesReceived);
  const bytesSent = counter(METRICS.bytesSent);
  const bytesReceived = counter(METRICS.bytesReceived);
  const applies = counter(METRICS.configApplies);
  const rollbacks = counter(METRICS.rollbacks);
  const healthChecks = counter(METRICS.healthChecks);
  const restarts = counter(METRICS.collectorRestarts);
  const exits = counter(METRICS.collectorExits);
  const installs = counter(METRICS.packageInstalls);
  const downloaded = counter(METRICS.packageDownloaded);
  const writeFailures = counter(METRICS.stateWriteFailures);
  const applyDuration = meter.createHistogram(METRICS.configApplyDuration.name, {
    unit: METRICS.configApplyDuration.unit,
    description: METRICS.configApplyDuration.description,
    advice: { explicitBucketBoundaries: DURATION_BUCKETS_S },
  });

  // Gauges are read at collection time from the last value seen.
  let state: ConnectionStateKind = "idle";
  let notAfterS: number | undefined;
  const stateGauge = meter.createObservableGauge(METRICS.connectionState.name, {
    unit: METRICS.connectionState.unit,
    description: METRICS.connectionState.description,
  });
  stateGauge.addCallback((result) => {
    for (const kind of STATES) result.observe(kind === state ? 1 : 0, { state: kind });
  });
  const expiryGauge = meter.createObservableGauge(METRICS.certificateExpiry.name, {
    unit: METRICS.certificateExpiry.unit,
    description: METRICS.certificateExpiry.description,
  });
  expiryGauge.addCallback((result) => {
    if (notAfterS !== undefined) result.observe(notAfterS);
  });

  return {
    connectionState: (kind) => {
      state = kind;
    },
    reconnect: () => reconnects.add(1),
    messageSent: (bytes) => {
      messagesSent.add(1);
      bytesSent.add(bytes);
    },
    messageReceived: (bytes) => {
      messagesReceived.add(1);
      bytesReceived.add(bytes);
    },
    configApply: (record) => {
      const attributes: Attributes = { source: record.source, result: record.result };
      applies.add(1, record.reason === undefined ? attributes : { ...attributes, reason: record.reason });
      for (const [phase, ms] of Object.entries(record.phasesMs ?? {}))
        applyDuration.record(ms / 1000, { ...attributes, phase });
    },
    rollback: (result) => rollbacks.add(1, { result }),
    healthCheck: (result) => healthChecks.add(1, { result }),
    collectorRestart: (cause) => restarts.add(1, { cause }),
    collectorExit: (exit) => {
      switch (exit.reason) {
        case "exit_code":
          exits.add(1, { reason: exit.reason, code: String(exit.code) });
          return;
        case "signal":
          exits.add(1, { reason: exit.reason, code: exit.signal });
          return;
        case "start_failed":
          exits.add(1, { reason: exit.reason });
          return;
      }
    },
    packageInstall: (result) => installs.add(1, { result }),
    packageDownloaded: (bytes) => downloaded.add(bytes),
    certificateExpiry: (ms) => {
      notAfterS = ms === undefined ? undefined : Math.floor(ms / 1000);
    },
    stateWriteFailure: (file, code) => writeFailures.add(1, { file, code }),
  };
}
