/**
 * Narrow interfaces for everything that touches time, randomness, logging, the filesystem
 * and child processes, so tests can drive them (and inject faults). Production wiring is
 * `createDefaultDeps()`; nothing else reads globals.
 */
import * as fsp from "node:fs/promises";
import { setTimeout as delay } from "node:timers/promises";
import { abortError } from "./errors.js";
import { execaSpawner } from "./process/spawner.js";
import type { Spawner } from "./process/spawner.js";

export type { Spawner } from "./process/spawner.js";
export { execaSpawner } from "./process/spawner.js";

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

/** The filesystem calls the collector controller and its drivers make. */
export interface FileSystem {
  readFile: typeof fsp.readFile;
  access: typeof fsp.access;
  stat: typeof fsp.stat;
  rename: typeof fsp.rename;
}

export const nodeFileSystem: FileSystem = {
  readFile: fsp.readFile,
  access: fsp.access,
  stat: fsp.stat,
  rename: fsp.rename,
};

export interface Deps {
  clock: Clock;
  /** Uniform in [0, 1); used for backoff jitter. */
  random: () => number;
  logger: Logger;
  fs: FileSystem;
  /** Starts child processes (the collector, validate, --version). */
  spawn: Spawner;
}

/** The production wiring; `overrides` replace single seams (tests, a configured logger). */
export function createDefaultDeps(overrides: Partial<Deps> = {}): Deps {
  return {
    clock: systemClock,
    random: Math.random,
    logger: silentLogger,
    fs: nodeFileSystem,
    spawn: execaSpawner,
    ...overrides,
  };
}

export const systemClock: Clock = {
  now: () => Date.now(),
  async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) throw abortError(signal);
    // Node fires a timer over 2^31-1 ms after 1 ms (with a warning): wait in chunks instead,
    // so a far-off deadline (a certificate renewal months ahead) is not a busy loop.
    let left = Math.max(0, ms);
    do {
      const step = Math.min(left, MAX_TIMER_MS);
      try {
        await delay(step, undefined, signal ? { signal } : {});
      } catch (err) {
        if (signal?.aborted) throw abortError(signal);
        throw err;
      }
      left -= step;
    } while (left > 0);
  },
};

/** The longest delay a Node timer honours. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

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
