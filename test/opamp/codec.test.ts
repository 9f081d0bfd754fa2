import { describe, expect, it } from "vitest";
import { create, toBinary } from "@bufbuild/protobuf";
import { ComponentHealthSchema, RemoteConfigStatusSchema, RemoteConfigStatuses } from "../../src/gen/opamp_pb.js";
import {
  decodeServerToAgent,
  encodeAgentToServer,
  encodeServerToAgent,
  frameWs,
  newAgentToServer,
  newServerToAgent,
  unframeWs,
} from "../../src/opamp/codec.js";
import { ProtocolError } from "../../src/errors.js";
import { BASIC_CAPABILITIES, TEST_UID } from "../support/client-fixture.js";

// The worked examples of the protocol reference (§0.1): what real servers receive.
const uid = TEST_UID;
const uidHex = "0190f3a27b1c7d4e8f00123456789abc";
const caps = BASIC_CAPABILITIES; // ReportsStatus | AcceptsRemoteConfig | ReportsEffectiveConfig | ReportsHealth | ReportsRemoteConfig | ReportsHeartbeat
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");
const fromHex = (text: string): Uint8Array => new Uint8Array(Buffer.from(text.replaceAll(" ", ""), "hex"));

describe("golden bytes", () => {
  it("encodes the minimal first message with sequence 0 left out", () => {
    expect(caps).toBe(0x3807n);
    const frame = frameWs(
      encodeAgentToServer(newAgentToServer({ instanceUid: uid, sequenceNum: 0n, capabilities: caps })),
    );
    expect(hex(frame)).toBe(`000a10${uidHex}208770`);
  });

  it("encodes a heartbeat with sequence 5", () => {
    const frame = frameWs(
      encodeAgentToServer(newAgentToServer({ instanceUid: uid, sequenceNum: 5n, capabilities: caps })),
    );
    expect(hex(frame)).toBe(`000a10${uidHex}1005208770`);
  });

  it("encodes agent_disconnect as an empty sub-message that is still present", () => {
    const msg = newAgentToServer({ instanceUid: uid, sequenceNum: 6n, capabilities: caps, agentDisconnect: {} });
    expect(hex(frameWs(encodeAgentToServer(msg)))).toBe(`000a10${uidHex}10062087704a00`);
  });

  it("detects a restart command by presence although its type is the zero value", () => {
    const bytes = fromHex(`000a10${uidHex}4a00`);
    const msg = decodeServerToAgent(unframeWs(bytes));
    expect(msg.command).toBeDefined();
    expect(msg.command?.type).toBe(0);
    expect(hex(frameWs(encodeServerToAgent(newServerToAgent({ instanceUid: uid, command: {} }))))).toBe(hex(bytes));
    expect(decodeServerToAgent(fromHex(`0a10${uidHex}`)).command).toBeUndefined();
  });

  it("encodes remote_config_status as field 7", () => {
    const status = create(RemoteConfigStatusSchema, {
      lastRemoteConfigHash: fromHex("abcd"),
      status: RemoteConfigStatuses.RemoteConfigStatuses_APPLIED,
    });
    const msg = newAgentToServer({ remoteConfigStatus: status });
    expect(hex(encodeAgentToServer(msg))).toBe("3a060a02abcd1001");
  });

  it("encodes health times as fixed64 little-endian", () => {
    const health = create(ComponentHealthSchema, { healthy: true, startTimeUnixNano: 1722000000000000000n });
    expect(hex(toBinary(ComponentHealthSchema, health))).toBe("0801110000395fe0c5e517");
    expect(hex(encodeAgentToServer(newAgentToServer({ health })))).toBe("2a0b0801110000395fe0c5e517");
  });
});

describe("decoding", () => {
  it("ignores unknown fields from newer servers", () => {
    // field 99 (varint 7) and field 100 (bytes "hi") are unknown to this schema
    const known = encodeServerToAgent(newServerToAgent({ instanceUid: uid, capabilities: 3n }));
    const unknown = fromHex("98 06 07 a2 06 02 68 69");
    const msg = decodeServerToAgent(new Uint8Array([...known, ...unknown]));
    expect(msg.capabilities).toBe(3n);
    expect(hex(msg.instanceUid)).toBe(uidHex);
  });

  it("keeps 64-bit values exact as bigint", () => {
    const big = 18_000_000_000_000_000_001n;
    const msg = decodeServerToAgent(encodeServerToAgent(newServerToAgent({ capabilities: big & 0xffffffffffffffffn })));
    expect(typeof msg.capabilities).toBe("bigint");
    expect(msg.capabilities).toBe(big & 0xffffffffffffffffn);
  });

  it("accepts an empty message as all defaults", () => {
    const msg = decodeServerToAgent(unframeWs(new Uint8Array([0])));
    expect(msg.errorResponse).toBeUndefined();
    expect(msg.flags).toBe(0n);
  });

  it("rejects a non-zero WebSocket header with a clear error", () => {
    expect(() => unframeWs(new Uint8Array([0x01, 0x0a]))).toThrowError(/header value 1/);
    try {
      unframeWs(new Uint8Array([0x01]));
    } catch (err) {
      expect(err).toBeInstanceOf(ProtocolError);
      expect((err as ProtocolError).code).toBe("PROTOCOL_DECODE");
    }
  });

  it("rejects garbage as a typed decode error", () => {
    const garbage = fromHex("0a ff ff ff ff 0f 01");
    expect(() => decodeServerToAgent(garbage)).toThrowError(ProtocolError);
    try {
      decodeServerToAgent(garbage);
    } catch (err) {
      expect((err as ProtocolError).code).toBe("PROTOCOL_DECODE");
    }
  });

  it("rejects messages over the size cap before decoding", () => {
    const bytes = encodeServerToAgent(newServerToAgent({ instanceUid: uid }));
    expect(() => decodeServerToAgent(bytes, 4)).toThrowError(/exceeds the 4-byte limit/);
    expect(() => unframeWs(frameWs(bytes), 4)).toThrowError(expect.objectContaining({ code: "MESSAGE_TOO_LARGE" }));
  });
});
