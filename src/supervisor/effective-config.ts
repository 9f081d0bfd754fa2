/**
 * Builds the collector config the supervisor runs: the local config_files, the remote
 * files (or startup fallbacks), and the injected health_check extension, composed by the
 * config room's rules, written atomically to the state directory.
 */
import { readFile } from "node:fs/promises";
import { composeCollectorConfig } from "../config/compose.js";
import { isConfigFileToken } from "../config/schema.js";
import { healthUrl } from "../health/probe.js";
import { readFileIfExists, writeFileAtomic } from "../storage/index.js";
import type { StoredRemoteConfig } from "../storage/index.js";
import type { SupervisorContext } from "./context.js";
import { EFFECTIVE_CONFIG_FILE } from "./context.js";

export interface Composition {
  yaml: string;
  /** False when there is nothing to run: no local files and no remote files. */
  runnable: boolean;
  /** Where the health watcher must look for this config. */
  healthUrl: string;
}

export type RemoteFiles = ReadonlyArray<{ name: string; body: Uint8Array }>;

export function remoteFilesOf(config: StoredRemoteConfig | undefined): RemoteFiles {
  if (!config) return [];
  return Object.entries(config.configMap).map(([name, file]) => ({ name, body: file.body }));
}

export async function compose(ctx: Pick<SupervisorContext, "config">, remote: RemoteFiles): Promise<Composition> {
  const { agent } = ctx.config;
  const localPaths = agent.configFiles.filter((entry) => !isConfigFileToken(entry));
  // An unreadable local file is skipped (as the Go supervisor does); composition says so in its warnings.
  const read = await Promise.all(localPaths.map(async (path) => ({ name: path, content: await readFile(path, "utf8").catch(() => null) })));
  const localFiles = read.flatMap((file) => (file.content === null ? [] : [{ name: file.name, content: file.content }]));
  const result = composeCollectorConfig({
    localFiles,
    order: [...agent.configFiles],
    remote: remote.map((file) => ({ name: file.name, body: file.body })),
    injected: agent.health.injectExtension ? { health: { endpoint: agent.health.endpoint, path: agent.health.path } } : {},
  });
  const health = result.health ?? { endpoint: agent.health.endpoint, path: agent.health.path };
  return {
    yaml: localFiles.length + remote.length === 0 ? "" : result.yaml,
    runnable: localFiles.length + remote.length > 0,
    healthUrl: healthUrl(health.endpoint, health.path),
  };
}

/** Startup fallback configs stand in for the remote part until a remote config has worked. */
export async function fallbackFiles(ctx: Pick<SupervisorContext, "config">): Promise<RemoteFiles> {
  return Promise.all(
    ctx.config.agent.startupFallbackConfigs.map(async (path, i) => ({
      // Names sort in the configured order.
      name: `fallback-${String(i).padStart(3, "0")}.yaml`,
      body: new Uint8Array(await readFile(path)),
    })),
  );
}

export async function writeEffective(ctx: Pick<SupervisorContext, "stateDir">, yaml: string): Promise<string> {
  const path = ctx.stateDir.file(EFFECTIVE_CONFIG_FILE);
  // Unchanged content is not rewritten: a restart on a full or read-only disk still starts
  // the collector on the config it ran before.
  if ((await readFileIfExists(path).catch(() => undefined))?.toString("utf8") === yaml) return path;
  await writeFileAtomic(path, yaml, { mode: 0o600 });
  return path;
}
