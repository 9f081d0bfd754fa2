/**
 * What the supervisor decides at start from what is on disk: the instance uid, the remote
 * config status to report (settling a transaction a crash interrupted), and the config to run.
 * Unusable documents were already set aside by the store (one warning, one audit line each)
 * and read as absent here; the supervisor goes on with the best it still has.
 */
import type { ResolvedConfig } from "../config/schema.js";
import type { AuditLog, StateStore, StoredRemoteConfig, StoredRemoteConfigStatus } from "../storage/index.js";
import { DOCUMENT_NAMES, bytesToHex, settleInterrupted, uidFromText } from "../storage/index.js";

export async function loadInstanceUid(config: ResolvedConfig, store: StateStore): Promise<Uint8Array> {
  if (config.agent.instanceId) return uidFromText(config.agent.instanceId);
  return (await store.loadOrCreateInstanceUid()).uid;
}

/**
 * The status to report at start, and the remote config to run: the last working one, else
 * the last received one when it is known good or the working one was lost (never one that
 * failed), else none (the caller falls back to the startup fallbacks, then the local files).
 *
 * An APPLYING left on disk means the supervisor died inside a transaction; what runs now is
 * the last working config, so that is what we report (the server then sends the new config
 * again). A status that was lost is recomputed from what runs.
 */
export async function settleRemoteConfigStatus(
  store: StateStore,
  audit: AuditLog,
): Promise<{ status: StoredRemoteConfigStatus | undefined; working: StoredRemoteConfig | undefined }> {
  const stored = await store.readRemoteConfigStatus();
  const kept = await store.readLastWorkingRemoteConfig();
  const proven = await provenNotKept(store, stored, kept);
  const working = proven ?? kept;
  const run = working ?? (await usableReceived(store, stored));
  const inForce = (): StoredRemoteConfigStatus =>
    working
      ? { hash: working.hash, status: "APPLIED", errorMessage: "" }
      : { hash: new Uint8Array(0), status: "UNSET", errorMessage: "" };

  const settled = settleInterrupted(stored, ["APPLYING"], inForce);
  let status = settled.status;
  if (settled.interrupted) {
    await audit.append({
      action: "remote-config-interrupted",
      hash: bytesToHex(settled.interrupted.hash),
      lastWorkingHash: working ? bytesToHex(working.hash) : null,
      result: "resumed-last-working",
      reason: "the supervisor stopped while applying this config",
    });
  } else if (status === undefined && store.setAsideNotice(DOCUMENT_NAMES.remoteConfigStatus) && working) {
    status = inForce();
  }
  if (status && status !== stored) {
    await store
      .writeRemoteConfigStatus(status)
      .catch((err: unknown) => store.logger.warn({ err }, "cannot persist the settled remote config status"));
  }
  if (proven) {
    await audit.append({
      action: "remote-config-kept-at-start",
      hash: bytesToHex(proven.hash),
      lastWorkingHash: kept ? bytesToHex(kept.hash) : null,
      result: "applied",
      reason: "it was reported APPLIED but its working copy was not kept (lost, or a stop came in between)",
    });
    await store
      .writeLastWorkingRemoteConfig(proven)
      .catch((err: unknown) => store.logger.warn({ err }, "cannot restore the last working remote config"));
  }
  return { status, working: run };
}

/**
 * The received config when the status on disk says APPLIED for it but the working copy is
 * another one or none: APPLIED is written only after the proof, alongside the working copy
 * (remote-config.ts), so a stop between the two writes, or a lost working copy, leaves this.
 * So does a disk that refused the working copy and then the FAILED after it: that config
 * was rolled back for the disk's sake, not its own (its hash is not remembered as failed),
 * and it passed its proof, so it runs.
 */
async function provenNotKept(
  store: StateStore,
  status: StoredRemoteConfigStatus | undefined,
  kept: StoredRemoteConfig | undefined,
): Promise<StoredRemoteConfig | undefined> {
  if (status?.status !== "APPLIED" || (kept && sameBytes(kept.hash, status.hash))) return undefined;
  const received = await store.readLastReceivedRemoteConfig();
  if (!received || !sameBytes(received.hash, status.hash) || (await store.isFailedConfigHash(received.hash)))
    return undefined;
  return received;
}

async function usableReceived(
  store: StateStore,
  status: StoredRemoteConfigStatus | undefined,
): Promise<StoredRemoteConfig | undefined> {
  const received = await store.readLastReceivedRemoteConfig();
  if (!received || (await store.isFailedConfigHash(received.hash))) return undefined;
  const statusOfIt = status && sameBytes(status.hash, received.hash) ? status.status : undefined;
  const workingLost = store.setAsideNotice(DOCUMENT_NAMES.lastWorkingRemoteConfig) !== undefined;
  if (!workingLost || statusOfIt === "FAILED") return undefined;
  store.logger.warn(
    { hash: bytesToHex(received.hash) },
    "the last working remote config was lost; starting the collector on the last received one",
  );
  return received;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
