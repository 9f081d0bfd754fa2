/**
 * `healthcheck.endpoint`: the supervisor's own HTTP endpoint (node:http, nothing else).
 *
 *   GET /health        200 while the supervisor runs, whatever the collector does: a
 *                      liveness probe must not restart the supervisor because the collector
 *                      is unhealthy (restarting the collector is the supervisor's job).
 *   GET /health?ready  200 when the collector is healthy, else 503: for readiness probes
 *                      and load balancers.
 *
 * The body is always the status snapshot (StatusView) as JSON. Closed when `signal` aborts.
 */
import { createServer } from "node:http";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { ResolvedConfig } from "../config/schema.js";
import { SupervisorError } from "../errors.js";
import type { StatusSnapshot, StatusView } from "./status-snapshot.js";

export interface HealthServer {
  /** The bound address (port 0 in the config picks a free one). */
  readonly address: AddressInfo;
  readonly closed: Promise<void>;
}

/** "localhost:13134", ":13134", "0.0.0.0:13134" → host and port; undefined when there is no port (off, as in Go). */
export function parseListenEndpoint(endpoint: string): { host: string; port: number } | undefined {
  const match = /^(.*):(\d+)$/.exec(endpoint.trim());
  if (!match) return undefined;
  const host = (match[1] ?? "").replace(/^\[(.*)\]$/, "$1");
  return { host: host === "" ? "0.0.0.0" : host, port: Number(match[2]) };
}

export async function startHealthServer(
  listen: { host: string; port: number },
  view: () => StatusView,
  signal: AbortSignal,
): Promise<HealthServer> {
  const server = createServer((req, res) => {
    const url = requestUrl(req.url);
    if (!url) {
      // Node's parser lets through targets URL refuses ("http://[", "//[x"): a bad request, never a crash.
      res.writeHead(400, { "content-type": "text/plain" }).end("bad request\n");
      return;
    }
    if (url.pathname !== "/health") {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
      return;
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD", "content-type": "text/plain" }).end("method not allowed\n");
      return;
    }
    const body = view();
    const ready = url.searchParams.has("ready");
    const code = ready && !body.collector.healthy ? 503 : 200;
    res
      .writeHead(code, { "content-type": "application/json", "cache-control": "no-store" })
      .end(req.method === "HEAD" ? undefined : `${JSON.stringify(body)}\n`);
  });
  await listenOn(server, listen);
  // Keep-alive sockets would hold close() open until they time out.
  const closed = new Promise<void>((resolve) => {
    const close = (): void => {
      server.close(() => resolve());
      server.closeAllConnections();
    };
    if (signal.aborted) close();
    else signal.addEventListener("abort", close, { once: true });
  });
  return { address: server.address() as AddressInfo, closed };
}

function requestUrl(target: string | undefined): URL | undefined {
  try {
    return new URL(target ?? "/", "http://localhost");
  } catch {
    return undefined;
  }
}

function listenOn(server: Server, listen: { host: string; port: number }): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) =>
      reject(
        new SupervisorError(
          "LISTEN_FAILED",
          `healthcheck.endpoint ${listen.host}:${listen.port}: ${err.code ?? err.message}`,
          { cause: err },
        ),
      ),
    );
    server.listen(listen.port, listen.host, () => resolve());
  });
}

/** Serves `healthcheck.endpoint` when configured; undefined when it is off. */
export async function serveHealth(
  config: ResolvedConfig,
  snapshot: StatusSnapshot,
  signal: AbortSignal,
): Promise<HealthServer | undefined> {
  const listen = parseListenEndpoint(config.healthcheck.endpoint);
  return listen ? startHealthServer(listen, () => snapshot.view(), signal) : undefined;
}
