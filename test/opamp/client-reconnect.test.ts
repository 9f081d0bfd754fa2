import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ServerErrorResponseType } from "../../src/gen/opamp_pb.js";
import { backoffDelays, makeClient } from "../support/client-fixture.js";
import type { ClientHarness } from "../support/client-fixture.js";
import { eventually } from "../support/fake-clock.js";
import { OpampTestServer } from "../support/opamp-test-server.js";

let server: OpampTestServer;
let h: ClientHarness | undefined;

beforeEach(async () => {
  server = await OpampTestServer.start();
});
afterEach(async () => {
  h?.client.destroy();
  h = undefined;
  await server.close();
});

/** Fires the backoff sleep the client is waiting in, once it is waiting. */
async function skipBackoff(harness: ClientHarness, count: number): Promise<void> {
  await eventually(
    () => backoffDelays(harness.states).length >= count && harness.clock.pending > 0,
    3000,
    `backoff ${count}`,
  );
  await harness.clock.advance(backoffDelays(harness.states).at(-1) ?? 0);
}

describe.each(["ws", "http"] as const)("reconnecting over %s", (transport) => {
  it("backs off with growing, jittered delays while the server refuses, then connects", async () => {
    const randoms = [0, 1, 0.5, 0.25];
    let i = 0;
    for (let n = 0; n < 4; n++) server.refusals.push({ status: 502 });
    h = makeClient(server, transport, { random: () => randoms[i++ % randoms.length] as number });
    h.client.start();
    for (let n = 1; n <= 4; n++) await skipBackoff(h, n);
    await server.waitFor(() => true);
    // base 500 ms ×1.5 per attempt, scaled by U(0.5, 1.5): random 0 → ×0.5, 1 → ×1.5
    expect(backoffDelays(h.states)).toEqual([250, 1125, 1125, 1266]);
    expect(h.errors.every((e) => e.status === 502)).toBe(true);
  });

  it("caps the delay at 60 s", async () => {
    for (let n = 0; n < 15; n++) server.refusals.push({ status: 500 });
    h = makeClient(server, transport);
    h.client.start();
    for (let n = 1; n <= 15; n++) await skipBackoff(h, n);
    const delays = backoffDelays(h.states);
    expect(Math.max(...delays)).toBe(60_000);
    expect(delays.slice(0, 5)).toEqual([500, 750, 1125, 1688, 2531]);
  });

  it("waits at least the Retry-After seconds of a 503", async () => {
    server.refusals.push({ status: 503, retryAfter: "120" });
    h = makeClient(server, transport);
    h.client.start();
    await skipBackoff(h, 1);
    await server.waitFor(() => true);
    expect(backoffDelays(h.states)).toEqual([120_000]);
  });

  it("understands Retry-After as an HTTP date on a 429", async () => {
    h = makeClient(server, transport);
    const at = new Date(h.clock.now() + 90_000).toUTCString();
    server.refusals.push({ status: 429, retryAfter: at });
    h.client.start();
    await skipBackoff(h, 1);
    await server.waitFor(() => true);
    expect(backoffDelays(h.states)).toEqual([90_000]);
  });

  it("disconnects and waits for retry_info when the server is unavailable", async () => {
    h = makeClient(server, transport);
    h.client.setStatus("agentDescription", { identifying: {}, nonIdentifying: {} });
    server.respond = (msg) =>
      msg.sequenceNum === 0n
        ? {
            errorResponse: {
              type: ServerErrorResponseType.ServerErrorResponseType_Unavailable,
              errorMessage: "overloaded",
              Details: { case: "retryInfo", value: { retryAfterNanoseconds: 7_000_000_000n } },
            },
          }
        : undefined;
    h.client.start();
    await skipBackoff(h, 1);
    const again = await server.waitFor((r) => r.msg.sequenceNum >= 1n && r.msg.agentDisconnect === undefined);
    expect(backoffDelays(h.states)).toEqual([7_000]);
    if (transport === "ws") expect(server.received[1]?.msg.agentDisconnect).toBeDefined();
    expect(again.msg.agentDescription).toBeDefined(); // a new connection starts with the full report
    expect(h.errors.some((e) => /overloaded/.test(e.message))).toBe(true);
  });

  it("never sends a message over the size cap, and keeps the connection", async () => {
    h = makeClient(server, transport, { maxMessageBytes: 300 });
    const big = "x".repeat(1_000);
    h.client.setStatus("agentDescription", { identifying: { big }, nonIdentifying: {} });
    h.client.start();
    await eventually(
      () => h?.errors.some((e) => e.code === "MESSAGE_TOO_LARGE" && /not sent/.test(e.message)),
      2000,
      "size error",
    );
    const first = await server.waitFor(() => true);
    expect(first.msg.agentDescription).toBeUndefined();
    expect(first.bytes.length).toBeLessThanOrEqual(300);
    expect(backoffDelays(h.states)).toEqual([]);
  });

  it("reports a BadRequest error without reconnecting", async () => {
    h = makeClient(server, transport);
    server.respond = (msg) =>
      msg.sequenceNum === 0n
        ? { errorResponse: { type: ServerErrorResponseType.ServerErrorResponseType_BadRequest, errorMessage: "bad" } }
        : undefined;
    h.client.start();
    await eventually(() => h?.errors.some((e) => /bad/.test(e.message)), 2000, "bad request error");
    expect(backoffDelays(h.states)).toEqual([]);
  });
});

