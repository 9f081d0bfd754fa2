/** Instance uids: 16 raw bytes on the wire, canonical UUID text in headers and files. */
import { randomBytes } from "node:crypto";

/** A UUID v7: 48-bit Unix milliseconds, version 7, RFC 4122 variant, random rest. */
export function uuidV7(nowMs: number, random: (n: number) => Uint8Array = randomBytes): Uint8Array {
  const bytes = new Uint8Array(16);
  bytes.set(random(16));
  let ms = BigInt(Math.floor(nowMs));
  for (let i = 5; i >= 0; i--) {
    bytes[i] = Number(ms & 0xffn);
    ms >>= 8n;
  }
  bytes[6] = ((bytes[6] as number) & 0x0f) | 0x70;
  bytes[8] = ((bytes[8] as number) & 0x3f) | 0x80;
  return bytes;
}

export function formatUuid(bytes: Uint8Array): string {
  const hex = Buffer.from(bytes).toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const UUID_TEXT = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Parses canonical UUID text; returns undefined for anything else. */
export function parseUuid(text: string): Uint8Array | undefined {
  if (!UUID_TEXT.test(text)) return undefined;
  return new Uint8Array(Buffer.from(text.replaceAll("-", ""), "hex"));
}
