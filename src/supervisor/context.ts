/** What every supervisor operation works with, gathered once at start. */
import type { ResolvedConfig } from "../config/schema.js";
import type { Deps, Logger } from "../deps.js";
import type { CollectorController } from "../collector/controller.js";
import type { AuditLog, StateDir, StateStore } from "../storage/index.js";
import type { UpgradeCheckpoint } from "../upgrade/index.js";
import type { StatusReporter } from "./reporter.js";

/**
 * Named points of the transactions. A test hook (see main.ts) can stop the supervisor dead
 * at one of them to prove that a crash there leaves a consistent host.
 */
export type Checkpoint =
  | "config-received"
  | "config-validated"
  | "config-swapped"
  | "config-applied"
  | "config-proven"
  | "config-rolled-back"
  | UpgradeCheckpoint;

export interface SupervisorHooks {
  checkpoint(step: Checkpoint): void;
}

export interface SupervisorContext {
  readonly config: ResolvedConfig;
  readonly deps: Deps;
  readonly logger: Logger;
  readonly stateDir: StateDir;
  readonly store: StateStore;
  readonly audit: AuditLog;
  /** The one owner of what the collector runs and whether it is healthy. */
  readonly collector: CollectorController;
  readonly reporter: StatusReporter;
  readonly hooks: SupervisorHooks;
  /** The supervisor's lifetime; aborting it means shut down. */
  readonly signal: AbortSignal;
}