describe("reconnecting over ws", () => {
  it("reconnects within one initial delay (jittered) after a stable connection drops, and resends the full state", async () => {
    h = makeClient(server, "ws", { stableAfterMs: 1_000 });
    h.client.setStatus("remoteConfigStatus", { hash: new Uint8Array([1]), status: "APPLIED", errorMessage: "" });
    h.client.start();
    await server.waitFor(() => true);
    await eventually(() => h?.client.state.kind === "connected" && h.clock.pending > 0, 2000, "connected");
    await h.clock.advance(1_000); // heartbeat timer is 30 s; the connection is now stable
    server.dropConnections();
    await skipBackoff(h, 1);
    const second = await server.waitFor((r) => r.connection === 2);
    expect(backoffDelays(h.states)).toEqual([250]); // 500 ms × random 0.5, not the growing backoff
    expect(second.msg.remoteConfigStatus?.lastRemoteConfigHash).toEqual(new Uint8Array([1]));
  });

  it("drops the connection on garbage bytes, reports it and reconnects", async () => {
    h = makeClient(server, "ws");
    h.client.start();
    await server.waitFor(() => true);
    await eventually(() => server.openSockets === 1, 2000, "socket");
    server.sendRaw(new Uint8Array([0x00, 0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]));
    await skipBackoff(h, 1);
    await server.waitFor((r) => r.connection === 2);
    expect(h.errors.map((e) => e.code)).toContain("PROTOCOL_DECODE");
  });

  it("drops the connection on a non-zero header and on a text frame", async () => {
    h = makeClient(server, "ws");
    h.client.start();
    await server.waitFor(() => true);
    await eventually(() => server.openSockets === 1, 2000, "socket");
    server.sendRaw(new Uint8Array([0x05, 0x0a, 0x00]));
    await skipBackoff(h, 1);
    await server.waitFor((r) => r.connection === 2);
    await eventually(() => server.openSockets === 1, 2000, "socket");
    server.sendRaw("hello");
    await skipBackoff(h, 2);
    await server.waitFor((r) => r.connection === 3);
    const messages = h.errors.map((e) => e.message).join("\n");
    expect(messages).toMatch(/header value 5/);
    expect(messages).toMatch(/text WebSocket frame/);
  });

  it("drops an oversized message with MESSAGE_TOO_LARGE and reconnects", async () => {
    h = makeClient(server, "ws", { maxMessageBytes: 1024 });
    h.client.start();
    await server.waitFor(() => true);
    await eventually(() => server.openSockets === 1, 2000, "socket");
    server.sendRaw(new Uint8Array(4096));
    await skipBackoff(h, 1);
    await server.waitFor((r) => r.connection === 2);
    expect(h.errors.map((e) => e.code)).toContain("MESSAGE_TOO_LARGE");
  });

  it("sends no heartbeats when the server sets the interval to 0", async () => {
    h = makeClient(server, "ws", { heartbeatIntervalMs: 1_000 });
    server.respond = (msg) =>
      msg.sequenceNum === 0n
        ? { connectionSettings: { opamp: { destinationEndpoint: "x", heartbeatIntervalSeconds: 0n } } }
        : undefined;
    h.client.start();
    await server.waitFor(() => true);
    await eventually(() => h?.clock.sleeps.includes(2_000_000_000), 2000, "idle without heartbeat");
    await h.clock.advance(60_000);
    await new Promise((r) => setTimeout(r, 50));
    expect(server.received.length).toBe(1);
  });
});

describe("reconnecting over http", () => {
  it("drops an oversized response and a gzip bomb, then keeps polling", async () => {
    h = makeClient(server, "http", { maxMessageBytes: 2048 });
    server.gzip = true;
    server.respond = (msg) =>
      msg.sequenceNum === 0n
        ? {
            remoteConfig: {
              configHash: new Uint8Array(8),
              config: { configMap: { a: { body: new Uint8Array(100_000) } } },
            },
          }
        : undefined;
    h.client.start();
    await skipBackoff(h, 1);
    await server.waitFor((r) => r.msg.sequenceNum === 1n);
    expect(h.errors.map((e) => e.code)).toContain("MESSAGE_TOO_LARGE");
  });

  it("does not resend the same request after HTTP 413", async () => {
    h = makeClient(server, "http");
    server.refusals.push({ status: 413 });
    h.client.setStatus("health", {
      healthy: true,
      startedAtMs: undefined,
      observedAtMs: 0,
      status: "x",
      lastError: "",
    });
    h.client.start();
    await eventually(() => h?.errors.some((e) => e.status === 413), 2000, "413");
    await eventually(() => h?.clock.pending, 2000, "idle");
    await h.clock.advance(30_000);
    const poll = await server.waitFor(() => true);
    expect(poll.msg.health).toBeUndefined();
    expect(backoffDelays(h.states)).toEqual([]);
  });
});
