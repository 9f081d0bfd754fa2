/**
 * SIGHUP: re-read the local `agent.config_files` and, when the composition changed, put it
 * into effect through the same proof as a remote config (validate, reload or restart, health
 * window). A new composition that fails is undone: the one that ran before is restored.
 */
import { leftCollectorUntouched } from "../collector/outcome.js";
import type { SupervisorContext } from "./context.js";

export async function reloadLocalConfig(ctx: SupervisorContext, signal: AbortSignal): Promise<void> {
  const { collector, logger } = ctx;
  const before = collector.current();
  const working = await ctx.store.readLastWorkingRemoteConfig();
  const composed = await collector.composeFallback(working);
  if (!composed.ok) {
    logger.warn(
      { reason: composed.message },
      "SIGHUP: the local config cannot be composed; the collector keeps its config",
    );
    await ctx.audit.append({ action: "local-config-reload", result: "failed", reason: composed.message });
    return;
  }
  const { composition } = composed;
  // At start an unusable local file is skipped (as in Go); on a reload that would quietly run
  // less than before, so a file that cannot be used refuses the reload instead.
  if (composition.skipped.length > 0) {
    const reason = `agent.config_files cannot be used: ${composition.skipped.join(", ")}`;
    logger.warn(
      { reason, warnings: composition.warnings },
      "SIGHUP: a local config file cannot be used; the collector keeps its config",
    );
    await ctx.audit.append({ action: "local-config-reload", result: "failed", reason });
    return;
  }
  for (const warning of composition.warnings) logger.warn(warning);
  const outcome = await collector.apply(composition, { preferReload: ctx.config.agent.useHupConfigReload, signal });
  if (outcome.ok) {
    ctx.reporter.effectiveConfig(composition.yaml);
    const changed = outcome.mode !== "unchanged";
    logger.info(
      { mode: outcome.mode, ...outcome.timings },
      changed ? "SIGHUP: the local config was reloaded" : "SIGHUP: the local config is unchanged",
    );
    await ctx.audit.append({
      action: "local-config-reload",
      result: changed ? "applied" : "unchanged",
      mode: outcome.mode,
      ...outcome.timings,
    });
    return;
  }
  if (outcome.reason === "aborted") return;
  logger.warn({ reason: outcome.message }, "SIGHUP: the new local config failed; restoring the one that ran");
  let restored = "nothing changed";
  if (!leftCollectorUntouched(outcome.reason) && before) {
    const back = await collector.restore(before, signal);
    restored = back.ok
      ? "restored the config that ran before, healthy again"
      : `the config that ran before did not become healthy either (${back.message})`;
  }
  await ctx.audit.append({
    action: "local-config-reload",
    result: "failed",
    reason: outcome.message,
    rollback: restored,
    ...outcome.timings,
  });
}
