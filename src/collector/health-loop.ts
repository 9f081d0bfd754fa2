/**
 * The one loop that probes the collector's health endpoint. Its checks have two consumers:
 * the steady-state health report and, during a rollout, the health window.
 *
 * After each (re)start or reload it probes at once, then every 10 ms until the first healthy
 * answer (for at most 1 s: a start takes tens of ms, and a refused connection costs little),
 * then backs off to the interval (50 ms, 100 ms, 200 ms, … up to `intervalMs`). So the first
 * healthy report comes as soon as the collector answers, and the window's passes follow it
 * instead of a schedule that started before the collector was up. Once the run is healthy and
 * nobody watches closely (a rollout window does), it keeps doubling up to `steadyIntervalMs`;
 * a failed check brings it back to `intervalMs`.
 */
import type { Clock } from "../deps.js";
import { probeFor } from "../health/probe.js";
import type { HealthKind, Probe, ProbeResult } from "../health/probe.js";
import { TypedEvents } from "../process/typed-events.js";
import type { CollectorRun } from "./driver.js";
import type { Lifecycle } from "./lifecycle.js";

/** One check of the run now running. */
export interface HealthCheck {
  run: CollectorRun;
  result: ProbeResult;
  at: number;
  /** A failed check of the starting phase (before the run's first healthy answer): not a sickness. */
  starting: boolean;
}

export interface HealthLoopOptions {
  lifecycle: Lifecycle;
  clock: Clock;
  intervalMs: number;
  /** The rhythm while healthy and unwatched; default intervalMs. */
  steadyIntervalMs?: number;
  requestTimeoutMs: number;
  /** Test seam: how a URL is probed. Default HTTP GET, read as `kind` answers. */
  probeFor?: (url: string, timeoutMs: number, kind: HealthKind) => Probe;
}

/** The first delay after a healthy answer; doubled each check until the interval is reached. */
const FIRST_DELAY_MS = 50;
/** Until its first healthy answer after a kick, a starting collector is probed this often… */
const STARTING_DELAY_MS = 10;
/** …for at most this long after the kick; then the back-off goes on as usual. */
const STARTING_PHASE_MS = 1_000;

export class HealthLoop {
  readonly #options: HealthLoopOptions;
  readonly #events = new TypedEvents<{ check: HealthCheck }>(() => undefined);
  #probe: Probe | undefined;
  #url: string | undefined;
  #kind: HealthKind = "health_check";
  #nextDelayMs: number;
  #wake = new AbortController();
  #closeWatchers = 0;
  #lastHealthy = false;
  /** Set by a kick until the first healthy answer (or the end of the starting phase). */
  #startingUntil: number | undefined;

  constructor(options: HealthLoopOptions) {
    this.#options = options;
    this.#nextDelayMs = options.intervalMs;
    options.lifecycle.on("started", () => this.kick());
  }

  /** The health URL of the config in effect. */
  get url(): string | undefined {
    return this.#url;
  }

  /** Points the loop at the health endpoint of the config in effect. */
  setTarget(url: string, kind: HealthKind = "health_check"): void {
    if (url === this.#url && kind === this.#kind) return;
    this.#url = url;
    this.#kind = kind;
    this.#probe = (this.#options.probeFor ?? probeFor)(url, this.#options.requestTimeoutMs, kind);
  }

  /** Probe once now (outside the rhythm), e.g. to learn which service answers before a reload. */
  async probeNow(signal: AbortSignal): Promise<ProbeResult | undefined> {
    return this.#probe?.(signal);
  }

  /** Probe at once and back off to the interval again (after a start or reload). */
  kick(): void {
    this.#nextDelayMs = 0;
    this.#lastHealthy = false; // a new run or a re-read config: unknown until checked
    this.#startingUntil = this.#options.clock.now() + STARTING_PHASE_MS;
    this.#wake.abort();
  }

  /** Keeps the rhythm at `intervalMs` (a rollout window judging checks); returns the release. */
  watchClosely(): () => void {
    this.#closeWatchers++;
    if (this.#nextDelayMs > this.#options.intervalMs) {
      this.#nextDelayMs = this.#options.intervalMs;
      this.#wake.abort(); // a steady sleep would outlast the window's first checks
    }
    let released = false;
    return () => {
      if (!released) this.#closeWatchers--;
      released = true;
    };
  }

  /** Subscribes to every check; returns the unsubscribe function. */
  onCheck(listener: (check: HealthCheck) => void): () => void {
    return this.#events.on("check", listener);
  }

  /** Probes until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    const { clock, intervalMs } = this.#options;
    while (!signal.aborted) {
      const delay = this.#nextDelayMs;
      const cap =
        this.#lastHealthy && this.#closeWatchers === 0
          ? Math.max(intervalMs, this.#options.steadyIntervalMs ?? intervalMs)
          : intervalMs;
      this.#nextDelayMs = delay === 0 ? Math.min(FIRST_DELAY_MS, intervalMs) : Math.min(delay * 2, cap);
      if (delay > 0) {
        this.#wake = new AbortController();
        await clock.sleep(delay, AbortSignal.any([signal, this.#wake.signal])).catch(() => undefined);
        if (signal.aborted) return;
        if (this.#wake.signal.aborted) continue; // kicked (probe at once) or watched closely (the interval)
      }
      await this.#checkOnce(signal);
    }
  }

  async #checkOnce(signal: AbortSignal): Promise<void> {
    const state = this.#options.lifecycle.state;
    const probe = this.#probe;
    if (state.id !== "running" || !probe) return;
    const result = await probe(signal);
    const now = this.#options.lifecycle.state;
    if (signal.aborted || now.id !== "running" || now.run !== state.run) return; // the run changed meanwhile
    const at = this.#options.clock.now();
    if (result.healthy) this.#options.lifecycle.markHealthy(state.run);
    else if (this.#lastHealthy && this.#nextDelayMs > this.#options.intervalMs)
      this.#nextDelayMs = this.#options.intervalMs;
    const starting = this.#startingUntil !== undefined && !result.healthy;
    this.#whileStarting(result.healthy, at);
    this.#lastHealthy = result.healthy;
    this.#events.emit("check", { run: state.run, result, at, starting });
  }

  /** The starting phase after a kick: quick probes until healthy, then the back-off from its start. */
  #whileStarting(healthy: boolean, at: number): void {
    if (this.#startingUntil === undefined) return;
    const { intervalMs } = this.#options;
    if (healthy) {
      this.#startingUntil = undefined;
      this.#nextDelayMs = Math.min(FIRST_DELAY_MS, intervalMs);
    } else if (at < this.#startingUntil) {
      this.#nextDelayMs = Math.min(STARTING_DELAY_MS, intervalMs);
    } else {
      this.#startingUntil = undefined;
    }
  }
}
