/**
 * Narrow interfaces for everything that touches time, randomness and logging, so tests can
 * drive them. Production wiring is `createDefaultDeps()`; nothing else reads globals.
 */
import { setTimeout as delay } from "node:timers/promises";
import { abortError } from "./errors.js";

export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** Resolves after `ms`; rejects with an ABORTED error when `signal` aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** The subset of a pino logger the supervisor uses; tests pass a recording one. */
export interface Logger {
  debug(obj: object | string, msg?: string): void;
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
  child(bindings: Record<string, unknown>): Logger;
}

export interface Deps {
  clock: Clock;
  /** Uniform in [0, 1); used for backoff jitter. */
  random: () => number;
  logger: Logger;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) throw abortError(signal);
    try {
      await delay(Math.max(0, ms), undefined, signal ? { signal } : {});
    } catch (err) {
      if (signal?.aborted) throw abortError(signal);
      throw err;
    }
  },
};

/** A logger that drops everything; for library use where the caller passes none. */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return silentLogger;
  },
};
