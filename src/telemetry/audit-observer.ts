/**
 * Turns audit lines into metrics and spans. Every config apply, rollback and package
 * install already writes one audit line with its result and phase timings, so this one
 * observer is the whole hook into the transactions (AuditLog's `observe` option).
 */
import type { WrittenAuditEntry } from "../storage/audit.js";
import type { ApplyResult, InstallResult, SupervisorMetrics } from "./metrics.js";
import type { SupervisorTracer } from "./traces.js";

export interface AuditObserverOptions {
  metrics: SupervisorMetrics;
  tracer: SupervisorTracer;
  /** Failure reasons may quote collector output: masked before they leave as span status. */
  mask: (text: string) => string;
}

const APPLY_PHASES = [
  ["validate", "validateMs"],
  ["apply", "applyMs"],
  ["health", "healthMs"],
] as const;
const PACKAGE_PHASES = ["downloadMs", "verifyMs", "preflightMs", "swapMs", "restartMs", "healthMs"];

export function auditObserver(options: AuditObserverOptions): (entry: WrittenAuditEntry) => void {
  const { metrics, tracer, mask } = options;
  return (entry) => {
    const end = Date.parse(entry.time);
    const num = (key: string): number | undefined => (typeof entry[key] === "number" ? entry[key] : undefined);
    const text = (key: string): string | undefined => (typeof entry[key] === "string" ? entry[key] : undefined);
    // Only the phases that ran: an audit line leaves out the others.
    const ran = APPLY_PHASES.flatMap(([phase, key]) => {
      const ms = num(key);
      return ms === undefined ? [] : [[phase, ms] as const];
    });
    const phasesMs = ran.length > 0 ? Object.fromEntries(ran) : undefined;
    const span = (name: string, phases: { name: string; durationMs: number }[], failed: boolean): void => {
      const sum = phases.reduce((total, phase) => total + phase.durationMs, 0);
      const reason = text("reason");
      tracer.operation({
        name,
        endMs: end, // the audit log's clock
        durationMs: Math.max(num("totalMs") ?? 0, sum),
        attributes: spanAttributes(entry),
        phases,
        ...(failed ? { error: mask(reason ?? String(entry["result"])) } : {}),
      });
    };
    const applyPhases = phasesMs ? Object.entries(phasesMs).map(([name, durationMs]) => ({ name, durationMs })) : [];

    switch (entry.action) {
      case "remote-config-applied":
      case "remote-config-failed": {
        const result: ApplyResult = entry.action === "remote-config-applied" ? "applied" : "failed";
        const reason = result === "failed" ? (text("reasonCode") ?? failureKind(entry)) : undefined;
        metrics.configApply({
          source: "remote",
          result,
          ...(reason !== undefined ? { reason } : {}),
          ...(phasesMs ? { phasesMs } : {}),
        });
        span("config apply", applyPhases, result === "failed");
        return;
      }
      case "local-config-reload": {
        const result = entry["result"] === "applied" || entry["result"] === "unchanged" ? entry["result"] : "failed";
        metrics.configApply({ source: "local", result, ...(phasesMs ? { phasesMs } : {}) });
        span("config apply", applyPhases, result === "failed");
        return;
      }
      case "remote-config-rolled-back": {
        const healthy = entry["result"] === "healthy";
        metrics.rollback(healthy ? "healthy" : "unhealthy");
        span("config rollback", [{ name: "health", durationMs: num("healthMs") ?? 0 }], !healthy);
        return;
      }
      case "package-installed":
      case "package-failed":
      case "package-already-installed": {
        const result: InstallResult =
          entry.action === "package-installed"
            ? "installed"
            : entry.action === "package-failed"
              ? "failed"
              : "already_installed";
        metrics.packageInstall(result);
        const bytes = num("downloadBytes");
        if (bytes !== undefined) metrics.packageDownloaded(bytes);
        const phases = PACKAGE_PHASES.flatMap((key) => {
          const ms = num(key);
          return ms === undefined ? [] : [{ name: key.slice(0, -2), durationMs: ms }];
        });
        span("package install", phases, result === "failed");
        return;
      }
      default:
        return;
    }
  };
}

/** Why a remote config failed when the controller gave no reason code. */
function failureKind(entry: WrittenAuditEntry): string {
  if (typeof entry["storageFault"] === "string") return "storage-fault";
  return "rejected"; // refused before the collector saw it (compose, size, key names)
}

/** The facts worth a span attribute; never reasons (free text) or anything secret. */
function spanAttributes(entry: WrittenAuditEntry): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = { "opamp_supervisor.action": entry.action };
  for (const key of ["result", "hash", "mode", "reasonCode", "name", "from", "to", "version"]) {
    const value = entry[key];
    if (typeof value === "string" || typeof value === "number" || typeof value === "boolean")
      out[`opamp_supervisor.${key === "reasonCode" ? "reason" : key}`] = value;
  }
  return out;
}
