/**
 * When to ask the server for a new client certificate. Checks at start, then on a timer
 * (default daily) and exactly when the certificate enters the renewal window; re-sends an
 * unanswered request with exponential backoff. Knows nothing about OpAMP: `request` is
 * supplied by the caller, and `poke()` asks for a check now (server capabilities learned,
 * certificate replaced, instance uid changed).
 */
import type { Clock, Logger } from "../deps.js";

/** Node timers overflow above 2^31-1 ms. */
const MAX_SLEEP_MS = 2_147_483_647;

export interface RenewalState {
  /** Expiry of the client certificate in use (ms since the epoch), or undefined when there is none. */
  notAfter: number | undefined;
  /** Whether a request can be sent now (server accepts CSRs, TLS endpoint, capability on). */
  canRequest: boolean;
  /** Renew even outside the window (e.g. the instance uid in the certificate changed). */
  force: boolean;
}

export interface RenewalSchedulerOptions {
  clock: Clock;
  logger: Logger;
  renewBeforeMs: number;
  checkIntervalMs: number;
  /** First re-send delay of an unanswered request; doubles up to checkIntervalMs. */
  retryInitialMs: number;
  state(): RenewalState;
  /** Sends (or re-sends) a certificate request. A throw counts as an unanswered attempt. */
  request(attempt: number): Promise<void>;
}

/** True when a certificate expiring at `notAfter` needs renewing at `now`. */
export function renewalDue(notAfter: number | undefined, now: number, renewBeforeMs: number): boolean {
  return notAfter === undefined || notAfter - now <= renewBeforeMs;
}

export class RenewalScheduler {
  readonly #o: RenewalSchedulerOptions;
  #wake = new AbortController();
  /** Attempts sent for the current need, and when the next one is due. */
  #outstanding: { attempts: number; retryAt: number } | undefined;

  constructor(options: RenewalSchedulerOptions) {
    this.#o = options;
  }

  /** Re-evaluates at once. */
  poke(): void {
    const previous = this.#wake;
    this.#wake = new AbortController();
    previous.abort();
  }

  /** Runs until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    const { clock } = this.#o;
    while (!signal.aborted) {
      const wake = this.#wake.signal;
      const wakeAt = await this.#check();
      const wait = Math.min(MAX_SLEEP_MS, Math.max(0, wakeAt - clock.now()));
      await clock.sleep(wait, AbortSignal.any([signal, wake])).catch(() => undefined);
    }
  }

  /** One evaluation; returns when (ms since the epoch) to evaluate again. */
  async #check(): Promise<number> {
    const o = this.#o;
    const now = o.clock.now();
    const state = o.state();
    let wait = o.checkIntervalMs; // relative to `now`
    const due = state.force || renewalDue(state.notAfter, now, o.renewBeforeMs);
    if (!due) {
      this.#outstanding = undefined;
      // Wake up exactly when the certificate enters the window, if that is before the next check.
      if (state.notAfter !== undefined) wait = Math.min(wait, state.notAfter - o.renewBeforeMs - now + 1);
      return now + wait;
    }
    if (!state.canRequest) return now + wait;
    const outstanding = this.#outstanding;
    if (outstanding && now < outstanding.retryAt) return Math.min(now + wait, outstanding.retryAt);
    const attempts = (outstanding?.attempts ?? 0) + 1;
    const delay = Math.min(o.checkIntervalMs, o.retryInitialMs * 2 ** (attempts - 1));
    this.#outstanding = { attempts, retryAt: now + delay };
    o.logger.info(
      {
        attempt: attempts,
        notAfter: state.notAfter === undefined ? null : new Date(state.notAfter).toISOString(),
        retryInMs: delay,
      },
      state.notAfter === undefined
        ? "no client certificate: requesting one"
        : "client certificate due for renewal: requesting a new one",
    );
    try {
      await o.request(attempts);
    } catch (err) {
      o.logger.warn({ err, attempt: attempts }, "could not send the certificate request");
    }
    return now + Math.min(wait, delay);
  }
}
