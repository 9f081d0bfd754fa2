/**
 * Composes the collector's effective config from the local layers (agent.config_files), the
 * remote config map, the server's own-telemetry settings and the parts the supervisor injects
 * (a health check extension), with the official Go supervisor's rules: confmap's merge (maps
 * merge key by key, lists and scalars are replaced) except that service.extensions lists are
 * concatenated without duplicates and service.telemetry.resource.attributes merge by name; a
 * remote config that declares resource attributes replaces the local ones. A local file that
 * is missing or not a YAML map is skipped with a warning, as Go does; a bad remote file is an
 * error.
 */
import { Document, isScalar, visit } from "yaml";
import { ConfigError } from "../errors.js";
import { parseConfigBody, parseConfigText, type CollectorConfig } from "./body.js";
import { isPlainMap, setOwn } from "./check.js";
import { declaresResourceAttributes, deepClone, mergeCollectorLayers } from "./merge.js";
import { OWN_TELEMETRY_CONFIG_TOKEN, REMOTE_CONFIG_TOKEN, isConfigFileToken } from "./schema.js";

export { deepMerge, mergeCollectorLayers } from "./merge.js";
export {
  CONFIG_BODY_MAX_ALIAS_COUNT,
  DEFAULT_MAX_CONFIG_BYTES,
  checkConfigFileName,
  parseConfigBody,
  type CollectorConfig,
  type ParseBodyOptions,
  type ParseBodyResult,
} from "./body.js";

export interface LocalConfigFile {
  /** The agent.config_files entry this content belongs to. */
  readonly name: string;
  /** The file's text (YAML or JSON), or an already parsed map. */
  readonly content: string | Readonly<CollectorConfig>;
}

/** A config_map entry: its raw body, or the map parseConfigBody already made of it (parsed once). */
export type RemoteConfigFile =
  | { readonly name: string; readonly body: string | Uint8Array }
  | { readonly name: string; readonly config: Readonly<CollectorConfig> };

export interface HealthEndpoint {
  /** host:port */
  readonly endpoint: string;
  readonly path: string;
}

/**
 * Which extension serves the health endpoint: the classic health_check, or the component
 * status one (healthcheckv2, or health_check, with `use_v2: true`) whose status endpoint
 * says how each pipeline and component is doing.
 */
export type HealthExtensionKind = "health_check" | "healthcheckv2";

export interface InjectedHealth extends HealthEndpoint {
  /** healthcheckv2 only when the collector has it (its `components` inventory says so). Default health_check. */
  readonly kind?: HealthExtensionKind;
}

export interface ComposeInput {
  /** Contents by name; only the names listed in `order` are used. */
  readonly localFiles: readonly LocalConfigFile[];
  /** agent.config_files: local file names and the $REMOTE_CONFIG / $OWN_TELEMETRY_CONFIG / $OPAMP_EXTENSION_CONFIG tokens. */
  readonly order: readonly string[];
  readonly remote: readonly RemoteConfigFile[];
  readonly injected: { readonly health?: InjectedHealth | undefined };
  /** The server's own-telemetry settings as a layer: where $OWN_TELEMETRY_CONFIG is, else first. */
  readonly ownTelemetry?: Readonly<CollectorConfig> | null | undefined;
}

export interface ComposedHealth extends HealthEndpoint {
  /** "injected": added by the supervisor; "user": the config's own health check, left as written. */
  readonly source: "injected" | "user";
  /** How the endpoint answers: use_v2 serves the component status JSON. */
  readonly kind: HealthExtensionKind;
}

export interface ComposeResult {
  readonly config: CollectorConfig;
  /** Deterministic YAML of `config`. */
  readonly yaml: string;
  /**
   * Where to poll the collector's health_check (wildcard hosts such as 0.0.0.0 are turned
   * into loopback), or null when the composed config has none.
   */
  readonly health: ComposedHealth | null;
  /** Things worth a log line that do not stop composition. */
  readonly warnings: readonly string[];
  /** Local files in `order` that could not be used and were left out. */
  readonly skipped: readonly string[];
}

const HEALTH_CHECK = "health_check";
const HEALTH_CHECK_V2 = "healthcheckv2";
const HEALTH_DEFAULTS = { endpoint: "localhost:13133", path: "/", v2Path: "/status" } as const;

/**
 * Merges the layers in `order`; remote files (sorted by name, the unnamed "" one last) go
 * where $REMOTE_CONFIG is, or after the local files when it is absent. Throws ConfigError
 * when a local file or remote body cannot be parsed; run parseConfigBody on remote bodies
 * first to get those failures as values.
 */
