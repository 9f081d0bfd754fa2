import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AgentCapabilities, AgentToServerFlags, ServerToAgentFlags } from "../../src/gen/opamp_pb.js";
import type { OpampClient } from "../../src/opamp/client.js";
import type { AgentDescription, ComponentHealth } from "../../src/opamp/domain.js";
import { formatUuid } from "../../src/opamp/uuid.js";
import { BASIC_CAPABILITIES, TEST_UID, makeClient } from "../support/client-fixture.js";
import type { ClientHarness } from "../support/client-fixture.js";
import { eventually, settle } from "../support/fake-clock.js";
import { OpampTestServer } from "../support/opamp-test-server.js";

const description: AgentDescription = { identifying: { "service.name": "otelcol" }, nonIdentifying: {} };
const healthy: ComponentHealth = { healthy: true, startedAtMs: 1, observedAtMs: 0, status: "StatusOK", lastError: "" };
const unhealthy: ComponentHealth = {
  healthy: false,
  startedAtMs: undefined,
  observedAtMs: 0,
  status: "StatusFatalError",
  lastError: "boom",
};

/** Waits until the client sleeps (its heartbeat or poll timer), so advancing time fires it. */
async function idle(h: ClientHarness): Promise<void> {
  await eventually(() => h.clock.pending > 0, 2000, "client idle");
}

