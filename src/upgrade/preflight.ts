/**
 * Runs the new binary before anything is swapped: `--version` (it starts on this host and
 * says which version it is) and `validate` of the config the collector runs now (a build
 * missing a component the config uses fails here, not after the swap).
 */
import type { Spawner } from "../deps.js";
import { readVersion, runValidate } from "../process/commands.js";

export interface PreflightOptions {
  args: readonly string[];
  env: Readonly<Record<string, string>>;
  /** The effective config the collector runs; null when there is none to check. */
  effectiveConfig: string | null;
  signal: AbortSignal;
  spawn: Spawner;
}

export type PreflightResult = { ok: true; version: string } | { ok: false; reason: string };

export async function preflight(binary: string, options: PreflightOptions): Promise<PreflightResult> {
  let version: string;
  try {
    version = await readVersion(binary, { env: options.env, signal: options.signal, spawn: options.spawn });
  } catch (err) {
    if (options.signal.aborted) throw err;
    return {
      ok: false,
      reason: `the new binary failed its --version check: ${err instanceof Error ? err.message : String(err)}`,
    };
  }
  if (options.effectiveConfig !== null) {
    const result = await runValidate(binary, options.effectiveConfig, {
      args: options.args,
      env: options.env,
      signal: options.signal,
      spawn: options.spawn,
    });
    if (!result.ok)
      return { ok: false, reason: `the new binary (version ${version}) rejects the current config: ${result.message}` };
  }
  return { ok: true, version };
}
