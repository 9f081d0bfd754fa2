/**
 * The vocabulary of CollectorProcess: its options, states and events.
 */
import type { ChildProcess } from "node:child_process";
import type { Deps } from "../deps.js";
import type { StateDir } from "../storage/state-dir.js";
import type { ExitResult } from "./exit.js";
import type { OutputCapture } from "./output.js";
import type { RestartPolicyOptions } from "./restart-policy.js";
import type { DeathSignalOption } from "./spawn.js";

/** One spawned child and what we know about it. */
export interface ChildRun {
  readonly pid: number;
  readonly process: ChildProcess;
  readonly output: OutputCapture;
  /** Resolves with the exit and the output tail once the process has exited. */
  readonly exit: Promise<ExitResult>;
  /** Set by expectExit(): the next exit is the caller's to handle, no auto restart. */
  exitExpected: boolean;
}

/** Each state carries only the data that exists in it. */
export type CollectorState =
  | { id: "stopped" }
  | { id: "starting"; child: ChildRun; since: number }
  | { id: "running"; child: ChildRun; since: number; healthySeen: boolean }
  | { id: "stopping"; child: ChildRun }
  | { id: "backoff"; until: number; attempt: number }
  | { id: "crashed"; exit: ExitResult };

export interface CollectorEvents {
  state: CollectorState;
  /** A child is running; `attempt` is 0 for start(), n for the n-th automatic restart. */
  started: { pid: number; attempt: number };
  /** Every exit; `expected` after stop(), kill() or expectExit(). */
  exit: ExitResult & { expected: boolean };
  /** An unexpected exit (or failed restart) that will be retried after `delayMs`. */
  crashed: { exit: ExitResult; attempt: number; delayMs: number };
  /** The backoff delay is over; the collector is being started again. */
  restarting: { attempt: number };
}

/** passthrough: lines go to the supervisor logger; file: appended to `path` (default collector.log in the state dir). */
export type OutputMode = { mode: "passthrough" } | { mode: "file"; path?: string } | { mode: "discard" };

export interface CollectorProcessOptions {
  executable: string;
  args?: readonly string[];
  env?: Readonly<Record<string, string>>;
  cwd?: string;
  /** Where the pidfile (and, in file mode, collector.log) live; no pidfile without it. */
  stateDir?: StateDir;
  /** Default passthrough. */
  output?: OutputMode;
  /** Bytes of recent output kept for error reports. Default 16 KiB. */
  tailBytes?: number;
  /** SIGTERM grace period for stop(). Default 10 s. */
  stopTimeoutMs?: number;
  restartPolicy?: Partial<RestartPolicyOptions>;
  /** Parent-death protection via setpriv; default "auto". */
  deathSignal?: DeathSignalOption;
  deps: Deps;
}

export interface StartOptions {
  /** Restart automatically after an unexpected exit. Default true. */
  autoRestart?: boolean;
}

export type ReloadResult = { ok: true } | { ok: false; reason: "not-running" | "not-healthy-yet" };
