/** What an operation learns when it asks the controller to put a config into effect. */

/** Stable reason codes of a failed apply. */
export type ApplyFailure =
  /** `<collector> validate` refused the candidate; the running collector was not touched. */
  | "validate-refused"
  /** The collector could not be started (the OS reason is in the message). */
  | "start-failed"
  /** The new run exited inside the health window. */
  | "exited"
  /** The health window failed, or the first healthy answer did not come in time. */
  | "unhealthy"
  /** The candidate could not be written or swapped in (disk full, read-only, ...); nothing changed. */
  | "io-failed"
  /** Shutdown (or the operation's deadline) interrupted it. */
  | "aborted";

/** How the config went into effect: SIGHUP, a restart, not at all (content-equal), or by stopping (nothing to run). */
export type ApplyMode = "reload" | "restart" | "unchanged" | "stopped";

/** How long each phase took; a phase that did not run is absent (not 0: it would skew the histograms). */
export interface ApplyTimings {
  validateMs?: number;
  applyMs?: number;
  healthMs?: number;
}

export type ApplyOutcome =
  | { ok: true; mode: ApplyMode; timings: ApplyTimings }
  | { ok: false; reason: ApplyFailure; message: string; tail: string; mode: ApplyMode; timings: ApplyTimings };

export const NO_TIMINGS: ApplyTimings = Object.freeze({});

export function failed(
  reason: ApplyFailure,
  message: string,
  extra: { tail?: string; mode?: ApplyMode; timings?: ApplyTimings } = {},
): ApplyOutcome {
  return {
    ok: false,
    reason,
    message,
    tail: extra.tail ?? "",
    mode: extra.mode ?? "restart",
    timings: extra.timings ?? NO_TIMINGS,
  };
}

/** True when the failed apply stopped before the collector was touched: there is nothing to roll back. */
export function leftCollectorUntouched(reason: ApplyFailure): boolean {
  switch (reason) {
    case "validate-refused":
    case "io-failed":
      return true;
    case "start-failed":
    case "exited":
    case "unhealthy":
    case "aborted":
      return false;
  }
}
