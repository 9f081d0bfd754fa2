/**
 * The steady-state consumer of the health loop: turns the lifecycle state and the latest
 * check into the collector health the server sees, and tells it only what changed.
 */
import type { Clock } from "../deps.js";
import { unreachable } from "../errors.js";
import { runningHealth, sameHealth } from "../health/component-health.js";
import type { CollectorHealth } from "../health/component-health.js";
import type { HealthCheck } from "./health-loop.js";
import { failureText } from "./lifecycle.js";
import type { CollectorState } from "./lifecycle.js";
import { boundTail } from "./tail.js";

export class HealthReport {
  readonly #clock: Clock;
  readonly #maxErrorBytes: number;
  readonly #onChange: (health: CollectorHealth) => void;
  #current: CollectorHealth | undefined;
  #last: HealthCheck | undefined;
  #state: CollectorState = { id: "stopped" };
  /** Set while nothing is to run (no local files, no remote config). */
  #idleReason: string | undefined;

  constructor(options: { clock: Clock; maxErrorBytes: number; onChange: (health: CollectorHealth) => void }) {
    this.#clock = options.clock;
    this.#maxErrorBytes = options.maxErrorBytes;
    this.#onChange = options.onChange;
  }

  get current(): CollectorHealth | undefined {
    return this.#current;
  }

  onState(state: CollectorState): void {
    this.#state = state;
    if (state.id !== "running") this.#last = undefined;
    this.#publish();
  }

  onCheck(check: HealthCheck): void {
    this.#last = check;
    this.#publish();
  }

  setIdleReason(reason: string | undefined): void {
    this.#idleReason = reason;
    this.#publish();
  }

  #publish(): void {
    const health = this.#fromState(this.#state);
    if (sameHealth(this.#current, health)) return;
    this.#current = health;
    this.#onChange(health);
  }

  #fromState(state: CollectorState): CollectorHealth {
    const now = this.#clock.now();
    switch (state.id) {
      case "stopped":
        return {
          healthy: false,
          startedAtMs: undefined,
          observedAtMs: now,
          status: "StatusStopped",
          lastError: this.#idleReason ?? "collector is not running",
        };
      case "starting":
        return {
          healthy: false,
          startedAtMs: undefined,
          observedAtMs: now,
          status: "StatusStarting",
          lastError: "collector is starting",
        };
      case "running": {
        const check = this.#last?.run === state.run ? this.#last.result : undefined;
        if (!check)
          return {
            healthy: false,
            startedAtMs: state.since,
            observedAtMs: now,
            status: "StatusStarting",
            lastError: "waiting for the first health check",
          };
        if (check.healthy) return runningHealth(check, { startedAtMs: state.since, observedAtMs: now });
        // Refusals before a run's first success are a start in progress, not an error.
        if (!state.healthySeen) {
          return {
            healthy: false,
            startedAtMs: state.since,
            observedAtMs: now,
            status: "StatusStarting",
            lastError: `waiting for the first health check (${check.error ?? "unhealthy"})`,
          };
        }
        return runningHealth(check, { startedAtMs: state.since, observedAtMs: now });
      }
      case "stopping":
        return {
          healthy: false,
          startedAtMs: undefined,
          observedAtMs: now,
          status: "StatusStopping",
          lastError: "collector is stopping",
        };
      case "backoff":
      case "exited":
        return {
          healthy: false,
          startedAtMs: undefined,
          observedAtMs: now,
          status: "StatusFatalError",
          lastError: boundTail(failureText(state.failure), this.#maxErrorBytes),
        };
      default:
        return unreachable(state);
    }
  }
}
