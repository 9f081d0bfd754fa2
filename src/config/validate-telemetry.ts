/**
 * `telemetry`: the supervisor's own logs, metrics and traces, in the official Go
 * supervisor's keys (the collector's service.telemetry / otelconf shape). Readers and
 * processors are in validate-otlp.ts; this module owns levels, output paths and the resource.
 */
import { Checker, EXPANSION_FAILED, describe, isPlainMap, setOwn, type KeyPath } from "./check.js";
import { DEFAULTS, ZAP_LEVELS, type LogLevel } from "./schema.js";
import type { ResolvedTelemetry, ResourceValue, TelemetryLevel } from "./schema-telemetry.js";
import { NO_EFFECT } from "./validate-compat.js";
import { buildProcessors, buildReaders } from "./validate-otlp.js";

export function buildTelemetry(value: unknown, baseDir: string, check: Checker): ResolvedTelemetry {
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
  const logProcessors = buildProcessors(["telemetry", "logs", "processors"], logs.processors, "logs", baseDir, check);

  const metrics = check.section(["telemetry", "metrics"], telemetry.metrics, ["level", "readers"]);
  const metricsLevel = telemetryLevel(["telemetry", "metrics", "level"], metrics.level, check);
  const readers = buildReaders(["telemetry", "metrics", "readers"], metrics.readers, baseDir, check);

  const traces = check.section(["telemetry", "traces"], telemetry.traces, ["level", "processors", "propagators"]);
  const tracesLevel = telemetryLevel(["telemetry", "traces", "level"], traces.level, check);
  const spanProcessors = buildProcessors(
    ["telemetry", "traces", "processors"],
    traces.processors,
    "traces",
    baseDir,
    check,
  );
  // The supervisor makes no traced outgoing calls, so there is nothing to propagate into.
  check.stringList(["telemetry", "traces", "propagators"], traces.propagators);

  return {
    logs: { level, processors: logProcessors },
    metrics: { level: metricsLevel, readers: metricsLevel === "none" ? [] : readers },
    traces: { level: tracesLevel, processors: tracesLevel === "none" ? [] : spanProcessors },
    resource: buildResource(telemetry.resource, check),
  };
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

/** The collector's telemetry levels (configtelemetry); `none` turns the signal off. */
function telemetryLevel(path: KeyPath, value: unknown, check: Checker): TelemetryLevel {
  if (value === undefined || value === null || value === EXPANSION_FAILED) return "normal";
  const known: readonly TelemetryLevel[] = ["none", "basic", "normal", "detailed"];
  const found = typeof value === "string" ? known.find((level) => level === value.toLowerCase()) : undefined;
  if (found !== undefined) return found;
  check.report(path, `expected one of ${known.join(", ")}, got ${describe(value)}`);
  return "normal";
}

/** output_paths: only the default sink is what happens here. */
function outputPaths(path: KeyPath, value: unknown, only: string, check: Checker): void {
  const paths = check.stringList(path, value, { nonEmptyItems: true });
  if (paths.length === 0 || (paths.length === 1 && paths[0] === only)) return;
  check.warn(path, `${NO_EFFECT} (this supervisor writes its log to ${only} only)`);
}

const RESOURCE_KEYS = ["attributes", "attributes_list", "schema_url"];
const ATTRIBUTE_TYPES = ["string", "bool", "int", "double"];

/**
 * otelconf `resource`: `attributes: [{name, value, type}]` over `attributes_list: "k=v,..."`
 * over the collector's legacy inline `name: value` keys (null removes a default).
 */
function buildResource(value: unknown, check: Checker): ResolvedTelemetry["resource"] {
  const at: KeyPath = ["telemetry", "resource"];
  const attributes: Record<string, ResourceValue | null> = {};
  if (value === undefined || value === null || value === EXPANSION_FAILED) return { attributes, schemaUrl: null };
  if (!isPlainMap(value)) {
    check.report(at, `expected a map, got ${describe(value)}`);
    return { attributes, schemaUrl: null };
  }
  for (const [key, item] of Object.entries(value)) {
    if (RESOURCE_KEYS.includes(key)) continue;
    if (key === "detection/development" || key === "detectors") {
      check.report([...at, key], "resource detectors are not implemented here; set the attributes instead");
      continue;
    }
    if (item === null) setOwn(attributes, key, null);
    else {
      const text = check.string([...at, key], item, null);
      if (text !== null) setOwn(attributes, key, text);
    }
  }
  const list = check.string([...at, "attributes_list"], value.attributes_list, null, { nullIsAbsent: true });
  for (const pair of list === null || list.trim() === "" ? [] : list.split(",")) {
    const eq = pair.indexOf("=");
    if (eq <= 0) {
      check.report([...at, "attributes_list"], 'expected "name=value" pairs separated by commas');
      break;
    }
    setOwn(attributes, pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
  }
  const entries: unknown = value.attributes;
  if (entries !== undefined && entries !== null && !Array.isArray(entries))
    check.report([...at, "attributes"], `expected a list of {name, value}, got ${describe(entries)}`);
  if (Array.isArray(entries)) {
    entries.forEach((item: unknown, index) => {
      const where = [...at, "attributes", index];
      const entry = check.section(where, item, ["name", "value", "type"]);
      const name = check.string([...where, "name"], entry.name, null, { required: true, nonEmpty: true });
      const type = check.oneOf([...where, "type"], entry.type, "", ATTRIBUTE_TYPES);
      const typed = attributeValue([...where, "value"], entry.value, type, check);
      if (name !== null && typed !== undefined) setOwn(attributes, name, typed);
    });
  }
  const schemaUrl = check.string([...at, "schema_url"], value.schema_url, null, { nullIsAbsent: true });
  return { attributes, schemaUrl };
}

/** A scalar attribute value of the declared type (arrays are not implemented here). */
function attributeValue(at: KeyPath, value: unknown, type: string, check: Checker): ResourceValue | undefined {
  const ok =
    (type === "" && ["string", "number", "boolean"].includes(typeof value)) ||
    (type === "string" && typeof value === "string") ||
    (type === "bool" && typeof value === "boolean") ||
    (type === "int" && Number.isInteger(value)) ||
    (type === "double" && typeof value === "number");
  if (ok) return value as ResourceValue;
  check.report(at, `expected a ${type === "" ? "string, number or boolean" : type}, got ${describe(value)}`);
  return undefined;
}
