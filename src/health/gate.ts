/**
 * The health window as a consumer of the health loop: fed one check at a time, it says
 * whether a new config (or binary) has proven itself. Pure, so the rule is tested without
 * a collector or a clock.
 *
 * A collector that is still starting refuses connections or answers 503; those checks do
 * not use up the window. The window opens with the first passing check, and the collector
 * has `startupDeadlineMs` to give one. So a slow start is not mistaken for a bad config,
 * and a config that never becomes healthy still fails in bounded time.
 */
import type { ProbeResult } from "./probe.js";
import { judgeWindow } from "./window.js";
import type { WindowRule } from "./window.js";

export interface GateOptions extends WindowRule {
  /** When the window started (ms, the caller's clock). */
  startedAt: number;
  /** How long the collector may take to pass its first check. Default: no limit beyond the window. */
  startupDeadlineMs?: number;
}

export type GateVerdict =
  | { kind: "pending" }
  | { kind: "passed"; checks: number; elapsedMs: number }
  | { kind: "failed"; checks: number; elapsedMs: number; reason: string };

export class HealthGate {
  readonly #options: GateOptions;
  readonly #results: boolean[] = [];
  #checks = 0;
  #lastError = "";

  constructor(options: GateOptions) {
    this.#options = options;
  }

  get checks(): number {
    return this.#checks;
  }

  /** Judges one more check made at `now`. */
  check(result: ProbeResult, now: number): GateVerdict {
    const o = this.#options;
    const elapsedMs = now - o.startedAt;
    this.#checks++;
    if (!result.healthy && result.error) this.#lastError = result.error;
    const starting = this.#results.length === 0 && !result.healthy && o.startupDeadlineMs !== undefined;
    if (starting) {
      if (elapsedMs < (o.startupDeadlineMs ?? 0)) return { kind: "pending" };
      return {
        kind: "failed",
        checks: this.#checks,
        elapsedMs,
        reason: `collector did not answer healthy within ${o.startupDeadlineMs} ms (last error: ${this.#lastError || "none"})`,
      };
    }
    this.#results.push(result.healthy);
    const verdict = judgeWindow(this.#results, o);
    if (verdict === "passed") return { kind: "passed", checks: this.#checks, elapsedMs };
    if (verdict === "pending") return { kind: "pending" };
    const passes = this.#results.filter(Boolean).length;
    return {
      kind: "failed",
      checks: this.#checks,
      elapsedMs,
      reason: `health check window failed: ${passes} of ${this.#results.length} checks passed, ${o.passesRequired} in a row required (last error: ${this.#lastError || "none"})`,
    };
  }
}
