/**
 * The remote-config transaction: check what arrived, compose, validate with the
 * collector itself, swap, reload or restart, prove health, and either keep it as the last
 * working config or roll back. Every step is visible to the server as a status.
 */
import { parseConfigBody } from "../config/body.js";
import { runValidate } from "../process/index.js";
import { rename } from "node:fs/promises";
import { describeWriteError, fsyncDirectory, storageFaultCode, writeFileAtomic } from "../storage/index.js";
import type { StoredRemoteConfig } from "../storage/index.js";
import { bytesToHex } from "../storage/index.js";
import type { SupervisorContext } from "./context.js";
import { CANDIDATE_CONFIG_FILE, EFFECTIVE_CONFIG_FILE } from "./context.js";
import { compose, fallbackFiles, remoteFilesOf, writeEffective } from "./effective-config.js";
import { restartCollector, rollout } from "./rollout.js";

/** Cap on one remote config file; bigger bodies are refused before parsing. */
export const MAX_REMOTE_FILE_BYTES = 4 * 1024 * 1024;
/** Cap on the collector log tail carried in a FAILED message. */
const TAIL_IN_STATUS_BYTES = 2048;

export async function applyRemoteConfig(ctx: SupervisorContext, offer: StoredRemoteConfig): Promise<void> {
  const { reporter, store, logger } = ctx;
  const hash = offer.hash;
  const hashHex = bytesToHex(hash);
  const current = reporter.remoteStatus;
  if (current && sameBytes(current.hash, hash) && current.status !== "UNSET" && !reporter.failedTransiently(hash)) {
    // Already applied, applying or refused: nothing to do; the status stands.
    logger.debug({ hash: hashHex, status: current.status }, "remote config unchanged");
    return;
  }
  if (await store.isFailedConfigHash(hash)) {
    await reporter.remoteConfigStatus({ hash, status: "FAILED", errorMessage: "this config failed before and is not applied again; send a different one" });
    return;
  }
  const progress = { swapped: false };
  try {
    await applyOffer(ctx, offer, progress);
  } catch (err) {
    // A disk that refuses a write (full, read-only, failing) fails this offer, not the supervisor.
    if (storageFaultCode(err) === undefined) throw err;
    await storageFault(ctx, offer, err, progress.swapped);
  }
}

