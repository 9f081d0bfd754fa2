/**
 * OpAMP over WebSocket. The only module that touches `ws` listeners. Every frame is
 * binary: the 0x00 header, then the protobuf.
 */
import WebSocket from "ws";
import type { RawData } from "ws";
import type { Agent, IncomingMessage } from "node:http";
import { parseRetryAfter } from "./backoff.js";
import { decodeServerToAgent, encodeAgentToServer, frameWs, unframeWs } from "./codec.js";
import type { AgentToServer } from "./codec.js";
import { PROXY_REFUSED, TransportError, asTransportError, encodeForSend } from "./transport.js";
import type { WireMeter } from "./transport.js";
import type { Connection, ConnectionHandlers } from "./transport.js";
import type { ConnectionOptions } from "node:tls";

export interface WsConnectOptions {
  url: string;
  headers: Readonly<Record<string, string>>;
  tls: ConnectionOptions;
  /** For the upgrade request (a proxy); undefined connects directly. */
  agent?: Agent | undefined;
  maxMessageBytes: number;
  handshakeTimeoutMs: number;
  now: () => number;
  meter?: WireMeter | undefined;
}

export function connectWs(
  options: WsConnectOptions,
  handlers: ConnectionHandlers,
  signal: AbortSignal,
): Promise<Connection> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(options.url, {
      headers: { ...options.headers },
      // ws enforces the cap on the assembled message and closes with 1009 (spec: Message Too Big).
      maxPayload: options.maxMessageBytes > 0 ? options.maxMessageBytes : 0,
      handshakeTimeout: options.handshakeTimeoutMs,
      followRedirects: true,
      maxRedirects: 3,
      perMessageDeflate: false,
      ...options.tls,
      ...(options.agent ? { agent: options.agent } : {}),
    });
    let opened = false;
    let lostReported = false;
    const lost = (error: TransportError): void => {
      if (lostReported) return;
      lostReported = true;
      handlers.onLost(error);
    };
    const onAbort = (): void => {
      ws.terminate();
      reject(asTransportError(signal.reason, "connect aborted"));
    };
    signal.addEventListener("abort", onAbort, { once: true });

    ws.on("unexpected-response", (req, res: IncomingMessage) => {
      const retryAfterMs =
        res.statusCode === 429 || res.statusCode === 503
          ? parseRetryAfter(headerValue(res.headers["retry-after"]), options.now())
          : undefined;
      res.resume();
      req.destroy();
      ws.terminate();
      reject(
        new TransportError(
          "CONNECTION_FAILED",
          res.statusCode === 407 ? PROXY_REFUSED : `WebSocket upgrade refused with HTTP ${res.statusCode}`,
          {
            ...(res.statusCode !== undefined ? { status: res.statusCode } : {}),
            ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
          },
        ),
      );
    });

    ws.on("error", (err: Error & { code?: string }) => {
      const error =
        err.code === "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH"
          ? new TransportError("MESSAGE_TOO_LARGE", `server message exceeds ${options.maxMessageBytes} bytes`, {
              cause: err,
            })
          : asTransportError(err, "WebSocket error");
      if (!opened) reject(error);
      else lost(error);
      ws.terminate();
    });

    ws.on("close", (code: number, reason: Buffer) => {
      signal.removeEventListener("abort", onAbort);
      if (!opened) {
        reject(new TransportError("CONNECTION_FAILED", `WebSocket closed during connect (${code})`));
        return;
      }
      lost(new TransportError("CONNECTION_LOST", `WebSocket closed by the server (${code} ${reason.toString()})`));
    });

    ws.on("message", (data: RawData, isBinary: boolean) => {
      if (!isBinary) {
        lost(new TransportError("PROTOCOL_DECODE", "server sent a text WebSocket frame; OpAMP uses binary frames"));
        ws.close(1003, "binary frames only");
        return;
      }
      try {
        const frame = toUint8(data);
        const payload = unframeWs(frame, options.maxMessageBytes);
        options.meter?.received(frame.length);
        handlers.onMessage(decodeServerToAgent(payload, options.maxMessageBytes));
      } catch (err) {
        lost(asTransportError(err, "bad server message"));
        ws.close(1007, "malformed OpAMP message");
      }
    });

    ws.once("open", () => {
      opened = true;
      signal.removeEventListener("abort", onAbort);
      resolve(new WsConnection(ws, () => (lostReported = true), options.maxMessageBytes, options.meter));
    });
  });
}

class WsConnection implements Connection {
  readonly kind = "ws" as const;
  #closing: Promise<void> | undefined;

  constructor(
    private readonly ws: WebSocket,
    private readonly silenceLost: () => void,
    private readonly maxMessageBytes: number,
    private readonly meter: WireMeter | undefined,
  ) {}

  send(msg: AgentToServer, signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal.aborted) {
        reject(asTransportError(signal.reason, "send aborted"));
        return;
      }
      if (this.ws.readyState !== WebSocket.OPEN) {
        reject(new TransportError("CONNECTION_LOST", "WebSocket is not open"));
        return;
      }
      let bytes: Uint8Array;
      try {
        // The cap covers header and protobuf together, like the receiving side's.
        bytes = frameWs(encodeForSend(msg, Math.max(0, this.maxMessageBytes - 1)));
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
        return;
      }
      this.ws.send(bytes, { binary: true }, (err) => {
        if (err) reject(asTransportError(err, "WebSocket send failed"));
        else {
          this.meter?.sent(bytes.length);
          resolve();
        }
      });
    });
  }

  close(last: AgentToServer | undefined, timeoutMs: number): Promise<void> {
    this.#closing ??= this.#close(last, timeoutMs);
    return this.#closing;
  }

  async #close(last: AgentToServer | undefined, timeoutMs: number): Promise<void> {
    this.silenceLost();
    if (this.ws.readyState !== WebSocket.OPEN) {
      this.ws.terminate();
      return;
    }
    const closed = new Promise<void>((resolve) => this.ws.once("close", () => resolve()));
    if (last) {
      await new Promise<void>((resolve) =>
        this.ws.send(frameWs(encodeAgentToServer(last)), { binary: true }, () => resolve()),
      );
    }
    this.ws.close(1000, "agent disconnect");
    const timer = setTimeout(() => this.ws.terminate(), timeoutMs);
    await closed;
    clearTimeout(timer);
  }

  destroy(): void {
    this.silenceLost();
    this.ws.terminate();
  }
}

function toUint8(data: RawData): Uint8Array {
  if (Array.isArray(data)) return new Uint8Array(Buffer.concat(data));
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
