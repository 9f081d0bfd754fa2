/**
 * otelconf pieces of `telemetry`: metric readers, span / log-record processors and their
 * OTLP exporters. What is not implemented here (gRPC, JSON encoding, console exporters,
 * Prometheus tuning keys) is refused naming the key, never silently ignored.
 */
import * as path from "node:path";
import { Checker, EXPANSION_FAILED, describe, isPlainMap, setOwn, type KeyPath } from "./check.js";
import {
  TELEMETRY_DEFAULTS,
  type ResolvedMetricReader,
  type ResolvedOtlpExporter,
  type ResolvedProcessor,
} from "./schema-telemetry.js";

export type Signal = "metrics" | "traces" | "logs";

const NOT_HERE = "is an otelconf key this supervisor does not implement; remove it";
const GRPC = 'gRPC is not supported here: use protocol "http/protobuf" (usually port 4318)';

/** A list of one-key maps (`- batch: {...}`), each handed to `build` with its kind. */
function oneKeyList<T>(
  where: KeyPath,
  value: unknown,
  kinds: readonly string[],
  check: Checker,
  build: (kind: string, at: KeyPath, body: unknown) => T | null,
): T[] {
  if (value === undefined || value === null || value === EXPANSION_FAILED) return [];
  if (!Array.isArray(value)) {
    check.report(where, `expected a list, got ${describe(value)}`);
    return [];
  }
  return value.flatMap((item: unknown, index) => {
    const at = [...where, index];
    if (!isPlainMap(item) || Object.keys(item).length !== 1) {
      check.report(at, `expected a map with one of ${kinds.join(", ")}, got ${describe(item)}`);
      return [];
    }
    const [kind, body] = Object.entries(item)[0] as [string, unknown];
    if (!kinds.includes(kind)) {
      check.report([...at, kind], `unknown kind (expected one of: ${kinds.join(", ")})`);
      return [];
    }
    const built = build(kind, [...at, kind], body);
    return built === null ? [] : [built];
  });
}

export function buildReaders(where: KeyPath, value: unknown, baseDir: string, check: Checker): ResolvedMetricReader[] {
  return oneKeyList(where, value, ["pull", "periodic"], check, (kind, at, body) =>
    kind === "pull" ? buildPull(at, body, check) : buildPeriodic(at, body, baseDir, check),
  );
}

function buildPull(at: KeyPath, body: unknown, check: Checker): ResolvedMetricReader | null {
  const pull = check.section(at, body, ["exporter"], { producers: NOT_HERE, cardinality_limits: NOT_HERE });
  const name = onlyKey([...at, "exporter"], pull.exporter, ["prometheus", "prometheus/development"], {}, check);
  if (name === null) return null;
  const exporter = pull.exporter as Record<string, unknown>;
  const where = [...at, "exporter", name];
  const hints = Object.fromEntries(
    ["without_units", "without_type_suffix", "without_scope_info", "with_resource_constant_labels"].map((k) => [
      k,
      NOT_HERE,
    ]),
  );
  const prom = check.section(where, exporter[name], ["host", "port"], hints);
  const host = check.string([...where, "host"], prom.host, TELEMETRY_DEFAULTS.prometheusHost, { nonEmpty: true });
  const port = check.number([...where, "port"], prom.port, TELEMETRY_DEFAULTS.prometheusPort, {
    integer: true,
    min: 0,
    max: 65535,
  });
  return { kind: "pull", host, port };
}

function buildPeriodic(at: KeyPath, body: unknown, baseDir: string, check: Checker): ResolvedMetricReader | null {
  const periodic = check.section(at, body, ["interval", "timeout", "exporter"], {
    producers: NOT_HERE,
    cardinality_limits: NOT_HERE,
  });
  const intervalMs = check.duration([...at, "interval"], periodic.interval, TELEMETRY_DEFAULTS.periodicIntervalMs, {
    positive: true,
  });
  // The SDK refuses an export timeout past the interval; the default shrinks to fit a short one.
  const fallback = Math.min(TELEMETRY_DEFAULTS.periodicTimeoutMs, intervalMs);
  const timeoutMs = check.duration([...at, "timeout"], periodic.timeout, fallback, { positive: true });
  if (timeoutMs > intervalMs)
    check.report([...at, "timeout"], `must be ≤ the interval (${intervalMs} ms), got ${timeoutMs} ms`);
  const exporter = buildExporter([...at, "exporter"], periodic.exporter, "metrics", baseDir, check);
  return exporter === null ? null : { kind: "periodic", intervalMs, timeoutMs, exporter };
}