describe.each(["ws", "http"] as const)("OpAMP client over %s", (transport) => {
  let server: OpampTestServer;
  let h: ClientHarness;
  let client: OpampClient;

  beforeEach(async () => {
    server = await OpampTestServer.start();
  });
  afterEach(async () => {
    h?.client.destroy();
    await server.close();
  });

  function start(overrides: Parameters<typeof makeClient>[2] = {}): void {
    h = makeClient(server, transport, overrides);
    client = h.client;
    client.setStatus("agentDescription", description);
    client.setStatus("health", healthy);
    client.start();
  }

  it("sends a full status report first, with uid, sequence 0 and capabilities", async () => {
    start();
    const first = await server.waitFor(() => true);
    expect(first.transport).toBe(transport);
    expect(formatUuid(first.msg.instanceUid)).toBe(formatUuid(TEST_UID));
    expect(first.msg.sequenceNum).toBe(0n);
    expect(first.msg.capabilities).toBe(BASIC_CAPABILITIES);
    expect(first.msg.agentDescription?.identifyingAttributes[0]?.key).toBe("service.name");
    expect(first.msg.health?.healthy).toBe(true);
    expect(first.msg.agentDisconnect).toBeUndefined();
    await eventually(() => client.serverCapabilities === server.capabilities, 2000, "server capabilities");
    expect(client.state.kind).toBe("connected");
  });

  it("sends the instance uid header and the exact protobuf content type", async () => {
    start();
    const first = await server.waitFor(() => true);
    expect(first.headers["opamp-instance-uid"]).toBe(formatUuid(TEST_UID));
    if (transport === "http") expect(first.headers["content-type"]).toBe("application/x-protobuf");
  });

  it("always sets ReportsStatus and never sends undefined capability bits", async () => {
    start({ capabilities: (1n << 40n) | BigInt(AgentCapabilities.AgentCapabilities_ReportsHealth) });
    const first = await server.waitFor(() => true);
    expect(first.msg.capabilities).toBe(
      BigInt(AgentCapabilities.AgentCapabilities_ReportsStatus | AgentCapabilities.AgentCapabilities_ReportsHealth),
    );
  });

  it("numbers messages one by one and sends only what changed", async () => {
    start();
    await server.waitFor(() => true);
    client.setStatus("health", healthy); // unchanged: nothing to send
    client.setStatus("health", unhealthy);
    const second = await server.waitFor((r) => r.msg.sequenceNum === 1n);
    expect(second.msg.health?.lastError).toBe("boom");
    expect(second.msg.agentDescription).toBeUndefined();
    client.setStatus("agentDescription", { identifying: {}, nonIdentifying: {} });
    const third = await server.waitFor((r) => r.msg.sequenceNum === 2n);
    expect(third.msg.health).toBeUndefined();
    expect(third.msg.agentDescription).toBeDefined();
    await settle();
    expect(server.received.map((r) => r.msg.sequenceNum)).toEqual([0n, 1n, 2n]);
  });

  it("sends the full state again when the server asks with ReportFullState", async () => {
    start();
    await server.waitFor(() => true);
    server.respond = (msg) =>
      msg.sequenceNum === 1n ? { flags: BigInt(ServerToAgentFlags.ServerToAgentFlags_ReportFullState) } : undefined;
    client.setStatus("health", unhealthy);
    const full = await server.waitFor((r) => r.msg.sequenceNum === 2n);
    expect(full.msg.agentDescription).toBeDefined();
    expect(full.msg.health?.healthy).toBe(false);
  });

  it("adopts a server-assigned instance uid for every later message", async () => {
    const assigned = new Uint8Array(16).fill(7);
    const seen: Uint8Array[] = [];
    start({ requestInstanceUid: true });
    client.on("instanceUid", (uid) => seen.push(uid));
    server.respond = (msg) =>
      msg.sequenceNum === 0n ? { agentIdentification: { newInstanceUid: assigned } } : undefined;
    const first = await server.waitFor(() => true);
    expect(first.msg.flags).toBe(BigInt(AgentToServerFlags.AgentToServerFlags_RequestInstanceUid));
    await eventually(() => seen.length === 1, 2000, "instanceUid event");
    client.setStatus("health", unhealthy);
    const next = await server.waitFor((r) => r.msg.sequenceNum === 1n);
    expect(formatUuid(next.msg.instanceUid)).toBe(formatUuid(assigned));
    expect(next.msg.flags).toBe(0n);
    if (transport === "http") expect(next.headers["opamp-instance-uid"]).toBe(formatUuid(assigned));
    expect(formatUuid(client.instanceUid)).toBe(formatUuid(assigned));
  });

  it("ignores an assigned uid that is not 16 bytes", async () => {
    start();
    server.respond = (msg) =>
      msg.sequenceNum === 0n ? { agentIdentification: { newInstanceUid: new Uint8Array(3) } } : undefined;
    await server.waitFor(() => true);
    await eventually(() => h.errors.some((e) => /16 required/.test(e.message)), 2000, "uid error");
    expect(formatUuid(client.instanceUid)).toBe(formatUuid(TEST_UID));
  });

  it("heartbeats at the configured interval and at the interval the server sets", async () => {
    start({ heartbeatIntervalMs: 30_000 });
    await server.waitFor(() => true);
    await idle(h);
    await h.clock.advance(30_000);
    const beat = await server.waitFor((r) => r.msg.sequenceNum === 1n);
    expect(beat.msg.health).toBeUndefined();
    expect(beat.msg.capabilities).toBe(BASIC_CAPABILITIES);
    // The server moves the heartbeat to 5 s.
    server.push({ connectionSettings: { opamp: { destinationEndpoint: "x", heartbeatIntervalSeconds: 5n } } });
    if (transport === "http") {
      await idle(h);
      await h.clock.advance(30_000); // HTTP hears it at the next poll
    }
    const before = server.received.length;
    await eventually(() => h.clock.sleeps.at(-1) === 5_000, 2000, "a 5 s heartbeat sleep");
    await h.clock.advance(5_000);
    await server.waitFor(() => true, { from: before });
    expect(server.received.length).toBeGreaterThan(before);
  });

  it("hands remote configs to the caller", async () => {
    const configs: string[] = [];
    start();
    client.on("remoteConfig", (rc) => configs.push(Buffer.from(rc.hash).toString("hex")));
    server.respond = (msg) =>
      msg.sequenceNum === 0n
        ? { remoteConfig: { configHash: new Uint8Array([1, 2]), config: { configMap: {} } } }
        : undefined;
    await eventually(() => configs.length === 1, 2000, "remoteConfig event");
    expect(configs).toEqual(["0102"]);
  });

  it("runs a restart command only with AcceptsRestartCommand, ignoring the other fields", async () => {
    const commands: string[] = [];
    const configs: number[] = [];
    start({ capabilities: BASIC_CAPABILITIES | BigInt(AgentCapabilities.AgentCapabilities_AcceptsRestartCommand) });
    client.on("command", (c) => commands.push(c.kind));
    client.on("remoteConfig", () => configs.push(1));
    server.respond = (msg) =>
      msg.sequenceNum === 0n ? { command: {}, remoteConfig: { configHash: new Uint8Array([1]) } } : undefined;
    await eventually(() => commands.length === 1, 2000, "command event");
    expect(configs).toEqual([]);
  });

  it("ignores a restart command without the capability", async () => {
    const commands: string[] = [];
    start();
    client.on("command", (c) => commands.push(c.kind));
    const seen: number[] = [];
    client.on("message", () => seen.push(1));
    server.respond = (msg) => (msg.sequenceNum === 0n ? { command: {} } : undefined);
    await eventually(() => seen.length >= 1, 2000, "reply");
    expect(commands).toEqual([]);
  });

  it("does not answer a reply that changed nothing (no message loop)", async () => {
    start();
    await server.waitFor(() => true);
    await eventually(() => client.state.kind === "connected", 2000, "connected");
    server.push({ capabilities: server.capabilities });
    if (transport === "ws") {
      await new Promise((r) => setTimeout(r, 100));
      expect(server.received.length).toBe(1);
    }
  });

  it("sends a changed capability set with the next message", async () => {
    start();
    await server.waitFor(() => true);
    client.setCapabilities(BASIC_CAPABILITIES | BigInt(AgentCapabilities.AgentCapabilities_AcceptsRestartCommand));
    const next = await server.waitFor((r) => r.msg.sequenceNum === 1n);
    expect(next.msg.capabilities).toBe(
      BASIC_CAPABILITIES | BigInt(AgentCapabilities.AgentCapabilities_AcceptsRestartCommand),
    );
  });

  it("sends at most one custom message per AgentToServer and hands incoming ones to the caller", async () => {
    const incoming: string[] = [];
    start();
    client.on("customMessage", (m) => incoming.push(`${m.capability}/${m.type}`));
    await server.waitFor(() => true);
    const msg = (type: string) => ({
      $typeName: "opamp.proto.v1.CustomMessage" as const,
      capability: "io.example.pause/v1",
      type,
      data: new Uint8Array([1]),
    });
    client.sendCustomMessage(msg("a"));
    client.sendCustomMessage(msg("b"));
    const b = await server.waitFor((r) => r.msg.customMessage?.type === "b");
    const carrying = server.received.filter((r) => r.msg.customMessage);
    expect(carrying.map((r) => r.msg.customMessage?.type)).toEqual(["a", "b"]);
    expect(b.msg.sequenceNum).toBeGreaterThan(carrying[0]!.msg.sequenceNum);
    server.push({ customMessage: { capability: "io.example.pause/v1", type: "pause", data: new Uint8Array() } });
    if (transport === "http") {
      await eventually(() => h.clock.pending > 0, 2000, "idle");
      await h.clock.advance(30_000);
    }
    await eventually(() => incoming.length === 1, 2000, "custom message event");
    expect(incoming).toEqual(["io.example.pause/v1/pause"]);
  });

  it("sends agent_disconnect as the last message on close, and close is idempotent", async () => {
    start();
    await server.waitFor(() => true);
    await eventually(() => client.state.kind === "connected", 2000, "connected");
    await Promise.all([client.close(), client.close()]);
    const last = server.received.at(-1);
    expect(last?.msg.agentDisconnect).toBeDefined();
    expect(server.received.filter((r) => r.msg.agentDisconnect).length).toBe(1);
    expect(client.state.kind).toBe("closed");
    if (transport === "ws") await eventually(() => server.openSockets === 0, 2000, "socket closed");
  });

  it("destroy drops the connection without agent_disconnect", async () => {
    start();
    await server.waitFor(() => true);
    client.destroy();
    client.destroy();
    await new Promise((r) => setTimeout(r, 50));
    expect(server.received.some((r) => r.msg.agentDisconnect)).toBe(false);
    expect(client.state.kind).toBe("closed");
  });
});

