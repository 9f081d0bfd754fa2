/**
 * Connection-settings trials: new settings count only once a real connection made with them
 * gets a normal reply from the server. This module keeps the books (which trial is waiting,
 * which one the live connection belongs to, its timeout, deciding it once); the client's
 * connect loop does the connecting and is told through `TrialHooks` what a decision means.
 */
import type { Clock } from "../deps.js";
import { ServerErrorResponseType } from "../gen/opamp_pb.js";
import type { ServerToAgent } from "../gen/opamp_pb.js";
import type { ConnectionTarget, TrialResult } from "./client-types.js";
import { TransportError } from "./transport.js";

/** New connection settings being proven by a real connection. */
export interface Trial<T extends ConnectionTarget = ConnectionTarget> {
  readonly target: T;
  readonly resolve: (result: TrialResult) => void;
  /** Aborted once the trial is decided: stops its timer and a connect still in flight. */
  readonly done: AbortController;
  settled: boolean;
}

/** What the client does when a trial is decided. */
export interface TrialHooks<T extends ConnectionTarget> {
  /** The trial was proven: `target` is now the one in force. */
  adopt(target: T): void;
  /** The trial failed while its own connection (or connect attempt) was live: end it now. */
  abandon(error: TransportError): void;
}

export class SettingsTrials<T extends ConnectionTarget> {
  readonly #clock: Clock;
  readonly #hooks: TrialHooks<T>;
  #pending: Trial<T> | undefined;
  /** The trial the live connection (or connect attempt) belongs to. */
  #onConnection: Trial<T> | undefined;

  constructor(clock: Clock, hooks: TrialHooks<T>) {
    this.#clock = clock;
    this.#hooks = hooks;
  }

  /** The undecided trial the next connect should use, if any. */
  get pending(): Trial<T> | undefined {
    return this.#pending;
  }

  /** Records which trial (if any) the connection now being opened belongs to. */
  bind(trial: Trial<T> | undefined): void {
    this.#onConnection = trial;
  }

  /** The connection or attempt ended: a later decision no longer has one to end. */
  unbind(): void {
    this.#onConnection = undefined;
  }

  /**
   * Starts a trial of `target`, superseding any undecided one. It fails on its own if not
   * proven within `timeoutMs`. The caller then makes the connect loop pick it up.
   */
  begin(target: T, timeoutMs: number): Promise<TrialResult> {
    this.cancel("superseded by newer settings");
    return new Promise((resolve) => {
      const trial: Trial<T> = { target, resolve, done: new AbortController(), settled: false };
      this.#pending = trial;
      // The timer is tied to `done`, so deciding the trial any other way clears it.
      this.#clock.sleep(timeoutMs, trial.done.signal).then(
        () => {
          const error = new TransportError(
            "CONNECTION_FAILED",
            `no answer from ${hostOf(target.endpoint)} within ${timeoutMs} ms`,
          );
          this.settle(trial, { ok: false, error });
        },
        () => undefined,
      );
    });
  }

  /** Fails the undecided trial, if any, with `reason` (superseded, closing, destroyed). */
  cancel(reason: string): void {
    if (this.#pending)
      this.settle(this.#pending, { ok: false, error: new TransportError("CONNECTION_FAILED", reason) });
  }

  /** The first reply on a trial's own connection decides it: an error response fails it, anything else proves it. */
  observe(trial: Trial<T> | undefined, msg: ServerToAgent): void {
    if (!trial || trial.settled || this.#onConnection !== trial) return;
    const error = msg.errorResponse;
    this.settle(
      trial,
      error
        ? {
            ok: false,
            error: new TransportError(
              "SERVER_ERROR",
              `server answered with an error: ${error.errorMessage || ServerErrorResponseType[error.type]}`,
            ),
          }
        : { ok: true },
    );
  }

  /** Decides a trial once. Success makes its target the one in force; failure ends its connection. */
  settle(trial: Trial<T>, result: TrialResult): void {
    if (trial.settled) return;
    trial.settled = true;
    trial.done.abort();
    if (this.#pending === trial) this.#pending = undefined;
    if (result.ok) {
      this.#hooks.adopt(trial.target);
    } else if (this.#onConnection === trial) {
      this.#hooks.abandon(result.error);
    }
    trial.resolve(result);
  }
}

function hostOf(endpoint: string): string {
  try {
    return new URL(endpoint).host;
  } catch {
    return endpoint;
  }
}
