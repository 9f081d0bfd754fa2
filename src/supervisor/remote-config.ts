/**
 * The remote-config transaction: check what arrived, let the collector controller put it
 * into effect and prove it, and either keep it as the last working config or report FAILED
 * at once and roll back. Every step is visible to the server as a status.
 */
import type { ApplyOutcome } from "../collector/outcome.js";
import { remoteFilesOf } from "../collector/composition.js";
import { withTail } from "../collector/tail.js";
import type { StoredRemoteConfig } from "../storage/index.js";
import { bytesToHex } from "../storage/index.js";
import type { SupervisorContext } from "./context.js";

export async function applyRemoteConfig(ctx: SupervisorContext, offer: StoredRemoteConfig, signal: AbortSignal = ctx.signal): Promise<void> {
  const { reporter, store, logger, collector } = ctx;
  const hash = offer.hash;
  const hashHex = bytesToHex(hash);
  const current = reporter.remoteStatus;
  if (current && sameBytes(current.hash, hash) && current.status !== "UNSET") {
    // Already applied, applying or refused: nothing to do; the status stands.
    logger.debug({ hash: hashHex, status: current.status }, "remote config unchanged");
    return;
  }
  if (await store.isFailedConfigHash(hash)) {
    await reporter.remoteConfigStatus({ hash, status: "FAILED", errorMessage: "this config failed before and is not applied again; send a different one" });
    return;
  }
  const started = ctx.deps.clock.now();
  await store.writeLastReceivedRemoteConfig(offer);
  await reporter.remoteConfigStatus({ hash, status: "APPLYING", errorMessage: "" });
  ctx.hooks.checkpoint("config-received");

  const composed = await collector.compose(remoteFilesOf(offer));
  if (!composed.ok) return reject(ctx, offer, composed.message, {});
  const composition = composed.composition;
  const outcome = await collector.apply(composition, {
    preferReload: ctx.config.agent.useHupConfigReload,
    signal,
    checkpoint: (step) => ctx.hooks.checkpoint(step),
  });
  const audit = { ...outcome.timings, totalMs: ctx.deps.clock.now() - started, mode: outcome.mode };
  if (outcome.ok) {
    const note = outcome.mode === "stopped" ? { note: "nothing to run; collector stopped" } : outcome.mode === "unchanged" ? { note: "the effective config is unchanged; nothing restarted" } : {};
    return accept(ctx, offer, composition.yaml, { action: "remote-config-applied", ...audit, ...note });
  }
  if (outcome.reason === "aborted") return; // shutting down: the next start settles APPLYING
  // The server hears FAILED as soon as the config is known bad; the rollback follows.
  await reject(ctx, offer, withTail(outcome.message, outcome.tail), { ...audit, reasonCode: outcome.reason });
  // Refused before the swap: the running collector was never touched.
  if (outcome.reason !== "validate-refused" && outcome.reason !== "io-failed") await rollBack(ctx, offer, signal);
}

async function accept(ctx: SupervisorContext, offer: StoredRemoteConfig, yaml: string, audit: Record<string, unknown> & { action: string }): Promise<void> {
  // Last working first: a crash between the two writes still restarts into this config.
  await ctx.store.writeLastWorkingRemoteConfig(offer);
  ctx.hooks.checkpoint("config-proven");
  // The audit line is on disk before the server hears the result.
  await ctx.audit.append({ ...audit, hash: bytesToHex(offer.hash), result: "applied" });
  await ctx.reporter.remoteConfigStatus({ hash: offer.hash, status: "APPLIED", errorMessage: "" });
  ctx.reporter.effectiveConfig(yaml);
  ctx.logger.info({ hash: bytesToHex(offer.hash), ...audit }, "remote config applied");
}

async function reject(ctx: SupervisorContext, offer: StoredRemoteConfig, reason: string, extra: Record<string, unknown>): Promise<void> {
  await ctx.store.addFailedConfigHash(offer.hash);
  await ctx.audit.append({
    action: "remote-config-failed",
    hash: bytesToHex(offer.hash),
    lastWorkingHash: await lastWorkingHash(ctx),
    result: "failed",
    reason,
    ...extra,
  });
  await ctx.reporter.remoteConfigStatus({ hash: offer.hash, status: "FAILED", errorMessage: reason });
  ctx.logger.warn({ hash: bytesToHex(offer.hash), reason }, "remote config refused");
}

/**
 * Puts the last working config back (or the startup config when none ever worked),
 * restarts and confirms it healthy. How that went is an audit line and the health reports.
 */
async function rollBack(ctx: SupervisorContext, failedOffer: StoredRemoteConfig, signal: AbortSignal): Promise<void> {
  const working = await ctx.store.readLastWorkingRemoteConfig();
  const composed = await ctx.collector.composeFallback(working);
  let outcome: ApplyOutcome | undefined;
  let result: string;
  if (!composed.ok) {
    result = `the last working config cannot be composed: ${composed.message}`;
  } else {
    outcome = await ctx.collector.restore(composed.composition, signal);
    ctx.reporter.effectiveConfig(composed.composition.yaml);
    ctx.hooks.checkpoint("config-rolled-back");
    if (outcome.ok) result = outcome.mode === "stopped" ? "rolled back: nothing to run" : "rolled back to the last working config, healthy again";
    else result = `rollback did not become healthy either (${outcome.message}); retrying it with backoff`;
  }
  if (outcome?.ok === false) ctx.logger.error({ reason: outcome.message }, "the last working config failed too");
  await ctx.audit.append({
    action: "remote-config-rolled-back",
    hash: bytesToHex(failedOffer.hash),
    lastWorkingHash: working ? bytesToHex(working.hash) : null,
    result: outcome?.ok ? "healthy" : "unhealthy",
    reason: result,
    ...(outcome ? { healthMs: outcome.timings.healthMs } : {}),
  });
  ctx.logger.info({ hash: bytesToHex(failedOffer.hash), result }, "remote config rolled back");
}

async function lastWorkingHash(ctx: SupervisorContext): Promise<string | null> {
  const working = await ctx.store.readLastWorkingRemoteConfig();
  return working ? bytesToHex(working.hash) : null;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
