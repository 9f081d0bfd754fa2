/**
 * OpAMP instance uids: 16 bytes on the wire, kept as canonical UUID text on disk and in logs.
 * The spec recommends UUID v7 for generated ids; a server may assign any 16 bytes instead
 * (ServerToAgent.agent_identification.new_instance_uid), so parsing accepts every version.
 */
import { randomBytes } from "node:crypto";

const UUID_TEXT = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function isUuidText(value: string): boolean {
  return UUID_TEXT.test(value);
}

/** Canonical lower-case UUID text for 16 bytes; throws RangeError for other lengths. */
export function uidToText(bytes: Uint8Array): string {
  if (bytes.length !== 16) throw new RangeError(`instance uid must be 16 bytes, got ${bytes.length}`);
  const hex = Buffer.from(bytes).toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The 16 bytes of a UUID text; throws RangeError when `text` is not canonical UUID text. */
export function uidFromText(text: string): Uint8Array {
  const lower = text.toLowerCase();
  if (!isUuidText(lower)) throw new RangeError(`not a UUID: ${JSON.stringify(text)}`);
  return new Uint8Array(Buffer.from(lower.replaceAll("-", ""), "hex"));
}

/**
 * A new UUID v7 (RFC 9562): 48-bit Unix milliseconds, version 7, 74 random bits.
 * `nowMs` and `random` are injectable for tests.
 */
export function newInstanceUid(
  nowMs: number,
  random: (size: number) => Uint8Array = (size) => randomBytes(size),
): Uint8Array {
  const bytes = new Uint8Array(16);
  bytes.set(random(10), 6);
  let ms = Math.max(0, Math.floor(nowMs));
  for (let i = 5; i >= 0; i--) {
    bytes[i] = ms % 256;
    ms = Math.floor(ms / 256);
  }
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x70; // version 7
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80; // RFC 9562 variant
  return bytes;
}
