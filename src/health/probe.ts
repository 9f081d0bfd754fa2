/** One GET against the collector's health_check endpoint. */
import { request } from "node:http";

export interface ProbeResult {
  healthy: boolean;
  /** HTTP status, when the endpoint answered. */
  status?: number;
  /** Why the check failed, for last_error. */
  error?: string;
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
        res.resume();
        const status = res.statusCode ?? 0;
        resolve(
          status === 200
            ? { healthy: true, status }
            : { healthy: false, status, error: `health check answered HTTP ${status}` },
        );
      });
      req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.on("error", (err: NodeJS.ErrnoException) =>
        resolve({ healthy: false, error: `health check failed: ${err.code ?? err.message}` }),
      );
      req.end();
    });
}
