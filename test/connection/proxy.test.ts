import { createServer } from "node:http";
import type { AddressInfo, Server } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { describeProxy, proxyFor } from "../../src/connection/proxy.js";
import { serverTarget } from "../../src/connection/target.js";
import { httpGet } from "../../src/upgrade/http-get.js";
import { makeClient } from "../support/client-fixture.js";
import type { ClientHarness } from "../support/client-fixture.js";
import { ConnectProxy } from "../support/connect-proxy.js";
import { eventually } from "../support/fake-clock.js";
import { OpampTestServer } from "../support/opamp-test-server.js";
import { key, issue, makeCa } from "./pki.js";

const PROXY_VARS = [
  "HTTPS_PROXY",
  "https_proxy",
  "HTTP_PROXY",
  "http_proxy",
  "NO_PROXY",
  "no_proxy",
  "ALL_PROXY",
  "all_proxy",
];
let saved: Record<string, string | undefined>;
beforeEach(() => {
  saved = Object.fromEntries(PROXY_VARS.map((k) => [k, process.env[k]]));
  for (const k of PROXY_VARS) delete process.env[k];
});
afterEach(() => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

describe("which proxy", () => {
  it("takes HTTPS_PROXY for wss and https, HTTP_PROXY for ws and http, in either case", () => {
    process.env["HTTPS_PROXY"] = "http://secure-proxy:3128";
    process.env["http_proxy"] = "http://plain-proxy:8080";
    expect(proxyFor("wss://opamp.example/v1/opamp")?.host).toBe("secure-proxy:3128");
    expect(proxyFor("https://opamp.example/v1/opamp")?.host).toBe("secure-proxy:3128");
    expect(proxyFor("ws://opamp.example/v1/opamp")?.host).toBe("plain-proxy:8080");
    expect(proxyFor("http://packages.example/otelcol.tar.gz")?.host).toBe("plain-proxy:8080");
  });

  it("honours NO_PROXY (hosts, domains, host:port) and never proxies loopback", () => {
    process.env["HTTPS_PROXY"] = "http://proxy:3128";
    process.env["no_proxy"] = ".corp.example, direct.example:8443";
    expect(proxyFor("wss://opamp.corp.example/v1/opamp")).toBeUndefined();
    expect(proxyFor("wss://direct.example:8443/")).toBeUndefined();
    expect(proxyFor("wss://direct.example:443/")?.host).toBe("proxy:3128");
    expect(proxyFor("wss://127.0.0.1:4320/v1/opamp")).toBeUndefined();
    expect(proxyFor("wss://localhost:4320/v1/opamp")).toBeUndefined();
    expect(proxyFor("wss://[::1]:4320/v1/opamp")).toBeUndefined();
    process.env["NO_PROXY"] = "*";
    delete process.env["no_proxy"];
    expect(proxyFor("wss://anything.example/")).toBeUndefined();
  });

  it("reads a proxy written without a scheme as an http:// proxy, and connects directly without one", () => {
    expect(proxyFor("wss://opamp.example/")).toBeUndefined();
    process.env["HTTPS_PROXY"] = "proxy.corp:3128";
    expect(proxyFor("wss://opamp.example/")?.href).toBe("http://proxy.corp:3128/");
  });

  it("never shows the proxy's credentials", () => {
    process.env["HTTPS_PROXY"] = "http://alice:s3cret@proxy:3128";
    const proxy = proxyFor("https://opamp.example/");
    expect(proxy?.password).toBe("s3cret");
    expect(describeProxy(proxy)).toBe("http://proxy:3128");
    expect(describeProxy(undefined)).toBeNull();
  });
});

describe("through a proxy", () => {
  let proxy: ConnectProxy;
  let server: OpampTestServer;
  let h: ClientHarness | undefined;
  const hosts = { "opamp.test": "127.0.0.1", "packages.test": "127.0.0.1" };
  const viaName = (url: string): string => url.replace("127.0.0.1", "opamp.test");
  const target = (endpoint: string, tls = {}) =>
    serverTarget({ endpoint, headers: { Authorization: "Bearer t" }, tls }, { now: () => Date.now() });

  afterEach(async () => {
    h?.client.destroy();
    h = undefined;
    await server?.close();
    await proxy?.close();
  });

  it.each(["ws", "http"] as const)(
    "connects over %s with the proxy's credentials, and the server gets the message",
    async (transport) => {
      proxy = await ConnectProxy.start({ hosts, credentials: "alice:s3cret" });
      server = await OpampTestServer.start();
      process.env["HTTP_PROXY"] = proxy.url("alice:s3cret");
      const endpoint = viaName(transport === "ws" ? server.wsUrl : server.httpUrl);
      h = makeClient(server, transport, { target: target(endpoint) });
      h.client.start();
      const first = await server.waitFor(() => true);
      expect(first.headers["authorization"]).toBe("Bearer t");
      const seen = proxy.seen[0];
      expect(seen?.authorization).toBe(`Basic ${Buffer.from("alice:s3cret").toString("base64")}`);
      // WebSocket is tunnelled (CONNECT), plain HTTP is forwarded in absolute form.
      expect(seen?.method).toBe(transport === "ws" ? "CONNECT" : "POST");
      expect(seen?.target).toBe(transport === "ws" ? `opamp.test:${server.port}` : endpoint);
      expect(proxy.seen.every((r) => r.authorization !== undefined)).toBe(true);
    },
  );

  it("connects over wss through a CONNECT tunnel, verifying the server by its own name", async () => {
    const ca = makeCa("Proxy Test CA", 10);
    const k = key(11);
    proxy = await ConnectProxy.start({ hosts });
    server = await OpampTestServer.start({
      tls: {
        key: k.pem,
        cert: issue(ca, { cn: "opamp.test", publicKey: k.publicKey, server: true, names: ["opamp.test"] }),
      },
    });
    process.env["https_proxy"] = proxy.url();
    h = makeClient(server, "ws", { target: target(viaName(server.wsUrl), { caPem: ca.certPem }) });
    h.client.start();
    await server.waitFor(() => true);
    await eventually(() => h?.client.state.kind === "connected", 5000, "connected");
    expect(proxy.seen.map((r) => [r.method, r.target])).toEqual([["CONNECT", `opamp.test:${server.port}`]]);
  });

  it.each(["ws", "http"] as const)(
    "reports a proxy that refuses the credentials over %s without showing them",
    async (transport) => {
      proxy = await ConnectProxy.start({ hosts, credentials: "alice:right" });
      server = await OpampTestServer.start();
      process.env["HTTP_PROXY"] = proxy.url("alice:wrong-s3cret");
      h = makeClient(server, transport, {
        target: target(viaName(transport === "ws" ? server.wsUrl : server.httpUrl)),
      });
      h.client.start();
      await eventually(() => (h?.errors.length ?? 0) > 0, 5000, "connect error");
      expect(server.received).toEqual([]);
      expect(h.errors[0]?.message).toMatch(/proxy refused the connection \(HTTP 407/);
      for (const e of h.errors) expect(`${e.message} ${String(e.cause)}`).not.toContain("wrong-s3cret");
    },
  );

  it("downloads packages through the proxy", async () => {
    proxy = await ConnectProxy.start({ hosts });
    const files: Server = createServer((req, res) => res.end(`package at ${req.url}`));
    await new Promise<void>((resolve) => files.listen(0, "127.0.0.1", resolve));
    try {
      process.env["HTTP_PROXY"] = proxy.url();
      const url = new URL(`http://packages.test:${(files.address() as AddressInfo).port}/otelcol.tar.gz`);
      const { res } = await httpGet(
        url,
        {},
        { headers: {}, maxRedirects: 0, tlsFor: () => Promise.resolve({}), signal: AbortSignal.timeout(5_000) },
      );
      const chunks: Buffer[] = [];
      for await (const chunk of res) chunks.push(chunk as Buffer);
      expect(Buffer.concat(chunks).toString()).toBe("package at /otelcol.tar.gz");
      expect(proxy.seen.map((r) => [r.method, r.target])).toEqual([["GET", url.href]]);
    } finally {
      await new Promise((resolve) => files.close(resolve));
    }
  });
});
