/**
 * Runs the health window against a live collector: one check per interval until the
 * window passes or fails, or the collector exits (an immediate failure).
 *
 * A collector that is still starting refuses connections or answers 503; those checks do
 * not use up the window. The window opens with the first passing check, and the collector
 * has `startupDeadlineMs` to give one. So a slow start is not mistaken for a bad config,
 * and a config that never becomes healthy still fails in bounded time.
 */
import type { Clock } from "../deps.js";
import type { Probe, ProbeResult } from "./probe.js";
import { judgeWindow } from "./window.js";
import type { WindowRule } from "./window.js";

export interface GateOptions extends WindowRule {
  probe: Probe;
  intervalMs: number;
  clock: Clock;
  /** Resolves with a description when the collector exits during the window. */
  exited: Promise<string>;
  signal: AbortSignal;
  /** Called after every check, e.g. to keep reported health current. */
  onCheck?: (result: ProbeResult) => void;
  /** Wait before the first check (after a SIGHUP the old service may still answer at once). */
  initialDelayMs?: number;
  /** How long the collector may take to pass its first check. Default: no limit beyond the window. */
  startupDeadlineMs?: number;
}

export type GateResult =
  | { ok: true; checks: number; elapsedMs: number }
  | { ok: false; checks: number; elapsedMs: number; reason: string };

export async function runHealthGate(options: GateOptions): Promise<GateResult> {
  const { clock, signal } = options;
  const started = clock.now();
  const results: boolean[] = [];
  let probes = 0;
  let lastError = "";
  let exit: string | undefined;
  void options.exited.then((why) => (exit = why));
  const elapsed = (): number => clock.now() - started;
  if (options.initialDelayMs) await pause(options, options.initialDelayMs);
  for (;;) {
    if (exit !== undefined) return { ok: false, checks: probes, elapsedMs: elapsed(), reason: `collector exited: ${exit}` };
    const result = await options.probe(signal);
    // An exit seen during the probe wins over its (refused) answer.
    await Promise.resolve();
    if (exit !== undefined) return { ok: false, checks: probes, elapsedMs: elapsed(), reason: `collector exited: ${exit}` };
    probes++;
    if (!result.healthy && result.error) lastError = result.error;
    options.onCheck?.(result);
    const starting = results.length === 0 && !result.healthy && options.startupDeadlineMs !== undefined;
    if (starting) {
      if (elapsed() >= (options.startupDeadlineMs ?? 0)) {
        return {
          ok: false,
          checks: probes,
          elapsedMs: elapsed(),
          reason: `collector did not answer healthy within ${options.startupDeadlineMs} ms (last error: ${lastError || "none"})`,
        };
      }
      await pause(options, options.intervalMs);
      continue;
    }
    results.push(result.healthy);
    const verdict = judgeWindow(results, options);
    if (verdict === "passed") return { ok: true, checks: probes, elapsedMs: elapsed() };
    if (verdict === "failed") {
      const passes = results.filter(Boolean).length;
      return {
        ok: false,
        checks: probes,
        elapsedMs: elapsed(),
        reason: `health check window failed: ${passes} of ${results.length} checks passed, ${options.passesRequired} in a row required (last error: ${lastError || "none"})`,
      };
    }
    await pause(options, options.intervalMs);
  }
}

/** Sleeps `ms`, cut short when the collector exits; rethrows only the caller's abort. */
async function pause(options: GateOptions, ms: number): Promise<void> {
  const stop = new AbortController();
  void options.exited.then(() => stop.abort());
  await options.clock.sleep(ms, AbortSignal.any([options.signal, stop.signal])).catch((err: unknown) => {
    if (options.signal.aborted) throw err;
  });
}
