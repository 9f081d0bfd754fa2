/**
 * agent.run and agent.sidecar, and what a sidecar changes elsewhere in supervisor.yaml: no
 * package upgrades (the collector's image is the upgrade path).
 */
import * as path from "node:path";
import type { Checker, KeyPath } from "./check.js";
import { DEFAULTS, type ResolvedCapabilities, type ResolvedSidecar, type RunMode } from "./schema.js";
import { NO_EFFECT } from "./validate-compat.js";

/** A collector in another container is upgraded by its image: no package upgrades in a sidecar. */
export function capabilitiesForMode(
  capabilities: ResolvedCapabilities,
  run: RunMode,
  check: Checker,
): ResolvedCapabilities {
  if (run !== "sidecar" || !capabilities.acceptsPackages) return capabilities;
  check.warn(
    ["capabilities", "accepts_packages"],
    "is off in a sidecar (agent.run: sidecar): the collector's image is the upgrade path; not advertised to the server",
  );
  return { ...capabilities, acceptsPackages: false };
}

export function buildSidecar(
  agent: Record<string, unknown>,
  run: RunMode,
  baseDir: string,
  check: Checker,
): ResolvedSidecar {
  const at: KeyPath = ["agent", "sidecar"];
  const section = check.section(at, agent["sidecar"], ["validate_executable", "start_timeout"]);
  if (run !== "sidecar" && agent["sidecar"] !== undefined && agent["sidecar"] !== null) {
    check.warn(at, `${NO_EFFECT} (agent.run is ${run}, not sidecar)`);
  }
  const validateExecutable = check.string([...at, "validate_executable"], section["validate_executable"], null, {
    nullIsAbsent: true,
    nonEmpty: true,
  });
  return {
    validateExecutable: validateExecutable === null ? null : path.resolve(baseDir, validateExecutable),
    startTimeoutMs: check.duration([...at, "start_timeout"], section["start_timeout"], DEFAULTS.sidecarStartTimeoutMs, {
      positive: true,
    }),
  };
}
