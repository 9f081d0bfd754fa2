/**
 * `opamp-supervisor init-config`: writes the config a start would run (the last working
 * remote config, else the startup fallbacks, else the local files) into the state directory
 * as effective.yaml, and exits. Run as the sidecar pod's init container, so the collector
 * container (no shell to wait with in the official image) never starts without a config.
 * The decision is the supervisor's own (settleRemoteConfigStatus, composeStartup).
 */
import { composeStartup } from "../collector/composition.js";
import { EFFECTIVE_CONFIG_FILE } from "../collector/controller.js";
import type { ResolvedConfig } from "../config/schema.js";
import type { Deps } from "../deps.js";
import { ConfigError } from "../errors.js";
import { AuditLog, StateStore, openStateDir, uidToText, writeFileAtomic } from "../storage/index.js";
import { ownTelemetryLayer } from "../telemetry/own-telemetry.js";
import { storedOwnTelemetry } from "./own-telemetry.js";
import { loadInstanceUid, settleRemoteConfigStatus } from "./startup.js";

export interface InitConfigResult {
  path: string;
  /** Which config it is: a remote config's hash (hex), "fallback" or "local". */
  source: string;
}

export async function initConfig(config: ResolvedConfig, deps: Deps): Promise<InitConfigResult> {
  const stateDir = await openStateDir(config.storage.directory, { logger: deps.logger });
  const audit = new AuditLog({ path: stateDir.file("audit.log"), clock: deps.clock, logger: deps.logger });
  const store = new StateStore({ dir: stateDir, clock: deps.clock, logger: deps.logger, audit });
  const { working } = await settleRemoteConfigStatus(store, audit);
  const uid = await loadInstanceUid(config, store);
  const ownTelemetry = ownTelemetryLayer((await storedOwnTelemetry(store)).settings, uidToText(uid));
  // No inventory here (the sidecar's collector is in another container): health_check v1 is injected.
  const composed = await composeStartup(config, deps.fs, working, undefined, ownTelemetry);
  if (!composed.ok) throw new ConfigError("collector config", [composed.message]);
  const { composition } = composed;
  for (const warning of composition.warnings) deps.logger.warn(warning);
  if (!composition.runnable) {
    // An empty effective.yaml would only make the collector container crash-loop.
    throw new ConfigError(config.sourcePath, [
      "agent.config_files: no local collector config and no remote or fallback config stored: nothing for the collector to start with",
    ]);
  }
  const path = stateDir.file(EFFECTIVE_CONFIG_FILE);
  await writeFileAtomic(path, composition.yaml, { mode: 0o600 });
  const source = working
    ? Buffer.from(working.hash).toString("hex")
    : config.agent.startupFallbackConfigs.length > 0
      ? "fallback"
      : "local";
  return { path, source };
}
