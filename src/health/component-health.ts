/** Maps what the supervisor knows about the collector to OpAMP ComponentHealth. */
import type { ComponentHealth } from "../opamp/domain.js";
import type { StatusV2 } from "./status-v2.js";

export interface CollectorHealth {
  healthy: boolean;
  /** When the current collector process started (ms); undefined when it is not running. */
  startedAtMs: number | undefined;
  /** When this status was observed (ms). */
  observedAtMs: number;
  status: string;
  lastError?: string;
  /** healthcheckv2's per-pipeline status ("pipeline:traces" → "exporter:otlp" …); absent with health_check. */
  components?: Readonly<Record<string, ComponentHealth>>;
}

export function toComponentHealth(health: CollectorHealth): ComponentHealth {
  const out: ComponentHealth = {
    healthy: health.healthy,
    startedAtMs: health.startedAtMs,
    observedAtMs: health.observedAtMs,
    status: health.status,
    // Healthy means no error, except while degraded (up, but an exporter failing): then its error.
    lastError: health.healthy
      ? health.status === "StatusOK"
        ? ""
        : (health.lastError ?? "")
      : (health.lastError ?? "unhealthy"),
  };
  return health.components !== undefined ? { ...out, components: health.components } : out;
}

/**
 * A running collector's health from one check: with healthcheckv2 detail, its overall status
 * and error and the component map; the check's verdict (the HTTP status) decides `healthy`.
 */
export function runningHealth(
  check: { healthy: boolean; error?: string; detail?: StatusV2 },
  base: { startedAtMs: number; observedAtMs: number },
): CollectorHealth {
  const detail = check.detail;
  if (check.healthy) {
    if (!detail) return { healthy: true, ...base, status: "StatusOK" };
    const error = detail.error !== undefined ? { lastError: detail.error } : {};
    return { healthy: true, ...base, status: detail.status, ...error, components: detail.components };
  }
  const health: CollectorHealth = {
    healthy: false,
    ...base,
    status: detail?.status ?? "StatusRecoverableError",
    lastError: check.error ?? "unhealthy",
  };
  return detail ? { ...health, components: detail.components } : health;
}

/** Two health values that differ only in observation time are the same news. */
export function sameHealth(a: CollectorHealth | undefined, b: CollectorHealth): boolean {
  return (
    a !== undefined &&
    a.healthy === b.healthy &&
    a.startedAtMs === b.startedAtMs &&
    a.status === b.status &&
    (a.lastError ?? "") === (b.lastError ?? "") &&
    // Component status times change only with their status: the maps compare as written.
    JSON.stringify(a.components) === JSON.stringify(b.components)
  );
}
