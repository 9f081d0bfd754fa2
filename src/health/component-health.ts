/** Maps what the supervisor knows about the collector to OpAMP ComponentHealth. */
import { ComponentHealthSchema, create } from "../opamp/codec.js";
import type { ComponentHealth } from "../opamp/codec.js";

export interface CollectorHealth {
  healthy: boolean;
  /** When the current collector process started (ms); undefined when it is not running. */
  startedAtMs: number | undefined;
  /** When this status was observed (ms). */
  observedAtMs: number;
  status: string;
  lastError?: string;
}

const msToNs = (ms: number): bigint => BigInt(Math.round(ms)) * 1_000_000n;

export function toComponentHealth(health: CollectorHealth): ComponentHealth {
  return create(ComponentHealthSchema, {
    healthy: health.healthy,
    // The spec wants 0 when the component is not running.
    startTimeUnixNano: health.startedAtMs === undefined ? 0n : msToNs(health.startedAtMs),
    statusTimeUnixNano: msToNs(health.observedAtMs),
    status: health.status,
    lastError: health.healthy ? "" : (health.lastError ?? "unhealthy"),
  });
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
