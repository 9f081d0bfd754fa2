/**
 * When to restart a collector that crashed: exponential backoff with jitter, reset once a
 * run has stayed healthy long enough. Pure apart from the injected clock and random source.
 *
 *   delay(n) = min(maxDelayMs, initialDelayMs * multiplier^(n-1)) * (1 - jitter * random())
 *
 * Jitter only shortens the delay, so `maxDelayMs` is a true ceiling and the delay stays
 * within [d * (1 - jitter), d].
 */
import type { Clock } from "../deps.js";

export interface RestartPolicyOptions {
  /** Delay before the first restart. */
  initialDelayMs: number;
  /** Ceiling for every delay. */
  maxDelayMs: number;
  /** Growth factor per consecutive failure (>= 1). */
  multiplier: number;
  /** Fraction in [0, 1] of the delay that is randomised away. */
  jitter: number;
  /** A run healthy for this long wipes the failure count. */
  resetAfterMs: number;
}

export const DEFAULT_RESTART_POLICY: Readonly<RestartPolicyOptions> = Object.freeze({
  initialDelayMs: 1_000,
  maxDelayMs: 60_000,
  multiplier: 2,
  jitter: 0.2,
  resetAfterMs: 60_000,
});

/** Throws RangeError naming the first bad option. */
export function validateRestartPolicy(options: RestartPolicyOptions): void {
  const check = (ok: boolean, name: keyof RestartPolicyOptions): void => {
    if (!ok) throw new RangeError(`restart policy: invalid ${name}: ${String(options[name])}`);
  };
  check(Number.isFinite(options.initialDelayMs) && options.initialDelayMs >= 0, "initialDelayMs");
  check(Number.isFinite(options.maxDelayMs) && options.maxDelayMs >= options.initialDelayMs, "maxDelayMs");
  check(Number.isFinite(options.multiplier) && options.multiplier >= 1, "multiplier");
  check(Number.isFinite(options.jitter) && options.jitter >= 0 && options.jitter <= 1, "jitter");
  check(Number.isFinite(options.resetAfterMs) && options.resetAfterMs >= 0, "resetAfterMs");
}

/** The un-jittered delay before restart number `attempt` (1-based). */
export function baseDelay(options: RestartPolicyOptions, attempt: number): number {
  const exponent = Math.max(0, attempt - 1);
  return Math.min(options.maxDelayMs, options.initialDelayMs * options.multiplier ** exponent);
}

/** `base` shortened by up to `jitter` of itself; `random` is uniform in [0, 1). */
export function applyJitter(base: number, jitter: number, random: () => number): number {
  return Math.round(base * (1 - jitter * random()));
}

export interface RestartDecision {
  /** 1 for the first restart after a healthy period, 2 for the next, … */
  attempt: number;
  delayMs: number;
}

/** Tracks consecutive failures of one collector across its runs. */
export class RestartPolicy {
  readonly options: Readonly<RestartPolicyOptions>;
  readonly #clock: Pick<Clock, "now">;
  readonly #random: () => number;
  #failures = 0;
  #healthySince: number | undefined;

  constructor(options: RestartPolicyOptions, deps: { clock: Pick<Clock, "now">; random: () => number }) {
    validateRestartPolicy(options);
    this.options = Object.freeze({ ...options });
    this.#clock = deps.clock;
    this.#random = deps.random;
  }

  /** Consecutive failures since the last reset. */
  get failures(): number {
    return this.#failures;
  }

  /** A new run started; health must be proven again. */
  recordStart(): void {
    this.#healthySince = undefined;
  }

  /** The current run reported healthy (the first report of a run is what counts). */
  recordHealthy(): void {
    this.#healthySince ??= this.#clock.now();
  }

  /** The current run failed: returns which attempt the restart is and how long to wait. */
  recordFailure(): RestartDecision {
    if (this.#healthySince !== undefined && this.#clock.now() - this.#healthySince >= this.options.resetAfterMs) {
      this.#failures = 0;
    }
    this.#healthySince = undefined;
    this.#failures += 1;
    const delayMs = applyJitter(baseDelay(this.options, this.#failures), this.options.jitter, this.#random);
    return { attempt: this.#failures, delayMs };
  }

  /** Forget all failures (e.g. after an operator-requested restart with a new config). */
  reset(): void {
    this.#failures = 0;
    this.#healthySince = undefined;
  }
}
