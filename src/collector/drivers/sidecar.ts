/**
 * The sidecar driver: the collector runs in another container of the pod, started and
 * restarted by the kubelet (restartPolicy: Always), reading effective.yaml from a volume the
 * two containers share. With a shared PID namespace we see its process in /proc:
 *
 * - start: nothing is spawned. The config is already in place (the controller wrote it); we
 *   wait for a collector process and attach to it. A process we have not seen before (a new
 *   pid, or a reused pid with another start time) is a new run: a restart. One that started
 *   before this supervisor last wrote the config runs an older one and is stopped instead.
 * - exit: polled. /proc/<pid> gone, a zombie, or a different start time is the end of the run.
 *   Its exit code is not ours to know (the kubelet reaps it), so an exit has neither.
 * - stop: SIGTERM, SIGKILL after the grace; the kubelet starts the container again.
 * - the supervisor's own shutdown leaves the collector running and stops watching it: the
 *   kubelet stops it with the pod, and a restart of our container alone is no outage.
 * - reload: SIGHUP to the same process.
 * - validate / --version: the collector's own binary, through /proc/<pid>/exe (or a
 *   configured binary our container has), on a candidate in our state directory.
 * - output: in the collector container's log, not here; tail() says so rather than invent one.
 */
import type { Deps, Logger } from "../../deps.js";
import { ProcessError, abortError } from "../../errors.js";
import { readVersionInfo, runValidate } from "../../process/commands.js";
import type { ValidateResult } from "../../process/commands.js";
import type { ExitResult } from "../../process/exit.js";
import type { CollectorDriver, CollectorRun, VersionInfo } from "../driver.js";
import { binaryOf, isRunning, listProcesses, readUptimeMs, runsExecutable, startedMsSinceBoot } from "./proc.js";
import type { ProcessIdentity, ProcessInfo } from "./proc.js";

export type SignalSender = (pid: number, signal: NodeJS.Signals) => void;

export interface SidecarDriverOptions {
  /** The collector's binary as its own container sees it (agent.executable). */
  executable: string;
  /** A binary our container can run for validate and --version; default /proc/<pid>/exe of the collector. */
  validateExecutable?: string | null;
  /** Operator-configured collector args, passed to validate as for a child. */
  args?: readonly string[];
  env?: Readonly<Record<string, string>>;
  /** How long start() waits for the collector to appear. Default 60 s. */
  startTimeoutMs?: number;
  /** SIGTERM grace before SIGKILL. Default 10 s. */
  stopTimeoutMs?: number;
  /** How often /proc is looked at while waiting. Default 200 ms. */
  pollIntervalMs?: number;
  /** The supervisor's lifetime: a start still waiting for the collector gives up when it aborts. */
  signal?: AbortSignal;
  /** Test seams: the /proc to read, our own pid (never the collector), how signals are sent. */
  procRoot?: string;
  ownPid?: number;
  kill?: SignalSender;
  deps: Deps;
}

/** What a run of another container's collector has instead of an output tail. */
export const SIDECAR_TAIL_NOTE = "(the collector runs in its own container: its output is in that container's log)";

interface SidecarRun extends CollectorRun {
  readonly identity: ProcessIdentity;
  /** The binary to run for validate and --version while this run lives. */
  readonly binary: string;
}

export class SidecarDriver implements CollectorDriver {
  readonly atShutdown = "leave";
  readonly #o: SidecarDriverOptions;
  readonly #root: string;
  readonly #logger: Logger;
  readonly #kill: SignalSender;
  /** Runs seen so far, so that a process we attached to once is never a new run again. */
  readonly #seen = new Set<string>();
  readonly #released = new AbortController();
  #current: SidecarRun | undefined;
  #warnedConfigPath = false;
  /** When this driver was made: configs written since then are this supervisor's. */
  readonly #createdAt: number;

  constructor(options: SidecarDriverOptions) {
    this.#o = options;
    this.#createdAt = options.deps.clock.now();
    this.#root = options.procRoot ?? "/proc";
    this.#logger = options.deps.logger.child({ component: "process" });
    this.#kill = options.kill ?? ((pid, signal) => void process.kill(pid, signal));
  }

