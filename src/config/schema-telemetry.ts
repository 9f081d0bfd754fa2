/**
 * The resolved `telemetry` section: the supervisor's own logs, metrics and traces in the
 * official Go supervisor's (otelconf) shape. Built by validate-telemetry.ts; the SDK wiring
 * (src/telemetry/sdk.ts) reads only this.
 */
import type { LogLevel } from "./schema.js";

/** One OTLP exporter. Only http/protobuf is implemented; grpc is refused at load. */
export interface ResolvedOtlpExporter {
  readonly protocol: "http/protobuf";
  /** The full URL of the signal's path (`/v1/metrics` etc. added when the endpoint has no path). */
  readonly url: string;
  /** Values may be secrets: they join the secret masker's inputs and are never logged. */
  readonly headers: Readonly<Record<string, string>>;
  /** Absolute paths of PEM files, or null. */
  readonly certificate: string | null;
  readonly clientCertificate: string | null;
  readonly clientKey: string | null;
  readonly compression: "none" | "gzip";
  readonly timeoutMs: number;
}

/** otelconf metric readers: `pull` (Prometheus scrape endpoint) or `periodic` (OTLP push). */
export type ResolvedMetricReader =
  | { readonly kind: "pull"; readonly host: string; readonly port: number }
  | {
      readonly kind: "periodic";
      readonly intervalMs: number;
      readonly timeoutMs: number;
      readonly exporter: ResolvedOtlpExporter;
    };

/** otelconf span and log-record processors. */
export type ResolvedProcessor =
  | {
      readonly kind: "batch";
      readonly scheduleDelayMs: number;
      readonly exportTimeoutMs: number;
      readonly maxQueueSize: number;
      readonly maxExportBatchSize: number;
      readonly exporter: ResolvedOtlpExporter;
    }
  | { readonly kind: "simple"; readonly exporter: ResolvedOtlpExporter };

export type TelemetryLevel = "none" | "basic" | "normal" | "detailed";

export type ResourceValue = string | number | boolean;

export interface ResolvedTelemetry {
  readonly logs: { readonly level: LogLevel; readonly processors: readonly ResolvedProcessor[] };
  /** `level: none` leaves `readers` empty. */
  readonly metrics: { readonly level: TelemetryLevel; readonly readers: readonly ResolvedMetricReader[] };
  readonly traces: { readonly level: TelemetryLevel; readonly processors: readonly ResolvedProcessor[] };
  /**
   * Attributes on everything the supervisor exports. service.name defaults to
   * opamp-supervisor (as in Go); a name mapped to null removes a default.
   */
  readonly resource: {
    readonly attributes: Readonly<Record<string, ResourceValue | null>>;
    readonly schemaUrl: string | null;
  };
}

/** otelconf defaults. */
export const TELEMETRY_DEFAULTS = {
  periodicIntervalMs: 60_000,
  periodicTimeoutMs: 30_000,
  exporterTimeoutMs: 10_000,
  batch: {
    // Spans: otelconf's BatchSpanProcessor defaults; log records use the same here.
    scheduleDelayMs: 5_000,
    exportTimeoutMs: 30_000,
    maxQueueSize: 2_048,
    maxExportBatchSize: 512,
  },
  prometheusHost: "localhost",
  prometheusPort: 9464,
} as const;

/** True when anything is exported: only then is the OpenTelemetry SDK loaded. */
export function telemetryExports(telemetry: ResolvedTelemetry): boolean {
  return (
    telemetry.metrics.readers.length > 0 ||
    telemetry.traces.processors.length > 0 ||
    telemetry.logs.processors.length > 0
  );
}

/** Every exporter of the section, for the secret masker. */
export function telemetryExporters(telemetry: ResolvedTelemetry): ResolvedOtlpExporter[] {
  const readers = telemetry.metrics.readers.flatMap((r) => (r.kind === "periodic" ? [r.exporter] : []));
  const processors = [...telemetry.traces.processors, ...telemetry.logs.processors].map((p) => p.exporter);
  return [...readers, ...processors];
}
