/**
 * The one way the supervisor runs a child process: execa, loaded lazily.
 *
 * execa gives us the timeout, the cancel signal, the SIGTERM → SIGKILL escalation
 * (`forceKillAfterDelay`) and typed results, so none of that is hand-written with timers.
 * Importing it costs tens of milliseconds, so it is loaded on first use; `preloadSpawner()`
 * starts that import early (in parallel with config loading) so the first spawn does not
 * wait for it.
 *
 * `Spawner` is the seam in `Deps`: tests inject one that fails or records.
 */
import type { Readable } from "node:stream";
import { ProcessError } from "../errors.js";
import type { ExitStatus } from "./exit.js";

export interface SpawnRequest {
  file: string;
  args: readonly string[];
  /** The complete environment of the child (nothing is inherited besides this). */
  env: Readonly<Record<string, string | undefined>>;
  cwd?: string;
  /** Own process group (and session): the child can be signalled with everything it started. */
  detached?: boolean;
  /** Kill the child (SIGTERM, then SIGKILL after `forceKillAfterMs`) after this long. */
  timeoutMs?: number;
  /** Aborting kills the child the same way. */
  cancelSignal?: AbortSignal;
  /** Grace between SIGTERM and SIGKILL, for kill(), the timeout and the cancel signal. */
  forceKillAfterMs: number;
  /**
   * true: stdout/stderr are collected (up to `maxBufferBytes`) into the result.
   * false: the caller reads the `stdout`/`stderr` streams (a long-running child).
   */
  buffer: boolean;
  maxBufferBytes?: number;
}

/** How a child ended, exactly as the kernel and execa reported it. */
export interface ChildOutcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Collected output (empty when `buffer` was false), without the final newline. */
  stdout: string;
  stderr: string;
  timedOut: boolean;
  canceled: boolean;
  /** SIGKILL was needed after SIGTERM. */
  forced: boolean;
}

export interface SpawnedChild {
  readonly pid: number;
  readonly stdout: Readable;
  readonly stderr: Readable;
  /** Signals the child (not its group); SIGTERM escalates to SIGKILL after `forceKillAfterMs`. */
  kill(signal: NodeJS.Signals): boolean;
  /** True once the child has exited (its pid may then be reused). */
  hasExited(): boolean;
  /** Settles when the child itself has exited (its output pipes may still be open). */
  readonly exitStatus: Promise<ExitStatus>;
  /** Settles once the child has exited and its output is complete; never rejects. */
  readonly outcome: Promise<ChildOutcome>;
}

/** Starts a child and resolves once the OS has started it; rejects with ProcessError SPAWN_FAILED. */
export type Spawner = (request: SpawnRequest) => Promise<SpawnedChild>;

type ExecaModule = typeof import("execa");
let loading: Promise<ExecaModule> | undefined;

/** Starts loading execa now; harmless to call more than once. */
export function preloadSpawner(): void {
  void loadExeca().catch(() => undefined); // a load failure surfaces at the first spawn
}

function loadExeca(): Promise<ExecaModule> {
  loading ??= import("execa");
  return loading;
}

export const execaSpawner: Spawner = async (request) => {
  const { execa } = await loadExeca();
  const subprocess = execa(request.file, [...request.args], {
    env: request.env,
    extendEnv: false,
    ...(request.cwd !== undefined ? { cwd: request.cwd } : {}),
    detached: request.detached ?? false,
    // A detached collector is stopped by us (and by its parent-death signal), not by execa's exit hook.
    cleanup: !(request.detached ?? false),
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    buffer: request.buffer,
    ...(request.maxBufferBytes !== undefined ? { maxBuffer: request.maxBufferBytes } : {}),
    ...(request.timeoutMs !== undefined ? { timeout: request.timeoutMs } : {}),
    ...(request.cancelSignal ? { cancelSignal: request.cancelSignal } : {}),
    forceKillAfterDelay: request.forceKillAfterMs,
    killSignal: "SIGTERM",
    reject: false,
    stripFinalNewline: true,
  });
  const outcome: Promise<ChildOutcome> = subprocess.then((result) => ({
    code: result.exitCode ?? null,
    signal: result.signal ?? null,
    stdout: typeof result.stdout === "string" ? result.stdout : "",
    stderr: typeof result.stderr === "string" ? result.stderr : "",
    timedOut: result.timedOut,
    canceled: result.isCanceled,
    forced: result.isForcefullyTerminated,
  }));
  await new Promise<void>((resolve, reject) => {
    const onSpawn = (): void => {
      subprocess.off("error", onError);
      resolve();
    };
    const onError = (err: NodeJS.ErrnoException): void => {
      subprocess.off("spawn", onSpawn);
      reject(spawnFailed(request.file, err));
    };
    subprocess.once("spawn", onSpawn);
    subprocess.once("error", onError);
  });
  const pid = subprocess.pid;
  if (pid === undefined) throw new ProcessError("SPAWN_FAILED", `no pid for ${request.file}`);
  const exitStatus = new Promise<ExitStatus>((resolve) => {
    if (subprocess.exitCode !== null || subprocess.signalCode !== null) {
      resolve({ code: subprocess.exitCode, signal: subprocess.signalCode });
      return;
    }
    subprocess.once("exit", (code, signal) => resolve({ code, signal }));
  });
  return {
    exitStatus,
    pid,
    stdout: subprocess.stdout,
    stderr: subprocess.stderr,
    kill: (signal) => subprocess.kill(signal),
    hasExited: () => subprocess.exitCode !== null || subprocess.signalCode !== null,
    outcome,
  };
};

/** "cannot run /usr/bin/otelcol: ENOENT (no such file or directory)": the OS reason, for the server too. */
export function spawnFailed(file: string, err: NodeJS.ErrnoException): ProcessError {
  return new ProcessError("SPAWN_FAILED", `cannot run ${file}: ${osReason(err)}`, { cause: err });
}

const OS_WORDS: Readonly<Record<string, string>> = {
  ENOENT: "no such file or directory",
  EACCES: "permission denied",
  ENOEXEC: "exec format error",
  ENOTDIR: "not a directory",
  EISDIR: "is a directory",
  ELOOP: "too many symbolic links",
  EIO: "input/output error",
  ENOSPC: "no space left on device",
  EROFS: "read-only file system",
};

/** The errno code with its words, e.g. "EACCES (permission denied)". */
export function osReason(err: NodeJS.ErrnoException): string {
  const code = err.code;
  if (code === undefined) return err.message;
  return `${code} (${OS_WORDS[code] ?? err.message.replace(/^.*?: /, "")})`;
}
