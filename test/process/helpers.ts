/**
 * Test helpers for src/process: temp dirs, tiny executable fixture programs, a fake clock
 * and a recording logger.
 */
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach } from "vitest";
import type { Clock, Logger } from "../../src/deps.js";
import { abortError } from "../../src/errors.js";
import { eventually } from "../support/eventually.js";

const cleanups: Array<() => Promise<void> | void> = [];

afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

/** Registers a teardown step that runs after the current test. */
export function onCleanup(fn: () => Promise<void> | void): void {
  cleanups.push(fn);
}

export async function tempDir(prefix = "proc-test-"): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  onCleanup(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Writes `source` as an executable Node script (shebang = this Node) and returns its path. */
export async function writeProgram(dir: string, name: string, source: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, `#!${process.execPath}\n${source}\n`);
  await chmod(path, 0o755);
  return path;
}

/** Kills `pid` (ignoring a missing process) at the end of the test. */
export function killAtCleanup(pid: number | undefined): void {
  if (pid === undefined) return;
  onCleanup(() => {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  });
}

/** Resolves when `predicate` holds; rejects after `timeoutMs`. */
export async function waitFor(predicate: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  await eventually(predicate, { timeoutMs, what: "the condition" });
}

/** True when a process with `pid` exists and is not a zombie. */
export async function isAlive(pid: number): Promise<boolean> {
  const { readFile } = await import("node:fs/promises");
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0];
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

interface Sleeper {
  until: number;
  resolve: () => void;
}

/** A clock whose sleeps resolve only when the test advances time. */
export class FakeClock implements Clock {
  time = 1_700_000_000_000;
  readonly sleeps: number[] = [];
  #sleepers: Sleeper[] = [];

  now(): number {
    return this.time;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(abortError(signal));
    this.sleeps.push(ms);
    return new Promise((resolve, reject) => {
      const sleeper: Sleeper = {
        until: this.time + ms,
        resolve: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
      };
      const onAbort = (): void => {
        this.#sleepers = this.#sleepers.filter((s) => s !== sleeper);
        reject(abortError(signal as AbortSignal));
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#sleepers.push(sleeper);
    });
  }

  get pending(): number {
    return this.#sleepers.length;
  }

  advance(ms: number): void {
    this.time += ms;
    const due = this.#sleepers.filter((s) => s.until <= this.time);
    this.#sleepers = this.#sleepers.filter((s) => s.until > this.time);
    for (const s of due) s.resolve();
  }
}

export interface LogRecord {
  level: "debug" | "info" | "warn" | "error";
  bindings: Record<string, unknown>;
  obj: object | string;
  msg: string | undefined;
}

/** A logger that records every call together with its child bindings. */
export function recordingLogger(
  records: LogRecord[] = [],
  bindings: Record<string, unknown> = {},
): Logger & { records: LogRecord[] } {
  const log =
    (level: LogRecord["level"]) =>
    (obj: object | string, msg?: string): void => {
      records.push({ level, bindings, obj, msg });
    };
  return {
    records,
    debug: log("debug"),
    info: log("info"),
    warn: log("warn"),
    error: log("error"),
    child: (more) => recordingLogger(records, { ...bindings, ...more }),
  };
}
