/**
 * Ed25519 keys and signatures for packages (tweetnacl). The signed message is the 32-byte
 * SHA-256 digest of the package file, so a signer never needs the file in memory and the
 * digest doubles as the OpAMP `content_hash`.
 *
 * Formats (documented in the README, "Packages and signatures"):
 * - public key: base64 of the 32 raw key bytes (what `agent.package.verifier.public_keys` holds);
 * - private key: PKCS#8 PEM ("BEGIN PRIVATE KEY"), the format of `openssl genpkey -algorithm ed25519`;
 * - signature: the 64 raw signature bytes in DownloadableFile.signature, or the base64 text of
 *   them (for servers that can only carry text).
 */
import { createHash } from "node:crypto";
import nacl from "tweetnacl";

export const PUBLIC_KEY_BYTES = 32;
export const SEED_BYTES = 32;
export const SIGNATURE_BYTES = 64;
export const DIGEST_BYTES = 32;

/** DER of PKCS#8 PrivateKeyInfo for Ed25519 (RFC 8410) up to the 32-byte seed. */
const PKCS8_ED25519_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");

export interface KeyPair {
  /** 32-byte seed; the private key proper. */
  seed: Uint8Array;
  publicKey: Uint8Array;
}

export function generateKeyPair(): KeyPair {
  const seed = nacl.randomBytes(SEED_BYTES);
  return { seed, publicKey: nacl.sign.keyPair.fromSeed(seed).publicKey };
}

export function publicKeyFromSeed(seed: Uint8Array): Uint8Array {
  return nacl.sign.keyPair.fromSeed(seed).publicKey;
}

/** A short, stable name for a public key in logs and audit lines: 16 hex digits of its SHA-256. */
export function keyId(publicKey: Uint8Array): string {
  return createHash("sha256").update(publicKey).digest("hex").slice(0, 16);
}

export function encodePublicKey(publicKey: Uint8Array): string {
  return Buffer.from(publicKey).toString("base64");
}

/** Decodes base64 public key text; throws when it is not exactly 32 bytes. */
export function decodePublicKey(text: string): Uint8Array {
  const trimmed = text.trim();
  const bytes = Buffer.from(trimmed, "base64");
  if (!/^[A-Za-z0-9+/]{43}=?$/.test(trimmed) || bytes.length !== PUBLIC_KEY_BYTES) {
    throw new Error("expected the base64 of a 32-byte Ed25519 public key");
  }
  return new Uint8Array(bytes);
}

export function encodePrivateKeyPem(seed: Uint8Array): string {
  const der = Buffer.concat([PKCS8_ED25519_PREFIX, Buffer.from(seed)]);
  const body = der
    .toString("base64")
    .replace(/(.{64})/g, "$1\n")
    .trim();
  return `-----BEGIN PRIVATE KEY-----\n${body}\n-----END PRIVATE KEY-----\n`;
}

/** The seed of a PKCS#8 PEM Ed25519 private key; throws on anything else. */
export function decodePrivateKeyPem(pem: string): Uint8Array {
  const match = /-----BEGIN PRIVATE KEY-----([\s\S]*?)-----END PRIVATE KEY-----/.exec(pem);
  if (!match)
    throw new Error(
      'expected a PEM "PRIVATE KEY" (PKCS#8), as written by "package keygen" or "openssl genpkey -algorithm ed25519"',
    );
  const der = Buffer.from((match[1] ?? "").replace(/\s+/g, ""), "base64");
  if (
    der.length !== PKCS8_ED25519_PREFIX.length + SEED_BYTES ||
    !der.subarray(0, PKCS8_ED25519_PREFIX.length).equals(PKCS8_ED25519_PREFIX)
  ) {
    throw new Error("the PEM private key is not an Ed25519 key");
  }
  return new Uint8Array(der.subarray(PKCS8_ED25519_PREFIX.length));
}

export function signDigest(digest: Uint8Array, seed: Uint8Array): Uint8Array {
  if (digest.length !== DIGEST_BYTES)
    throw new Error(`expected a ${DIGEST_BYTES}-byte SHA-256 digest, got ${digest.length} bytes`);
  return nacl.sign.detached(digest, nacl.sign.keyPair.fromSeed(seed).secretKey);
}

/**
 * The 64 signature bytes carried in DownloadableFile.signature: raw, or base64 text of them.
 * Null when it is neither.
 */
export function decodeSignature(field: Uint8Array): Uint8Array | null {
  if (field.length === SIGNATURE_BYTES) return field;
  const text = Buffer.from(field).toString("latin1").trim();
  if (!/^[A-Za-z0-9+/]{86}(==)?$/.test(text)) return null;
  const bytes = Buffer.from(text, "base64");
  return bytes.length === SIGNATURE_BYTES ? new Uint8Array(bytes) : null;
}

/** Index of the first key in `publicKeys` the signature verifies with, or -1. */
export function verifyDigest(digest: Uint8Array, signature: Uint8Array, publicKeys: readonly Uint8Array[]): number {
  if (digest.length !== DIGEST_BYTES || signature.length !== SIGNATURE_BYTES) return -1;
  return publicKeys.findIndex(
    (key) => key.length === PUBLIC_KEY_BYTES && nacl.sign.detached.verify(digest, signature, key),
  );
}
