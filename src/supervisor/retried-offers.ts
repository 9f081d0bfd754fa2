/**
 * The newest offer of one kind (remote config, packages) through the operation queue. An
 * offer that a refused state-directory write stopped (disk full, read-only) is not the
 * server's fault, and the server has no reason to send it again: the supervisor tries it
 * again by itself, after `storage.retry_interval` doubling up to MAX_RETRY_DELAY_MS, until
 * it settles or a newer offer of the same kind replaces it.
 */
import type { Clock, Logger } from "../deps.js";
import type { OfferResult } from "../storage/index.js";
import type { OperationQueue } from "./queue.js";

export const MAX_RETRY_DELAY_MS = 10 * 60_000;

export interface RetriedOffersOptions<T> {
  /** The queue key: a newer offer replaces a waiting one of the same kind. */
  kind: string;
  queue: OperationQueue;
  clock: Clock;
  logger: Logger;
  /** The supervisor's lifetime: pending retries end with it. */
  signal: AbortSignal;
  firstRetryMs: number;
  deadlineMs?: number;
  handle(offer: T, signal: AbortSignal): Promise<OfferResult>;
}

/** Returns the function to call with each offer as it arrives. */
export function retriedOffers<T>(o: RetriedOffersOptions<T>): (offer: T) => void {
  let latest: T | undefined;
  let retries = 0;
  const run = (offer: T): void => {
    void o.queue.enqueueLatest(
      o.kind,
      async (opSignal) => {
        if (offer !== latest) return; // a newer offer arrived while this one waited
        if ((await o.handle(offer, opSignal)) === "settled") return;
        const delayMs = Math.min(MAX_RETRY_DELAY_MS, o.firstRetryMs * 2 ** retries++);
        o.logger.info(
          { kind: o.kind, delayMs, attempt: retries },
          "a state directory write stopped this offer; it is tried again later",
        );
        o.clock.sleep(delayMs, o.signal).then(
          () => {
            if (offer === latest) run(offer);
          },
          () => undefined, // shutting down
        );
      },
      o.deadlineMs,
    );
  };
  return (offer: T) => {
    latest = offer;
    retries = 0;
    run(offer);
  };
}
