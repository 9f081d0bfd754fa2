/**
 * A scriptable OpAMP server for tests: WebSocket and plain HTTP on one port. Records
 * every AgentToServer, answers each with a ServerToAgent, and can push messages, refuse
 * connections with a status and Retry-After, send garbage or drop connections.
 */
import { createServer } from "node:http";
import type { IncomingHttpHeaders, IncomingMessage, Server, ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { ServerOptions as HttpsOptions } from "node:https";
import type { AddressInfo, Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import { gzipSync } from "node:zlib";
import { WebSocketServer } from "ws";
import type { WebSocket } from "ws";
import { ServerCapabilities } from "../../src/gen/opamp_pb.js";
import {
  decodeAgentToServer,
  encodeServerToAgent,
  frameWs,
  newServerToAgent,
  unframeWs,
} from "../../src/opamp/codec.js";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { AgentToServer, ServerToAgent, ServerToAgentSchema } from "../../src/gen/opamp_pb.js";

export interface Received {
  connection: number;
  transport: "ws" | "http";
  msg: AgentToServer;
  headers: IncomingHttpHeaders;
  /** Encoded bytes as they arrived (without the WebSocket header). */
  bytes: Uint8Array;
  /** SHA-256 fingerprint of the client certificate presented over TLS, if any. */
  peerCert?: string;
  /** The TLS version the connection negotiated ("TLSv1.3"); absent for plain connections. */
  tlsProtocol?: string;
}

export interface Refusal {
  status: number;
  retryAfter?: string;
}

export type Reply = MessageInitShape<typeof ServerToAgentSchema>;

const DEFAULT_CAPABILITIES =
  ServerCapabilities.ServerCapabilities_AcceptsStatus |
  ServerCapabilities.ServerCapabilities_OffersRemoteConfig |
  ServerCapabilities.ServerCapabilities_AcceptsEffectiveConfig |
  ServerCapabilities.ServerCapabilities_OffersConnectionSettings;

export class OpampTestServer {
  readonly received: Received[] = [];
  /** Headers of every WebSocket upgrade and the first POST of each HTTP exchange. */
  readonly upgrades: IncomingHttpHeaders[] = [];
  capabilities = BigInt(DEFAULT_CAPABILITIES);
  /** Builds the reply to each message; return undefined to send the default reply. */
  respond: ((msg: AgentToServer, r: Received) => Reply | undefined) | undefined;
  /** Refusals applied, in order, to the next upgrades or POSTs. */
  readonly refusals: Refusal[] = [];
  /** Replies queued for the next HTTP responses (WebSocket pushes go out at once). */
  readonly queued: Reply[] = [];
  /** Gzip HTTP responses when the client accepts it. */
  gzip = false;
  /** When false the server reads messages but never answers (tests of silence). */
  answer = true;

  readonly #server: Server;
  readonly #secure: boolean;
  readonly #wss = new WebSocketServer({ noServer: true, maxPayload: 0 });
  readonly #sockets = new Set<WebSocket>();
  readonly #tcp = new Set<Socket>();
  readonly #waiters = new Set<() => void>();
  #connections = 0;

  private constructor(tls: HttpsOptions | undefined) {
    this.#secure = tls !== undefined;
    this.#server = tls ? createHttpsServer(tls) : createServer();
    this.#server.on("connection", (s: Socket) => {
      this.#tcp.add(s);
      s.on("close", () => this.#tcp.delete(s));
    });
    this.#server.on("request", (req, res) => void this.#onHttp(req, res));
    this.#server.on("upgrade", (req: IncomingMessage, socket: Socket, head: Buffer) =>
      this.#onUpgrade(req, socket, head),
    );
  }

  /** `port` 0 (default) picks a free one; a fixed port lets a test bring a server "back". */
  static async start(options: { tls?: HttpsOptions; port?: number } = {}): Promise<OpampTestServer> {
    const server = new OpampTestServer(options.tls);
    await new Promise<void>((resolve) => server.#server.listen(options.port ?? 0, "127.0.0.1", resolve));
    return server;
  }

  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }
  get wsUrl(): string {
    return `${this.#secure ? "wss" : "ws"}://127.0.0.1:${this.port}/v1/opamp`;
  }
  get httpUrl(): string {
    return `${this.#secure ? "https" : "http"}://127.0.0.1:${this.port}/v1/opamp`;
  }
  /** Open WebSocket connections. */
  get openSockets(): number {
    return this.#sockets.size;
  }

  /** Sends a message to every open WebSocket, or queues it for the next HTTP response. */
  push(reply: Reply): void {
    if (this.#sockets.size === 0) {
      this.queued.push(reply);
      return;
    }
    for (const ws of this.#sockets) ws.send(frameWs(encodeServerToAgent(newServerToAgent(reply))));
  }

  /** Sends raw bytes (or a text frame) to every open WebSocket. */
  sendRaw(data: Uint8Array | string): void {
    for (const ws of this.#sockets) ws.send(data, { binary: typeof data !== "string" });
  }

  /** Cuts every connection without a close handshake. */
  dropConnections(): void {
    for (const ws of this.#sockets) ws.terminate();
    for (const s of this.#tcp) s.destroy();
  }

  /** Resolves with the first recorded message (from index `from`) matching `match`. */
  async waitFor(
    match: (r: Received) => boolean,
    options: { from?: number; timeoutMs?: number } = {},
  ): Promise<Received> {
    const from = options.from ?? 0;
    const find = (): Received | undefined => this.received.slice(from).find(match);
    const found = find();
    if (found) return found;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        reject(
          new Error(
            `no matching AgentToServer within ${options.timeoutMs ?? 5000} ms (${this.received.length} received)`,
          ),
        );
      }, options.timeoutMs ?? 5000);
      const check = (): void => {
        const hit = find();
        if (!hit) return;
        clearTimeout(timer);
        this.#waiters.delete(check);
        resolve(hit);
      };
      this.#waiters.add(check);
    });
  }

  async close(): Promise<void> {
    this.dropConnections();
    this.#wss.close();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #record(r: Received): void {
    this.received.push(r);
    for (const waiter of [...this.#waiters]) waiter();
  }

  #reply(msg: AgentToServer, r: Received, first: boolean): ServerToAgent {
    const custom = this.respond?.(msg, r) ?? (r.transport === "http" ? this.queued.shift() : undefined);
    const reply = newServerToAgent(custom ?? {});
    if (reply.instanceUid.length === 0) reply.instanceUid = msg.instanceUid;
    if (first && reply.capabilities === 0n) reply.capabilities = this.capabilities;
    return reply;
  }

  #onUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    this.upgrades.push(req.headers);
    const refusal = this.refusals.shift();
    if (refusal) {
      const retry = refusal.retryAfter !== undefined ? `Retry-After: ${refusal.retryAfter}\r\n` : "";
      socket.end(`HTTP/1.1 ${refusal.status} Refused\r\n${retry}Content-Length: 0\r\nConnection: close\r\n\r\n`);
      return;
    }
    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      const connection = ++this.#connections;
      let first = true;
      this.#sockets.add(ws);
      ws.on("close", () => this.#sockets.delete(ws));
      ws.on("message", (data: Buffer) => {
        const bytes = unframeWs(new Uint8Array(data));
        const r: Received = {
          connection,
          transport: "ws",
          msg: decodeAgentToServer(bytes),
          headers: req.headers,
          bytes,
          ...peerCertOf(req),
        };
        this.#record(r);
        if (!this.answer) return;
        ws.send(frameWs(encodeServerToAgent(this.#reply(r.msg, r, first))));
        first = false;
      });
    });
  }

  async #onHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const refusal = this.refusals.shift();
    if (refusal) {
      res.writeHead(refusal.status, refusal.retryAfter !== undefined ? { "Retry-After": refusal.retryAfter } : {});
      res.end();
      return;
    }
    const bytes = new Uint8Array(Buffer.concat(chunks));
    const r: Received = {
      connection: 0,
      transport: "http",
      msg: decodeAgentToServer(bytes),
      headers: req.headers,
      bytes,
      ...peerCertOf(req),
    };
    const first = !this.received.some((x) => x.transport === "http");
    this.#record(r);
    let body: Uint8Array = encodeServerToAgent(this.#reply(r.msg, r, first));
    const headers: Record<string, string> = { "Content-Type": "application/x-protobuf" };
    if (this.gzip && /gzip/.test(req.headers["accept-encoding"] ?? "")) {
      body = gzipSync(body);
      headers["Content-Encoding"] = "gzip";
    }
    res.writeHead(200, headers);
    res.end(body);
  }
}

/** The client certificate of a TLS request (a fingerprint) and its TLS version; empty for plain connections. */
function peerCertOf(req: IncomingMessage): { peerCert?: string; tlsProtocol?: string } {
  const socket = req.socket as Partial<TLSSocket>;
  const cert = socket.getPeerCertificate?.();
  const protocol = socket.getProtocol?.();
  return {
    ...(cert?.fingerprint256 ? { peerCert: cert.fingerprint256 } : {}),
    ...(protocol ? { tlsProtocol: protocol } : {}),
  };
}
