/**
 * The rollout's consumer of the health loop: feeds the health gate with the checks of one
 * run until it has proven itself, failed, exited, or the operation is aborted.
 *
 * Listening starts before the switch (`listen()`), because the loop probes at once after a
 * (re)start and that first check counts.
 */
import { HealthGate } from "../health/gate.js";
import type { GateVerdict, GateOptions } from "../health/gate.js";
import type { ProbeResult } from "../health/probe.js";
import type { CollectorRun } from "./driver.js";
import type { HealthCheck, HealthLoop } from "./health-loop.js";
import type { Failure } from "./lifecycle.js";

export type WindowVerdict =
  Exclude<GateVerdict, { kind: "pending" }> | { kind: "exited"; failure: Failure } | { kind: "aborted" };

export interface WindowOptions extends Omit<GateOptions, "startedAt"> {
  startedAt: number;
  /** The upSince of the service that answered before a reload: its 200s are not proof. */
  upSinceBefore: string | undefined;
  /** Checks made before this time do not count (a reload without upSince to tell services apart). */
  ignoreUntil: number;
  signal: AbortSignal;
}

export class RolloutWindow {
  readonly #loop: HealthLoop;
  readonly #early: HealthCheck[] = [];
  #stopBuffering: () => void;
  /** The window wants every check at the interval, not the steady rhythm. */
  readonly #release: () => void;

  private constructor(loop: HealthLoop) {
    this.#loop = loop;
    this.#stopBuffering = loop.onCheck((check) => this.#early.push(check));
    this.#release = loop.watchClosely();
  }

  /** Starts collecting checks now, before the collector is switched. */
  static listen(loop: HealthLoop): RolloutWindow {
    return new RolloutWindow(loop);
  }

  /** Stops listening without a verdict (the switch itself failed). */
  cancel(): void {
    this.#stopBuffering();
    this.#release();
  }

  /** Judges the checks of `run` (those already made and those to come). */
  judge(run: CollectorRun, o: WindowOptions): Promise<WindowVerdict> {
    const gate = new HealthGate(o);
    return new Promise((resolve) => {
      const cleanups: Array<() => void> = [];
      const done = (verdict: WindowVerdict): void => {
        for (const cleanup of cleanups) cleanup();
        this.#release();
        resolve(verdict);
      };
      const judgeOne = (check: HealthCheck): void => {
        if (check.run !== run || check.at < o.ignoreUntil) return;
        const verdict = gate.check(notBefore(check.result, o.upSinceBefore), check.at);
        if (verdict.kind !== "pending") done(verdict);
      };
      cleanups.push(this.#loop.onCheck(judgeOne));
      this.#stopBuffering();
      for (const check of this.#early.splice(0)) judgeOne(check);
      void run.exit.then((exit) => done({ kind: "exited", failure: { kind: "exit", exit } }));
      const onAbort = (): void => done({ kind: "aborted" });
      if (o.signal.aborted) onAbort();
      o.signal.addEventListener("abort", onAbort, { once: true });
      cleanups.push(() => o.signal.removeEventListener("abort", onAbort));
    });
  }
}

/** A 200 from the service that was running before a reload is not proof of the new config. */
function notBefore(result: ProbeResult, upSinceBefore: string | undefined): ProbeResult {
  if (upSinceBefore === undefined || !result.healthy || result.upSince !== upSinceBefore) return result;
  return { ...result, healthy: false, error: "the collector still answers with the service from before the reload" };
}
