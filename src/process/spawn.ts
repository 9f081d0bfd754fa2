/**
 * Starting the collector child.
 *
 * - Own process group (`detached: true` makes the child a session and group leader), so
 *   stop/kill can signal the collector together with anything it started: `kill(-pid)`.
 * - No orphans: on Linux the command is wrapped as `setpriv --pdeathsig SIGKILL -- <exe> …`.
 *   setpriv sets PR_SET_PDEATHSIG and execs the collector in the same process (same pid);
 *   the setting survives execve for a binary that is not set-uid/set-gid/file-capable, so
 *   the kernel SIGKILLs the collector when the supervisor dies, even by SIGKILL, where no
 *   cleanup code of ours can run. (prctl(2): the signal fires when the parent *thread*
 *   exits; libuv spawns from the main thread, which lives as long as the process.)
 *   Residual gap: if the supervisor dies in the microseconds between fork and setpriv's
 *   prctl call, the child is not covered; reapLeftover (pidfile.ts) cleans that up on the
 *   next start.
 *
 * node:child_process is used directly rather than execa: this child lives for days, we
 * signal its process group ourselves, and we stream its output line by line.
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { constants as fsConstants } from "node:fs";
import * as fsp from "node:fs/promises";
import { delimiter, join } from "node:path";
import { ProcessError } from "../errors.js";
import { hasExited } from "./exit.js";

/** Parent-death protection: "auto" finds setpriv on Linux, false disables, or a path to use. */
export type DeathSignalOption = "auto" | false | { setprivPath: string };

export interface CollectorCommandOptions {
  executable: string;
  /** Operator-configured arguments (feature gates, --set …). */
  args?: readonly string[];
  /** Each becomes `--config <path>`, in order (later files win in the collector's merge). */
  configPaths: readonly string[];
}

export interface SpawnCollectorOptions extends CollectorCommandOptions {
  /** Added to (and overriding) `baseEnv`. */
  env?: Readonly<Record<string, string>>;
  /** Default: the supervisor's own environment. */
  baseEnv?: Readonly<Record<string, string | undefined>>;
  cwd?: string;
  /** Default "auto". */
  deathSignal?: DeathSignalOption;
}

export interface CollectorCommand {
  file: string;
  args: string[];
  /** True when the command is wrapped in setpriv for parent-death protection. */
  deathSignal: boolean;
}

export interface SpawnedCollector {
  child: ChildProcess;
  pid: number;
  command: CollectorCommand;
}

/** The collector's argv after the executable: configured args, then one --config per file. */
export function collectorArgs(options: CollectorCommandOptions): string[] {
  return [...(options.args ?? []), ...options.configPaths.flatMap((path) => ["--config", path])];
}

/** The exact file and argv to spawn, wrapped in setpriv when `setprivPath` is given. */
export function buildCommand(options: CollectorCommandOptions, setprivPath?: string): CollectorCommand {
  const args = collectorArgs(options);
  if (setprivPath === undefined) return { file: options.executable, args, deathSignal: false };
  return {
    file: setprivPath,
    args: ["--pdeathsig", "SIGKILL", "--", options.executable, ...args],
    deathSignal: true,
  };
}

let setprivLookup: Promise<string | undefined> | undefined;

/** Path of an executable `setpriv` (/usr/bin first, then PATH), or undefined; Linux only. */
export function findSetpriv(): Promise<string | undefined> {
  setprivLookup ??= (async () => {
    if (process.platform !== "linux") return undefined;
    const dirs = ["/usr/bin", ...(process.env["PATH"] ?? "").split(delimiter).filter((d) => d !== "")];
    for (const dir of dirs) {
      const candidate = join(dir, "setpriv");
      if (await isExecutable(candidate)) return candidate;
    }
    return undefined;
  })();
  return setprivLookup;
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    await fsp.access(path, fsConstants.X_OK);
    return (await fsp.stat(path)).isFile();
  } catch {
    return false;
  }
}

async function resolveSetpriv(option: DeathSignalOption): Promise<string | undefined> {
  if (option === false) return undefined;
  if (option === "auto") return findSetpriv();
  return option.setprivPath;
}

/**
 * Spawns the collector and resolves once the OS has started it. Throws ProcessError
 * SPAWN_FAILED when the executable cannot be run. stdout and stderr are pipes; stdin is
 * closed.
 */
export async function spawnCollector(options: SpawnCollectorOptions): Promise<SpawnedCollector> {
  // Behind setpriv a missing binary would surface as "exit 127"; check first for a clear error.
  if (options.executable.includes("/") && !(await isExecutable(options.executable))) {
    throw new ProcessError("SPAWN_FAILED", `collector executable ${options.executable} is missing or not executable`);
  }
  const command = buildCommand(options, await resolveSetpriv(options.deathSignal ?? "auto"));
  const env = { ...(options.baseEnv ?? process.env), ...options.env };
  let child: ChildProcess;
  try {
    child = spawn(command.file, command.args, {
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      env,
      ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
    });
  } catch (err) {
    throw new ProcessError("SPAWN_FAILED", `cannot start ${options.executable}: ${String(err)}`, { cause: err });
  }
  await new Promise<void>((resolve, reject) => {
    const onSpawn = (): void => {
      child.off("error", onError);
      resolve();
    };
    const onError = (err: Error): void => {
      child.off("spawn", onSpawn);
      reject(new ProcessError("SPAWN_FAILED", `cannot start ${options.executable}: ${err.message}`, { cause: err }));
    };
    child.once("spawn", onSpawn);
    child.once("error", onError);
  });
  if (child.pid === undefined) throw new ProcessError("SPAWN_FAILED", `no pid for ${options.executable}`);
  return { child, pid: child.pid, command };
}

/**
 * Sends `signal` to the child's whole process group. Returns false when the child has
 * already exited (after reaping, its pid may be reused, so nothing is sent).
 */
export function signalProcessGroup(child: ChildProcess, signal: NodeJS.Signals): boolean {
  if (child.pid === undefined || hasExited(child)) return false;
  try {
    process.kill(-child.pid, signal);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ESRCH") throw err;
    // Not a group leader (spawned without `detached`): signal the process itself.
    return child.kill(signal);
  }
}
