/**
 * CollectorProcess: one collector child, its lifecycle, and restarts after crashes.
 *
 *               start()              pidfile written
 *   stopped ────────────► starting ──────────────────► running ── markHealthy() ──┐
 *    ▲  ▲  ▲                 │                        (healthySeen) ◄─────────────┘
 *    │  │  │                 │ exit                      │    │ reload(): SIGHUP, only
 *    │  │  │                 ▼                           │    │ once healthySeen
 *    │  │  │  stop()      crashed{exit} ◄──── exit ──────┘    │
 *    │  │  └────────────────┤  │                              │ stop() / kill()
 *    │  │                   │  │ autoRestart and             ▼
 *    │  │                   │  │ not expectExit()        stopping ── exit ──► stopped
 *    │  │ stop()/kill()/    │  ▼
 *    │  └─ run aborted ── backoff{until,attempt} ── delay over ──► starting ("restarting")
 *    │
 *    └─ start() is accepted in stopped, crashed and backoff (a pending restart is cancelled).
 *
 * The run's AbortSignal (passed to start) bounds the run: aborting it cancels a pending
 * restart and stops a live child gracefully. kill() is the forced path.
 */
import type { Deps, Logger } from "../deps.js";
import { abortError, unreachable } from "../errors.js";
import { forgetPid, launchChild, recordPid, validateOutputMode } from "./child-run.js";
import type {
  ChildRun,
  CollectorEvents,
  CollectorProcessOptions,
  CollectorState,
  ReloadResult,
  StartOptions,
} from "./collector-types.js";
import type { ExitResult } from "./exit.js";
import { formatExit } from "./exit.js";
import { DEFAULT_STOP_TIMEOUT_MS, killProcess, stopProcess } from "./kill.js";
import { DEFAULT_RESTART_POLICY, RestartPolicy } from "./restart-policy.js";
import { TypedEvents } from "./typed-events.js";

interface RunContext {
  configPaths: readonly string[];
  signal: AbortSignal;
  autoRestart: boolean;
}

export class CollectorProcess {
  readonly #options: CollectorProcessOptions;
  readonly #deps: Deps;
  readonly #logger: Logger;
  readonly #policy: RestartPolicy;
  readonly #events: TypedEvents<CollectorEvents>;
  /** Per child: resolves after its exit has been handled (state updated, events sent). */
  readonly #settled = new WeakMap<ChildRun, Promise<ExitResult>>();
  #state: CollectorState = { id: "stopped" };
  #run: RunContext | undefined;
  #backoff: AbortController | undefined;
  #spawning: Promise<unknown> | undefined;
  #detachAbort: (() => void) | undefined;

  constructor(options: CollectorProcessOptions) {
    validateOutputMode(options);
    this.#options = options;
    this.#deps = options.deps;
    this.#logger = options.deps.logger.child({ component: "process" });
    this.#policy = new RestartPolicy({ ...DEFAULT_RESTART_POLICY, ...options.restartPolicy }, options.deps);
    this.#events = new TypedEvents((err, event) => this.#logger.error({ err, event }, "collector event listener threw"));
  }

  get state(): CollectorState {
    return this.#state;
  }

  /** Subscribes to an event; returns the unsubscribe function. */
  on<K extends keyof CollectorEvents>(event: K, listener: (payload: CollectorEvents[K]) => void): () => void {
    return this.#events.on(event, listener);
  }