async function applyOffer(ctx: SupervisorContext, offer: StoredRemoteConfig, progress: { swapped: boolean }): Promise<void> {
  const { reporter, store } = ctx;
  const hash = offer.hash;
  const started = ctx.deps.clock.now();
  await store.writeLastReceivedRemoteConfig(offer);
  await reporter.remoteConfigStatus({ hash, status: "APPLYING", errorMessage: "" });
  ctx.hooks.checkpoint("config-received");
  const fail = (reason: string, extra: Record<string, unknown> = {}): Promise<void> => reject(ctx, offer, reason, extra);

  for (const [name, file] of Object.entries(offer.configMap)) {
    const parsed = parseConfigBody(name, file.body, { maxBytes: MAX_REMOTE_FILE_BYTES, allowEmptyName: true });
    if (!parsed.ok) return fail(parsed.error);
  }
  let composition;
  try {
    composition = await compose(ctx, remoteFilesOf(offer));
  } catch (err) {
    return fail(`cannot compose the collector config: ${errorText(err)}`);
  }

  if (!composition.runnable) {
    // An empty map means "no remote config", and nothing local is left to run.
    progress.swapped = true;
    await ctx.collector.stop(ctx.signal);
    await writeEffective(ctx, "");
    return accept(ctx, offer, "", { action: "remote-config-applied", note: "nothing to run; collector stopped", totalMs: ctx.deps.clock.now() - started });
  }

  const candidate = ctx.stateDir.file(CANDIDATE_CONFIG_FILE);
  await writeFileAtomic(candidate, composition.yaml, { mode: 0o600 });
  const validateStarted = ctx.deps.clock.now();
  if (ctx.config.agent.validateConfig) {
    const { agent } = ctx.config;
    const result = await runValidate(agent.executable, candidate, { args: agent.args, env: agent.env, signal: ctx.signal });
    if (!result.ok) return fail(`collector rejected the config: ${result.message}`);
  }
  const validateMs = ctx.deps.clock.now() - validateStarted;
  ctx.hooks.checkpoint("config-validated");

  progress.swapped = true;
  await promoteCandidate(ctx);
  ctx.hooks.checkpoint("config-swapped");
  const outcome = await rollout(ctx, composition.healthUrl, ctx.config.agent.useHupConfigReload);
  ctx.hooks.checkpoint("config-applied");
  const timings = { validateMs, applyMs: outcome.applyMs, healthMs: outcome.healthMs, totalMs: ctx.deps.clock.now() - started, mode: outcome.mode };
  if (outcome.ok) return accept(ctx, offer, composition.yaml, { action: "remote-config-applied", ...timings });

  const tail = boundTail(outcome.tail);
  const restored = await restoreLastWorking(ctx);
  const reason = `${outcome.reason}; ${restored}${tail ? `\ncollector log tail:\n${tail}` : ""}`;
  return fail(reason, { ...timings, rollback: restored });
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

/**
 * FAILED for an offer a write error stopped. Not remembered as a failed hash: the config is
 * not at fault, and the server may send it again once the disk accepts writes.
 */
async function storageFault(ctx: SupervisorContext, offer: StoredRemoteConfig, err: unknown, swapped: boolean): Promise<void> {
  let outcome = "nothing changed; the collector keeps its config";
  if (swapped) {
    outcome = await restoreLastWorking(ctx).catch(
      (again: unknown) => `could not roll back either (${describeWriteError(again)}); retrying once the disk accepts writes`,
    );
  }
  ctx.logger.error({ err, hash: bytesToHex(offer.hash) }, "a state directory write failed while applying a remote config");
  await reject(ctx, offer, `cannot write the state directory: ${describeWriteError(err)}; ${outcome}`, { storageFault: storageFaultCode(err) }, false);
}

/** `remember` false: a fault of the host, not of the config; the same hash may be sent again. */
async function reject(ctx: SupervisorContext, offer: StoredRemoteConfig, reason: string, extra: Record<string, unknown>, remember = true): Promise<void> {
  if (remember) await ctx.store.addFailedConfigHash(offer.hash);
  await ctx.audit.append({
    action: "remote-config-failed",
    hash: bytesToHex(offer.hash),
    lastWorkingHash: await lastWorkingHash(ctx),
    result: "failed",
    reason,
    ...extra,
  });
  await ctx.reporter.remoteConfigStatus({ hash: offer.hash, status: "FAILED", errorMessage: reason }, { transient: !remember });
  ctx.logger.warn({ hash: bytesToHex(offer.hash), reason }, "remote config refused");
}

/**
 * Puts the last working config back (or the startup config when none ever worked),
 * restarts and confirms it healthy. Returns words for the FAILED message.
 */
export async function restoreLastWorking(ctx: SupervisorContext): Promise<string> {
  const working = await ctx.store.readLastWorkingRemoteConfig();
  const remote = working ? remoteFilesOf(working) : await fallbackFiles(ctx);
  const composition = await compose(ctx, remote);
  await writeEffective(ctx, composition.yaml);
  ctx.reporter.effectiveConfig(composition.yaml);
  if (!composition.runnable) {
    await ctx.collector.stop(ctx.signal);
    return "rolled back: nothing to run";
  }
  const outcome = await rollout(ctx, composition.healthUrl, false);
  ctx.hooks.checkpoint("config-rolled-back");
  if (outcome.ok) return "rolled back to the last working config, healthy again";
  // Keep trying with the restart backoff rather than a tight loop; health reports the truth.
  ctx.logger.error({ reason: outcome.reason }, "the last working config failed too");
  await restartCollector(ctx).catch(() => undefined);
  return `rollback did not become healthy either (${outcome.reason}); retrying it with backoff`;
}

/** The validated candidate becomes effective.yaml by rename: the bytes are already durable. */
async function promoteCandidate(ctx: SupervisorContext): Promise<void> {
  await rename(ctx.stateDir.file(CANDIDATE_CONFIG_FILE), ctx.stateDir.file(EFFECTIVE_CONFIG_FILE));
  await fsyncDirectory(ctx.stateDir.root);
}

async function lastWorkingHash(ctx: SupervisorContext): Promise<string | null> {
  const working = await ctx.store.readLastWorkingRemoteConfig();
  return working ? bytesToHex(working.hash) : null;
}

function boundTail(tail: string): string {
  const bytes = Buffer.from(tail.trim());
  return bytes.length <= TAIL_IN_STATUS_BYTES ? tail.trim() : `…${bytes.subarray(bytes.length - TAIL_IN_STATUS_BYTES).toString("utf8")}`;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
