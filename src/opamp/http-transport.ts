/**
 * OpAMP over plain HTTP: every AgentToServer is one POST whose response body is the
 * ServerToAgent. Half duplex: the client never has two requests in flight.
 */
import { request as httpRequest, Agent as HttpAgent } from "node:http";
import { request as httpsRequest, Agent as HttpsAgent } from "node:https";
import type { IncomingMessage } from "node:http";
import type { ConnectionOptions } from "node:tls";
import { gunzip } from "node:zlib";
import { promisify } from "node:util";
import { parseRetryAfter } from "./backoff.js";
import { decodeServerToAgent, encodeAgentToServer } from "./codec.js";
import type { AgentToServer } from "./codec.js";
import { isSecureEndpoint } from "./endpoint.js";
import { PROXY_REFUSED, TransportError, asTransportError, encodeForSend } from "./transport.js";
import type { WireMeter } from "./transport.js";
import type { Connection, ConnectionHandlers } from "./transport.js";
import { formatUuid } from "./uuid.js";

const gunzipAsync = promisify(gunzip);

export interface HttpConnectOptions {
  url: string;
  headers: Readonly<Record<string, string>>;
  tls: ConnectionOptions;
  /** Replaces the client's own keep-alive agent (a proxy agent); destroyed with the connection. */
  agent?: HttpAgent | undefined;
  maxMessageBytes: number;
  requestTimeoutMs: number;
  now: () => number;
  meter?: WireMeter | undefined;
}

/** There is no connection to open over HTTP; the first POST is the real test. */
export function connectHttp(options: HttpConnectOptions, handlers: ConnectionHandlers): Connection {
  return new HttpConnection(options, handlers);
}

class HttpConnection implements Connection {
  readonly kind = "http" as const;
  readonly #agent: HttpAgent;
  readonly #secure: boolean;
  #destroyed = false;

  constructor(
    private readonly options: HttpConnectOptions,
    private readonly handlers: ConnectionHandlers,
  ) {
    this.#secure = isSecureEndpoint(options.url);
    this.#agent =
      options.agent ??
      (this.#secure
        ? new HttpsAgent({ keepAlive: true, maxSockets: 1, ...options.tls })
        : new HttpAgent({ keepAlive: true, maxSockets: 1 }));
  }

  async send(msg: AgentToServer, signal: AbortSignal): Promise<void> {
    if (this.#destroyed) throw new TransportError("CONNECTION_LOST", "HTTP connection closed");
    const bytes = encodeForSend(msg, this.options.maxMessageBytes);
    const body = await this.#post(bytes, msg.instanceUid, signal);
    this.options.meter?.sent(bytes.length);
    this.options.meter?.received(body.length);
    this.handlers.onMessage(decodeServerToAgent(body, this.options.maxMessageBytes));
  }

  async close(last: AgentToServer | undefined, timeoutMs: number): Promise<void> {
    if (last && !this.#destroyed) {
      // The spec asks for agent_disconnect in the last POST; its reply changes nothing now.
      await this.#post(encodeAgentToServer(last), last.instanceUid, AbortSignal.timeout(timeoutMs)).catch(() => {});
    }
    this.destroy();
  }

  destroy(): void {
    this.#destroyed = true;
    this.#agent.destroy();
  }

  #post(body: Uint8Array, instanceUid: Uint8Array, signal: AbortSignal): Promise<Uint8Array> {
    const request = this.#secure ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = request(
        this.options.url,
        {
          method: "POST",
          agent: this.#agent,
          timeout: this.options.requestTimeoutMs,
          signal,
          // A proxy agent opens the TLS session itself, from the request's options.
          ...(this.options.agent && this.#secure ? this.options.tls : {}),
          headers: {
            ...this.options.headers,
            // Servers tell HTTP from WebSocket by this exact string; no parameters.
            "Content-Type": "application/x-protobuf",
            "Content-Length": String(body.length),
            "Accept-Encoding": "gzip",
            "OpAMP-Instance-UID": formatUuid(instanceUid),
          },
        },
        (res) => {
          this.#readResponse(res).then(resolve, reject);
        },
      );
      req.on("timeout", () => req.destroy(new TransportError("CONNECTION_FAILED", "HTTP request timed out")));
      req.on("error", (err) => reject(asTransportError(err, "HTTP request failed")));
      req.end(body);
    });
  }

  async #readResponse(res: IncomingMessage): Promise<Uint8Array> {
    const status = res.statusCode ?? 0;
    if (status !== 200) {
      res.resume();
      const throttled = status === 429 || status === 503;
      const retryAfterMs = throttled
        ? parseRetryAfter(headerValue(res.headers["retry-after"]), this.options.now())
        : undefined;
      throw new TransportError(
        "CONNECTION_FAILED",
        status === 407 ? PROXY_REFUSED : `OpAMP server answered HTTP ${status}`,
        {
          status,
          ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
          retrySameRequest: status !== 413,
        },
      );
    }
    const max = this.options.maxMessageBytes;
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (max > 0 && size > max) {
        res.destroy();
        throw new TransportError("MESSAGE_TOO_LARGE", `server response exceeds ${max} bytes`);
      }
      chunks.push(chunk);
    }
    const raw = Buffer.concat(chunks);
    if (headerValue(res.headers["content-encoding"])?.toLowerCase() !== "gzip") return new Uint8Array(raw);
    try {
      // maxOutputLength stops a decompression bomb before it fills memory.
      const inflated = await gunzipAsync(raw, max > 0 ? { maxOutputLength: max } : {});
      return new Uint8Array(inflated);
    } catch (err) {
      const tooLarge = (err as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE";
      throw new TransportError(
        tooLarge ? "MESSAGE_TOO_LARGE" : "PROTOCOL_DECODE",
        tooLarge ? `decompressed server response exceeds ${max} bytes` : "server response is not valid gzip",
        { cause: err },
      );
    }
  }
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
