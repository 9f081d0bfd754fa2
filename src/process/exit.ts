/**
 * How a collector run ended, and the one place that turns that into words for status
 * reports and logs.
 */
import type { ChildProcess } from "node:child_process";
import { ProcessError } from "../errors.js";

/** Exit code and terminating signal exactly as the kernel reported them. */
export interface ExitStatus {
  /** Exit code, or null when the process was ended by a signal. */
  code: number | null;
  /** Terminating signal name, or null when the process exited by itself. */
  signal: NodeJS.Signals | null;
}

/** An exit plus the last output of the run, for error reports. */
export interface ExitResult extends ExitStatus {
  /** The bounded tail of stdout and stderr (see output.ts); may be empty. */
  tail: string;
}

/** True once Node has reaped the child (its pid may then belong to someone else). */
export function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** Resolves with the child's exit status; immediately if it has already exited. */
export function waitForExit(child: ChildProcess): Promise<ExitStatus> {
  if (hasExited(child)) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => {
    child.once("exit", (code, signal) => resolve({ code, signal }));
  });
}

export interface FormatExitOptions {
  /** How many tail lines to include. Default 10. */
  maxLines?: number;
}

/** "exited with code 2", "killed by signal SIGKILL"; no tail. */
export function describeExitStatus(status: ExitStatus): string {
  if (status.signal !== null) return `killed by signal ${status.signal}`;
  if (status.code !== null) return `exited with code ${status.code}`;
  return "exited";
}

/** "exited with code 2: <last lines>" — the text a FAILED status or a log line carries. */
export function formatExit(exit: ExitResult, options: FormatExitOptions = {}): string {
  const head = describeExitStatus(exit);
  const tail = lastLines(exit.tail, options.maxLines ?? 10);
  return tail === "" ? head : `${head}: ${tail}`;
}

/** The last `n` non-empty lines of `text`, joined with newlines. */
export function lastLines(text: string, n: number): string {
  if (n <= 0) return "";
  const lines = text.split("\n").filter((line) => line.trim() !== "");
  return lines.slice(-n).join("\n");
}

/** A typed error for an exit the caller did not expect. */
export function exitError(exit: ExitResult, what = "collector"): ProcessError {
  return new ProcessError("PROCESS_EXITED", `${what} ${formatExit(exit)}`, {
    exitCode: exit.code,
    signal: exit.signal,
  });
}