export function composeCollectorConfig(input: ComposeInput): ComposeResult {
  const byName = new Map(input.localFiles.map((file) => [file.name, file] as const));
  const warnings: string[] = [];
  const skipped: string[] = [];
  let config: CollectorConfig = {};
  let remoteMerged = false;
  const mergeRemote = (): void => {
    const layers = remoteLayers(input.remote);
    // Go merges a "clear the resource attributes" marker before a remote config that declares some.
    let clear = layers.some(declaresResourceAttributes);
    for (const layer of layers) {
      config = mergeCollectorLayers(config, layer, { clearResourceAttributes: clear });
      clear = false;
    }
    remoteMerged = true;
  };
  const order = input.order.includes(OWN_TELEMETRY_CONFIG_TOKEN)
    ? input.order
    : [OWN_TELEMETRY_CONFIG_TOKEN, ...input.order];
  for (const entry of order) {
    if (entry === REMOTE_CONFIG_TOKEN) {
      if (!remoteMerged) mergeRemote();
      continue;
    }
    if (entry === OWN_TELEMETRY_CONFIG_TOKEN) {
      if (input.ownTelemetry) config = mergeCollectorLayers(config, deepClone(input.ownTelemetry) as CollectorConfig);
      continue;
    }
    // $OPAMP_EXTENSION_CONFIG: there is no opamp extension to configure here.
    if (isConfigFileToken(entry)) continue;
    const file = byName.get(entry);
    const layer =
      file === undefined ? { ok: false as const, error: "no content (the file could not be read)" } : localLayer(file);
    if (layer.ok) config = mergeCollectorLayers(config, layer.config);
    else {
      skipped.push(entry);
      warnings.push(`agent.config_files: ${entry} is skipped: ${layer.error}`);
    }
  }
  if (!remoteMerged) mergeRemote();

  let health = findUserHealthCheck(config, warnings);
  if (health === null && input.injected.health !== undefined) {
    injectHealthCheck(config, input.injected.health);
    health = { kind: "health_check", ...input.injected.health, source: "injected" };
  }
  return { config, yaml: toYaml(config), health, warnings, skipped };
}

/**
 * Deterministic YAML: key order as merged, no anchors, no line folding. A literal "<<" key
 * (from a JSON body or a quoted YAML key) is written quoted: plain, the collector would read
 * it as a merge key and run something other than what was composed.
 */
export function toYaml(config: CollectorConfig): string {
  const doc = new Document(config, { aliasDuplicateObjects: false });
  visit(doc, {
    Pair(_, pair) {
      if (isScalar(pair.key) && pair.key.value === "<<") pair.key.type = "QUOTE_DOUBLE";
    },
  });
  return doc.toString({ lineWidth: 0 });
}

/**
 * Recent parses of local file texts. Local files rarely change between applies, and parsing
 * one took a third of a composition; the text itself is the key, so an edit is a miss. The
 * cached map goes only to mergeCollectorLayers, which copies what it takes and never writes
 * into a layer.
 */
const localParses = new Map<string, ReturnType<typeof parseConfigText>>();
const LOCAL_PARSES_KEPT = 16;
const LOCAL_PARSE_MAX_CACHED_CHARS = 256 * 1024;

function localLayer(
  file: LocalConfigFile,
): { ok: true; config: Readonly<CollectorConfig> } | { ok: false; error: string } {
  if (typeof file.content !== "string") return { ok: true, config: deepClone(file.content) as CollectorConfig };
  const text = file.content;
  let parsed = localParses.get(text);
  if (parsed === undefined) {
    parsed = parseConfigText(text);
    if (text.length > LOCAL_PARSE_MAX_CACHED_CHARS) return parsed;
    const oldest = localParses.keys().next();
    if (localParses.size >= LOCAL_PARSES_KEPT && oldest.done !== true) localParses.delete(oldest.value);
    localParses.set(text, parsed);
  }
  return parsed;
}

function remoteLayers(remote: readonly RemoteConfigFile[]): CollectorConfig[] {
  const sorted = [...remote].sort((a, b) => compareRemoteNames(a.name, b.name));
  return sorted.map((file) => {
    if ("config" in file) return deepClone(file.config) as CollectorConfig;
    const parsed = parseConfigBody(file.name, file.body, { allowEmptyName: true, maxBytes: Number.POSITIVE_INFINITY });
    if (!parsed.ok) throw new ConfigError("remote config", [parsed.error]);
    return parsed.config;
  });
}

/** Code-unit order (locale independent); the unnamed "" entry sorts last, as upstream does. */
function compareRemoteNames(a: string, b: string): number {
  if (a === b) return 0;
  if (a === "") return 1;
  if (b === "") return -1;
  return a < b ? -1 : 1;
}

