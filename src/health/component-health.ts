/** Maps what the supervisor knows about the collector to OpAMP ComponentHealth. */
import type { ComponentHealth } from "../opamp/domain.js";

export interface CollectorHealth {
  healthy: boolean;
  /** When the current collector process started (ms); undefined when it is not running. */
  startedAtMs: number | undefined;
  /** When this status was observed (ms). */
  observedAtMs: number;
  status: string;
  lastError?: string;
}

export function toComponentHealth(health: CollectorHealth): ComponentHealth {
  return {
    healthy: health.healthy,
    startedAtMs: health.startedAtMs,
    observedAtMs: health.observedAtMs,
    status: health.status,
    lastError: health.healthy ? "" : (health.lastError ?? "unhealthy"),
  };
}

/** Two health values that differ only in observation time are the same news. */
export function sameHealth(a: CollectorHealth | undefined, b: CollectorHealth): boolean {
  return (
    a !== undefined &&
    a.healthy === b.healthy &&
    a.startedAtMs === b.startedAtMs &&
    a.status === b.status &&
    (a.lastError ?? "") === (b.lastError ?? "")
  );
}
