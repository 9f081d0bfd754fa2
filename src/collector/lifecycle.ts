/**
 * The collector's lifecycle above a driver: one run at a time, and crash restarts with the
 * restart policy's backoff (also when the collector cannot be started at all).
 *
 *               start()                  driver started it
 *   stopped ────────────► starting ──────────────────────► running ── markHealthy() ──┐
 *   exited                   │ cannot start                (healthySeen) ◄────────────┘
 *   backoff                  ▼                                │    │ stop()
 *     ▲  ▲           backoff{failure} ◄── exit, not held ─────┘    ▼
 *     │  └── delay over ──► starting                          stopping ── exit ──► stopped
 *     │
 *     └── exit of a held run (a transaction handles it) ──► exited{failure}
 */
import type { Deps, Logger } from "../deps.js";
import { abortError, unreachable } from "../errors.js";
import { formatExit } from "../process/exit.js";
import type { ExitResult } from "../process/exit.js";
import { RestartPolicy } from "../process/restart-policy.js";
import type { RestartPolicyOptions } from "../process/restart-policy.js";
import { TypedEvents } from "../process/typed-events.js";
import type { CollectorDriver, CollectorRun } from "./driver.js";

/** Why the collector is not running: it exited, or it could not be started (the OS reason). */
export type Failure = { kind: "exit"; exit: ExitResult } | { kind: "spawn"; message: string };

export type CollectorState =
  | { id: "stopped" }
  | { id: "starting"; since: number; attempt: number }
  | { id: "running"; run: CollectorRun; since: number; healthySeen: boolean }
  | { id: "stopping"; run: CollectorRun }
  | { id: "backoff"; until: number; attempt: number; failure: Failure }
  | { id: "exited"; failure: Failure };

export interface LifecycleEvents {
  state: CollectorState;
  /** A run is up; `attempt` is 0 for start(), n for the n-th automatic restart. */
  started: { pid: number; attempt: number };
  /** A failure that is retried after `delayMs`. */
  crashed: { failure: Failure; attempt: number; delayMs: number };
}

export type ReloadResult = { ok: true } | { ok: false; reason: "not-running" | "not-healthy-yet" };

export function failureText(failure: Failure): string {
  return failure.kind === "exit" ? formatExit(failure.exit) : failure.message;
}

export class Lifecycle {
  readonly #driver: CollectorDriver;
  readonly #deps: Deps;
  readonly #logger: Logger;
  readonly #policy: RestartPolicy;
  readonly #lifetime: AbortSignal;
  readonly #events: TypedEvents<LifecycleEvents>;
  /** Runs whose exit a transaction handles itself: no automatic restart. */
  readonly #held = new WeakSet<CollectorRun>();
  #state: CollectorState = { id: "stopped" };
  #configPath: string | undefined;
  #autoRestart = true;
  #backoff: AbortController | undefined;
  #busy: Promise<unknown> = Promise.resolve();

