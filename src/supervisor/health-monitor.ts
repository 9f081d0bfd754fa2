/**
 * Keeps the reported health true while the supervisor runs: polls the collector's
 * health_check endpoint while it runs, tells the process when it has been healthy (SIGHUP
 * is only safe after that), and turns crashes and backoff into unhealthy reports.
 */
import type { Deps } from "../deps.js";
import { sameHealth } from "../health/component-health.js";
import type { CollectorHealth } from "../health/component-health.js";
import { httpProbe } from "../health/probe.js";
import type { Probe } from "../health/probe.js";
import type { CollectorProcess, CollectorState } from "../process/index.js";
import { formatExit } from "../process/index.js";
import { unreachable } from "../errors.js";

export interface HealthMonitorOptions {
  collector: CollectorProcess;
  intervalMs: number;
  requestTimeoutMs: number;
  /** Bytes of log tail put into last_error after a crash. */
  crashSnippetBytes: number;
  deps: Deps;
  onChange: (health: CollectorHealth) => void;
}

export class HealthMonitor {
  readonly #options: HealthMonitorOptions;
  #probe: Probe | undefined;
  #endpoint: string | undefined;
  #current: CollectorHealth | undefined;
  #lastProbe: { healthy: boolean; error?: string } | undefined;

  constructor(options: HealthMonitorOptions) {
    this.#options = options;
    options.collector.on("state", (state) => this.#onState(state));
  }

  get current(): CollectorHealth | undefined {
    return this.#current;
  }

  /** The health URL of the config now running. */
  get endpoint(): string | undefined {
    return this.#endpoint;
  }

  /** Points the monitor at the endpoint of the config now running. */
  setEndpoint(url: string): void {
    this.#endpoint = url;
    this.#probe = httpProbe(url, this.#options.requestTimeoutMs);
  }

  /** Polls until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    const { clock } = this.#options.deps;
    while (!signal.aborted) {
      await this.checkOnce(signal);
      await clock.sleep(this.#options.intervalMs, signal).catch(() => undefined);
    }
  }

  async checkOnce(signal: AbortSignal): Promise<void> {
    const state = this.#options.collector.state;
    if (state.id !== "running" || !this.#probe) return;
    const result = await this.#probe(signal);
    if (signal.aborted || this.#options.collector.state !== state) return;
    this.#lastProbe = result.error !== undefined ? { healthy: result.healthy, error: result.error } : { healthy: result.healthy };
    if (result.healthy) this.#options.collector.markHealthy();
    this.#publish(this.#fromState(this.#options.collector.state));
  }

  #onState(state: CollectorState): void {
    if (state.id === "starting" || state.id === "stopped") this.#lastProbe = undefined;
    this.#publish(this.#fromState(state));
  }

  #fromState(state: CollectorState): CollectorHealth {
    const now = this.#options.deps.clock.now();
    switch (state.id) {
      case "stopped":
        return { healthy: false, startedAtMs: undefined, observedAtMs: now, status: "StatusStopped", lastError: "collector is not running" };
      case "starting":
        return { healthy: false, startedAtMs: state.since, observedAtMs: now, status: "StatusStarting", lastError: "collector is starting" };
      case "running": {
        const probe = this.#lastProbe;
        if (!probe) return { healthy: false, startedAtMs: state.since, observedAtMs: now, status: "StatusStarting", lastError: "waiting for the first health check" };
        if (probe.healthy) return { healthy: true, startedAtMs: state.since, observedAtMs: now, status: "StatusOK" };
        // Refusals before a run's first success are a start in progress, not an error.
        if (!state.healthySeen) {
          return { healthy: false, startedAtMs: state.since, observedAtMs: now, status: "StatusStarting", lastError: `waiting for the first health check (${probe.error ?? "unhealthy"})` };
        }
        return { healthy: false, startedAtMs: state.since, observedAtMs: now, status: "StatusRecoverableError", lastError: probe.error ?? "unhealthy" };
      }
      case "stopping":
        return { healthy: false, startedAtMs: undefined, observedAtMs: now, status: "StatusStopping", lastError: "collector is stopping" };
      case "crashed":
      case "backoff": {
        const exit = state.id === "crashed" ? state.exit : undefined;
        const lastError = exit ? this.#crashText(formatExit(exit)) : (this.#current?.lastError ?? "collector crashed; restarting");
        return { healthy: false, startedAtMs: undefined, observedAtMs: now, status: "StatusFatalError", lastError };
      }
      default:
        return unreachable(state);
    }
  }

  #crashText(text: string): string {
    const max = this.#options.crashSnippetBytes;
    const bytes = Buffer.from(text);
    return bytes.length <= max ? text : `…${bytes.subarray(bytes.length - max).toString("utf8")}`;
  }

  #publish(health: CollectorHealth): void {
    if (sameHealth(this.#current, health)) return;
    this.#current = health;
    this.#options.onChange(health);
  }
}
