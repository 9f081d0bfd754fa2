/**
 * Instance uids as the state files keep them: canonical lower-case UUID text. The byte
 * format and UUID v7 generation live with the protocol (src/opamp/uuid.ts); this adds the
 * strict checks a file read back from disk needs. A server may assign any 16 bytes, so
 * parsing accepts every UUID version.
 */
import { formatUuid, parseUuid, uuidV7 } from "../opamp/uuid.js";

const UUID_TEXT = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function isUuidText(value: string): boolean {
  return UUID_TEXT.test(value);
}

/** Canonical lower-case UUID text for 16 bytes; throws RangeError for other lengths. */
export function uidToText(bytes: Uint8Array): string {
  if (bytes.length !== 16) throw new RangeError(`instance uid must be 16 bytes, got ${bytes.length}`);
  return formatUuid(bytes);
}

/** The 16 bytes of a UUID text; throws RangeError when `text` is not UUID text. */
export function uidFromText(text: string): Uint8Array {
  const bytes = parseUuid(text);
  if (!bytes) throw new RangeError(`not a UUID: ${JSON.stringify(text)}`);
  return bytes;
}

/** A new UUID v7; `nowMs` and `random` are injectable for tests. */
export const newInstanceUid = uuidV7;