  constructor(options: {
    driver: CollectorDriver;
    deps: Deps;
    restartPolicy: RestartPolicyOptions;
    signal: AbortSignal;
  }) {
    this.#driver = options.driver;
    this.#deps = options.deps;
    this.#logger = options.deps.logger.child({ component: "process" });
    this.#policy = new RestartPolicy(options.restartPolicy, options.deps);
    this.#lifetime = options.signal;
    this.#events = new TypedEvents((err, event) =>
      this.#logger.error({ err, event }, "collector event listener threw"),
    );
  }

  get state(): CollectorState {
    return this.#state;
  }

  on<K extends keyof LifecycleEvents>(event: K, listener: (payload: LifecycleEvents[K]) => void): () => void {
    return this.#events.on(event, listener);
  }

  /**
   * Starts a run on `configPath` (stopping nothing: call stop() first). Resets the backoff.
   * Throws ProcessError SPAWN_FAILED when it cannot start; with `autoRestart` it is then
   * retried with backoff.
   */
  start(configPath: string, options: { autoRestart: boolean }): Promise<CollectorRun> {
    return this.#serial(async () => {
      const state = this.#state;
      switch (state.id) {
        case "stopped":
        case "exited":
          break;
        case "backoff":
          this.#cancelBackoff();
          break;
        case "starting":
        case "running":
        case "stopping":
          throw new Error(`collector start while ${state.id}; stop it first`);
        default:
          unreachable(state);
      }
      if (this.#lifetime.aborted) throw abortError(this.#lifetime);
      this.#configPath = configPath;
      this.#autoRestart = options.autoRestart;
      this.#policy.reset();
      return this.#launch(0);
    });
  }

  /** Graceful stop; cancels a pending restart. Resolves with the exit (undefined when nothing ran). */
  stop(signal?: AbortSignal): Promise<ExitResult | undefined> {
    return this.#serial(async () => {
      const state = this.#state;
      switch (state.id) {
        case "stopped":
          return undefined;
        case "exited":
          this.#setState({ id: "stopped" });
          return state.failure.kind === "exit" ? state.failure.exit : undefined;
        case "backoff":
          this.#cancelBackoff();
          this.#setState({ id: "stopped" });
          return undefined;
        case "running": {
          this.#setState({ id: "stopping", run: state.run });
          const exit = await this.#driver.stop(state.run, signal);
          await this.#settled(state.run);
          return exit;
        }
        case "starting":
        case "stopping":
          throw new Error(`unreachable: stop() while ${state.id} inside the serial section`);
        default:
          return unreachable(state);
      }
    });
  }

  /**
   * At our shutdown, lets go of a run without stopping it (a collector whose container the
   * kubelet owns). Its state stays as it is, since it still runs; a pending restart is cancelled.
   */
  detach(): Promise<void> {
    return this.#serial(() => {
      const state = this.#state;
      if (state.id === "backoff") {
        this.#cancelBackoff();
        this.#setState({ id: "stopped" });
      } else if (state.id === "running") {
        this.#logger.info({ pid: state.run.pid }, "leaving the collector running: its container is not ours to stop");
      }
      return Promise.resolve();
    });
  }

  /** SIGHUP; refused before the run has been healthy (until its handler is set, SIGHUP kills it). */
  reload(): ReloadResult {
    const state = this.#state;
    if (state.id !== "running") return { ok: false, reason: "not-running" };
    if (!state.healthySeen) return { ok: false, reason: "not-healthy-yet" };
    this.#driver.reload(state.run);
    return { ok: true };
  }

  /** Called by the health loop on every healthy answer. */
  markHealthy(run: CollectorRun): void {
    const state = this.#state;
    if (state.id !== "running" || state.run !== run) return;
    this.#policy.recordHealthy();
    if (!state.healthySeen) this.#setState({ ...state, healthySeen: true });
  }

  /** The current run's exit is the caller's to handle (no restart). Returns the release. */
  hold(): () => void {
    const state = this.#state;
    if (state.id !== "running") return () => undefined;
    const run = state.run;
    this.#held.add(run);
    return () => this.#held.delete(run);
  }

  /** The exit of the run now running, or of the last one when it has already ended. */
  nextExit(): Promise<Failure> | undefined {
    const state = this.#state;
    if (state.id === "running") return state.run.exit.then((exit) => ({ kind: "exit", exit }));
    if (state.id === "exited" || state.id === "backoff") return Promise.resolve(state.failure);
    return undefined;
  }

  /** Operations of the lifecycle never interleave (a crash restart waits for a stop, and so on). */
  #serial<T>(op: () => Promise<T>): Promise<T> {
    const next = this.#busy.then(op, op);
    this.#busy = next.catch(() => undefined);
    return next;
  }

  async #launch(attempt: number): Promise<CollectorRun> {
    const configPath = this.#configPath;
    if (configPath === undefined) throw new Error("collector start without a config");
    this.#setState({ id: "starting", since: this.#deps.clock.now(), attempt });
    let run: CollectorRun;
    try {
      run = await this.#driver.start(configPath);
    } catch (err) {
      const failure: Failure = { kind: "spawn", message: err instanceof Error ? err.message : String(err) };
      this.#logger.error({ err, attempt }, "the collector could not be started");
      if (this.#autoRestart) this.#scheduleRestart(failure);
      else this.#setState({ id: "exited", failure });
      throw err;
    }
    this.#policy.recordStart();
    this.#setState({ id: "running", run, since: this.#deps.clock.now(), healthySeen: false });
    this.#logger.info({ pid: run.pid, attempt }, "collector started");
    this.#events.emit("started", { pid: run.pid, attempt });
    void run.exit.then((exit) =>
      this.#serial(() => {
        this.#onExit(run, exit);
        return Promise.resolve();
      }),
    );
    return run;
  }

  async #settled(run: CollectorRun): Promise<void> {
    const exit = await run.exit;
    this.#onExit(run, exit);
  }

  #onExit(run: CollectorRun, exit: ExitResult): void {
    const state = this.#state;
    if ((state.id !== "running" && state.id !== "stopping") || state.run !== run) return;
    const expected = state.id === "stopping" || this.#held.has(run);
    this.#logger[expected ? "info" : "warn"](
      { pid: run.pid, code: exit.code, signal: exit.signal },
      `collector ${formatExit(exit, { maxLines: 0 })}`,
    );
    if (state.id === "stopping") {
      this.#setState({ id: "stopped" });
      return;
    }
    const failure: Failure = { kind: "exit", exit };
    if (expected || !this.#autoRestart || this.#lifetime.aborted) this.#setState({ id: "exited", failure });
    else this.#scheduleRestart(failure);
  }

  #scheduleRestart(failure: Failure): void {
    const { attempt, delayMs } = this.#policy.recordFailure();
    const controller = new AbortController();
    this.#backoff = controller;
    this.#setState({ id: "backoff", until: this.#deps.clock.now() + delayMs, attempt, failure });
    this.#events.emit("crashed", { failure, attempt, delayMs });
    this.#deps.clock.sleep(delayMs, AbortSignal.any([this.#lifetime, controller.signal])).then(
      () =>
        void this.#serial(async () => {
          if (this.#backoff !== controller || this.#state.id !== "backoff") return;
          this.#backoff = undefined;
          await this.#launch(attempt).catch(() => undefined); // a failed restart is rescheduled inside
        }),
      () => {
        // Cancelled by stop()/start(), which set the state themselves, or by shutdown.
        if (this.#backoff !== controller) return;
        this.#backoff = undefined;
        this.#setState({ id: "stopped" });
      },
    );
  }

  #cancelBackoff(): void {
    const controller = this.#backoff;
    this.#backoff = undefined;
    controller?.abort();
  }

  #setState(state: CollectorState): void {
    this.#state = state;
    this.#events.emit("state", state);
  }
}
