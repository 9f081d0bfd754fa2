/**
 * Turns the parsed, expanded supervisor.yaml tree into a ResolvedConfig, recording every
 * problem in the Checker. Relative paths resolve against `baseDir` (the file's directory).
 */
import * as path from "node:path";
import { Checker, type KeyPath } from "./check.js";
import {
  CAPABILITIES_WITHOUT_BEHAVIOUR,
  CAPABILITY_DEFAULTS,
  CONFIG_FILE_TOKENS,
  DEFAULTS,
  MAX_CRASH_LOG_SNIPPET_KIB,
  isConfigFileToken,
  type ResolvedAgent,
  type ResolvedCapabilities,
  type ResolvedConfig,
  type ResolvedHealth,
  type ResolvedRestart,
  type RunMode,
} from "./schema.js";
import { buildPackage, checkPackageTrust } from "./validate-package.js";
import { NO_EFFECT, buildHealthcheck } from "./validate-compat.js";
import { buildTelemetry } from "./validate-telemetry.js";
import { buildServer } from "./validate-server.js";
import { buildSidecar, capabilitiesForMode } from "./validate-sidecar.js";

// Keys of older Go releases, gone from current ones.
const AGENT_HINTS = {
  fallback_configs: 'renamed: use "startup_fallback_configs"',
  health_check_port: 'not supported: set the health endpoint with "agent.health.endpoint"',
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const TOP_KEYS = ["server", "capabilities", "agent", "storage", "telemetry", "healthcheck", "extensions"];

export function buildConfig(tree: unknown, sourcePath: string, check: Checker): ResolvedConfig {
  const baseDir = path.dirname(sourcePath);
  const top = check.section([], tree, TOP_KEYS);
  if (top.server === undefined || top.server === null) {
    check.report(["server"], "is required (expected a map with endpoint)");
  }
  if (top.agent === undefined || top.agent === null) {
    check.report(["agent"], "is required (expected a map with executable)");
  }

  const server = buildServer(top.server, top.extensions, baseDir, check);
  const asked = buildCapabilities(top.capabilities, check);
  const agent = buildAgent(top.agent, baseDir, check, asked.acceptsPackages);
  const capabilities = capabilitiesForMode(asked, agent.run, check);
  checkPackageTrust(capabilities, agent.package, check);
  const storage = check.section(["storage"], top.storage, ["directory", "retry_interval"]);
  const directory = check.string(["storage", "directory"], storage.directory, DEFAULTS.storageDirectory, {
    nonEmpty: true,
  });
  const telemetry = buildTelemetry(top.telemetry, baseDir, check);
  const healthcheck = buildHealthcheck(top.healthcheck, check);
  return {
    sourcePath,
    server,
    capabilities,
    agent,
    storage: {
      directory: path.resolve(baseDir, directory),
      retryIntervalMs: check.duration(
        ["storage", "retry_interval"],
        storage.retry_interval,
        DEFAULTS.storageRetryIntervalMs,
        { positive: true },
      ),
    },
    telemetry,
    healthcheck,
    warnings: check.warnings,
  };
}

function buildCapabilities(value: unknown, check: Checker): ResolvedCapabilities {
  const keys = Object.keys(CAPABILITY_DEFAULTS) as Array<keyof typeof CAPABILITY_DEFAULTS>;
  const caps = check.section(["capabilities"], value, keys);
  const read = (key: keyof typeof CAPABILITY_DEFAULTS): boolean =>
    check.boolean(["capabilities", key], caps[key], CAPABILITY_DEFAULTS[key]);
  for (const key of CAPABILITIES_WITHOUT_BEHAVIOUR) {
    if (caps[key] === true)
      check.warn(["capabilities", key], "is accepted but not supported yet: not advertised to the server");
  }
  // Since Go v0.161 accepting remote configs implies reporting their status.
  const acceptsRemoteConfig = read("accepts_remote_config");
  return {
    reportsEffectiveConfig: read("reports_effective_config"),
    reportsOwnMetrics: read("reports_own_metrics"),
    reportsOwnLogs: read("reports_own_logs"),
    reportsOwnTraces: read("reports_own_traces"),
    reportsHealth: read("reports_health"),
    acceptsRemoteConfig,
    reportsRemoteConfig: read("reports_remote_config") || acceptsRemoteConfig,
    acceptsRestartCommand: read("accepts_restart_command"),
    acceptsOpampConnectionSettings: read("accepts_opamp_connection_settings"),
    acceptsOtherConnectionSettings: read("accepts_other_connection_settings"),
    reportsAvailableComponents: read("reports_available_components"),
    reportsHeartbeat: read("reports_heartbeat"),
    acceptsPackages: read("accepts_packages"),
    reportsPackageStatuses: read("reports_package_statuses"),
    reportsConnectionSettingsStatus: read("reports_connection_settings_status"),
  };
}

const AGENT_KEYS = [
  "executable",
  "args",
  "env",
  "config_files",
  "description",
  "instance_id",
  "config_apply_timeout",
  "orphan_detection_interval",
  "bootstrap_timeout",
  "opamp_server_port",
  "automatic_config_rollback",
  "use_hup_config_reload",
  "validate_config",
  "startup_fallback_configs",
  "passthrough_logs",
  "collector_crash_log_snippet_kib",
  "health",
  "restart",
  "stop_timeout",
  "package",
  "run",
  "sidecar",
];

function buildAgent(value: unknown, baseDir: string, check: Checker, acceptsPackages: boolean): ResolvedAgent {
  const agent = check.section(["agent"], value, AGENT_KEYS, AGENT_HINTS);
  const at = (key: string): KeyPath => ["agent", key];
  const timeout = (key: string, fallback: number): number =>
    check.duration(at(key), agent[key], fallback, { positive: true });
  const flag = (key: string, fallback: boolean): boolean => check.boolean(at(key), agent[key], fallback);
  const description = check.section(at("description"), agent.description, [
    "identifying_attributes",
    "non_identifying_attributes",
    "include_resource_attributes",
  ]);
  const includeResourceAttributes = check.boolean(
    [...at("description"), "include_resource_attributes"],
    description.include_resource_attributes,
    false,
  );
  const goOnly = (key: string, why: string): void => {
    if (agent[key] !== undefined && agent[key] !== null) check.warn(at(key), `${NO_EFFECT} (${why})`);
  };
  goOnly("orphan_detection_interval", "the collector is started with a parent-death signal instead");
  goOnly("bootstrap_timeout", "there is no bootstrap run: the collector's --version gives its description");
  goOnly("opamp_server_port", "the collector is not given a local OpAMP server");
  const automaticConfigRollback = flag("automatic_config_rollback", DEFAULTS.automaticConfigRollback);
  let executable = "";
  if (value !== undefined && value !== null) {
    const text = check.string(at("executable"), agent.executable, null, { required: true, nonEmpty: true });
    if (text !== null) executable = path.resolve(baseDir, text);
  }
  const instanceId = check.string(at("instance_id"), agent.instance_id, null, { nullIsAbsent: true });
  if (instanceId !== null && !UUID.test(instanceId)) {
    const example = "0190f5a8-2c3b-7d4e-8f01-23456789abcd";
    check.report(at("instance_id"), `expected a UUID such as "${example}", got ${JSON.stringify(instanceId)}`);
  }
  const run = check.oneOf<RunMode>(at("run"), agent.run, DEFAULTS.run, ["child", "sidecar"]);
  return {
    run,
    executable,
    sidecar: buildSidecar(agent, run, baseDir, check),
    args: check.stringList(at("args"), agent.args),
    env: check.stringMap(at("env"), agent.env, {
      secret: true,
      checkKey: (key) => (key === "" || /[=\0]/.test(key) ? "invalid environment variable name" : null),
    }),
    configFiles: buildConfigFiles(agent.config_files, baseDir, check),
    description: {
      identifyingAttributes: check.stringMap(
        [...at("description"), "identifying_attributes"],
        description.identifying_attributes,
      ),
      nonIdentifyingAttributes: check.stringMap(
        [...at("description"), "non_identifying_attributes"],
        description.non_identifying_attributes,
      ),
      includeResourceAttributes,
    },
    instanceId: instanceId !== null && UUID.test(instanceId) ? instanceId.toLowerCase() : null,
    configApplyTimeoutMs: timeout("config_apply_timeout", DEFAULTS.configApplyTimeoutMs),
    automaticConfigRollback,
    opampServerPort: check.number(at("opamp_server_port"), agent.opamp_server_port, 0, {
      integer: true,
      min: 0,
      max: 65535,
    }),
    orphanDetectionIntervalMs: timeout("orphan_detection_interval", DEFAULTS.orphanDetectionIntervalMs),
    bootstrapTimeoutMs: timeout("bootstrap_timeout", DEFAULTS.bootstrapTimeoutMs),
    useHupConfigReload: flag("use_hup_config_reload", DEFAULTS.useHupConfigReload),
    validateConfig: flag("validate_config", DEFAULTS.validateConfig),
    startupFallbackConfigs: check
      .stringList(at("startup_fallback_configs"), agent.startup_fallback_configs, { nonEmptyItems: true })
      .flatMap((entry, index) => {
        if (!entry.startsWith("$")) return [path.resolve(baseDir, entry)];
        const problem = `expected a file path, got ${JSON.stringify(entry)} ($ tokens belong in config_files)`;
        check.report([...at("startup_fallback_configs"), index], problem);
        return [];
      }),
    passthroughLogs: flag("passthrough_logs", DEFAULTS.passthroughLogs),
    collectorCrashLogSnippetKib: check.number(
      at("collector_crash_log_snippet_kib"),
      agent.collector_crash_log_snippet_kib,
      DEFAULTS.collectorCrashLogSnippetKib,
      { integer: true, min: 0, max: MAX_CRASH_LOG_SNIPPET_KIB },
    ),
    stopTimeoutMs: timeout("stop_timeout", DEFAULTS.stopTimeoutMs),
    health: buildHealth(agent.health, check),
    restart: buildRestart(agent.restart, check),
    package: buildPackage(agent.package, check, acceptsPackages),
  };
}

function buildConfigFiles(value: unknown, baseDir: string, check: Checker): string[] {
  const where: KeyPath = ["agent", "config_files"];
  const seen = new Set<string>();
  return check.stringList(where, value, { nonEmptyItems: true }).flatMap((entry, index) => {
    // Go reads each entry as a confmap URI: "file:/x" is the file /x.
    if (entry.startsWith("file:")) return [path.resolve(baseDir, entry.slice("file:".length))];
    if (/^[a-z][a-z0-9+.-]+:/i.test(entry) && !entry.startsWith("$")) {
      check.report(
        [...where, index],
        `${JSON.stringify(entry.split(":")[0])} URIs are not supported here: give a file path (or file:/path)`,
      );
      return [];
    }
    if (!entry.startsWith("$")) return [path.resolve(baseDir, entry)];
    if (!isConfigFileToken(entry)) {
      const expected = `a file path or one of ${CONFIG_FILE_TOKENS.join(", ")}`;
      check.report([...where, index], `unknown token ${JSON.stringify(entry)} (expected ${expected})`);
      return [];
    }
    if (seen.has(entry)) {
      check.report([...where, index], `${entry} is listed more than once`);
      return [];
    }
    seen.add(entry);
    return [entry];
  });
}

function buildHealth(value: unknown, check: Checker): ResolvedHealth {
  const at = (key: string): KeyPath => ["agent", "health", key];
  const keys = [
    "endpoint",
    "path",
    "interval",
    "steady_interval",
    "window",
    "passes_required",
    "request_timeout",
    "inject_extension",
  ];
  const health = check.section(["agent", "health"], value, keys);
  const defaults = DEFAULTS.health;
  const endpoint = check.string(at("endpoint"), health.endpoint, defaults.endpoint, { nonEmpty: true });
  const endpointProblem = checkHostPort(endpoint);
  if (endpointProblem !== null) check.report(at("endpoint"), endpointProblem);
  const pathText = check.string(at("path"), health.path, defaults.path);
  if (!pathText.startsWith("/")) {
    check.report(at("path"), `expected a path starting with "/", got ${JSON.stringify(pathText)}`);
  }
  const window = check.number(at("window"), health.window, defaults.window, { integer: true, min: 1 });
  const passesRequired = check.number(at("passes_required"), health.passes_required, defaults.passesRequired, {
    integer: true,
    min: 1,
  });
  if (passesRequired > window) {
    check.report(at("passes_required"), `must be ≤ agent.health.window (${window}), got ${passesRequired}`);
  }
  const intervalMs = check.duration(at("interval"), health.interval, defaults.intervalMs, { positive: true });
  const steady = check.duration(at("steady_interval"), health.steady_interval, defaults.steadyIntervalMs, {
    positive: true,
  });
  if (health.steady_interval !== undefined && steady < intervalMs)
    check.report(at("steady_interval"), `must be ≥ agent.health.interval (${intervalMs} ms), got ${steady} ms`);
  return {
    endpoint,
    path: pathText,
    intervalMs,
    // A larger interval than the default steady one: the steady rhythm is never faster.
    steadyIntervalMs: Math.max(steady, intervalMs),
    window,
    passesRequired,
    requestTimeoutMs: check.duration(at("request_timeout"), health.request_timeout, defaults.requestTimeoutMs, {
      positive: true,
    }),
    injectExtension: check.boolean(at("inject_extension"), health.inject_extension, defaults.injectExtension),
  };
}

/** `host:port` or `[v6]:port` with a port from 1 to 65535; null when fine. */
export function checkHostPort(text: string): string | null {
  const match = /^(\[[0-9A-Fa-f:.]+\]|[^\s:/[\]]+):(\d{1,5})$/.exec(text);
  const port = Number(match?.[2]);
  if (!match || port < 1 || port > 65535) {
    return `expected host:port (e.g. "localhost:13133"), got ${JSON.stringify(text)}`;
  }
  return null;
}

function buildRestart(value: unknown, check: Checker): ResolvedRestart {
  const at = (key: string): KeyPath => ["agent", "restart", key];
  const keys = ["initial_delay", "max_delay", "multiplier", "jitter", "reset_after"];
  const restart = check.section(["agent", "restart"], value, keys);
  const defaults = DEFAULTS.restart;
  const initialDelayMs = check.duration(at("initial_delay"), restart.initial_delay, defaults.initialDelayMs);
  const maxDelayMs = check.duration(at("max_delay"), restart.max_delay, defaults.maxDelayMs);
  if (maxDelayMs < initialDelayMs) {
    const problem = `must be ≥ agent.restart.initial_delay (${initialDelayMs}ms), got ${maxDelayMs}ms`;
    check.report(at("max_delay"), problem);
  }
  return {
    initialDelayMs,
    maxDelayMs,
    multiplier: check.number(at("multiplier"), restart.multiplier, defaults.multiplier, { min: 1 }),
    jitter: check.number(at("jitter"), restart.jitter, defaults.jitter, { min: 0, max: 1 }),
    resetAfterMs: check.duration(at("reset_after"), restart.reset_after, defaults.resetAfterMs),
  };
}
