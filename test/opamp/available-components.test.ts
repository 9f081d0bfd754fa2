import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AgentCapabilities, ServerToAgentFlags } from "../../src/gen/opamp_pb.js";
import type { AvailableComponents } from "../../src/opamp/domain.js";
import { BASIC_CAPABILITIES, makeClient } from "../support/client-fixture.js";
import type { ClientHarness } from "../support/client-fixture.js";
import { eventually } from "../support/fake-clock.js";
import { OpampTestServer } from "../support/opamp-test-server.js";

const WITH_COMPONENTS = BASIC_CAPABILITIES | BigInt(AgentCapabilities.AgentCapabilities_ReportsAvailableComponents);
const inventory = (hash: number, type: string): AvailableComponents => ({
  hash: new Uint8Array([hash]),
  components: {
    receivers: {
      metadata: {},
      subComponents: { [type]: { metadata: { "code.namespace": `mod/${type} v1` }, subComponents: {} } },
    },
  },
});
const ASK = { flags: BigInt(ServerToAgentFlags.ServerToAgentFlags_ReportAvailableComponents) };

describe.each(["ws", "http"] as const)("available components over %s", (transport) => {
  let server: OpampTestServer;
  let h: ClientHarness;

  beforeEach(async () => {
    server = await OpampTestServer.start();
  });
  afterEach(async () => {
    h?.client.destroy();
    await server.close();
  });

  it("sends the hash first and on change, and the full map only when the server asks", async () => {
    h = makeClient(server, transport, { capabilities: WITH_COMPONENTS });
    h.client.setStatus("availableComponents", inventory(1, "otlp"));
    // The server asks after hearing a hash it does not know, as opamp-go servers do.
    server.respond = (msg) => (msg.sequenceNum === 0n || msg.sequenceNum === 2n ? ASK : undefined);
    h.client.start();
    const first = await server.waitFor(() => true);
    expect([...first.msg.availableComponents!.hash]).toEqual([1]);
    expect(first.msg.availableComponents!.components).toEqual({});
    const full = await server.waitFor((r) => r.msg.sequenceNum === 1n);
    expect(full.msg.availableComponents!.components["receivers"]!.subComponentMap["otlp"]!.metadata[0]!.key).toBe(
      "code.namespace",
    );

    h.client.setStatus("availableComponents", inventory(2, "kafka"));
    const changed = await server.waitFor((r) => r.msg.sequenceNum === 2n);
    expect([...changed.msg.availableComponents!.hash]).toEqual([2]);
    expect(changed.msg.availableComponents!.components).toEqual({});
    const again = await server.waitFor((r) => r.msg.sequenceNum === 3n);
    expect(Object.keys(again.msg.availableComponents!.components["receivers"]!.subComponentMap)).toEqual(["kafka"]);
  });

  it("sends no available components without the capability, even when asked", async () => {
    h = makeClient(server, transport, { capabilities: BASIC_CAPABILITIES });
    h.client.setStatus("availableComponents", inventory(1, "otlp"));
    server.respond = (msg) => (msg.sequenceNum === 0n ? ASK : undefined);
    h.client.start();
    const first = await server.waitFor(() => true);
    expect(first.msg.availableComponents).toBeUndefined();
    await eventually(() => h.client.serverCapabilities !== 0n, 2000, "the reply with the ask was handled");
    // The ask was ignored: the next message is the one the capability change causes, with the hash only.
    h.client.setCapabilities(WITH_COMPONENTS);
    const next = await server.waitFor((r) => r.msg.sequenceNum === 1n);
    expect([...next.msg.availableComponents!.hash]).toEqual([1]);
    expect(next.msg.availableComponents!.components).toEqual({});
  });
});
