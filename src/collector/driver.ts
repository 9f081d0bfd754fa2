/**
 * How a collector is run, below the controller. The controller decides what runs, when to
 * restart and whether it is healthy; a driver only knows how to start one run, end it,
 * ask it to re-read its config, and run the collector's own `validate` and `--version`.
 *
 * `child` (drivers/child.ts) spawns the collector as our child process. A `sidecar` driver
 * (a collector in another container of the pod, found by pid in a shared PID namespace,
 * its config on a shared volume) implements the same interface: nothing here names a
 * process-spawning detail.
 */
import type { ValidateResult } from "../process/commands.js";
import type { ExitResult } from "../process/exit.js";

/** One run of the collector, from start to exit. */
export interface CollectorRun {
  readonly pid: number;
  /** Settles once the run has ended (whoever ended it), with the output tail. Never rejects. */
  readonly exit: Promise<ExitResult>;
  /** The most recent output of this run, bounded. */
  tail(): string;
}

export interface VersionInfo {
  /** The name the collector gives itself (`otelcol-contrib version 0.114.0`), if printed. */
  name: string | undefined;
  version: string;
}

/**
 * What the supervisor's own stop does to the collector: `stop` a process that is ours (a
 * child dies with its parent anyway), `leave` one whose container the kubelet owns, so that
 * a restart of the supervisor's container is not an outage of the collector's.
 */
export type ShutdownAction = "stop" | "leave";

export interface CollectorDriver {
  readonly atShutdown: ShutdownAction;
  /** With `leave`: called once our shutdown has let go of the run; stop watching it. */
  release?(): void;
  /**
   * Starts a run on `configPath`; resolves once it runs. Rejects with ProcessError
   * SPAWN_FAILED carrying the OS reason (ENOENT, EACCES, ...) when it cannot start.
   */
  start(configPath: string): Promise<CollectorRun>;
  /** Graceful stop (SIGTERM, then SIGKILL after the grace); aborting `signal` forces it now. */
  stop(run: CollectorRun, signal?: AbortSignal): Promise<ExitResult>;
  /** Asks the run to re-read its config (SIGHUP). Only safe once it has been healthy. */
  reload(run: CollectorRun): void;
  /** `<collector> validate` of `configPath` with the args and env of the real run. */
  validate(configPath: string, signal: AbortSignal): Promise<ValidateResult>;
  /** `<collector> --version`. Throws ProcessError when it cannot be read. */
  version(signal: AbortSignal): Promise<VersionInfo>;
  /**
   * `<collector> components`: its YAML inventory, unparsed. Optional: a driver that cannot
   * run the collector's binary itself has no inventory, and available components stay off.
   */
  components?(signal: AbortSignal): Promise<string>;
}
