import { createServer } from "node:http";
import type { IncomingMessage, Server } from "node:http";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { authHeaders } from "../../src/connection/auth.js";
import type { AuthSettings } from "../../src/connection/auth.js";
import type { OAuth2ClientAuth } from "../../src/connection/auth-settings.js";
import { downloadAuth } from "../../src/connection/download-tls.js";
import { serverTarget } from "../../src/connection/target.js";
import { httpGet } from "../../src/upgrade/http-get.js";
import { makeClient } from "../support/client-fixture.js";
import type { ClientHarness } from "../support/client-fixture.js";
import { FakeClock, eventually } from "../support/fake-clock.js";
import { OpampTestServer } from "../support/opamp-test-server.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "auth-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const signal = (): AbortSignal => AbortSignal.timeout(5_000);
const NO_TLS = { insecureSkipVerify: false, caFile: null, certFile: null, keyFile: null, serverNameOverride: null };

describe("bearertokenauth and basicauth", () => {
  it("sends the token with its scheme and header, re-reading a token file at every connect", async () => {
    const file = join(dir, "token");
    await writeFile(file, "first-token\n");
    const clock = new FakeClock();
    const auth = authHeaders(
      {
        kind: "bearertokenauth",
        id: "bearertokenauth",
        header: "Authorization",
        scheme: "Bearer",
        token: { from: "file", path: file },
      },
      { clock },
    );
    const target = serverTarget(
      { endpoint: "ws://opamp.example/v1/opamp", headers: { "X-Team": "edge", Authorization: "static" }, tls: {} },
      { now: () => clock.now(), auth },
    );
    expect((await target.prepare!(signal())).headers).toEqual({
      "X-Team": "edge",
      Authorization: "Bearer first-token",
    });
    await writeFile(file, "rotated-token\n");
    expect((await target.prepare!(signal())).headers).toEqual({
      "X-Team": "edge",
      Authorization: "Bearer rotated-token",
    });
    const custom = authHeaders(
      {
        kind: "bearertokenauth",
        id: "bearertokenauth/x",
        header: "X-Api-Key",
        scheme: "",
        token: { from: "value", value: "k" },
      },
      { clock },
    );
    expect(await custom.headers(signal())).toEqual({ "X-Api-Key": "k" });
  });

  it("fails the connect with the file named when the token file is gone, never with a token", async () => {
    const auth = authHeaders(
      {
        kind: "bearertokenauth",
        id: "bearertokenauth",
        header: "Authorization",
        scheme: "Bearer",
        token: { from: "file", path: join(dir, "missing") },
      },
      { clock: new FakeClock() },
    );
    await expect(auth.headers(signal())).rejects.toThrow(
      /extensions\.bearertokenauth token: cannot read .*missing \(ENOENT\)/,
    );
  });

  it("sends basic credentials", async () => {
    const auth = authHeaders(
      { kind: "basicauth", id: "basicauth", username: "agent", password: "pa:ss" },
      { clock: new FakeClock() },
    );
    expect(await auth.headers(signal())).toEqual({
      Authorization: `Basic ${Buffer.from("agent:pa:ss").toString("base64")}`,
    });
  });
});

/** A token endpoint that issues numbered tokens and records what it was sent. */
class TokenEndpoint {
  readonly requests: Array<{ authorization: string | undefined; form: URLSearchParams }> = [];
  /** "header": credentials only in HTTP Basic; "body": only in the form, 401 otherwise. */
  accepts: "header" | "body" = "header";
  expiresIn: number | undefined = 3600;
  #server: Server;

