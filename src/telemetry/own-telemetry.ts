/**
 * The collector's own telemetry as the server chose it (ConnectionSettingsOffers own_metrics,
 * own_traces, own_logs): where each signal goes, how that is stored in the state directory,
 * and the `service::telemetry` layer it becomes in the collector's config (composed where
 * `$OWN_TELEMETRY_CONFIG` stands, first by default, as the Go supervisor places it).
 */
import type { CollectorConfig } from "../config/body.js";
import { bytesToHex, expectHex, expectObject, expectString, expectVersion } from "../storage/json-shape.js";

export const OWN_TELEMETRY_SIGNALS = ["metrics", "traces", "logs"] as const;
export type OwnTelemetrySignal = (typeof OWN_TELEMETRY_SIGNALS)[number];

/** The OpAMP spec recommends reporting own metrics every 10 s. */
export const OWN_METRICS_INTERVAL_MS = 10_000;

export interface OwnTelemetryDestination {
  /** OTLP/HTTP URL including the path, e.g. https://host:4318/v1/metrics. */
  readonly endpoint: string;
  /** May hold credentials: never logged, masked in what is reported. */
  readonly headers: Readonly<Record<string, string>>;
  /** PEM files in the state directory the collector reads (CA to trust, client certificate and key). */
  readonly caFile?: string | undefined;
  readonly certFile?: string | undefined;
  readonly keyFile?: string | undefined;
}

/** A signal absent or undefined has no destination. */
export type OwnTelemetrySettings = Readonly<Partial<Record<OwnTelemetrySignal, OwnTelemetryDestination | undefined>>>;

/** The state document: the settings in force and the offer hash they came from. */
export interface StoredOwnTelemetry {
  /** Hex of the ConnectionSettingsOffers hash last applied. */
  readonly hash: string;
  readonly settings: OwnTelemetrySettings;
}

export const OWN_TELEMETRY_DOCUMENT = "own-telemetry.json";
const DOCUMENT_VERSION = 1;
/** Folder of the offered certificates and keys, named by their content's hash. */
export const OWN_TELEMETRY_FILES_DIR = "own-telemetry";

/**
 * The config layer for `settings`, or null when no signal has a destination.
 * `instanceUid` goes into the resource so the server can tell whose telemetry it receives.
 */
export function ownTelemetryLayer(settings: OwnTelemetrySettings, instanceUid: string): CollectorConfig | null {
  const telemetry: Record<string, unknown> = {};
  const { metrics, traces, logs } = settings;
  if (metrics)
    telemetry.metrics = {
      readers: [{ periodic: { interval: OWN_METRICS_INTERVAL_MS, exporter: { otlp: exporterOf(metrics) } } }],
    };
  if (traces) telemetry.traces = { processors: [{ batch: { exporter: { otlp: exporterOf(traces) } } }] };
  if (logs) telemetry.logs = { processors: [{ batch: { exporter: { otlp: exporterOf(logs) } } }] };
  if (Object.keys(telemetry).length === 0) return null;
  telemetry.resource = { "service.instance.id": instanceUid };
  return { service: { telemetry } };
}

/** The collector's (otelconf) OTLP exporter block; headers are a name/value list there. */
function exporterOf(destination: OwnTelemetryDestination): Record<string, unknown> {
  const exporter: Record<string, unknown> = { protocol: "http/protobuf", endpoint: destination.endpoint };
  const headers = Object.entries(destination.headers).map(([name, value]) => ({ name, value }));
  if (headers.length > 0) exporter.headers = headers;
  if (destination.caFile) exporter.certificate = destination.caFile;
  if (destination.certFile) exporter.client_certificate = destination.certFile;
  if (destination.keyFile) exporter.client_key = destination.keyFile;
  return exporter;
}

/** Every header value: the secrets these settings add. */
export function ownTelemetrySecrets(settings: OwnTelemetrySettings): string[] {
  return OWN_TELEMETRY_SIGNALS.flatMap((signal) => Object.values(settings[signal]?.headers ?? {}));
}

/** Every file the settings refer to (kept; other files in the folder are leftovers). */
export function ownTelemetryFiles(settings: OwnTelemetrySettings): string[] {
  return OWN_TELEMETRY_SIGNALS.flatMap((signal) => {
    const destination = settings[signal];
    return destination ? [destination.caFile, destination.certFile, destination.keyFile] : [];
  }).filter((file): file is string => file !== undefined);
}

/** The document as written: `{version, hash, settings}`. */
export function storedOwnTelemetryJson(stored: StoredOwnTelemetry): unknown {
  return { version: DOCUMENT_VERSION, hash: stored.hash, settings: stored.settings };
}

export function parseStoredOwnTelemetry(value: unknown): StoredOwnTelemetry {
  const doc = expectObject(value, "own telemetry");
  expectVersion(doc, DOCUMENT_VERSION, "own telemetry");
  const hash = bytesToHex(expectHex(doc, "hash", "own telemetry"));
  const raw = expectObject(doc.settings, "own telemetry.settings");
  const settings: Partial<Record<OwnTelemetrySignal, OwnTelemetryDestination>> = {};
  for (const signal of OWN_TELEMETRY_SIGNALS) {
    if (raw[signal] === undefined) continue;
    const where = `own telemetry.settings.${signal}`;
    const entry = expectObject(raw[signal], where);
    const headersRaw = expectObject(entry.headers, `${where}.headers`);
    const headers: Record<string, string> = {};
    for (const name of Object.keys(headersRaw)) headers[name] = expectString(headersRaw, name, `${where}.headers`);
    const file = (key: string): string | undefined =>
      entry[key] === undefined ? undefined : expectString(entry, key, where);
    settings[signal] = {
      endpoint: expectString(entry, "endpoint", where),
      headers,
      caFile: file("caFile"),
      certFile: file("certFile"),
      keyFile: file("keyFile"),
    };
  }
  return { hash, settings };
}
