/**
 * The child-process driver: the collector runs as our child.
 *
 * - Own process group (detached), so everything the collector started goes with it: after
 *   the collector exits, whatever is left of its group is SIGKILLed.
 * - No orphans: on Linux the command is `setpriv --pdeathsig SIGKILL -- <exe> …`. setpriv
 *   sets PR_SET_PDEATHSIG and execs the collector in place (same pid), so the kernel kills
 *   the collector when the supervisor dies, even by SIGKILL. (A supervisor killed between
 *   fork and setpriv's prctl leaves a collector that reapLeftover kills at the next start.)
 * - Stops are execa's: SIGTERM, then SIGKILL after the grace (`forceKillAfterDelay`).
 * - A pidfile while it runs; its output goes to the logger or collector.log and a bounded tail.
 */
import { constants as fsConstants } from "node:fs";
import { setTimeout as delay } from "node:timers/promises";
import type { Deps, Logger } from "../../deps.js";
import { unreachable } from "../../errors.js";
import { readComponentsOutput, readVersionInfo, runValidate } from "../../process/commands.js";
import type { ValidateResult } from "../../process/commands.js";
import type { ExitResult } from "../../process/exit.js";
import { captureOutput } from "../../process/output.js";
import type { OutputCapture, OutputSink } from "../../process/output.js";
import { removePidFile, writePidFile } from "../../process/pidfile.js";
import { buildCommand, resolveSetpriv } from "../../process/spawn.js";
import type { DeathSignalOption } from "../../process/spawn.js";
import { osReason, spawnFailed } from "../../process/spawner.js";
import type { SpawnedChild } from "../../process/spawner.js";
import { STATE_FILE_NAMES } from "../../storage/state-dir.js";
import type { StateDir } from "../../storage/state-dir.js";
import { ProcessError } from "../../errors.js";
import type { CollectorDriver, CollectorRun, VersionInfo } from "../driver.js";

/** passthrough: lines go to the supervisor logger; file: appended to collector.log in the state dir. */
export type OutputMode = { mode: "passthrough" } | { mode: "file"; path?: string } | { mode: "discard" };

export interface ChildDriverOptions {
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
  /** SIGTERM grace before SIGKILL. Default 10 s. */
  stopTimeoutMs?: number;
  /** Parent-death protection via setpriv; default "auto". */
  deathSignal?: DeathSignalOption;
  /** Base environment of the child; default the supervisor's own. */
  baseEnv?: Readonly<Record<string, string | undefined>>;
  deps: Deps;
}

export const DEFAULT_STOP_TIMEOUT_MS = 10_000;
/** Bounded wait for the output pipes to drain after exit (a grandchild may hold them open). */
const OUTPUT_DRAIN_MS = 500;

interface ChildRunRecord extends CollectorRun {
  readonly child: SpawnedChild;
}

export class ChildDriver implements CollectorDriver {
  readonly atShutdown = "stop";
  readonly #options: ChildDriverOptions;
  readonly #logger: Logger;
  readonly #sink: OutputSink;

  constructor(options: ChildDriverOptions) {
    this.#options = options;
    this.#logger = options.deps.logger.child({ component: "process" });
    this.#sink = outputSink(options);
  }

  async start(configPath: string): Promise<CollectorRun> {
    const o = this.#options;
    await this.#checkExecutable();
    const command = buildCommand(
      { executable: o.executable, args: o.args ?? [], configPaths: [configPath] },
      await resolveSetpriv(o.deathSignal ?? "auto"),
    );
    const child = await o.deps.spawn({
      file: command.file,
      args: command.args,
      env: { ...(o.baseEnv ?? process.env), ...o.env },
      ...(o.cwd !== undefined ? { cwd: o.cwd } : {}),
      detached: true,
      forceKillAfterMs: o.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS,
      buffer: false,
    });
    const output = captureOutput({
      stdout: child.stdout,
      stderr: child.stderr,
      sink: this.#sink,
      ...(o.tailBytes !== undefined ? { tailBytes: o.tailBytes } : {}),
    });
    const pidWritten = this.#recordPid(child);
    const run: ChildRunRecord = {
      pid: child.pid,
      child,
      tail: () => output.tail(),
      exit: this.#exitOf(child, output, pidWritten),
    };
    await pidWritten;
    return run;
  }

