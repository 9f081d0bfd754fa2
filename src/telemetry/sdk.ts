/**
 * Builds the OpenTelemetry SDK for `telemetry.*`: the resource, a MeterProvider with the
 * pull (Prometheus) and periodic (OTLP) readers, a TracerProvider and a LoggerProvider
 * with their processors. This module and everything it imports load only through
 * loader.ts's dynamic import(), so a supervisor without telemetry never pays for them.
 * Nothing is registered globally except the SDK's diagnostic logger.
 */
import { diag, DiagLogLevel } from "@opentelemetry/api";
import { SeverityNumber } from "@opentelemetry/api-logs";
import { OTLPLogExporter } from "@opentelemetry/exporter-logs-otlp-proto";
import { OTLPMetricExporter } from "@opentelemetry/exporter-metrics-otlp-proto";
import { PrometheusExporter } from "@opentelemetry/exporter-prometheus";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { CompressionAlgorithm } from "@opentelemetry/otlp-exporter-base";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BatchLogRecordProcessor, LoggerProvider, SimpleLogRecordProcessor } from "@opentelemetry/sdk-logs";
import { MeterProvider, PeriodicExportingMetricReader, type MetricReader } from "@opentelemetry/sdk-metrics";
import { BatchSpanProcessor, SimpleSpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";
import type { ResolvedOtlpExporter, ResolvedProcessor, ResolvedTelemetry } from "../config/schema-telemetry.js";
import type { Logger } from "../deps.js";
import { SupervisorError } from "../errors.js";
import { createInstruments } from "./instruments.js";
import { DIAGNOSTICS_COMPONENT, recordFromLine } from "./log-bridge.js";
import type { TelemetrySession, TelemetryStartOptions } from "./loader.js";
import { noopMetrics } from "./metrics.js";
import { createTracer } from "./spans.js";
import { noopTracer } from "./traces.js";

const SCOPE = "opamp-supervisor";

/** pino's level names (upper-cased by the bridge) in the OpenTelemetry log data model. */
const SEVERITY: Readonly<Record<string, SeverityNumber>> = {
  TRACE: SeverityNumber.TRACE,
  DEBUG: SeverityNumber.DEBUG,
  INFO: SeverityNumber.INFO,
  WARN: SeverityNumber.WARN,
  ERROR: SeverityNumber.ERROR,
  FATAL: SeverityNumber.FATAL,
};

export async function startSdk(
  telemetry: ResolvedTelemetry,
  options: TelemetryStartOptions,
): Promise<TelemetrySession> {
  const resource = resourceFromAttributes(resourceAttributes(telemetry, options.version), {
    ...(telemetry.resource.schemaUrl !== null ? { schemaUrl: telemetry.resource.schemaUrl } : {}),
  });
  const exporterOptions = (e: ResolvedOtlpExporter) => otlpOptions(e, options.readFile);
  const shutdowns: (() => Promise<void>)[] = [];

  const readers: MetricReader[] = [];
  for (const reader of telemetry.metrics.readers) {
    switch (reader.kind) {
      case "pull":
        readers.push(await prometheus(reader.host, reader.port));
        break;
      case "periodic":
        readers.push(
          new PeriodicExportingMetricReader({
            exporter: new OTLPMetricExporter(await exporterOptions(reader.exporter)),
            exportIntervalMillis: reader.intervalMs,
            exportTimeoutMillis: reader.timeoutMs,
          }),
        );
        break;
    }
  }
  let metrics = noopMetrics;
  if (readers.length > 0) {
    const provider = new MeterProvider({ resource, readers });
    shutdowns.push(() => provider.shutdown());
    metrics = createInstruments(provider.getMeter(SCOPE, options.version));
  }

  let tracer = noopTracer;
  if (telemetry.traces.processors.length > 0) {
    const spanProcessors = [];
    for (const p of telemetry.traces.processors) {
      const exporter = new OTLPTraceExporter(await exporterOptions(p.exporter));
      spanProcessors.push(
        p.kind === "batch"
          ? new BatchSpanProcessor({ exporter, ...batchOptions(p) })
          : new SimpleSpanProcessor({ exporter }),
      );
    }
    const provider = new TracerProvider({ resource, spanProcessors });
    shutdowns.push(() => provider.shutdown());
    tracer = createTracer(provider.getTracer(SCOPE, options.version));
  }

  let logSink: ((line: string) => void) | undefined;
  if (telemetry.logs.processors.length > 0) {
    const processors = [];
    for (const p of telemetry.logs.processors) {
      const exporter = new OTLPLogExporter(await exporterOptions(p.exporter));
      processors.push(
        p.kind === "batch"
          ? new BatchLogRecordProcessor({ exporter, ...batchOptions(p) })
          : new SimpleLogRecordProcessor({ exporter }),
      );
    }
    const provider = new LoggerProvider({ resource, processors });
    shutdowns.push(() => provider.shutdown());
    const otelLogger = provider.getLogger(SCOPE, options.version);
    logSink = (line) => {
      const record = recordFromLine(line);
      if (record)
        otelLogger.emit({ ...record, severityNumber: SEVERITY[record.severityText] ?? SeverityNumber.UNSPECIFIED });
    };
  }

  return {
    metrics,
    tracer,
    ...(logSink ? { logSink } : {}),
    attachLogger: (logger) =>
      diag.setLogger(diagLogger(logger.child({ component: DIAGNOSTICS_COMPONENT })), DiagLogLevel.WARN),
    shutdown: async () => {
      // Each provider flushes what it holds; one failing does not keep the others from it.
      await Promise.allSettled(shutdowns.map((stop) => stop()));
      diag.disable();
    },
  };
}

function resourceAttributes(telemetry: ResolvedTelemetry, version: string): Record<string, string | number | boolean> {
  const merged: Record<string, string | number | boolean | null> = {
    "service.name": "opamp-supervisor",
    "service.version": version,
    ...telemetry.resource.attributes,
  };
  return Object.fromEntries(
    Object.entries(merged).filter((entry): entry is [string, string | number | boolean] => entry[1] !== null),
  );
}

/** The scrape endpoint; resolves once it listens, so a port in use fails the start. */
function prometheus(host: string, port: number): Promise<PrometheusExporter> {
  return new Promise((resolve, reject) => {
    const exporter: PrometheusExporter = new PrometheusExporter({ host, port }, (err) => {
      if (err === undefined || err === null) resolve(exporter);
      else
        reject(
          new SupervisorError(
            "LISTEN_FAILED",
            `telemetry.metrics pull reader cannot listen on ${host}:${port}: ${String(err)}`,
            {
              cause: err,
            },
          ),
        );
    });
  });
}

function batchOptions(p: Extract<ResolvedProcessor, { kind: "batch" }>) {
  return {
    scheduledDelayMillis: p.scheduleDelayMs,
    exportTimeoutMillis: p.exportTimeoutMs,
    maxQueueSize: p.maxQueueSize,
    maxExportBatchSize: p.maxExportBatchSize,
  };
}

async function otlpOptions(exporter: ResolvedOtlpExporter, readFile: (path: string) => Promise<string>) {
  const read = async (file: string | null, key: string): Promise<string | undefined> => {
    if (file === null) return undefined;
    try {
      return await readFile(file);
    } catch (err) {
      throw new SupervisorError("CONFIG_INVALID", `telemetry exporter ${key}: cannot read ${file}`, { cause: err });
    }
  };
  const [ca, cert, key] = await Promise.all([
    read(exporter.certificate, "certificate"),
    read(exporter.clientCertificate, "client_certificate"),
    read(exporter.clientKey, "client_key"),
  ]);
  const tls = { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) };
  return {
    url: exporter.url,
    headers: { ...exporter.headers },
    timeoutMillis: exporter.timeoutMs,
    compression: exporter.compression === "gzip" ? CompressionAlgorithm.GZIP : CompressionAlgorithm.NONE,
    ...(Object.keys(tls).length > 0 ? { httpAgentOptions: tls } : {}),
  };
}

/** The SDK's own complaints (an export that failed) as supervisor log lines. */
function diagLogger(logger: Logger) {
  const line =
    (write: (msg: string) => void) =>
    (message: string, ...args: unknown[]) =>
      write(
        [
          message,
          ...args.map((a) => (a instanceof Error ? a.message : typeof a === "string" ? a : JSON.stringify(a))),
        ].join(" "),
      );
  return {
    error: line((m) => logger.warn(m)),
    warn: line((m) => logger.warn(m)),
    info: line((m) => logger.debug(m)),
    debug: line((m) => logger.debug(m)),
    verbose: line((m) => logger.debug(m)),
  };
}