describe("OpAMP client over http only", () => {
  let server: OpampTestServer;
  let h: ClientHarness;
  beforeEach(async () => {
    server = await OpampTestServer.start();
  });
  afterEach(async () => {
    h?.client.destroy();
    await server.close();
  });

  it("accepts gzip-compressed responses", async () => {
    server.gzip = true;
    const configs: number[] = [];
    h = makeClient(server, "http");
    h.client.on("remoteConfig", () => configs.push(1));
    server.queued.push({ remoteConfig: { configHash: new Uint8Array([9]) } });
    h.client.start();
    await eventually(() => configs.length === 1, 2000, "remote config through gzip");
    const first = await server.waitFor(() => true);
    expect(first.headers["accept-encoding"]).toMatch(/gzip/);
  });

  it("polls at the heartbeat interval and never stops polling when the server says 0", async () => {
    h = makeClient(server, "http", { heartbeatIntervalMs: 10_000 });
    h.client.start();
    await server.waitFor(() => true);
    server.queued.push({ connectionSettings: { opamp: { destinationEndpoint: "x", heartbeatIntervalSeconds: 0n } } });
    await idle(h);
    await h.clock.advance(10_000);
    await server.waitFor((r) => r.msg.sequenceNum === 1n);
    await idle(h);
    await h.clock.advance(10_000);
    await server.waitFor((r) => r.msg.sequenceNum === 2n);
  });
});