  async stop(run: CollectorRun, signal?: AbortSignal): Promise<ExitResult> {
    const { child } = this.#record(run);
    const force = (): void => void child.kill("SIGKILL");
    if (signal?.aborted || (this.#options.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS) === 0) force();
    else {
      child.kill("SIGTERM"); // execa sends SIGKILL after the grace
      signal?.addEventListener("abort", force, { once: true });
    }
    const exit = await run.exit;
    signal?.removeEventListener("abort", force);
    return exit;
  }

  reload(run: CollectorRun): void {
    // The collector only, not its group: helpers it started need not handle SIGHUP.
    this.#record(run).child.kill("SIGHUP");
  }

  validate(configPath: string, signal: AbortSignal): Promise<ValidateResult> {
    const o = this.#options;
    return runValidate(o.executable, configPath, { args: o.args ?? [], env: o.env ?? {}, signal, spawn: o.deps.spawn });
  }

  version(signal: AbortSignal): Promise<VersionInfo> {
    const o = this.#options;
    return readVersionInfo(o.executable, { env: o.env ?? {}, signal, spawn: o.deps.spawn });
  }

  components(signal: AbortSignal): Promise<string> {
    const o = this.#options;
    return readComponentsOutput(o.executable, { env: o.env ?? {}, signal, spawn: o.deps.spawn });
  }

  /** Behind setpriv a missing binary would surface as "exit 127": check first, keep the OS reason. */
  async #checkExecutable(): Promise<void> {
    const { executable, deps } = this.#options;
    if (!executable.includes("/")) return; // found through PATH by the spawn itself
    try {
      await deps.fs.access(executable, fsConstants.X_OK);
      if (!(await deps.fs.stat(executable)).isFile()) {
        throw new ProcessError("SPAWN_FAILED", `cannot run ${executable}: EISDIR (not a regular file)`);
      }
    } catch (err) {
      if (err instanceof ProcessError) throw err;
      throw spawnFailed(executable, err as NodeJS.ErrnoException);
    }
  }

  async #exitOf(child: SpawnedChild, output: OutputCapture, pidWritten: Promise<void>): Promise<ExitResult> {
    const status = await child.exitStatus;
    killGroup(child.pid); // no orphans: whatever the collector started goes too
    // Real time on purpose: an I/O guard, not policy (and unref'd, so it never holds the process).
    const drained = new AbortController();
    await Promise.race([
      output.done,
      delay(OUTPUT_DRAIN_MS, undefined, { signal: drained.signal, ref: false }).catch(() => undefined),
    ]);
    drained.abort();
    await pidWritten;
    const dir = this.#options.stateDir;
    if (dir)
      await removePidFile(dir).catch((err: unknown) =>
        this.#logger.warn({ err }, "could not remove the collector pidfile"),
      );
    return { ...status, tail: output.tail() };
  }

  async #recordPid(child: SpawnedChild): Promise<void> {
    const dir = this.#options.stateDir;
    if (!dir) return;
    try {
      await writePidFile(dir, { pid: child.pid, executable: this.#options.executable });
    } catch (err) {
      if (!child.hasExited())
        this.#logger.warn(
          { err, pid: child.pid, reason: osReason(err as NodeJS.ErrnoException) },
          "could not write the collector pidfile",
        );
    }
  }

  #record(run: CollectorRun): ChildRunRecord {
    if (!("child" in run)) throw new TypeError("not a run of this driver");
    return run as ChildRunRecord;
  }
}

/** SIGKILLs what is left of a process group whose leader has exited; nothing when it is empty. */
function killGroup(pgid: number): void {
  try {
    process.kill(-pgid, "SIGKILL");
  } catch {
    // ESRCH: the group is already empty.
  }
}

function outputSink(options: ChildDriverOptions): OutputSink {
  const mode = options.output ?? { mode: "passthrough" };
  switch (mode.mode) {
    case "passthrough":
      return { kind: "passthrough", logger: options.deps.logger };
    case "file": {
      const path = mode.path ?? options.stateDir?.file(STATE_FILE_NAMES.collectorLog);
      if (path === undefined) throw new TypeError("output mode 'file' needs a path or a stateDir");
      return { kind: "file", path };
    }
    case "discard":
      return { kind: "discard" };
    default:
      return unreachable(mode);
  }
}
