/**
 * The built CLI behind a corporate proxy: HTTP_PROXY with credentials carries the OpAMP
 * connection, the collector's loopback health checks stay direct, and the credentials never
 * reach the log. Run `npm run build` first.
 */
import { afterEach, describe, expect, it } from "vitest";
import { ConnectProxy } from "../support/connect-proxy.js";
import { eventually } from "../support/fake-clock.js";
import { OpampTestServer } from "../support/opamp-test-server.js";
import { makeWorkspace, startSupervisor } from "./harness.js";
import type { RunningSupervisor } from "./harness.js";

let proxy: ConnectProxy | undefined;
let server: OpampTestServer | undefined;
let sup: RunningSupervisor | undefined;

afterEach(async () => {
  await sup?.kill();
  await server?.close();
  await proxy?.close();
});

describe("behind an HTTP proxy (built CLI)", () => {
  it("reaches the server only through the proxy, with its credentials, and never logs them", async () => {
    proxy = await ConnectProxy.start({ hosts: { "opamp.test": "127.0.0.1" }, credentials: "alice:pr0xy-s3cret" });
    server = await OpampTestServer.start();
    // opamp.test resolves only inside the proxy: a message that arrives came through it.
    const ws = await makeWorkspace({ endpoint: server.wsUrl.replace("127.0.0.1", "opamp.test") });
    sup = startSupervisor(ws, {
      HTTP_PROXY: proxy.url("alice:pr0xy-s3cret"),
      NO_PROXY: "",
      no_proxy: "",
      http_proxy: "",
    });
    const first = await server.waitFor((r) => r.msg.agentDescription !== undefined, { timeoutMs: 15_000 });
    expect(first.transport).toBe("ws");
    expect(proxy.seen.filter((r) => r.method === "CONNECT").map((r) => r.target)).toEqual([
      `opamp.test:${server.port}`,
    ]);
    // The collector's health endpoint is loopback: never proxied, so it turns healthy.
    await server.waitFor((r) => r.msg.health?.healthy === true, { timeoutMs: 15_000 });
    const started = await sup.log((l) => l.msg === "OpAMP connection settings");
    expect(started["proxy"]).toBe(`http://127.0.0.1:${proxy.port}`);
    await sup.stop();
    const output = JSON.stringify(sup.logs) + sup.stderr.join("");
    expect(output).not.toContain("pr0xy-s3cret");
  });

  it("reports a proxy that refuses the credentials without logging them", async () => {
    proxy = await ConnectProxy.start({ hosts: { "opamp.test": "127.0.0.1" }, credentials: "alice:right" });
    server = await OpampTestServer.start();
    const ws = await makeWorkspace({ endpoint: server.wsUrl.replace("127.0.0.1", "opamp.test") });
    sup = startSupervisor(ws, {
      HTTP_PROXY: proxy.url("alice:wr0ng-s3cret"),
      NO_PROXY: "",
      no_proxy: "",
      http_proxy: "",
    });
    await eventually(() => (proxy?.seen.length ?? 0) > 0, 15_000, "a proxy request");
    const failure = await sup.log((l) => l["component"] === "supervisor" && l["code"] === "CONNECTION_FAILED", 15_000);
    expect(failure.msg).toMatch(/^the proxy refused the connection \(HTTP 407/);
    expect(server.received).toEqual([]);
    await sup.stop();
    expect(JSON.stringify(sup.logs) + sup.stderr.join("")).not.toContain("wr0ng-s3cret");
  });
});
