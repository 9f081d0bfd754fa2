/**
 * The seam between the supervisor and the OpenTelemetry SDK. Without readers or
 * processors configured it returns the no-op session and never imports the SDK: start-up
 * time and memory of a supervisor without telemetry stay what they were. The SDK (sdk.ts)
 * is a dynamic import, a chunk of its own in the bundle.
 */
import { telemetryExports, type ResolvedTelemetry } from "../config/schema-telemetry.js";
import type { Logger } from "../deps.js";
import type { LogSink } from "./log-bridge.js";
import { noopMetrics, type SupervisorMetrics } from "./metrics.js";
import { noopTracer, type SupervisorTracer } from "./traces.js";

export interface TelemetrySession {
  readonly metrics: SupervisorMetrics;
  readonly tracer: SupervisorTracer;
  /** Present with `telemetry.logs.processors`: each finished log line goes here too. */
  readonly logSink?: LogSink;
  /** The SDK's own warnings (failed exports) go to this logger from now on. */
  attachLogger(logger: Logger): void;
  /** Flushes and stops every reader and processor. */
  shutdown(): Promise<void>;
}

export interface TelemetryStartOptions {
  /** service.version of the supervisor's resource. */
  version: string;
  /** Reads the exporters' PEM files. */
  readFile: (path: string) => Promise<string>;
}

export const noTelemetry: TelemetrySession = {
  metrics: noopMetrics,
  tracer: noopTracer,
  attachLogger: () => undefined,
  shutdown: () => Promise.resolve(),
};

type SdkModule = { startSdk(telemetry: ResolvedTelemetry, options: TelemetryStartOptions): Promise<TelemetrySession> };

/** `load` is the test seam for the dynamic import. */
export async function startTelemetry(
  telemetry: ResolvedTelemetry,
  options: TelemetryStartOptions,
  load: () => Promise<SdkModule> = () => import("./sdk.js"),
): Promise<TelemetrySession> {
  if (!telemetryExports(telemetry)) return noTelemetry;
  const sdk = await load();
  return sdk.startSdk(telemetry, options);
}