  /**
   * Starts the collector with `configPaths` and resolves once it runs. Resets the backoff.
   * Throws ProcessError SPAWN_FAILED when it cannot be started (state: stopped).
   */
  async start(configPaths: readonly string[], signal: AbortSignal, options: StartOptions = {}): Promise<void> {
    await this.#spawnSettled();
    const state = this.#state;
    switch (state.id) {
      case "stopped":
      case "crashed":
        break;
      case "backoff":
        this.#cancelBackoff();
        break;
      case "starting":
      case "running":
      case "stopping":
        throw new Error(`CollectorProcess.start() while ${state.id}; stop it first`);
      default:
        unreachable(state);
    }
    if (signal.aborted) throw abortError(signal);
    this.#detachAbort?.();
    const run: RunContext = { configPaths: [...configPaths], signal, autoRestart: options.autoRestart ?? true };
    this.#run = run;
    this.#policy.reset();
    const onAbort = (): void => {
      this.stop().catch((err: unknown) => this.#logger.error({ err }, "stopping the collector on abort failed"));
    };
    signal.addEventListener("abort", onAbort, { once: true });
    this.#detachAbort = () => signal.removeEventListener("abort", onAbort);
    try {
      await this.#spawn(run, 0);
    } catch (err) {
      this.#setState({ id: "stopped" });
      throw err;
    }
  }

  /**
   * Graceful stop: SIGTERM to the group, SIGKILL after stopTimeoutMs. Idempotent; resolves
   * with the exit (undefined when nothing ran). Aborting `signal` sends SIGKILL at once.
   */
  async stop(signal?: AbortSignal): Promise<ExitResult | undefined> {
    await this.#spawnSettled();
    const state = this.#state;
    switch (state.id) {
      case "stopped":
        return undefined;
      case "crashed":
        this.#setState({ id: "stopped" });
        return state.exit;
      case "backoff":
        this.#cancelBackoff();
        this.#setState({ id: "stopped" });
        return undefined;
      case "starting":
      case "running":
        this.#setState({ id: "stopping", child: state.child });
        void stopProcess(state.child.process, {
          timeoutMs: this.#options.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS,
          clock: this.#deps.clock,
          ...(signal ? { signal } : {}),
        });
        return this.#settledOf(state.child);
      case "stopping":
        // Joining a stop in progress; an abort of this caller's signal still escalates.
        if (signal?.aborted) void killProcess(state.child.process);
        else signal?.addEventListener("abort", () => void killProcess(state.child.process), { once: true });
        return this.#settledOf(state.child);
      default:
        return unreachable(state);
    }
  }

  /** Forced stop: SIGKILL to the process group now; also cancels a pending restart. */
  async kill(): Promise<ExitResult | undefined> {
    await this.#spawnSettled();
    const state = this.#state;
    switch (state.id) {
      case "stopped":
      case "crashed":
      case "backoff":
        return this.stop();
      case "starting":
      case "running":
      case "stopping":
        if (state.id !== "stopping") this.#setState({ id: "stopping", child: state.child });
        void killProcess(state.child.process);
        return this.#settledOf(state.child);
      default:
        return unreachable(state);
    }
  }

  /**
   * SIGHUP: the collector re-reads its config files. Refused until the collector has been
   * reported healthy since its start, because before its handler is installed SIGHUP
   * terminates it (Go's default action).
   */
  reload(): ReloadResult {
    const state = this.#state;
    if (state.id !== "running") return { ok: false, reason: "not-running" };
    if (!state.healthySeen) return { ok: false, reason: "not-healthy-yet" };
    // The collector only, not its group: helpers it started need not handle SIGHUP.
    state.child.process.kill("SIGHUP");
    return { ok: true };
  }

  /** Called by the health watcher on every healthy answer; ignored when not running. */
  markHealthy(): void {
    const state = this.#state;
    if (state.id !== "running") return;
    this.#policy.recordHealthy();
    if (!state.healthySeen) this.#setState({ ...state, healthySeen: true });
  }

  /**
   * Declares the current child's next exit expected (e.g. a config transaction sent SIGHUP
   * and handles an exit itself): no auto restart, state becomes crashed. Returns an undo.
   */
  expectExit(): () => void {
    const state = this.#state;
    if (state.id !== "starting" && state.id !== "running") return () => undefined;
    const child = state.child;
    child.exitExpected = true;
    return () => {
      child.exitExpected = false;
    };
  }

  async #spawnSettled(): Promise<void> {
    if (this.#spawning) await this.#spawning.catch(() => undefined);
  }

  async #spawn(run: RunContext, attempt: number): Promise<void> {
    const spawning = this.#spawnChild(run, attempt);
    this.#spawning = spawning;
    try {
      await spawning;
    } finally {
      if (this.#spawning === spawning) this.#spawning = undefined;
    }
  }

  async #spawnChild(run: RunContext, attempt: number): Promise<void> {
    const child = await launchChild(this.#options, run.configPaths);
    this.#settled.set(
      child,
      child.exit.then(async (exit) => {
        await this.#onExit(child, exit);
        return exit;
      }),
    );
    const since = this.#deps.clock.now();
    this.#policy.recordStart();
    this.#setState({ id: "starting", child, since });
    const dir = this.#options.stateDir;
    if (dir) await recordPid(dir, child, this.#options.executable, this.#logger);
    if (this.#state.id === "starting" && this.#state.child === child) {
      this.#setState({ id: "running", child, since, healthySeen: false });
      this.#logger.info({ pid: child.pid, attempt }, "collector started");
      this.#events.emit("started", { pid: child.pid, attempt });
    }
  }

  #settledOf(child: ChildRun): Promise<ExitResult> {
    return this.#settled.get(child) ?? child.exit;
  }

