/**
 * The one status-transaction primitive every offer kind uses (remote configs, connection
 * settings, packages):
 *
 *   offer ─▶ set(APPLYING) ─▶ work ─▶ set(APPLIED | FAILED)       settle(at start)
 *              │ persist, then send                                 APPLYING on disk ─▶
 *              └ a refused write never stops the send               what is in force
 *
 * While the disk works, what the server hears is already on disk (what a restart will say).
 * A write the disk refuses (full, read-only, failing) is logged once per episode and the
 * status is sent anyway; the newest value is written with the next change or flush(), so a
 * restart after the fault clears reports it. The document goes through the state store, so
 * an unusable one gets the one corrupt policy (see corrupt.ts) and reads as absent.
 */
import type { Logger } from "../deps.js";

/** The four states of an offer status, as OpAMP's RemoteConfigStatuses and ConnectionSettingsStatuses both define them. */
export const OFFER_STATES = ["UNSET", "APPLIED", "APPLYING", "FAILED"] as const;
export type OfferState = (typeof OFFER_STATES)[number];

/**
 * How handling one offer ended: "retry" when a refused state-directory write stopped it (the
 * offer is not at fault and may be tried again), else "settled".
 */
export type OfferResult = "settled" | "retry";

export interface OfferStatus {
  /** The offer's hash, opaque, echoed as received. */
  hash: Uint8Array;
  status: OfferState;
  errorMessage: string;
}

export interface PersistedStatusOptions<T> {
  /** Names the status in log lines, e.g. "remote config status". */
  what: string;
  write(value: T): Promise<void>;
  /** Hands the value to whoever reports it (the OpAMP client); called before every write. */
  send(value: T): void;
  logger: Logger;
}

export class PersistedStatus<T> {
  readonly #options: PersistedStatusOptions<T>;
  #current: T | undefined;
  #unsaved = false;
  /** Writes run in call order, so the file always ends with the newest value. */
  #writes: Promise<unknown> = Promise.resolve();

  constructor(options: PersistedStatusOptions<T>) {
    this.#options = options;
  }

  get current(): T | undefined {
    return this.#current;
  }

  /** True while the newest value is known to the server but not yet on disk. */
  get unsaved(): boolean {
    return this.#unsaved;
  }

  /**
   * Persists `value`, then sends it, also when the write was refused. Resolves true when it
   * is on disk, false when the disk refused (logged; retried with the next set or flush).
   * Never rejects. Calls run in order: the file and the server both end with the newest value.
   *
   * `after`: work the server must not hear about before it is done (the kept copy of what
   * this status reports). The write runs alongside it; the send waits for it, and does not
   * happen when it fails: the caller reports that failure with its next `set`. It must not
   * wait on this status itself (a later `set` runs only after this one).
   */
  set(value: T, options: { after?: Promise<unknown> } = {}): Promise<boolean> {
    this.#current = value;
    return this.#chain(async () => {
      const [ok, done] = await Promise.all([
        this.#write(value),
        (options.after ?? Promise.resolve()).then(
          () => true,
          () => false,
        ),
      ]);
      if (done) this.#options.send(value);
      return ok;
    });
  }

  /** A value already on disk (read at start): sent, not written. */
  restore(value: T): void {
    this.#current = value;
    this.#options.send(value);
  }

  /** Sends the current value again (e.g. once a reporter is attached). */
  resend(): void {
    if (this.#current !== undefined) this.#options.send(this.#current);
  }

  /** Writes the newest value if an earlier write was refused. */
  flush(): Promise<boolean> {
    return this.#chain(async () => (this.#unsaved && this.#current !== undefined ? this.#write(this.#current) : true));
  }

  #chain(step: () => Promise<boolean>): Promise<boolean> {
    const next = this.#writes.then(step);
    this.#writes = next.catch(() => false);
    return next;
  }

  async #write(value: T): Promise<boolean> {
    try {
      await this.#options.write(value);
    } catch (err) {
      if (!this.#unsaved)
        this.#options.logger.warn(
          { err, what: this.#options.what },
          "cannot persist the status; sending it anyway and keeping it until writing works again",
        );
      this.#unsaved = true;
      return false;
    }
    if (this.#unsaved)
      this.#options.logger.info({ what: this.#options.what }, "status persisted again after an earlier write failed");
    this.#unsaved = false;
    return true;
  }
}

/**
 * Settle at start: an in-flight status on disk means the supervisor died inside the
 * transaction. `inForce` says what the host runs instead; the result is what to report.
 */
export function settleInterrupted<T extends { status: string }>(
  stored: T | undefined,
  inFlight: readonly T["status"][],
  inForce: (interrupted: T) => T,
): { status: T | undefined; interrupted: T | undefined } {
  if (stored === undefined || !inFlight.includes(stored.status)) return { status: stored, interrupted: undefined };
  return { status: inForce(stored), interrupted: stored };
}
