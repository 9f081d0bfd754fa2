/**
 * What the supervisor decides at start from what is on disk: the instance uid, the remote
 * config status to report (settling a transaction a crash interrupted), and the config to run.
 */
import type { ResolvedConfig } from "../config/schema.js";
import type { AuditLog, StateStore, StoredRemoteConfig, StoredRemoteConfigStatus } from "../storage/index.js";
import { bytesToHex, uidFromText } from "../storage/index.js";

export async function loadInstanceUid(config: ResolvedConfig, store: StateStore): Promise<Uint8Array> {
  if (config.agent.instanceId) return uidFromText(config.agent.instanceId);
  return (await store.loadOrCreateInstanceUid()).uid;
}

/**
 * The status to report at start. An APPLYING left on disk means the supervisor died inside
 * a transaction; what runs now is the last working config, so that is what we report (the
 * server then sends the new config again).
 */
export async function settleRemoteConfigStatus(
  store: StateStore,
  audit: AuditLog,
): Promise<{ status: StoredRemoteConfigStatus | undefined; working: StoredRemoteConfig | undefined }> {
  const [status, working] = await Promise.all([store.readRemoteConfigStatus(), store.readLastWorkingRemoteConfig()]);
  if (status?.status !== "APPLYING") return { status, working };
  const settled: StoredRemoteConfigStatus = working
    ? { hash: working.hash, status: "APPLIED", errorMessage: "" }
    : { hash: new Uint8Array(0), status: "UNSET", errorMessage: "" };
  await store.writeRemoteConfigStatus(settled);
  await audit.append({
    action: "remote-config-interrupted",
    hash: bytesToHex(status.hash),
    lastWorkingHash: working ? bytesToHex(working.hash) : null,
    result: "resumed-last-working",
    reason: "the supervisor stopped while applying this config",
  });
  return { status: settled, working };
}
