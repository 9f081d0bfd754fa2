/**
 * A small forward proxy for tests, as a corporate proxy behaves: CONNECT tunnels (WebSocket,
 * https) and absolute-form requests (plain http), Basic Proxy-Authorization when asked for,
 * and its own name resolution: `hosts` maps names the test machine cannot resolve (e.g.
 * opamp.test) to 127.0.0.1, so a request that reaches the server went through the proxy.
 */
import { createServer, request } from "node:http";
import type { IncomingMessage, Server } from "node:http";
import { connect } from "node:net";
import type { AddressInfo, Socket } from "node:net";

export interface ProxyRequest {
  method: string;
  /** host:port for CONNECT, the absolute URL otherwise. */
  target: string;
  authorization: string | undefined;
}

export class ConnectProxy {
  readonly seen: ProxyRequest[] = [];
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();

  private constructor(
    private readonly hosts: Readonly<Record<string, string>>,
    private readonly credentials: string | undefined,
  ) {
    this.#server = createServer((req, res) => {
      if (!this.#admit(req)) {
        res.writeHead(407, { "proxy-authenticate": 'Basic realm="test"' }).end();
        return;
      }
      const url = new URL(req.url ?? "");
      const headers = { ...req.headers };
      delete headers["proxy-authorization"];
      delete headers["proxy-connection"];
      const upstream = request(
        {
          host: this.#resolve(url.hostname),
          port: url.port,
          path: `${url.pathname}${url.search}`,
          method: req.method,
          headers,
        },
        (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        },
      );
      upstream.on("error", () => res.writeHead(502).end());
      req.pipe(upstream);
    });
    this.#server.on("connection", (socket) => {
      this.#sockets.add(socket);
      socket.on("close", () => this.#sockets.delete(socket));
    });
    this.#server.on("connect", (req: IncomingMessage, client: Socket, head: Buffer) => {
      client.on("error", () => undefined);
      if (!this.#admit(req)) {
        client.end('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="test"\r\n\r\n');
        return;
      }
      const [host = "", port = ""] = (req.url ?? "").split(/:(?=\d+$)/);
      const upstream = connect(Number(port), this.#resolve(host), () => {
        client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
        upstream.write(head);
        upstream.pipe(client);
        client.pipe(upstream);
      });
      this.#sockets.add(upstream);
      upstream.on("close", () => this.#sockets.delete(upstream));
      upstream.on("error", () => client.destroy());
    });
  }

  /** `credentials` as "user:password" makes the proxy require them. */
  static async start(options: { hosts?: Record<string, string>; credentials?: string } = {}): Promise<ConnectProxy> {
    const proxy = new ConnectProxy(options.hosts ?? {}, options.credentials);
    await new Promise<void>((resolve) => proxy.#server.listen(0, "127.0.0.1", resolve));
    return proxy;
  }

  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  /** The proxy URL, with credentials when given. */
  url(credentials?: string): string {
    return `http://${credentials ? `${credentials}@` : ""}127.0.0.1:${this.port}`;
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise((resolve) => this.#server.close(resolve));
  }

  #admit(req: IncomingMessage): boolean {
    const authorization = req.headers["proxy-authorization"];
    this.seen.push({ method: req.method ?? "", target: req.url ?? "", authorization });
    return (
      this.credentials === undefined || authorization === `Basic ${Buffer.from(this.credentials).toString("base64")}`
    );
  }

  #resolve(host: string): string {
    return this.hosts[host] ?? host;
  }
}