  async #onExit(child: ChildRun, exit: ExitResult): Promise<void> {
    if (!this.#isCurrent(child)) return;
    // Before any state change, so a start() that follows cannot have its new pidfile removed.
    const dir = this.#options.stateDir;
    if (dir) await forgetPid(dir, this.#logger);
    const state = this.#state; // re-read: stop() may have run meanwhile
    if (state.id !== "starting" && state.id !== "running" && state.id !== "stopping") return;
    const expected = state.id === "stopping" || child.exitExpected;
    const fields = { pid: child.pid, code: exit.code, signal: exit.signal };
    this.#logger[expected ? "info" : "warn"](fields, `collector ${formatExit(exit, { maxLines: 0 })}`);
    if (state.id === "stopping") {
      this.#setState({ id: "stopped" });
      this.#events.emit("exit", { ...exit, expected });
      return;
    }
    this.#setState({ id: "crashed", exit });
    this.#events.emit("exit", { ...exit, expected });
    const run = this.#run;
    if (!expected && run?.autoRestart && !run.signal.aborted) this.#scheduleRestart(run, exit);
  }

  #isCurrent(child: ChildRun): boolean {
    const state = this.#state;
    return (state.id === "starting" || state.id === "running" || state.id === "stopping") && state.child === child;
  }

  #scheduleRestart(run: RunContext, exit: ExitResult): void {
    const { attempt, delayMs } = this.#policy.recordFailure();
    const controller = new AbortController();
    this.#backoff = controller;
    this.#events.emit("crashed", { exit, attempt, delayMs });
    this.#setState({ id: "backoff", until: this.#deps.clock.now() + delayMs, attempt });
    this.#deps.clock.sleep(delayMs, AbortSignal.any([run.signal, controller.signal])).then(
      () => void this.#restart(run, controller, attempt),
      () => {
        // Cancelled: by stop()/kill()/start(), which set the state themselves, or by the run's abort.
        if (this.#backoff !== controller) return;
        this.#backoff = undefined;
        this.#setState({ id: "stopped" });
      },
    );
  }

  async #restart(run: RunContext, controller: AbortController, attempt: number): Promise<void> {
    if (this.#backoff !== controller || this.#state.id !== "backoff" || this.#run !== run) return;
    this.#backoff = undefined;
    this.#events.emit("restarting", { attempt });
    try {
      await this.#spawn(run, attempt);
    } catch (err) {
      this.#logger.error({ err, attempt }, "collector restart failed");
      const exit: ExitResult = { code: null, signal: null, tail: err instanceof Error ? err.message : String(err) };
      this.#setState({ id: "crashed", exit });
      if (!run.signal.aborted && this.#run === run) this.#scheduleRestart(run, exit);
    }
  }

  #cancelBackoff(): void {
    const controller = this.#backoff;
    this.#backoff = undefined;
    controller?.abort();
  }

  #setState(state: CollectorState): void {
    this.#state = state;
    if (state.id === "stopped") {
      // The run is over: no more restarts, and its signal no longer concerns us.
      this.#detachAbort?.();
      this.#detachAbort = undefined;
    }
    this.#events.emit("state", state);
  }
}
