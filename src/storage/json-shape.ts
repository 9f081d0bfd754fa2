/**
 * Small shape checks for JSON read back from the state directory. They throw ShapeError with
 * a path-like description; the state store turns that into a STATE_CORRUPT error naming the
 * file.
 */
export class ShapeError extends Error {}

export type JsonObject = Record<string, unknown>;

export function expectObject(value: unknown, where: string): JsonObject {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ShapeError(`${where}: expected an object`);
  }
  return value as JsonObject;
}

export function expectString(obj: JsonObject, key: string, where: string): string {
  const value = obj[key];
  if (typeof value !== "string") throw new ShapeError(`${where}.${key}: expected a string`);
  return value;
}

export function expectArray(obj: JsonObject, key: string, where: string): unknown[] {
  const value = obj[key];
  if (!Array.isArray(value)) throw new ShapeError(`${where}.${key}: expected an array`);
  return value;
}

export function expectOneOf<const T extends readonly string[]>(
  obj: JsonObject,
  key: string,
  allowed: T,
  where: string,
): T[number] {
  const value = expectString(obj, key, where);
  if (!(allowed as readonly string[]).includes(value)) {
    throw new ShapeError(`${where}.${key}: expected one of ${allowed.join(", ")}, got ${JSON.stringify(value)}`);
  }
  return value;
}

const HEX = /^(?:[0-9a-f]{2})*$/;

/** Lower-case hex of arbitrary bytes (config hashes are opaque bytes per the OpAMP spec). */
export function bytesToHex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("hex");
}

export function expectHex(obj: JsonObject, key: string, where: string): Uint8Array {
  const value = expectString(obj, key, where);
  if (!HEX.test(value)) throw new ShapeError(`${where}.${key}: expected lower-case hex`);
  return new Uint8Array(Buffer.from(value, "hex"));
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export function expectBase64(obj: JsonObject, key: string, where: string): Uint8Array {
  const value = expectString(obj, key, where);
  if (value.length % 4 !== 0 || !BASE64.test(value)) throw new ShapeError(`${where}.${key}: expected base64`);
  return new Uint8Array(Buffer.from(value, "base64"));
}

/** Checks the `version` field every typed state document carries. */
export function expectVersion(obj: JsonObject, version: number, where: string): void {
  if (obj["version"] !== version) {
    throw new ShapeError(`${where}.version: expected ${version}, got ${JSON.stringify(obj["version"])}`);
  }
}
