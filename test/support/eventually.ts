/**
 * The one "poll until" helper of the test suite: calls `check` (sync or async) every
 * `everyMs` until it returns something other than undefined, null or false, and returns
 * that; fails after `timeoutMs` naming what it waited for and the last value or error.
 * Real time on purpose: it waits for other processes and sockets, never for a fake clock.
 */
export interface EventuallyOptions {
  timeoutMs?: number;
  everyMs?: number;
  /** Named in the timeout error. */
  what?: string;
  /** Treat a throwing check as "not yet" (default: the error fails at once). */
  retryErrors?: boolean;
}

type Pending = undefined | null | false;

export async function eventually<T>(
  check: () => T | Pending | Promise<T | Pending>,
  options: EventuallyOptions | number = {},
  what?: string,
): Promise<T> {
  const o: EventuallyOptions =
    typeof options === "number" ? { timeoutMs: options, ...(what !== undefined ? { what } : {}) } : options;
  const timeoutMs = o.timeoutMs ?? 5_000;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== null && value !== false) return value;
    } catch (err) {
      if (!o.retryErrors) throw err;
      lastError = err;
    }
    if (Date.now() > deadline) {
      const last =
        lastError !== undefined
          ? `; last error: ${lastError instanceof Error ? lastError.message : JSON.stringify(lastError)}`
          : "";
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${o.what ?? "a condition"}${last}`);
    }
    await new Promise((resolve) => setTimeout(resolve, o.everyMs ?? 10));
  }
}
