/** The collector controller's contract: what operations pass to it and what it tells observers. */
import type { ResolvedConfig } from "../config/schema.js";
import type { Deps } from "../deps.js";
import type { CollectorHealth } from "../health/component-health.js";
import type { HealthKind, Probe } from "../health/probe.js";
import type { StateDir } from "../storage/index.js";
import type { Composition } from "./composition.js";
import type { CollectorDriver, VersionInfo } from "./driver.js";
import type { Failure } from "./lifecycle.js";
import type { ApplyOutcome } from "./outcome.js";

export type ApplyCheckpoint = "config-validated" | "config-swapped" | "config-applied";

export interface ApplyOptions {
  /** Ask for SIGHUP; used only when the collector has been healthy since it started. */
  preferReload: boolean;
  signal: AbortSignal;
  checkpoint?: (step: ApplyCheckpoint) => void;
}

/** What upgrade code sees of the collector. */
export interface CollectorControl {
  /** Path of the config the collector runs, or null when it runs none. */
  effectiveConfigPath(): string | null;
  /** Restarts from the executable path (whatever binary is there now) and proves it. */
  restartAndProve(options: { keepRunningOnFailure: boolean; signal: AbortSignal }): Promise<ApplyOutcome>;
  /** The collector's `--version`, read once and cached. */
  version(): Promise<VersionInfo>;
  /** A new binary is in place and proven: its version. */
  versionChanged(version: string): void;
}

export interface ControllerOptions {
  config: ResolvedConfig;
  driver: CollectorDriver;
  deps: Deps;
  stateDir: StateDir;
  /** The supervisor's lifetime. */
  signal: AbortSignal;
  onHealth(health: CollectorHealth): void;
  onVersion?(version: string): void;
  /** Each time the config meant to run changes (start, apply, rollback). */
  onEffective?(composition: Composition): void;
  /** A run is up (first start, restart, crash recovery). */
  onStarted?(pid: number): void;
  /** Test seam: how the health endpoint is probed. Default HTTP GET. */
  probeFor?: (url: string, timeoutMs: number, kind: HealthKind) => Probe;
  /** Facts for the supervisor's own metrics (src/telemetry/observe.ts). */
  observer?: CollectorObserver;
}

export interface CollectorObserver {
  /** A run is up; `attempt` > 0 for an automatic restart after a crash. */
  started(attempt: number): void;
  /** A run ended unexpectedly and is restarted with backoff. */
  crashed(failure: Failure): void;
  /** A health check's result; `starting` for a failed check while a (re)started run comes up. */
  checked(result: "healthy" | "unhealthy" | "starting"): void;
}
