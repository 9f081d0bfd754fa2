/**
 * The one door to the generated protobuf code. Encodes AgentToServer and decodes
 * ServerToAgent, adds and checks the WebSocket header, and enforces the size cap.
 * Only src/opamp/ uses it; the rest of the supervisor speaks the domain types of domain.ts.
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { ProtocolError } from "../errors.js";
import { AgentToServerSchema, ServerToAgentSchema } from "../gen/opamp_pb.js";
import type { AgentToServer, ServerToAgent } from "../gen/opamp_pb.js";

export type { AgentToServer, ServerToAgent };

/** The spec's recommended cap on one message, header included, after decompression. */
export const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

const readOptions = { readUnknownFields: false } as const;

export function encodeAgentToServer(msg: AgentToServer): Uint8Array {
  return toBinary(AgentToServerSchema, msg);
}

export function decodeServerToAgent(bytes: Uint8Array, maxBytes = DEFAULT_MAX_MESSAGE_BYTES): ServerToAgent {
  checkSize(bytes.length, maxBytes);
  try {
    return fromBinary(ServerToAgentSchema, bytes, readOptions);
  } catch (err) {
    throw new ProtocolError("PROTOCOL_DECODE", `invalid ServerToAgent message: ${errorText(err)}`, { cause: err });
  }
}

/** Test servers and tools decode the agent's side with the same rules. */
export function decodeAgentToServer(bytes: Uint8Array, maxBytes = DEFAULT_MAX_MESSAGE_BYTES): AgentToServer {
  checkSize(bytes.length, maxBytes);
  try {
    return fromBinary(AgentToServerSchema, bytes, readOptions);
  } catch (err) {
    throw new ProtocolError("PROTOCOL_DECODE", `invalid AgentToServer message: ${errorText(err)}`, { cause: err });
  }
}

export function encodeServerToAgent(msg: ServerToAgent): Uint8Array {
  return toBinary(ServerToAgentSchema, msg);
}

export function newAgentToServer(init: MessageInitShape<typeof AgentToServerSchema>): AgentToServer {
  return create(AgentToServerSchema, init);
}

export function newServerToAgent(init: MessageInitShape<typeof ServerToAgentSchema>): ServerToAgent {
  return create(ServerToAgentSchema, init);
}

/**
 * A WebSocket message is a varint header followed by the protobuf. The spec defines only
 * header value 0, so the header is the single byte 0x00.
 */
export function frameWs(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(payload.length + 1);
  out[0] = 0x00;
  out.set(payload, 1);
  return out;
}

/** Strips and checks the WebSocket header; returns the protobuf bytes. */
export function unframeWs(message: Uint8Array, maxBytes = DEFAULT_MAX_MESSAGE_BYTES): Uint8Array {
  checkSize(message.length, maxBytes);
  const { value, length } = readVarint(message);
  if (value !== 0n) {
    throw new ProtocolError("PROTOCOL_DECODE", `unsupported OpAMP WebSocket header value ${value} (only 0 is defined)`);
  }
  return message.subarray(length);
}

function readVarint(bytes: Uint8Array): { value: bigint; length: number } {
  let value = 0n;
  for (let i = 0; i < Math.min(bytes.length, 10); i++) {
    const byte = bytes[i] as number;
    value |= BigInt(byte & 0x7f) << BigInt(7 * i);
    if ((byte & 0x80) === 0) return { value, length: i + 1 };
  }
  throw new ProtocolError("PROTOCOL_DECODE", "truncated or overlong OpAMP WebSocket header");
}

function checkSize(length: number, maxBytes: number): void {
  if (maxBytes > 0 && length > maxBytes) {
    throw new ProtocolError("MESSAGE_TOO_LARGE", `message of ${length} bytes exceeds the ${maxBytes}-byte limit`);
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
