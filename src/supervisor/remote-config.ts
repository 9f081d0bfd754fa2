/**
 * The remote-config transaction: check what arrived, let the collector controller put it
 * into effect and prove it, and either keep it as the last working config or report FAILED
 * at once and roll back. Every step is visible to the server as a status.
 */
import { leftCollectorUntouched } from "../collector/outcome.js";
import type { ApplyOutcome } from "../collector/outcome.js";
import { remoteFilesOf } from "../collector/composition.js";
import { withTail } from "../collector/tail.js";
import type { OfferResult, StoredRemoteConfig } from "../storage/index.js";
import { bytesToHex, describeWriteError, storageFaultCode } from "../storage/index.js";
import type { SupervisorContext } from "./context.js";

/** "retry": a refused state-directory write stopped it (reported FAILED, not remembered). */
export async function applyRemoteConfig(
  ctx: SupervisorContext,
  offer: StoredRemoteConfig,
  signal: AbortSignal = ctx.signal,
): Promise<OfferResult> {
  const { reporter, store, logger } = ctx;
  const hash = offer.hash;
  const hashHex = bytesToHex(hash);
  const current = reporter.remoteStatus;
  if (current && sameBytes(current.hash, hash) && current.status !== "UNSET" && !reporter.failedTransiently(hash)) {
    // Already applied, applying or refused: nothing to do; the status stands.
    logger.debug({ hash: hashHex, status: current.status }, "remote config unchanged");
    return "settled";
  }
  if (await store.isFailedConfigHash(hash)) {
    await reporter.remoteConfigStatus({
      hash,
      status: "FAILED",
      errorMessage: "this config failed before and is not applied again; send a different one",
    });
    return "settled";
  }
  const progress = { swapped: false };
  try {
    return await applyOffer(ctx, offer, signal, progress);
  } catch (err) {
    // A disk that refuses a write (full, read-only, failing) fails this offer, not the supervisor.
    if (storageFaultCode(err) === undefined) throw err;
    await storageFault(ctx, offer, err, progress.swapped, signal);
    return "retry";
  }
}

async function applyOffer(
  ctx: SupervisorContext,
  offer: StoredRemoteConfig,
  signal: AbortSignal,
  progress: { swapped: boolean },
): Promise<OfferResult> {
  const { reporter, store, collector } = ctx;
  const hash = offer.hash;
  const started = ctx.deps.clock.now();
  // Neither write depends on the other (start-up settles an APPLYING whichever landed), and
  // composing is CPU work: the three overlap.
  const received = Promise.all([
    store.writeLastReceivedRemoteConfig(offer),
    reporter.remoteConfigStatus({ hash, status: "APPLYING", errorMessage: "" }),
  ]).then(() => ctx.hooks.checkpoint("config-received"));
  const [composed] = await Promise.all([collector.compose(remoteFilesOf(offer)), received]);
  if (!composed.ok) {
    await reject(ctx, offer, composed.message, {});
    return "settled";
  }
  const composition = composed.composition;
  const outcome = await collector.apply(composition, {
    preferReload: ctx.config.agent.useHupConfigReload,
    signal,
    checkpoint: (step) => ctx.hooks.checkpoint(step),
  });
  // Past validation and the candidate write, the collector may run the new config.
  progress.swapped = outcome.ok || !leftCollectorUntouched(outcome.reason);
  const audit = { ...outcome.timings, totalMs: ctx.deps.clock.now() - started, mode: outcome.mode };
  if (outcome.ok) {
    const note =
      outcome.mode === "stopped"
        ? { note: "nothing to run; collector stopped" }
        : outcome.mode === "unchanged"
          ? { note: "the effective config is unchanged; nothing restarted" }
          : {};
    await accept(ctx, offer, composition.yaml, { action: "remote-config-applied", ...audit, ...note });
    return "settled";
  }
  if (outcome.reason === "aborted") return "settled"; // shutting down: the next start settles APPLYING
  // The server hears FAILED as soon as the config is known bad; the rollback follows.
  // A candidate the disk refused is the host's fault, not the config's: not remembered.
  const remember = outcome.reason !== "io-failed";
  await reject(ctx, offer, withTail(outcome.message, outcome.tail), { ...audit, reasonCode: outcome.reason }, remember);
  // Refused before the swap (validate, a refused write): nothing to roll back.
  if (leftCollectorUntouched(outcome.reason)) return remember ? "settled" : "retry";
  if (ctx.config.agent.automaticConfigRollback) await rollBack(ctx, offer, signal);
  else await keepFailedConfig(ctx, offer, composition.yaml, signal);
  return remember ? "settled" : "retry";
}