export function buildProcessors(
  where: KeyPath,
  value: unknown,
  signal: Signal,
  baseDir: string,
  check: Checker,
): ResolvedProcessor[] {
  return oneKeyList(where, value, ["batch", "simple"], check, (kind, at, body): ResolvedProcessor | null => {
    if (kind === "simple") {
      const simple = check.section(at, body, ["exporter"]);
      const exporter = buildExporter([...at, "exporter"], simple.exporter, signal, baseDir, check);
      return exporter === null ? null : { kind: "simple", exporter };
    }
    const keys = ["schedule_delay", "export_timeout", "max_queue_size", "max_export_batch_size", "exporter"];
    const batch = check.section(at, body, keys);
    const d = TELEMETRY_DEFAULTS.batch;
    const count = (key: string, fallback: number): number =>
      check.number([...at, key], batch[key], fallback, { integer: true, min: 1 });
    const exporter = buildExporter([...at, "exporter"], batch.exporter, signal, baseDir, check);
    if (exporter === null) return null;
    return {
      kind: "batch",
      scheduleDelayMs: check.duration([...at, "schedule_delay"], batch.schedule_delay, d.scheduleDelayMs),
      exportTimeoutMs: check.duration([...at, "export_timeout"], batch.export_timeout, d.exportTimeoutMs, {
        positive: true,
      }),
      maxQueueSize: count("max_queue_size", d.maxQueueSize),
      maxExportBatchSize: count("max_export_batch_size", d.maxExportBatchSize),
      exporter,
    };
  });
}

/** `exporter: {otlp: {...}}` (protocol http/protobuf) or `exporter: {otlp_http: {...}}`. */
function buildExporter(
  at: KeyPath,
  value: unknown,
  signal: Signal,
  baseDir: string,
  check: Checker,
): ResolvedOtlpExporter | null {
  const hints = { otlp_grpc: GRPC, console: NOT_HERE, "otlp_file/development": NOT_HERE };
  const name = onlyKey(at, value, ["otlp", "otlp_http"], hints, check);
  if (name === null) return null;
  const exporter = value as Record<string, unknown>;
  const where = [...at, name];
  const keys = [
    ...(name === "otlp" ? ["protocol"] : ["encoding"]),
    "endpoint",
    "headers",
    "headers_list",
    "certificate",
    "client_certificate",
    "client_key",
    "certificate_file",
    "client_certificate_file",
    "client_key_file",
    "compression",
    "timeout",
    "insecure",
  ];
  const otlp = check.section(where, exporter[name], keys, {
    temporality_preference: NOT_HERE,
    default_histogram_aggregation: NOT_HERE,
  });
  if (name === "otlp") {
    const protocol = check.string([...where, "protocol"], otlp.protocol, "http/protobuf");
    if (protocol === "grpc") check.report([...where, "protocol"], GRPC);
    else if (protocol !== "http/protobuf")
      check.report([...where, "protocol"], `expected "http/protobuf", got ${describe(protocol)}`);
  } else if (otlp.encoding !== undefined && otlp.encoding !== "protobuf") {
    check.report([...where, "encoding"], `only "protobuf" is implemented here, got ${describe(otlp.encoding)}`);
  }
  const endpoint = check.string([...where, "endpoint"], otlp.endpoint, null, { required: true, nonEmpty: true });
  const url = endpoint === null ? null : signalUrl([...where, "endpoint"], endpoint, signal, check);
  const file = (key: string): string | null => {
    const text = check.string([...where, key], otlp[key], null, { nullIsAbsent: true, nonEmpty: true });
    return text === null ? null : path.resolve(baseDir, text);
  };
  const insecure = check.boolean([...where, "insecure"], otlp.insecure, false);
  if (insecure && url?.startsWith("https:"))
    check.warn(
      [...where, "insecure"],
      "has no effect over HTTP: the endpoint's scheme decides (use http:// for plain)",
    );
  const timeoutMs = check.duration([...where, "timeout"], otlp.timeout, TELEMETRY_DEFAULTS.exporterTimeoutMs, {
    positive: true,
  });
  const compression = check.oneOf([...where, "compression"], otlp.compression, "none", ["none", "gzip"]);
  const headers = {
    ...headersList([...where, "headers_list"], otlp.headers_list, check),
    ...headerEntries([...where, "headers"], otlp.headers, check),
  };
  if (url === null) return null;
  return {
    protocol: "http/protobuf",
    url,
    headers,
    certificate: file("certificate") ?? file("certificate_file"),
    clientCertificate: file("client_certificate") ?? file("client_certificate_file"),
    clientKey: file("client_key") ?? file("client_key_file"),
    compression,
    timeoutMs,
  };
}

