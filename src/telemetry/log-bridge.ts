/**
 * `telemetry.logs.processors`: the supervisor's pino lines also become OTLP log records.
 * A tee destination writes every finished line (already through the secret masker, which
 * pino's streamWrite hook applies before the destination) to stdout as before and hands
 * it to the exporter's sink. Lines logged before the SDK is up are held (bounded) and
 * passed on once it is.
 */
import type { DestinationStream } from "pino";

export type LogSink = (line: string) => void;

/** A record in the OpenTelemetry log data model, as the api-logs `emit` takes it. */
export interface BridgedRecord {
  timestamp: number;
  severityText: string;
  body: string;
  attributes: Record<string, string | number | boolean>;
}

const EARLY_LINES = 200;

export interface TeeDestination {
  readonly destination: DestinationStream;
  /** Lines from now on, and the early ones held so far, go to `sink` too. */
  attach(sink: LogSink): void;
}

export function teeDestination(primary: DestinationStream): TeeDestination {
  let sink: LogSink | undefined;
  let early: string[] = [];
  return {
    destination: {
      write(line: string): void {
        primary.write(line);
        if (sink) sink(line);
        else if (early.length < EARLY_LINES) early.push(line);
      },
    },
    attach(next) {
      sink = next;
      for (const line of early) next(line);
      early = [];
    },
  };
}

const ENVELOPE = new Set(["level", "time", "msg", "name", "pid", "hostname"]);

/** The `component` of the SDK's own diagnostic lines (sdk.ts logs them under it). */
export const DIAGNOSTICS_COMPONENT = "telemetry";

/**
 * One pino JSON line as a log record; undefined for a line that is not JSON, and for the
 * SDK's own diagnostics: exporting "the export failed" would fail again and feed itself.
 */
export function recordFromLine(line: string): BridgedRecord | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return undefined;
  const fields = parsed as Record<string, unknown>;
  if (fields["component"] === DIAGNOSTICS_COMPONENT) return undefined;
  const level = typeof fields["level"] === "string" ? fields["level"] : "info";
  const time = typeof fields["time"] === "string" ? Date.parse(fields["time"]) : NaN;
  const attributes: Record<string, string | number | boolean> = {};
  for (const [key, value] of Object.entries(fields)) {
    if (ENVELOPE.has(key) || value === null || value === undefined) continue;
    attributes[key] =
      typeof value === "string" || typeof value === "number" || typeof value === "boolean"
        ? value
        : JSON.stringify(value);
  }
  return {
    timestamp: Number.isFinite(time) ? time : 0,
    severityText: level.toUpperCase(),
    body: typeof fields["msg"] === "string" ? fields["msg"] : "",
    attributes,
  };
}
