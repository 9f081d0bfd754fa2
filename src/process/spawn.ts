/**
 * The collector's command line, and its parent-death protection.
 *
 * No orphans: on Linux the command is wrapped as `setpriv --pdeathsig SIGKILL -- <exe> …`.
 * setpriv sets PR_SET_PDEATHSIG and execs the collector in the same process (same pid); the
 * setting survives execve for a binary that is not set-uid/set-gid/file-capable, so the
 * kernel SIGKILLs the collector when the supervisor dies, even by SIGKILL, where no cleanup
 * code of ours can run. (prctl(2): the signal fires when the parent *thread* exits; libuv
 * spawns from the main thread, which lives as long as the process.) Residual gap: if the
 * supervisor dies in the microseconds between fork and setpriv's prctl call, the child is
 * not covered; reapLeftover (pidfile.ts) cleans that up on the next start.
 */
import { constants as fsConstants } from "node:fs";
import * as fsp from "node:fs/promises";
import { delimiter, join } from "node:path";

/** Parent-death protection: "auto" finds setpriv on Linux, false disables, or a path to use. */
export type DeathSignalOption = "auto" | false | { setprivPath: string };

export interface CollectorCommandOptions {
  executable: string;
  /** Operator-configured arguments (feature gates, --set …). */
  args?: readonly string[];
  /** Each becomes `--config <path>`, in order (later files win in the collector's merge). */
  configPaths: readonly string[];
}

export interface CollectorCommand {
  file: string;
  args: string[];
  /** True when the command is wrapped in setpriv for parent-death protection. */
  deathSignal: boolean;
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

/** The setpriv to wrap the collector in, or undefined for none. */
export async function resolveSetpriv(option: DeathSignalOption): Promise<string | undefined> {
  if (option === false) return undefined;
  if (option === "auto") return findSetpriv();
  return option.setprivPath;
}