  private constructor() {
    this.#server = createServer(
      (req, res) =>
        void this.#handle(req).then(([status, body]) =>
          res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body)),
        ),
    );
  }

  static async start(): Promise<TokenEndpoint> {
    const t = new TokenEndpoint();
    await new Promise<void>((resolve) => t.#server.listen(0, "127.0.0.1", resolve));
    return t;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/oauth/token`;
  }

  close(): Promise<unknown> {
    return new Promise((resolve) => this.#server.close(resolve));
  }

  async #handle(req: IncomingMessage): Promise<[number, object]> {
    let text = "";
    for await (const chunk of req) text += String(chunk);
    const form = new URLSearchParams(text);
    this.requests.push({ authorization: req.headers.authorization, form });
    const basicOk = req.headers.authorization === `Basic ${Buffer.from("agent-7:s3cret").toString("base64")}`;
    const bodyOk = form.get("client_id") === "agent-7" && form.get("client_secret") === "s3cret";
    if (!(this.accepts === "header" ? basicOk : bodyOk) || form.get("grant_type") !== "client_credentials")
      return [401, { error: "invalid_client" }];
    return [
      200,
      {
        access_token: `token-${this.requests.length}`,
        token_type: "bearer",
        ...(this.expiresIn !== undefined ? { expires_in: this.expiresIn } : {}),
      },
    ];
  }
}

describe("oauth2client", () => {
  let endpoint: TokenEndpoint;
  afterEach(async () => endpoint?.close());
  const settings = (o: Partial<OAuth2ClientAuth> = {}): AuthSettings => ({
    kind: "oauth2client",
    id: "oauth2client",
    clientId: { from: "value", value: "agent-7" },
    clientSecret: { from: "value", value: "s3cret" },
    tokenUrl: endpoint.url,
    scopes: ["opamp", "agents"],
    endpointParams: { audience: ["fleet"] },
    timeoutMs: 5_000,
    expiryBufferMs: 60_000,
    tls: NO_TLS,
    ...o,
  });

  it("fetches a token with the client credentials, reuses it, and refreshes it before it expires", async () => {
    endpoint = await TokenEndpoint.start();
    const clock = new FakeClock();
    const auth = authHeaders(settings(), { clock });
    expect(await auth.headers(signal())).toEqual({ Authorization: "Bearer token-1" });
    const first = endpoint.requests[0];
    expect(first?.form.get("scope")).toBe("opamp agents");
    expect(first?.form.get("audience")).toBe("fleet");
    expect(first?.form.get("client_secret")).toBeNull(); // in the Basic header only
    await clock.advance(3_600_000 - 60_001);
    expect(await auth.headers(signal())).toEqual({ Authorization: "Bearer token-1" });
    expect(endpoint.requests).toHaveLength(1);
    await clock.advance(2);
    expect(await auth.headers(signal())).toEqual({ Authorization: "Bearer token-2" });
    // Connects racing for a token share one request.
    await clock.advance(3_600_000);
    const all = await Promise.all([auth.headers(signal()), auth.headers(signal()), auth.headers(signal())]);
    expect(new Set(all.map((h) => h.Authorization))).toEqual(new Set(["Bearer token-3"]));
    expect(endpoint.requests).toHaveLength(3);
  });

  it("puts the credentials in the form when the endpoint refuses them in a header, and reads secrets from files", async () => {
    endpoint = await TokenEndpoint.start();
    endpoint.accepts = "body";
    await writeFile(join(dir, "secret"), "s3cret\n");
    const auth = authHeaders(settings({ clientSecret: { from: "file", path: join(dir, "secret") } }), {
      clock: new FakeClock(),
    });
    expect(await auth.headers(signal())).toEqual({ Authorization: "Bearer token-2" });
    expect(endpoint.requests.map((r) => r.form.get("client_secret"))).toEqual([null, "s3cret"]);
  });

  it("says which endpoint refused, without the secret", async () => {
    endpoint = await TokenEndpoint.start();
    const auth = authHeaders(settings({ clientSecret: { from: "value", value: "wrong-s3cret" } }), {
      clock: new FakeClock(),
    });
    const error = await auth.headers(signal()).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(error?.message).toBe(
      `the OAuth2 token endpoint ${new URL(endpoint.url).origin}/oauth/token refused the client credentials: HTTP 401 (invalid_client)`,
    );
    expect(error?.message).not.toContain("wrong-s3cret");
  });

  it("sends the fetched token when the client connects, and a fresh one after it expired", async () => {
    endpoint = await TokenEndpoint.start();
    endpoint.expiresIn = 120;
    const server = await OpampTestServer.start();
    let h: ClientHarness | undefined;
    try {
      const clock = new FakeClock();
      const auth = authHeaders(settings(), { clock });
      h = makeClient(server, "ws", {
        target: serverTarget({ endpoint: server.wsUrl, headers: {}, tls: {} }, { now: () => clock.now(), auth }),
      });
      // The client's own clock is separate; the token's expiry follows `clock`.
      h.client.start();
      const first = await server.waitFor(() => true);
      expect(first.headers["authorization"]).toBe("Bearer token-1");
      await clock.advance(61_000);
      server.dropConnections();
      await eventually(
        () => (h?.clock.pending ?? 0) > 0 || server.received.some((r) => r.connection === 2),
        5000,
        "reconnecting",
      );
      await h.clock.advance(60_000);
      const second = await server.waitFor((r) => r.connection === 2);
      expect(second.headers["authorization"]).toBe("Bearer token-2");
    } finally {
      h?.client.destroy();
      await server.close();
    }
  });
});

describe("package downloads", () => {
  it("carry server.auth to the OpAMP server's own origin only", async () => {
    const auth = authHeaders(
      { kind: "basicauth", id: "basicauth", username: "u", password: "p" },
      { clock: new FakeClock() },
    );
    const target = { endpoint: "wss://opamp.example/v1/opamp", auth };
    expect(await downloadAuth(target, new URL("https://opamp.example/packages/otelcol.tar.gz"))).toEqual({
      Authorization: `Basic ${Buffer.from("u:p").toString("base64")}`,
    });
    expect(await downloadAuth(target, new URL("https://cdn.example/otelcol.tar.gz"))).toEqual({});
    expect(await downloadAuth(target, new URL("http://opamp.example/otelcol.tar.gz"))).toEqual({});
    expect(await downloadAuth(target, new URL("https://opamp.example:8443/otelcol.tar.gz"))).toEqual({});
    expect(
      await downloadAuth({ endpoint: "wss://opamp.example/", auth: undefined }, new URL("https://opamp.example/p")),
    ).toEqual({});
  });

  it("are sent with server.auth on the OpAMP origin, the offer's own headers winning, and not after a redirect elsewhere", async () => {
    const seen: Array<{ path: string; authorization: string | undefined }> = [];
    const files = createServer((req, res) => {
      seen.push({ path: req.url ?? "", authorization: req.headers.authorization });
      if (req.url === "/moved")
        res.writeHead(302, { location: `http://localhost:${(files.address() as AddressInfo).port}/cdn` }).end();
      else res.end("ok");
    });
    await new Promise<void>((resolve) => files.listen(0, "127.0.0.1", resolve));
    try {
      const origin = `http://127.0.0.1:${(files.address() as AddressInfo).port}`;
      const auth = authHeaders(
        {
          kind: "bearertokenauth",
          id: "bearertokenauth",
          header: "Authorization",
          scheme: "Bearer",
          token: { from: "value", value: "t" },
        },
        { clock: new FakeClock() },
      );
      const target = { endpoint: `${origin.replace("http", "ws")}/v1/opamp`, auth };
      const get = (path: string, headers: Record<string, string>) =>
        httpGet(
          new URL(`${origin}${path}`),
          {},
          {
            headers,
            maxRedirects: 2,
            tlsFor: () => Promise.resolve({}),
            authFor: (url) => downloadAuth(target, url),
            signal: signal(),
          },
        ).then(({ res }) => res.resume());
      await get("/p", {});
      await get("/q", { authorization: "Bearer offered" });
      await get("/moved", {});
      expect(seen).toEqual([
        { path: "/p", authorization: "Bearer t" },
        { path: "/q", authorization: "Bearer offered" },
        { path: "/moved", authorization: "Bearer t" },
        { path: "/cdn", authorization: undefined },
      ]);
    } finally {
      await new Promise((resolve) => files.close(resolve));
    }
  });
});
