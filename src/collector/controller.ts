/**
 * The collector controller: the one owner of what the collector runs and whether it is
 * healthy. Operations (remote config, restart command, package swap, startup) ask it to
 * put a composition into effect and prove it, and get an ApplyOutcome back.
 *
 *   compose ─▶ candidate (temp name) ─▶ validate ─▶ rename to effective.yaml ─▶ reload or restart
 *           ─▶ health window (fed by the one health loop) ─▶ outcome
 *
 * Below it: the lifecycle (one run at a time, crash restarts with backoff) over a driver.
 */
import type { CollectorHealth } from "../health/component-health.js";
import { unreachable } from "../errors.js";
import { formatExit } from "../process/exit.js";
import { osReason } from "../process/spawner.js";
import type { StagedFile, StoredRemoteConfig } from "../storage/index.js";
import { fsyncDirectory, readFileIfExists, removeStaleTemps, stageFile, writeFileAtomic } from "../storage/index.js";
import { compose, composeStartup } from "./composition.js";
import type { CollectorSupport, ComposeOutcome, Composition, OwnTelemetryLayer, RemoteFiles } from "./composition.js";
import type { CollectorDriver, CollectorRun, VersionInfo } from "./driver.js";
import { HealthLoop } from "./health-loop.js";
import { HealthReport } from "./health-report.js";
import { CollectorInventory, inventoryCache } from "./inventory.js";
import { Lifecycle } from "./lifecycle.js";
import type { CollectorState } from "./lifecycle.js";
import type { ApplyOptions, CollectorControl, ControllerOptions } from "./controller-types.js";
import { NO_TIMINGS, failed } from "./outcome.js";
import type { ApplyMode, ApplyOutcome, ApplyTimings } from "./outcome.js";
import { RolloutWindow } from "./rollout-window.js";

/** Files the controller keeps in the state directory. */
export const EFFECTIVE_CONFIG_FILE = "effective.yaml";
export const CANDIDATE_CONFIG_FILE = "candidate.yaml";

export type {
  ApplyCheckpoint,
  ApplyOptions,
  CollectorControl,
  CollectorObserver,
  ControllerOptions,
} from "./controller-types.js";

export class CollectorController implements CollectorControl {
  readonly #o: ControllerOptions;
  readonly #lifecycle: Lifecycle;
  readonly #loop: HealthLoop;
  readonly #report: HealthReport;
  readonly #inventory: CollectorInventory;
  /** What effective.yaml holds and the collector is meant to run. */
  #effective: Composition | undefined;
  #version: Promise<VersionInfo> | undefined;
  #ownTelemetry: OwnTelemetryLayer = null;

