/**
 * Reconnect delays: exponential growth with jitter, capped, never shorter than what the
 * server asked for. Pure; the caller supplies randomness.
 */
export interface BackoffOptions {
  /** First retry delay before jitter (default 500 ms). */
  initialMs: number;
  /** Upper bound before jitter (default 60 s). */
  maxMs: number;
  /** Growth per attempt (default 1.5). */
  multiplier: number;
  /** Each delay is scaled by U(1 - jitter, 1 + jitter) (default 0.5). */
  jitter: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 500, maxMs: 60_000, multiplier: 1.5, jitter: 0.5 };

/** Delay before retry number `attempt` (0-based), at least `floorMs`. */
export function backoffDelay(attempt: number, options: BackoffOptions, random: () => number, floorMs = 0): number {
  const base = Math.min(options.maxMs, options.initialMs * options.multiplier ** attempt);
  const factor = 1 - options.jitter + 2 * options.jitter * random();
  return Math.max(floorMs, Math.round(base * factor));
}

/**
 * Delay before reconnecting after a connection ended (`failures` so far, at least `floorMs`).
 * A connection that had been fine is retried at once; a flapping or failed one backs off.
 * "At once" is spread over up to one initial delay, so a server restart is not met by its
 * whole fleet in the same instant.
 */
export function reconnectDelay(
  failures: number,
  established: boolean,
  options: BackoffOptions,
  random: () => number,
  floorMs: number,
): number {
  if (established && failures === 0 && floorMs === 0) return Math.round(options.initialMs * random());
  return backoffDelay(failures, options, random, floorMs);
}

/**
 * Parses an HTTP Retry-After value: delay-seconds or an HTTP date. Returns milliseconds
 * from `nowMs`, or undefined when the header is absent or unreadable.
 */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}