/** As Go's otelconf: an endpoint without a path gets the signal's default path. */
function signalUrl(at: KeyPath, endpoint: string, signal: Signal, check: Checker): string | null {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    check.report(at, `expected an http:// or https:// URL, got ${describe(endpoint)}`);
    return null;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    check.report(at, `expected an http:// or https:// URL, got ${describe(endpoint)}`);
    return null;
  }
  if (url.pathname === "" || url.pathname === "/") url.pathname = `/v1/${signal}`;
  return url.toString();
}

/** The one key of an `exporter:` map, or null (reported) when it has none, several or an unknown one. */
function onlyKey(
  at: KeyPath,
  value: unknown,
  allowed: readonly string[],
  hints: Readonly<Record<string, string>>,
  check: Checker,
): string | null {
  if (value !== undefined && value !== null && value !== EXPANSION_FAILED && !isPlainMap(value)) {
    check.report(at, `expected a map with one of ${allowed.join(", ")}, got ${describe(value)}`);
    return null;
  }
  const keys = Object.keys(check.section(at, value, allowed, hints));
  if (keys.some((key) => !allowed.includes(key))) return null; // reported by section()
  if (keys.length !== 1) {
    check.report(
      at,
      keys.length === 0 ? `is required (expected a map with ${allowed[0] ?? ""})` : "expected exactly one exporter",
    );
    return null;
  }
  return keys[0] ?? null;
}

/** otelconf `headers: [{name, value}]`, or the collector's older map form. Values are secret. */
function headerEntries(at: KeyPath, value: unknown, check: Checker): Record<string, string> {
  if (!Array.isArray(value)) return check.stringMap(at, value, { secret: true });
  const out: Record<string, string> = {};
  value.forEach((item: unknown, index) => {
    const entry = check.section([...at, index], item, ["name", "value"]);
    const name = check.string([...at, index, "name"], entry.name, null, { required: true, nonEmpty: true });
    const text = check.string([...at, index, "value"], entry.value, null, { required: true, secret: true });
    if (name !== null && text !== null) setOwn(out, name, text);
  });
  return out;
}

/** otelconf `headers_list: "k1=v1,k2=v2"` (the OTEL_EXPORTER_OTLP_HEADERS format). */
function headersList(at: KeyPath, value: unknown, check: Checker): Record<string, string> {
  const text = check.string(at, value, null, { nullIsAbsent: true, secret: true });
  const out: Record<string, string> = {};
  if (text === null || text.trim() === "") return out;
  for (const pair of text.split(",")) {
    const eq = pair.indexOf("=");
    const name = eq < 0 ? "" : decoded(pair.slice(0, eq).trim());
    const text = decoded(pair.slice(eq + 1).trim());
    if (name === "" || name === null || text === null) {
      check.report(at, 'expected "name=value" pairs separated by commas (percent-encoded where needed)');
      return {};
    }
    setOwn(out, name, text);
  }
  return out;
}

function decoded(text: string): string | null {
  try {
    return decodeURIComponent(text);
  } catch {
    return null;
  }
}