function serviceExtensions(config: CollectorConfig): unknown[] | null {
  const service = config.service;
  if (!isPlainMap(service)) return null;
  return Array.isArray(service.extensions) ? service.extensions : null;
}

/**
 * The user's own health check (health_check, healthcheckv2, or either /<name>), preferring one
 * that is enabled, and among those one with use_v2 (it says more).
 */
function findUserHealthCheck(config: CollectorConfig, warnings: string[]): ComposedHealth | null {
  const extensions = config.extensions;
  if (!isPlainMap(extensions)) return null;
  const isHealthCheck = (id: string): boolean =>
    [HEALTH_CHECK, HEALTH_CHECK_V2].some((type) => id === type || id.startsWith(`${type}/`));
  const ids = Object.keys(extensions).filter(isHealthCheck);
  const enabled = serviceExtensions(config) ?? [];
  const usesV2 = (id: string): boolean => {
    const body = extensions[id];
    return isPlainMap(body) && body.use_v2 === true;
  };
  const listed = ids.filter((candidate) => enabled.includes(candidate));
  const id = listed.find(usesV2) ?? listed[0] ?? ids[0];
  if (id === undefined) return null;
  if (!enabled.includes(id)) {
    warnings.push(
      `extensions.${id} is configured but not listed in service.extensions, so the collector will not serve it`,
    );
  }
  const settings = extensions[id];
  const body = isPlainMap(settings) ? settings : {};
  let endpoint: unknown = body.endpoint;
  let path: unknown = body.path;
  let defaultPath: string = HEALTH_DEFAULTS.path;
  const kind: HealthExtensionKind = body.use_v2 === true ? "healthcheckv2" : "health_check";
  if (kind === "healthcheckv2") {
    if (!isPlainMap(body.http))
      warnings.push(`extensions.${id} has use_v2 but no http block, so it serves no HTTP status; polling the default`);
    const http = isPlainMap(body.http) ? body.http : {};
    const status = isPlainMap(http.status) ? http.status : {};
    [endpoint, path, defaultPath] = [http.endpoint, status.path, HEALTH_DEFAULTS.v2Path];
  }
  const endpointText = typeof endpoint === "string" && endpoint !== "" ? endpoint : HEALTH_DEFAULTS.endpoint;
  if (endpointText.includes("${")) {
    warnings.push(
      `extensions.${id} endpoint ${JSON.stringify(endpointText)} is expanded by the collector; polling it as written`,
    );
  }
  return {
    endpoint: pollableEndpoint(endpointText),
    path: typeof path === "string" && path !== "" ? path : defaultPath,
    source: "user",
    kind,
  };
}

/** A listen address that can be polled: wildcard and empty hosts become loopback. */
function pollableEndpoint(endpoint: string): string {
  const match = /^(.*):(\d+)$/.exec(endpoint);
  if (!match) return endpoint;
  const [, host = "", port = ""] = match;
  if (host === "" || host === "0.0.0.0") return `127.0.0.1:${port}`;
  if (host === "[::]" || host === "::") return `[::1]:${port}`;
  return endpoint;
}

function injectHealthCheck(config: CollectorConfig, health: InjectedHealth): void {
  const extensions = mapAt(config, "extensions");
  const id = health.kind === "healthcheckv2" ? HEALTH_CHECK_V2 : HEALTH_CHECK;
  // No component_health options: the HTTP status stays "up or not" (an exporter's failing
  // backend is not a reason to roll a config back); the map says which component is failing.
  const body =
    health.kind === "healthcheckv2"
      ? { use_v2: true, http: { endpoint: health.endpoint, status: { path: health.path } } }
      : { endpoint: health.endpoint, path: health.path };
  setOwn(extensions, id, body);
  const service = mapAt(config, "service");
  const current = service.extensions;
  if (current !== undefined && current !== null && !Array.isArray(current)) {
    throw new ConfigError("composed config", ["service.extensions: expected a list of extension ids"]);
  }
  const list = Array.isArray(current) ? current : [];
  if (!list.includes(id)) list.push(id);
  setOwn(service, "extensions", list);
}

/** The map under `key`, created when absent or null. */
function mapAt(config: CollectorConfig, key: string): Record<string, unknown> {
  const value = config[key];
  if (isPlainMap(value)) return value;
  if (value !== undefined && value !== null) {
    throw new ConfigError("composed config", [`${key}: expected a map`]);
  }
  const created: Record<string, unknown> = {};
  setOwn(config, key, created);
  return created;
}