  constructor(options: ControllerOptions) {
    this.#o = options;
    const { agent } = options.config;
    const cache = inventoryCache({ ...options.deps, stateDir: options.stateDir, executable: agent.executable });
    this.#inventory = new CollectorInventory(options.driver, options.signal, cache);
    this.#lifecycle = new Lifecycle({
      driver: options.driver,
      deps: options.deps,
      restartPolicy: agent.restart,
      signal: options.signal,
    });
    this.#loop = new HealthLoop({
      lifecycle: this.#lifecycle,
      clock: options.deps.clock,
      intervalMs: agent.health.intervalMs,
      steadyIntervalMs: agent.health.steadyIntervalMs,
      requestTimeoutMs: agent.health.requestTimeoutMs,
      ...(options.probeFor ? { probeFor: options.probeFor } : {}),
    });
    this.#report = new HealthReport({
      clock: options.deps.clock,
      maxErrorBytes: Math.max(1, agent.collectorCrashLogSnippetKib) * 1024,
      onChange: (health) => options.onHealth(health),
    });
    this.#lifecycle.on("state", (state) => this.#report.onState(state));
    this.#lifecycle.on("started", ({ pid }) => options.onStarted?.(pid));
    this.#loop.onCheck((check) => this.#report.onCheck(check));
    const observer = options.observer;
    if (observer) {
      this.#lifecycle.on("started", ({ attempt }) => observer.started(attempt));
      this.#lifecycle.on("crashed", ({ failure }) => observer.crashed(failure));
      this.#loop.onCheck((check) =>
        observer.checked(check.result.healthy ? "healthy" : check.starting ? "starting" : "unhealthy"),
      );
    }
    this.#lifecycle.on("crashed", ({ failure, attempt, delayMs }) => {
      const fields =
        failure.kind === "exit"
          ? { code: failure.exit.code, signal: failure.exit.signal }
          : { reason: failure.message };
      options.deps.logger.warn(
        { component: "supervisor", attempt, delayMs, ...fields },
        "collector crashed; restarting after a delay",
      );
    });
  }

  get state(): CollectorState {
    return this.#lifecycle.state;
  }

  get health(): CollectorHealth | undefined {
    return this.#report.current;
  }

  /** The health loop; runs until `signal` aborts. */
  run(signal: AbortSignal): Promise<void> {
    return this.#loop.run(signal);
  }

  /** `ownTelemetry`: a candidate layer (null: none); left out, the one in force. */
  async compose(remote: RemoteFiles, ownTelemetry = this.#ownTelemetry): Promise<ComposeOutcome> {
    return compose(this.#o.config, this.#o.deps.fs, remote, await this.#support(), ownTelemetry);
  }

  /** The last working config, else the startup fallbacks, else the local files alone. */
  async composeFallback(
    working: StoredRemoteConfig | undefined,
    ownTelemetry = this.#ownTelemetry,
  ): Promise<ComposeOutcome> {
    return composeStartup(this.#o.config, this.#o.deps.fs, working, await this.#support(), ownTelemetry);
  }

  /** The own-telemetry layer every later composition includes (set at start and once an offer is proven). */
  useOwnTelemetry(layer: OwnTelemetryLayer): void {
    this.#ownTelemetry = layer;
  }

  /** The binary's `components` inventory, read once and shared (ReportsAvailableComponents uses it). */
  get inventory(): Pick<CollectorDriver, "components"> {
    const inventory = this.#inventory;
    return inventory.available ? { components: (signal) => inventory.components(signal) } : {};
  }

  /** Only an injected health check needs to know what the binary has. */
  #support(): Promise<CollectorSupport> {
    if (!this.#o.config.agent.health.injectExtension) return Promise.resolve({ healthcheckV2: false });
    return this.#inventory.support(this.#o.signal);
  }

  /** What the collector is meant to run now (undefined before the first start). */
  current(): Composition | undefined {
    return this.#effective;
  }

  effectiveConfigPath(): string | null {
    return this.#effective?.runnable ? this.#path(EFFECTIVE_CONFIG_FILE) : null;
  }

  /** At start: writes and runs `composition`; a collector that cannot start is retried with backoff. */
  async start(composition: Composition): Promise<void> {
    await removeStaleTemps(this.#path(CANDIDATE_CONFIG_FILE)); // a candidate a kill left behind
    await this.#makeEffective(composition);
    if (!composition.runnable) return;
    await this.#lifecycle.start(this.#path(EFFECTIVE_CONFIG_FILE), { autoRestart: true }).catch(() => undefined);
  }

  /** Puts `composition` into effect (validate, swap, reload or restart) and proves it. */
  async apply(composition: Composition, options: ApplyOptions): Promise<ApplyOutcome> {
    const { signal } = options;
    if (!composition.runnable) {
      // Nothing left to run (an empty remote map and no local files).
      await this.#lifecycle.stop(signal);
      await this.#makeEffective(composition);
      return { ok: true, mode: "stopped", timings: NO_TIMINGS };
    }
    if (this.#runsAlready(composition)) return { ok: true, mode: "unchanged", timings: NO_TIMINGS };
    const { clock, fs } = this.#o.deps;
    const staging = { mode: 0o600, fs: { rename: fs.rename } };
    let candidate: StagedFile;
    try {
      candidate = await stageFile(this.#path(CANDIDATE_CONFIG_FILE), composition.yaml, staging);
    } catch (err) {
      return failed("io-failed", `cannot write the candidate config: ${osReason(err as NodeJS.ErrnoException)}`);
    }
    let validated: ApplyTimings = {};
    if (this.#o.config.agent.validateConfig) {
      const validateStarted = clock.now();
      // The candidate's fsync runs meanwhile. A check that throws (aborted) removes it too.
      const checking = this.#o.driver.validate(candidate.path, signal);
      checking.catch(() => candidate.discard());
      const result = await checking;
      const validateMs = clock.now() - validateStarted;
      validated = { validateMs };
      if (!result.ok) {
        await candidate.discard();
        return failed("validate-refused", `collector rejected the config: ${result.message}`, { timings: validated });
      }
      this.#phase("validate", validateMs, "config apply: the collector validated the config");
    }
    options.checkpoint?.("config-validated");
    const writeStarted = clock.now();
    try {
      await candidate.commit(this.#path(EFFECTIVE_CONFIG_FILE));
    } catch (err) {
      // rename(2) is atomic: effective.yaml is still the config that runs.
      return failed("io-failed", `cannot swap in the new config: ${osReason(err as NodeJS.ErrnoException)}`, {
        timings: validated,
      });
    }
    this.#setEffective(composition);
    // Past the rename the new config is in place: a failed directory fsync only weakens durability.
    await fsyncDirectory(this.#o.stateDir.root).catch((err: unknown) =>
      this.#o.deps.logger.warn({ err }, "could not fsync the state directory after swapping in the config"),
    );
    this.#phase("write", clock.now() - writeStarted, "config apply: the new config is in place");
    options.checkpoint?.("config-swapped");
    const outcome = await this.#switchAndProve(options.preferReload, signal);
    options.checkpoint?.("config-applied");
    return { ...outcome, timings: { ...validated, ...outcome.timings } };
  }

  /**
   * Rollback: runs `composition` (the last working config) by restart and proves it. When it
   * does not prove healthy, it keeps running with the restart backoff; health tells the truth.
   */
  async restore(composition: Composition, signal: AbortSignal): Promise<ApplyOutcome> {
    await this.#makeEffective(composition);
    if (!composition.runnable) {
      await this.#lifecycle.stop(signal);
      return { ok: true, mode: "stopped", timings: NO_TIMINGS };
    }
    return this.#proveOrKeepRunning(true, signal);
  }

  /** The restart command: stop, start again on the effective config, crash restarts on. */
  async restart(signal: AbortSignal): Promise<ApplyOutcome> {
    if (!this.#effective?.runnable) return { ok: true, mode: "stopped", timings: NO_TIMINGS };
    await this.#lifecycle.stop(signal);
    try {
      await this.#lifecycle.start(this.#path(EFFECTIVE_CONFIG_FILE), { autoRestart: true });
      return { ok: true, mode: "restart", timings: NO_TIMINGS };
    } catch (err) {
      return failed("start-failed", errorText(err));
    }
  }

  restartAndProve(options: { keepRunningOnFailure: boolean; signal: AbortSignal }): Promise<ApplyOutcome> {
    if (!this.#effective?.runnable) return Promise.resolve({ ok: true, mode: "stopped", timings: NO_TIMINGS });
    return this.#proveOrKeepRunning(options.keepRunningOnFailure, options.signal);
  }

  version(): Promise<VersionInfo> {
    this.#version ??= this.#readVersion();
    const reading = this.#version;
    reading.catch(() => {
      if (this.#version === reading) this.#version = undefined; // read again next time
    });
    return reading;
  }

  /** One collector run less per start: `components`, read at start anyway, names the version. */
  async #readVersion(): Promise<VersionInfo> {
    const { driver, signal } = this.#o;
    return (await this.#inventory.buildInfo(signal)) ?? driver.version(signal);
  }

  versionChanged(version: string): void {
    this.#inventory.forget(); // another binary: its inventory may differ
    const previous = this.#version ?? Promise.resolve({ name: undefined, version });
    this.#version = previous.catch(() => ({ name: undefined, version })).then((info) => ({ ...info, version }));
    this.#o.onVersion?.(version);
  }

  /** Our shutdown: stops the collector, or leaves it running when its driver says so. */
  async close(): Promise<void> {
    const action = this.#o.driver.atShutdown;
    switch (action) {
      case "stop":
        await this.#lifecycle.stop();
        return;
      case "leave":
        await this.#lifecycle.detach(); // after any stop in progress, which still sees its exit
        this.#o.driver.release?.();
        return;
      default:
        unreachable(action);
    }
  }

  /**
   * After a failed proof: the effective config runs again with crash restarts on (the
   * restart policy's backoff paces the retries, so this is not a tight loop).
   */
  async keepRunning(signal: AbortSignal): Promise<void> {
    if (!this.#effective?.runnable || signal.aborted) return;
    await this.#lifecycle.stop(signal);
    await this.#lifecycle.start(this.#path(EFFECTIVE_CONFIG_FILE), { autoRestart: true }).catch(() => undefined);
  }

  async #proveOrKeepRunning(keepRunning: boolean, signal: AbortSignal): Promise<ApplyOutcome> {
    const outcome = await this.#switchAndProve(false, signal);
    if (!outcome.ok && keepRunning) await this.keepRunning(signal);
    return outcome;
  }

  /** The content-equal case: the same effective config already runs. */
  #runsAlready(composition: Composition): boolean {
    return this.#effective?.yaml === composition.yaml && this.#lifecycle.state.id === "running";
  }

  /** One finished phase of a config apply or rollback, with its duration: long work shows in the log. */
  #phase(phase: string, durationMs: number, message: string, extra: Record<string, unknown> = {}): void {
    this.#o.deps.logger.info({ component: "supervisor", phase, durationMs, ...extra }, message);
  }

  async #switchAndProve(preferReload: boolean, signal: AbortSignal): Promise<ApplyOutcome> {
    const { clock } = this.#o.deps;
    const { agent } = this.#o.config;
    const state = this.#lifecycle.state;
    const reload = preferReload && state.id === "running" && state.healthySeen;
    const mode: ApplyMode = reload ? "reload" : "restart";
    // Which service answers before the reload: its 200s must not count for the new config.
    const before = reload ? (await this.#loop.probeNow(signal))?.upSince : undefined;
    const started = clock.now();
    const window = RolloutWindow.listen(this.#loop);
    let run: CollectorRun;
    if (state.id === "running" && reload) {
      run = state.run;
      this.#lifecycle.reload();
      this.#loop.kick();
    } else {
      try {
        await this.#lifecycle.stop(signal);
        run = await this.#lifecycle.start(this.#path(EFFECTIVE_CONFIG_FILE), { autoRestart: true });
      } catch (err) {
        window.cancel();
        const timings = { applyMs: clock.now() - started };
        return failed(
          signal.aborted ? "aborted" : "start-failed",
          `collector could not be started: ${errorText(err)}`,
          { mode, timings },
        );
      }
    }
    const release = this.#lifecycle.hold(); // until proven, an exit is this transaction's failure
    const applied = clock.now();
    this.#phase(
      mode,
      applied - started,
      reload ? "config apply: the collector was asked to reload (SIGHUP)" : "config apply: the collector restarted",
    );
    // Without upSince to tell the services apart, answers in the first interval are not proof.
    const ignoreUntil = reload && before === undefined ? applied + agent.health.intervalMs : applied;
    const verdict = await window.judge(run, {
      windowSize: agent.health.window,
      passesRequired: agent.health.passesRequired,
      startupDeadlineMs: agent.configApplyTimeoutMs,
      startedAt: applied,
      upSinceBefore: before,
      ignoreUntil,
      signal,
    });
    const timings = { applyMs: applied - started, healthMs: clock.now() - applied };
    this.#phase("health", timings.healthMs, `config apply: health window ${verdict.kind}`, { result: verdict.kind });
    switch (verdict.kind) {
      case "passed":
        release(); // proven: from now on a crash is restarted with backoff
        return { ok: true, mode, timings };
      case "failed":
        return failed("unhealthy", verdict.reason, { tail: run.tail(), mode, timings });
      case "exited": {
        const tail = verdict.failure.kind === "exit" ? verdict.failure.exit.tail : "";
        const why =
          verdict.failure.kind === "exit" ? formatExit(verdict.failure.exit, { maxLines: 0 }) : verdict.failure.message;
        return failed("exited", `collector exited: ${why}`, { tail, mode, timings });
      }
      case "aborted":
        return failed("aborted", "interrupted by shutdown", { tail: run.tail(), mode, timings });
    }
  }

  async #makeEffective(composition: Composition): Promise<void> {
    const path = this.#path(EFFECTIVE_CONFIG_FILE);
    // Unchanged bytes are not rewritten: a restart on a full or read-only disk still runs them.
    const onDisk = await readFileIfExists(path).catch(() => undefined);
    if (onDisk?.toString("utf8") !== composition.yaml) await writeFileAtomic(path, composition.yaml, { mode: 0o600 });
    this.#setEffective(composition);
  }

  #setEffective(composition: Composition): void {
    const changed = this.#effective?.yaml !== composition.yaml;
    this.#effective = composition;
    if (changed) this.#o.onEffective?.(composition);
    this.#loop.setTarget(composition.healthUrl, composition.healthKind);
    this.#report.setIdleReason(
      composition.runnable ? undefined : "no collector config (no local files and no remote config): nothing to run",
    );
  }

  #path(name: string): string {
    return this.#o.stateDir.file(name);
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
