/**
 * Puts the effective config file into effect (SIGHUP or restart) and proves it with the
 * health window. Shared by remote configs, rollbacks and restart commands.
 */
import { runHealthGate } from "../health/gate.js";
import { httpProbe } from "../health/probe.js";
import type { Probe } from "../health/probe.js";
import type { CollectorProcess } from "../process/index.js";
import { formatExit } from "../process/index.js";
import type { ExitResult } from "../process/index.js";
import type { SupervisorContext } from "./context.js";
import { EFFECTIVE_CONFIG_FILE } from "./context.js";

export type RolloutOutcome =
  | { ok: true; mode: "reload" | "restart"; applyMs: number; healthMs: number }
  | { ok: false; mode: "reload" | "restart"; applyMs: number; healthMs: number; reason: string; tail: string };

/**
 * `preferReload` asks for SIGHUP; it is used only when the collector has been healthy since
 * it started (earlier, SIGHUP kills it). The new run is not auto-restarted until proven, so
 * a crash inside the window is a failed rollout, not a crash loop.
 */
export async function rollout(ctx: SupervisorContext, healthUrl: string, preferReload: boolean): Promise<RolloutOutcome> {
  const { collector, deps } = ctx;
  const state = collector.state;
  const canReload = preferReload && state.id === "running" && state.healthySeen;
  const mode = canReload ? "reload" : "restart";
  const { agent } = ctx.config;
  // Which service answers before the reload: its 200s must not count for the new config.
  const before = canReload ? (await httpProbe(ctx.monitor.endpoint ?? healthUrl, agent.health.requestTimeoutMs)(ctx.signal)).upSince : undefined;
  const started = deps.clock.now();
  let undoExpectExit: () => void = () => undefined;
  try {
    if (canReload) {
      undoExpectExit = collector.expectExit();
      collector.reload();
    } else {
      await restartCollector(ctx);
      undoExpectExit = collector.expectExit();
    }
  } catch (err) {
    const reason = `collector could not be started: ${err instanceof Error ? err.message : String(err)}`;
    return { ok: false, mode, applyMs: deps.clock.now() - started, healthMs: 0, reason, tail: "" };
  }
  // Subscribed after the switch: the exit of a replaced run is not news.
  const exited = nextExit(collector);
  ctx.monitor.setEndpoint(healthUrl);
  const applied = deps.clock.now();
  const probe = httpProbe(healthUrl, agent.health.requestTimeoutMs);
  const gate = await runHealthGate({
    probe: before === undefined ? probe : notBefore(probe, before),
    initialDelayMs: canReload ? agent.health.intervalMs : 0,
    startupDeadlineMs: agent.configApplyTimeoutMs,
    intervalMs: agent.health.intervalMs,
    windowSize: agent.health.window,
    passesRequired: agent.health.passesRequired,
    clock: deps.clock,
    exited: exited.promise.then((exit) => formatExit(exit, { maxLines: 0 })),
    signal: ctx.signal,
    onCheck: (result) => {
      if (result.healthy) collector.markHealthy();
    },
  });
  exited.cancel();
  const timings = { mode, applyMs: applied - started, healthMs: deps.clock.now() - applied } as const;
  if (gate.ok) {
    undoExpectExit(); // proven: from now on a crash is restarted with backoff
    return { ok: true, ...timings };
  }
  const tail = exited.exit?.tail ?? currentTail(collector);
  return { ok: false, ...timings, reason: gate.reason, tail };
}

/** Stops the collector and starts it again on effective.yaml (auto-restart on, not proven). */
export async function restartCollector(ctx: SupervisorContext): Promise<void> {
  await ctx.collector.stop(ctx.signal);
  await ctx.collector.start([ctx.stateDir.file(EFFECTIVE_CONFIG_FILE)], ctx.signal);
}

/** A 200 from the service that was running before a reload is not proof of the new config. */
function notBefore(probe: Probe, upSinceBefore: string): Probe {
  return async (signal) => {
    const result = await probe(signal);
    if (!result.healthy || result.upSince !== upSinceBefore) return result;
    return { ...result, healthy: false, error: "the collector still answers with the service from before the reload" };
  };
}

interface ExitWatch {
  promise: Promise<ExitResult>;
  exit: ExitResult | undefined;
  cancel(): void;
}

/** The next exit of the child now running (or the exit it already had). */
function nextExit(collector: CollectorProcess): ExitWatch {
  const watch: ExitWatch = { promise: Promise.resolve({ code: null, signal: null, tail: "" }), exit: undefined, cancel: () => undefined };
  watch.promise = new Promise((resolve) => {
    const state = collector.state;
    if (state.id === "crashed") {
      watch.exit = state.exit;
      resolve(state.exit);
      return;
    }
    watch.cancel = collector.on("exit", (exit) => {
      watch.exit = exit;
      resolve(exit);
    });
  });
  return watch;
}

function currentTail(collector: CollectorProcess): string {
  const state = collector.state;
  return state.id === "running" || state.id === "starting" || state.id === "stopping" ? state.child.output.tail() : "";
}