/**
 * `agent.automatic_config_rollback: false`, as the Go supervisor offers it: the operator wants
 * what the server sent to stay in place. The failed config keeps running under the crash
 * restart backoff; FAILED and the health reports tell the server the truth.
 */
async function keepFailedConfig(
  ctx: SupervisorContext,
  offer: StoredRemoteConfig,
  yaml: string,
  signal: AbortSignal,
): Promise<void> {
  await ctx.collector.keepRunning(signal);
  ctx.reporter.effectiveConfig(yaml);
  const reason = "automatic_config_rollback is false: the failed config stays in place";
  await ctx.audit.append({ action: "remote-config-kept", hash: bytesToHex(offer.hash), result: "unhealthy", reason });
  ctx.logger.warn({ hash: bytesToHex(offer.hash) }, reason);
}

async function accept(
  ctx: SupervisorContext,
  offer: StoredRemoteConfig,
  yaml: string,
  audit: Record<string, unknown> & { action: string },
): Promise<void> {
  // The kept copy and the audit line are on disk before the server hears APPLIED; APPLIED
  // itself is written alongside them. A crash before all three restarts into this config
  // either way (start-up settles APPLYING to the last working config, and APPLIED with an
  // older working copy to the received one, which is this offer).
  const kept = Promise.all([
    ctx.store.writeLastWorkingRemoteConfig(offer),
    ctx.audit.append({ ...audit, hash: bytesToHex(offer.hash), result: "applied" }),
  ]);
  const reported = ctx.reporter.remoteConfigStatus(
    { hash: offer.hash, status: "APPLIED", errorMessage: "" },
    { after: kept },
  );
  await kept; // a refused write: storageFault reports FAILED and rolls back; APPLIED is never sent
  ctx.hooks.checkpoint("config-proven");
  await reported;
  ctx.reporter.effectiveConfig(yaml);
  ctx.logger.info({ hash: bytesToHex(offer.hash), ...audit }, "remote config applied");
}

/**
 * FAILED for an offer a write error stopped. Not remembered as a failed hash: the config is
 * not at fault, and the server may send it again once the disk accepts writes.
 */
async function storageFault(
  ctx: SupervisorContext,
  offer: StoredRemoteConfig,
  err: unknown,
  swapped: boolean,
  signal: AbortSignal,
): Promise<void> {
  ctx.logger.error(
    { err, hash: bytesToHex(offer.hash) },
    "a state directory write failed while applying a remote config",
  );
  const outcome = swapped
    ? "rolling back to the last working config"
    : "nothing changed; the collector keeps its config";
  await reject(
    ctx,
    offer,
    `cannot write the state directory: ${describeWriteError(err)}; ${outcome}`,
    { storageFault: storageFaultCode(err) },
    false,
  );
  if (swapped) {
    await rollBack(ctx, offer, signal).catch((again: unknown) =>
      ctx.logger.error({ err: again }, "could not roll back either; retrying once the disk accepts writes"),
    );
  }
}

/** `remember` false: a fault of the host, not of the config; the same hash may be sent again. */
async function reject(
  ctx: SupervisorContext,
  offer: StoredRemoteConfig,
  reason: string,
  extra: Record<string, unknown>,
  remember = true,
): Promise<void> {
  // The audit line is on disk before the server hears FAILED. The failed hash is written
  // meanwhile: the same hash sent again waits for it (FailedHashSet serialises), and the
  // FAILED on disk already keeps a restart from running this config.
  const remembered = remember ? ctx.store.addFailedConfigHash(offer.hash) : Promise.resolve();
  const reported = lastWorkingHash(ctx)
    .then((lastWorking) =>
      ctx.audit.append({
        action: "remote-config-failed",
        hash: bytesToHex(offer.hash),
        lastWorkingHash: lastWorking,
        result: "failed",
        reason,
        ...extra,
      }),
    )
    .then(() =>
      ctx.reporter.remoteConfigStatus(
        { hash: offer.hash, status: "FAILED", errorMessage: reason },
        { transient: !remember },
      ),
    );
  await Promise.all([remembered, reported]);
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
    if (outcome.ok)
      result =
        outcome.mode === "stopped"
          ? "rolled back: nothing to run"
          : "rolled back to the last working config, healthy again";
    else result = `rollback did not become healthy either (${outcome.message}); retrying it with backoff`;
  }
  if (outcome?.ok === false) ctx.logger.error({ reason: outcome.message }, "the last working config failed too");
  await ctx.audit.append({
    action: "remote-config-rolled-back",
    hash: bytesToHex(failedOffer.hash),
    lastWorkingHash: working ? bytesToHex(working.hash) : null,
    result: outcome?.ok ? "healthy" : "unhealthy",
    reason: result,
    ...(outcome?.timings.healthMs !== undefined ? { healthMs: outcome.timings.healthMs } : {}),
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
