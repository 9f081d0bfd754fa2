/**
 * A small HTTP file server for package tests: serves registered bodies with Range support
 * (206 and Content-Range, 416), and can require a header, redirect, throttle, answer with
 * an error status, or cut the connection after some bytes to test resumed downloads.
 */
import { createServer } from "node:http";
import type { IncomingHttpHeaders, IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

export interface ServedFile {
  body: Buffer;
  /** Answer 401 unless this header (lower-case name) has this value. */
  requireHeader?: { name: string; value: string };
  /** Cut the connection after this many body bytes, for this many requests. */
  dropAfterBytes?: number;
  dropTimes?: number;
  /** Bytes per second (chunks of 16 KiB or less). */
  throttleBytesPerSecond?: number;
  /** Redirect (302) to this path or URL instead. */
  redirectTo?: string;
  /** Answer with this status and no body. */
  status?: number;
  /** Ignore Range headers (a server without resume support). */
  noRanges?: boolean;
}

export interface FileRequest {
  path: string;
  headers: IncomingHttpHeaders;
  range: string | undefined;
  status: number;
}

export class PackageFileServer {
  readonly requests: FileRequest[] = [];
  readonly #files = new Map<string, ServedFile & { served: number }>();
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();

  private constructor() {
    this.#server = createServer((req, res) => void this.#handle(req, res));
    this.#server.on("connection", (s: Socket) => {
      this.#sockets.add(s);
      s.on("close", () => this.#sockets.delete(s));
    });
  }

  static async start(): Promise<PackageFileServer> {
    const server = new PackageFileServer();
    await new Promise<void>((r) => server.#server.listen(0, "127.0.0.1", r));
    return server;
  }

  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  serve(path: string, file: ServedFile): string {
    this.#files.set(path, { ...file, served: 0 });
    return this.url(path);
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((r) => this.#server.close(() => r()));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    const file = this.#files.get(path);
    const record = (status: number): void => {
      this.requests.push({ path, headers: req.headers, range: req.headers.range, status });
    };
    if (!file) {
      record(404);
      res.writeHead(404).end();
      return;
    }
    if (file.redirectTo !== undefined) {
      record(302);
      res.writeHead(302, { location: file.redirectTo }).end();
      return;
    }
    if (file.status !== undefined) {
      record(file.status);
      res.writeHead(file.status).end();
      return;
    }
    if (file.requireHeader && req.headers[file.requireHeader.name] !== file.requireHeader.value) {
      record(401);
      res.writeHead(401).end();
      return;
    }
    const size = file.body.length;
    let start = 0;
    let end = size - 1;
    let status = 200;
    const range = file.noRanges ? undefined : /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? "");
    if (range) {
      start = Number(range[1]);
      if (range[2]) end = Math.min(end, Number(range[2]));
      if (start >= size) {
        record(416);
        res.writeHead(416, { "content-range": `bytes */${size}` }).end();
        return;
      }
      status = 206;
    }
    record(status);
    const headers: Record<string, string> = {
      "content-length": String(end - start + 1),
      "content-type": "application/octet-stream",
      "accept-ranges": "bytes",
    };
    if (status === 206) headers["content-range"] = `bytes ${start}-${end}/${size}`;
    res.writeHead(status, headers);
    file.served++;
    const drop =
      file.dropAfterBytes !== undefined && file.served <= (file.dropTimes ?? 1) ? file.dropAfterBytes : undefined;
    const body = file.body.subarray(start, end + 1);
    const chunk = 16 * 1024;
    let sent = 0;
    let flushed: Promise<void> = Promise.resolve();
    while (sent < body.length) {
      if (res.destroyed) return;
      const limit = drop !== undefined ? Math.min(chunk, drop - sent) : chunk;
      if (limit <= 0) {
        // Cut mid-body: the client sees a connection reset with bytes missing. The bytes
        // written so far reach it first: Node 22 corks a response until the next tick, and a
        // destroy before that drops them, the headers included.
        await flushed;
        req.socket.destroy();
        return;
      }
      const piece = body.subarray(sent, sent + limit);
      let ok = true;
      flushed = new Promise((resolve) => {
        ok = res.write(piece, () => resolve());
      });
      sent += piece.length;
      if (file.throttleBytesPerSecond)
        await new Promise((r) => setTimeout(r, (piece.length / file.throttleBytesPerSecond!) * 1000));
      else if (!ok) await new Promise((r) => res.once("drain", r));
    }
    res.end();
  }
}
