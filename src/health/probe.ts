/** One GET against the collector's health_check endpoint. */
import { request } from "node:http";

export interface ProbeResult {
  healthy: boolean;
  /** HTTP status, when the endpoint answered. */
  status?: number;
  /** Why the check failed, for last_error. */
  error?: string;
  /**
   * The health_check extension's `upSince`: when the collector's current service started.
   * A reload replaces the service, so a changed value proves the new config is the one
   * answering.
   */
  upSince?: string;
}

export type Probe = (signal: AbortSignal) => Promise<ProbeResult>;

/** `endpoint` is host:port as in the collector config; `localhost` and empty hosts mean loopback. */
export function healthUrl(endpoint: string, path: string): string {
  const colon = endpoint.lastIndexOf(":");
  let host = colon >= 0 ? endpoint.slice(0, colon) : endpoint;
  const port = colon >= 0 ? endpoint.slice(colon + 1) : "13133";
  if (host === "" || host === "0.0.0.0" || host === "localhost") host = "127.0.0.1";
  if (host === "::" || host === "[::]") host = "[::1]";
  return `http://${host}:${port}${path.startsWith("/") ? path : `/${path}`}`;
}

export function httpProbe(url: string, timeoutMs: number): Probe {
  return (signal) =>
    new Promise((resolve) => {
      const req = request(url, { method: "GET", timeout: timeoutMs, signal, agent: false }, (res) => {
        const status = res.statusCode ?? 0;
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (chunk: Buffer) => {
          size += chunk.length;
          if (size <= MAX_BODY_BYTES) chunks.push(chunk);
        });
        res.on("error", () => resolve({ healthy: false, status, error: "health check response was cut off" }));
        res.on("end", () => {
          const upSince = readUpSince(Buffer.concat(chunks));
          const extra = upSince !== undefined ? { upSince } : {};
          resolve(
            status === 200
              ? { healthy: true, status, ...extra }
              : { healthy: false, status, error: `health check answered HTTP ${status}`, ...extra },
          );
        });
      });
      req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.on("error", (err: NodeJS.ErrnoException) =>
        resolve({ healthy: false, error: `health check failed: ${err.code ?? err.message}` }),
      );
      req.end();
    });
}

const MAX_BODY_BYTES = 4096;

function readUpSince(body: Buffer): string | undefined {
  try {
    const parsed: unknown = JSON.parse(body.toString("utf8"));
    const value = (parsed as { upSince?: unknown } | null)?.upSince;
    return typeof value === "string" ? value : undefined;
  } catch {
    return undefined; // a custom response_body: no upSince to compare
  }
}
