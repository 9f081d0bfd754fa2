/**
 * Keys of the official Go supervisor that this supervisor accepts so its files load
 * unchanged, but that have no behaviour here (yet): `telemetry.*` beyond the log level;
 * and `healthcheck`, which is served (health-server.ts). Each one that asks for something is reported once as a warning naming the
 * key; shapes are still checked, so a typo stays an error.
 */
import { Checker, EXPANSION_FAILED, describe, isPlainMap, type KeyPath } from "./check.js";
import { DEFAULTS, ZAP_LEVELS, type LogLevel } from "./schema.js";

/** Prefix of every "accepted, does nothing" warning, so operators can grep for it. */
export const NO_EFFECT = "accepted for compatibility with the official Go supervisor; has no effect here";

export function buildTelemetry(value: unknown, check: Checker): { logs: { level: LogLevel } } {
  const telemetry = check.section(["telemetry"], value, ["logs", "metrics", "traces", "resource"]);
  const logs = check.section(["telemetry", "logs"], telemetry.logs, [
    "level",
    "output_paths",
    "error_output_paths",
    "processors",
  ]);
  const level = logLevel(["telemetry", "logs", "level"], logs.level, check);
  outputPaths(["telemetry", "logs", "output_paths"], logs.output_paths, "stdout", check);
  outputPaths(["telemetry", "logs", "error_output_paths"], logs.error_output_paths, "stderr", check);
  exportList(
    ["telemetry", "logs", "processors"],
    logs.processors,
    "the supervisor's logs are not exported over OTLP yet",
    check,
  );

  const metrics = check.section(["telemetry", "metrics"], telemetry.metrics, ["level", "readers"]);
  telemetryLevel(["telemetry", "metrics", "level"], metrics.level, check);
  exportList(
    ["telemetry", "metrics", "readers"],
    metrics.readers,
    "the supervisor exports no metrics of its own yet",
    check,
  );

  const traces = check.section(["telemetry", "traces"], telemetry.traces, ["level", "processors", "propagators"]);
  telemetryLevel(["telemetry", "traces", "level"], traces.level, check);
  exportList(
    ["telemetry", "traces", "processors"],
    traces.processors,
    "the supervisor exports no traces of its own yet",
    check,
  );
  check.stringList(["telemetry", "traces", "propagators"], traces.propagators);

  const resource = telemetry.resource;
  if (resource !== undefined && resource !== null && resource !== EXPANSION_FAILED) {
    if (!isPlainMap(resource)) check.report(["telemetry", "resource"], `expected a map, got ${describe(resource)}`);
    else if (Object.keys(resource).length > 0) {
      check.warn(["telemetry", "resource"], `${NO_EFFECT} (the supervisor exports no telemetry of its own yet)`);
    }
  }
  return { logs: { level } };
}

function logLevel(path: KeyPath, value: unknown, check: Checker): LogLevel {
  if (value === undefined || value === null || value === EXPANSION_FAILED) return DEFAULTS.logLevel;
  const text = typeof value === "string" ? value.trim().toLowerCase() : undefined;
  if (text === "") return DEFAULTS.logLevel; // zap reads an empty level as info
  const level = text === undefined ? undefined : ZAP_LEVELS[text];
  if (level !== undefined) return level;
  check.report(
    path,
    `expected one of debug, info, warn, error, dpanic, panic, fatal (any case), got ${describe(value)}`,
  );
  return DEFAULTS.logLevel;
}

/** The collector's telemetry levels (configtelemetry), checked so a typo is caught. */
function telemetryLevel(path: KeyPath, value: unknown, check: Checker): void {
  if (value === undefined || value === null || value === EXPANSION_FAILED) return;
  const known = ["none", "basic", "normal", "detailed"];
  if (typeof value === "string" && known.includes(value.toLowerCase())) return;
  check.report(path, `expected one of ${known.join(", ")}, got ${describe(value)}`);
}

/** output_paths: only the default sink is what happens here. */
function outputPaths(path: KeyPath, value: unknown, only: string, check: Checker): void {
  const paths = check.stringList(path, value, { nonEmptyItems: true });
  if (paths.length === 0 || (paths.length === 1 && paths[0] === only)) return;
  check.warn(path, `${NO_EFFECT} (this supervisor writes its log to ${only} only)`);
}

/** A list of otelconf processors or readers: shape-checked as a list of maps, then warned about. */
function exportList(path: KeyPath, value: unknown, why: string, check: Checker): void {
  if (value === undefined || value === null || value === EXPANSION_FAILED) return;
  if (!Array.isArray(value) || !value.every(isPlainMap)) {
    check.report(path, `expected a list of maps, got ${describe(value)}`);
    return;
  }
  if (value.length > 0) check.warn(path, `${NO_EFFECT} (${why})`);
}

/**
 * healthcheck: the supervisor's own HTTP endpoint (confighttp.ServerConfig in Go; only
 * `endpoint` is read here). Off, as in Go, when the endpoint has no port; "" when off.
 */
export function buildHealthcheck(value: unknown, check: Checker): { endpoint: string } {
  if (value === undefined || value === null || value === EXPANSION_FAILED) return { endpoint: "" };
  if (!isPlainMap(value)) {
    check.report(["healthcheck"], `expected a map, got ${describe(value)}`);
    return { endpoint: "" };
  }
  const endpoint = check.string(["healthcheck", "endpoint"], value.endpoint, "", { nullIsAbsent: true });
  const port = /:(\d+)$/.exec(endpoint)?.[1];
  if (port !== undefined && Number(port) > 65535) {
    check.report(["healthcheck", "endpoint"], `expected a port from 0 to 65535, got ${JSON.stringify(endpoint)}`);
    return { endpoint: "" };
  }
  return { endpoint: port === undefined ? "" : endpoint };
}
