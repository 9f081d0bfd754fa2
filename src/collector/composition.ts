/**
 * "Which config should run": the one place it is composed. Local config_files, the remote
 * files (each body checked and parsed once, with one size cap) or the startup fallbacks,
 * the server's own-telemetry settings and the parts the supervisor injects (a health check
 * extension: healthcheckv2 when the collector has it, else health_check), by the config
 * room's merge rules.
 */
import { parseRemoteFiles } from "../config/body.js";
import { composeCollectorConfig } from "../config/compose.js";
import type { ResolvedConfig } from "../config/schema.js";
import { isConfigFileToken } from "../config/schema.js";
import type { FileSystem } from "../deps.js";
import { healthUrl } from "../health/probe.js";
import type { HealthKind } from "../health/probe.js";
import { osReason } from "../process/spawner.js";
import type { StoredRemoteConfig } from "../storage/index.js";

export interface Composition {
  /** The effective config; "" when there is nothing to run. */
  yaml: string;
  /** False when there is nothing to run: no local files and no remote files. */
  runnable: boolean;
  /** Where the health loop must look for this config. */
  healthUrl: string;
  /** What answers there: health_check's single status or healthcheckv2's component status. */
  healthKind: HealthKind;
  /** Things worth a log line that did not stop composition. */
  warnings: readonly string[];
  /** Local files left out: missing (warned about when supervisor.yaml was loaded) or unusable. */
  skipped: readonly string[];
}

export type RemoteFiles = ReadonlyArray<{ name: string; body: Uint8Array }>;

export type ComposeOutcome = { ok: true; composition: Composition } | { ok: false; message: string };

/** What the collector binary offers the composition (from its `components` inventory). */
export interface CollectorSupport {
  /** The healthcheckv2 extension is built in: inject it instead of health_check. */
  readonly healthcheckV2: boolean;
}

const NO_SUPPORT: CollectorSupport = { healthcheckV2: false };

export function remoteFilesOf(config: StoredRemoteConfig | undefined): RemoteFiles {
  if (!config) return [];
  return Object.entries(config.configMap).map(([name, file]) => ({ name, body: file.body }));
}

/** The server's own-telemetry settings as a config layer; null: none. */
export type OwnTelemetryLayer = Readonly<Record<string, unknown>> | null;

export async function compose(
  config: ResolvedConfig,
  fs: FileSystem,
  remote: RemoteFiles,
  support: CollectorSupport = NO_SUPPORT,
  ownTelemetry: OwnTelemetryLayer = null,
): Promise<ComposeOutcome> {
  const { agent } = config;
  const parsed = parseRemoteFiles(remote);
  if (!parsed.ok) return { ok: false, message: parsed.error };
  const localPaths = agent.configFiles.filter((entry) => !isConfigFileToken(entry));
  const localFiles: Array<{ name: string; content: string }> = [];
  const missing = new Set<string>();
  for (const path of localPaths) {
    try {
      localFiles.push({ name: path, content: await fs.readFile(path, "utf8") });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // A missing file is skipped, as the Go supervisor does (loading supervisor.yaml warned
      // about it); a file that exists and cannot be read is a fault the operator must see.
      if (code === "ENOENT") {
        missing.add(path);
        continue;
      }
      return {
        ok: false,
        message: `cannot compose the collector config: ${path}: agent.config_files: cannot read (${code ?? "error"})`,
      };
    }
  }
  let result;
  try {
    result = composeCollectorConfig({
      localFiles,
      order: agent.configFiles.filter((entry) => !missing.has(entry)),
      remote: parsed.files,
      ownTelemetry,
      injected: agent.health.injectExtension
        ? {
            health: {
              endpoint: agent.health.endpoint,
              path: agent.health.path,
              kind: support.healthcheckV2 ? "healthcheckv2" : "health_check",
            },
          }
        : {},
    });
  } catch (err) {
    return {
      ok: false,
      message: `cannot compose the collector config: ${err instanceof Error ? err.message : String(err)}`,
    };
  }
  const health = result.health ?? {
    endpoint: agent.health.endpoint,
    path: agent.health.path,
    kind: "health_check" as const,
  };
  const runnable = localFiles.length + remote.length > 0;
  return {
    ok: true,
    composition: {
      yaml: runnable ? result.yaml : "",
      runnable,
      healthUrl: healthUrl(health.endpoint, health.path),
      healthKind: health.kind,
      warnings: result.warnings,
      skipped: [...missing, ...result.skipped],
    },
  };
}

/** Startup fallback configs stand in for the remote part until a remote config has worked. */
export async function fallbackFiles(config: ResolvedConfig, fs: FileSystem): Promise<RemoteFiles> {
  return Promise.all(
    config.agent.startupFallbackConfigs.map(async (path, i) => ({
      // Names sort in the configured order.
      name: `fallback-${String(i).padStart(3, "0")}.yaml`,
      body: new Uint8Array(await fs.readFile(path)),
    })),
  );
}

/**
 * The best config there is when no new one is on offer (at start, in `init-config`, for a
 * rollback): the last working remote config, else the startup fallbacks, else the local files
 * alone. A source that cannot be used (a
 * stored config the merge rules now refuse, a fallback file gone) is a warning and the next
 * one is tried: a damaged file of ours never leaves the collector without a config.
 */
export async function composeStartup(
  config: ResolvedConfig,
  fs: FileSystem,
  working: StoredRemoteConfig | undefined,
  support: CollectorSupport = NO_SUPPORT,
  ownTelemetry: OwnTelemetryLayer = null,
): Promise<ComposeOutcome> {
  const sources: Array<{ what: string; files: () => Promise<RemoteFiles> }> = [];
  if (working)
    sources.push({ what: "the last working remote config", files: () => Promise.resolve(remoteFilesOf(working)) });
  if (config.agent.startupFallbackConfigs.length > 0)
    sources.push({ what: "the startup fallback configs", files: () => fallbackFiles(config, fs) });
  sources.push({ what: "the local config files", files: () => Promise.resolve([]) });
  const problems: string[] = [];
  for (const { what, files } of sources) {
    let outcome: ComposeOutcome;
    try {
      outcome = await compose(config, fs, await files(), support, ownTelemetry);
    } catch (err) {
      outcome = { ok: false, message: `cannot read it: ${osReason(err as NodeJS.ErrnoException)}` };
    }
    if (outcome.ok) {
      if (problems.length === 0) return outcome;
      return {
        ok: true,
        composition: { ...outcome.composition, warnings: [...problems, ...outcome.composition.warnings] },
      };
    }
    problems.push(`${what} cannot be used, falling back: ${outcome.message}`);
  }
  return { ok: false, message: problems.join("; ") };
}
