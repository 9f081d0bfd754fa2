/**
 * Stopping a child: SIGTERM to its process group, wait up to a deadline, then SIGKILL.
 * Awaits the child's exit event instead of polling its pid.
 */
import type { ChildProcess } from "node:child_process";
import type { Clock } from "../deps.js";
import { systemClock } from "../deps.js";
import type { ExitStatus } from "./exit.js";
import { hasExited, waitForExit } from "./exit.js";
import { signalProcessGroup } from "./spawn.js";

export const DEFAULT_STOP_TIMEOUT_MS = 10_000;

export interface StopProcessOptions {
  /** How long SIGTERM gets before SIGKILL. 0 sends SIGKILL at once. */
  timeoutMs: number;
  /** Aborting skips the rest of the graceful wait and sends SIGKILL now. */
  signal?: AbortSignal;
  clock?: Clock;
}

/** What happened during a stop; useful in logs. */
export interface StopOutcome extends ExitStatus {
  /** True when SIGKILL had to be sent. */
  forced: boolean;
}

const inFlight = new WeakMap<ChildProcess, Promise<StopOutcome>>();

/**
 * Stops `child` and its process group; resolves with the exit status. Idempotent: a call
 * while a stop is in progress joins it, and a call after the child exited resolves at once.
 */
export function stopProcess(child: ChildProcess, options: StopProcessOptions): Promise<StopOutcome> {
  const existing = inFlight.get(child);
  if (existing) return existing;
  const running = runStop(child, options);
  inFlight.set(child, running);
  return running;
}

/** SIGKILLs the group now (joining or escalating a graceful stop) and resolves on exit. */
export async function killProcess(child: ChildProcess): Promise<StopOutcome> {
  const graceful = inFlight.get(child);
  const forced = signalProcessGroup(child, "SIGKILL");
  const status = await waitForExit(child);
  if (graceful) return graceful;
  return { ...status, forced };
}

async function runStop(child: ChildProcess, options: StopProcessOptions): Promise<StopOutcome> {
  const clock = options.clock ?? systemClock;
  const exited = waitForExit(child);
  if (hasExited(child)) return { ...(await exited), forced: false };

  if (options.timeoutMs > 0 && !options.signal?.aborted) {
    signalProcessGroup(child, "SIGTERM");
    // The deadline timer is cancelled as soon as the child exits.
    const done = new AbortController();
    const deadline = clock
      .sleep(options.timeoutMs, options.signal ? AbortSignal.any([options.signal, done.signal]) : done.signal)
      .then(
        () => "deadline" as const,
        () => "aborted" as const,
      );
    const first = await Promise.race([exited.then(() => "exited" as const), deadline]);
    done.abort();
    if (first === "exited") return { ...(await exited), forced: false };
  }
  const forced = signalProcessGroup(child, "SIGKILL");
  return { ...(await exited), forced };
}
