/** One GET against the collector's health endpoint: health_check (v1) or healthcheckv2. */
import { request } from "node:http";
import { parseStatusV2 } from "./status-v2.js";
import type { StatusV2 } from "./status-v2.js";

export interface ProbeResult {
  healthy: boolean;
  /** HTTP status, when the endpoint answered. */
  status?: number;
  /** Why the check failed, for last_error. */
  error?: string;
  /**
   * When the collector's current service started: health_check's `upSince`, healthcheckv2's
   * `start_time`. A reload replaces the service, so a changed value proves the new config is
   * the one answering.
   */
  upSince?: string;
  /** healthcheckv2 only: the per-pipeline and per-component status. */
  detail?: StatusV2;
}

export type Probe = (signal: AbortSignal) => Promise<ProbeResult>;

/** Which extension answers at a health URL, so the probe knows how to read it. */
export type HealthKind = "health_check" | "healthcheckv2";

/** `endpoint` is host:port as in the collector config; `localhost` and empty hosts mean loopback. */
export function healthUrl(endpoint: string, path: string): string {
  const colon = endpoint.lastIndexOf(":");
  let host = colon >= 0 ? endpoint.slice(0, colon) : endpoint;
  const port = colon >= 0 ? endpoint.slice(colon + 1) : "13133";
  if (host === "" || host === "0.0.0.0" || host === "localhost") host = "127.0.0.1";
  if (host === "::" || host === "[::]") host = "[::1]";
  return `http://${host}:${port}${path.startsWith("/") ? path : `/${path}`}`;
}

/** The probe for `kind` at `url`. */
export function probeFor(url: string, timeoutMs: number, kind: HealthKind = "health_check"): Probe {
  switch (kind) {
    case "health_check":
      return httpProbe(url, timeoutMs);
    case "healthcheckv2":
      return statusV2Probe(url, timeoutMs);
  }
}

/** health_check: 200 is healthy; the body only lends its upSince. */
export function httpProbe(url: string, timeoutMs: number): Probe {
  return async (signal) => {
    const got = await httpGet(url, { timeoutMs, maxBodyBytes: V1_MAX_BODY_BYTES, keepReading: true }, signal);
    if (got.kind === "failed") return { healthy: false, error: got.error };
    if (got.kind === "oversized") return { healthy: false, status: got.status, error: "health check body too large" };
    const upSince = readUpSince(got.body);
    const extra = upSince !== undefined ? { upSince } : {};
    return got.status === 200
      ? { healthy: true, status: got.status, ...extra }
      : { healthy: false, status: got.status, error: `health check answered HTTP ${got.status}`, ...extra };
  };
}

/**
 * healthcheckv2: asks for the per-component detail (`verbose`). The HTTP status is the overall
 * verdict, as the extension's options make it (200 while up, 503 starting or stopping, 500 on
 * a fatal error or, with component_health options, a component error). A body that is not
 * the extension's JSON, or larger than the cap, is an unhealthy check: whatever answers there
 * is not the status we were told to watch.
 */
export function statusV2Probe(url: string, timeoutMs: number): Probe {
  const verbose = `${url}${url.includes("?") ? "&" : "?"}verbose`;
  return async (signal) => {
    const got = await httpGet(verbose, { timeoutMs, maxBodyBytes: V2_MAX_BODY_BYTES, keepReading: false }, signal);
    if (got.kind === "failed") return { healthy: false, error: got.error };
    if (got.kind === "oversized")
      return {
        healthy: false,
        status: got.status,
        error: `health status body exceeds ${V2_MAX_BODY_BYTES} bytes (HTTP ${got.status})`,
      };
    const parsed = parseStatusV2(got.body.toString("utf8"));
    if (!parsed.ok) return { healthy: false, status: got.status, error: `${parsed.reason} (HTTP ${got.status})` };
    const detail = parsed.status;
    const extra = detail.startTime !== undefined ? { upSince: detail.startTime, detail } : { detail };
    if (got.status === 200) return { healthy: true, status: got.status, ...extra };
    const why = detail.error !== undefined ? `: ${detail.error}` : "";
    return {
      healthy: false,
      status: got.status,
      error: `health check answered HTTP ${got.status} (${detail.status}${why})`,
      ...extra,
    };
  };
}

const V1_MAX_BODY_BYTES = 4096;
/** A verbose status is ~150 bytes per component: this allows some thousand of them. */
export const V2_MAX_BODY_BYTES = 256 * 1024;

type GetResult =
  | { kind: "answered"; status: number; body: Buffer }
  | { kind: "oversized"; status: number }
  | { kind: "failed"; error: string };

interface GetOptions {
  timeoutMs: number;
  maxBodyBytes: number;
  /** Read past the cap (keeping the first bytes) instead of giving up on the answer. */
  keepReading: boolean;
}

function httpGet(url: string, o: GetOptions, signal: AbortSignal): Promise<GetResult> {
  return new Promise((resolve) => {
    const req = request(url, { method: "GET", timeout: o.timeoutMs, signal, agent: false }, (res) => {
      const status = res.statusCode ?? 0;
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (chunk: Buffer) => {
        size += chunk.length;
        if (size <= o.maxBodyBytes) chunks.push(chunk);
        else if (!o.keepReading) {
          resolve({ kind: "oversized", status });
          req.destroy(); // stop reading a body we will not use
        }
      });
      res.on("error", () => resolve({ kind: "failed", error: "health check response was cut off" }));
      res.on("end", () => resolve({ kind: "answered", status, body: Buffer.concat(chunks) }));
    });
    req.on("timeout", () => req.destroy(new Error(`no answer within ${o.timeoutMs} ms`)));
    req.on("error", (err: NodeJS.ErrnoException) =>
      resolve({ kind: "failed", error: `health check failed: ${err.code ?? err.message}` }),
    );
    req.end();
  });
}

function readUpSince(body: Buffer): string | undefined {
  try {
    const parsed: unknown = JSON.parse(body.toString("utf8"));
    const value = (parsed as { upSince?: unknown } | null)?.upSince;
    return typeof value === "string" ? value : undefined;
  } catch {
    return undefined; // a custom response_body: no upSince to compare
  }
}