  async start(configPath: string): Promise<CollectorRun> {
    const lifetime = this.#o.signal;
    const writtenAt = await this.#writtenSinceBoot(configPath);
    const found = await this.#appearing((p) => this.#isFreshRun(p, writtenAt), lifetime);
    if (!found && lifetime?.aborted) throw abortError(lifetime);
    if (!found) throw this.#notFound();
    this.#seen.add(key(found));
    if (!this.#warnedConfigPath && !found.argv.some((arg) => arg.includes(configPath))) {
      this.#warnedConfigPath = true; // once: every restart of the container would repeat it
      this.#logger.warn(
        // argv[0] only: the rest of another container's command line may carry secrets.
        { pid: found.pid, argv0: found.argv[0], configPath },
        "the collector's command line does not name the config the supervisor writes: changes may not reach it",
      );
    }
    const identity = { pid: found.pid, startTime: found.startTime };
    const binary = this.#o.validateExecutable ?? binaryOf(this.#root, found, this.#o.executable);
    const run: SidecarRun = {
      pid: found.pid,
      identity,
      binary,
      tail: () => SIDECAR_TAIL_NOTE,
      exit: this.#exitOf(identity),
    };
    this.#current = run;
    this.#logger.info(
      { pid: found.pid, executable: this.#o.executable },
      "attached to the collector in the sidecar container",
    );
    return run;
  }

  /**
   * When this supervisor wrote the config (after the driver was made), the boot-relative
   * moment it did; else undefined. A config an earlier supervisor wrote may have reached the
   * running collector by SIGHUP, so its start time says nothing then.
   */
  async #writtenSinceBoot(configPath: string): Promise<number | undefined> {
    // ctime, not mtime: a rename into place (a validated candidate) changes only the ctime.
    const changedMs = (await this.#o.deps.fs.stat(configPath).catch(() => undefined))?.ctimeMs;
    if (changedMs === undefined || changedMs < this.#createdAt) return undefined;
    const uptimeMs = await readUptimeMs(this.#root);
    return uptimeMs === undefined ? undefined : uptimeMs - (this.#o.deps.clock.now() - changedMs);
  }

  /**
   * A process not attached to before, started after the config was written. One that started
   * before runs an older config: the kubelet restarted a crashing collector while the config
   * was still the old one (a rollback races it). It is stopped, once, so that the kubelet
   * starts it again on the config now in place; attaching to it would prove the wrong config.
   */
  #isFreshRun(p: ProcessInfo, writtenAt: number | undefined): boolean {
    if (this.#seen.has(key(p))) return false;
    if (writtenAt === undefined || startedMsSinceBoot(p) >= writtenAt - START_TIME_SLACK_MS) return true;
    this.#seen.add(key(p));
    this.#logger.info(
      { pid: p.pid },
      "the collector started before its config was written: stopping it so that it starts on the new config",
    );
    this.#send(p.pid, "SIGTERM");
    return false;
  }

  async stop(run: CollectorRun, signal?: AbortSignal): Promise<ExitResult> {
    const { identity } = this.#record(run);
    const graceMs = this.#o.stopTimeoutMs ?? 10_000;
    if (signal?.aborted || graceMs === 0) {
      if (!(await this.#signal(identity, "SIGKILL"))) return refused();
    } else {
      if (!(await this.#signal(identity, "SIGTERM"))) return refused();
      const grace = new AbortController();
      const forced = this.#o.deps.clock
        .sleep(graceMs, signal ? AbortSignal.any([grace.signal, signal]) : grace.signal)
        .then(
          () => true,
          () => signal?.aborted === true,
        );
      const outcome = await Promise.race([run.exit.then(() => false), forced]);
      grace.abort();
      if (outcome && !(await this.#signal(identity, "SIGKILL"))) return refused();
    }
    return run.exit;
  }

  reload(run: CollectorRun): void {
    const { identity } = this.#record(run);
    // Synchronous by contract; the identity is checked by the poll, which sees a pid reuse within an interval.
    this.#send(identity.pid, "SIGHUP");
  }

  async validate(configPath: string, signal: AbortSignal): Promise<ValidateResult> {
    const o = this.#o;
    return runValidate(await this.#binary(signal), configPath, {
      args: o.args ?? [],
      env: o.env ?? {},
      signal,
      spawn: o.deps.spawn,
    });
  }

  async version(signal: AbortSignal): Promise<VersionInfo> {
    const o = this.#o;
    return readVersionInfo(await this.#binary(signal), { env: o.env ?? {}, signal, spawn: o.deps.spawn });
  }

  /** The configured binary, else the running collector's; waits for one to appear when none runs. */
  async #binary(signal: AbortSignal): Promise<string> {
    if (this.#o.validateExecutable) return this.#o.validateExecutable;
    const current = this.#current;
    if (current && (await isRunning(this.#root, current.identity))) return current.binary;
    const found = await this.#appearing(() => true, signal);
    if (!found && signal.aborted) throw abortError(signal);
    if (!found) throw this.#notFound();
    return binaryOf(this.#root, found, this.#o.executable);
  }

  /** #waitFor bounded by the start timeout (and `signal`): undefined when none appeared. */
  async #appearing(
    accept: (p: ProcessInfo) => boolean,
    signal: AbortSignal | undefined,
  ): Promise<ProcessInfo | undefined> {
    const deadline = new AbortController();
    const timer = this.#o.deps.clock.sleep(this.#o.startTimeoutMs ?? 60_000, deadline.signal).then(
      () => deadline.abort(),
      () => undefined,
    );
    try {
      return await this.#waitFor(accept, signal ? AbortSignal.any([deadline.signal, signal]) : deadline.signal);
    } finally {
      deadline.abort();
      await timer;
    }
  }

  #notFound(): ProcessError {
    const why = "is the collector container running, and does the pod share its process namespace?";
    return new ProcessError(
      "SPAWN_FAILED",
      `no collector process (${this.#o.executable}) appeared in the shared PID namespace within ${this.#o.startTimeoutMs ?? 60_000} ms: ${why}`,
    );
  }

  /** The first collector process `accept` takes, polling until `signal` aborts (then undefined). */
  async #waitFor(accept: (p: ProcessInfo) => boolean, signal: AbortSignal): Promise<ProcessInfo | undefined> {
    const own = this.#o.ownPid ?? process.pid;
    for (;;) {
      const found = (await listProcesses(this.#root, own).catch(() => [])).find(
        (p) => runsExecutable(p, this.#o.executable) && accept(p),
      );
      if (found) return found;
      if (signal.aborted) return undefined;
      try {
        await this.#o.deps.clock.sleep(this.#o.pollIntervalMs ?? 200, signal);
      } catch {
        return undefined;
      }
    }
  }

  /**
   * Our shutdown leaves the collector running (atShutdown: leave): stop watching its runs, or
   * the /proc poll would keep the supervisor's process alive until the collector's ends.
   */
  release(): void {
    this.#released.abort();
  }

  async #exitOf(identity: ProcessIdentity): Promise<ExitResult> {
    const released = this.#released.signal;
    while (await isRunning(this.#root, identity)) {
      if (released.aborted) return new Promise<never>(() => undefined); // left running: no exit to see
      await this.#o.deps.clock.sleep(this.#o.pollIntervalMs ?? 200, released).catch(() => undefined);
    }
    if (this.#current?.identity === identity) this.#current = undefined;
    // Not ours to reap: the kubelet knows the exit code, we only know it is gone.
    return { code: null, signal: null, tail: SIDECAR_TAIL_NOTE };
  }

  /**
   * Signals the process only while it is still the one we attached to (never a pid's next
   * owner). False when the signal could not be delivered (EPERM): then no exit will follow.
   */
  async #signal(identity: ProcessIdentity, signal: NodeJS.Signals): Promise<boolean> {
    if (!(await isRunning(this.#root, identity))) return true;
    return this.#send(identity.pid, signal);
  }

  #send(pid: number, signal: NodeJS.Signals): boolean {
    try {
      this.#kill(pid, signal);
      return true;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ESRCH") return true; // already gone: the poll reports the exit
      // EPERM: another user's collector. Run both containers as the same user (see deploy/kubernetes/sidecar.yaml).
      this.#logger.error({ pid, signal, code }, `cannot signal the collector: ${code ?? String(err)}`);
      return false;
    }
  }

  #record(run: CollectorRun): SidecarRun {
    if (!("identity" in run)) throw new TypeError("not a run of this driver");
    return run as SidecarRun;
  }
}

/**
 * A stop whose signal was refused ends here rather than waiting for an exit that will not
 * come (which would block every later operation and the shutdown); the error is logged.
 */
function refused(): ExitResult {
  return {
    code: null,
    signal: null,
    tail: "the collector could not be signalled (EPERM): it may still be running; run both containers as the same user",
  };
}

/** Start times and /proc/uptime count in 10 ms ticks, floored: two ticks of doubt either way. */
const START_TIME_SLACK_MS = 20;

function key(p: ProcessIdentity): string {
  return `${p.pid}/${p.startTime}`;
}
